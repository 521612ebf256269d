/**
 * RENAME (RFC 3501 §6.3.5). Renaming INBOX moves its messages into the new
 * mailbox and leaves INBOX empty (the store implements it); renaming onto an
 * existing name fails with [ALREADYEXISTS].
 */
import type { CommandOf } from '../wire/types.js';
import { checkName, isInbox } from '../names.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { no, ok } from '../command.js';

export async function renameCommand(env: CommandEnv, cmd: CommandOf<'RENAME'>): Promise<CommandResult> {
  const from = checkName(cmd.args.from);
  const to = checkName(cmd.args.to);
  if (isInbox(to)) return no('INBOX already exists', { name: 'ALREADYEXISTS' });
  if (from === to) return no('Source and destination are the same', { name: 'ALREADYEXISTS' });
  await env.s.user.renameMailbox(from, to);
  return ok('Rename completed');
}
