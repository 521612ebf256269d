/**
 * CREATE (RFC 3501 §6.3.3). A trailing separator means "I intend to create
 * children" and is dropped; CREATE INBOX fails (it always exists).
 */
import type { CommandOf } from '../wire/types.js';
import { checkName, isInbox, SEPARATOR } from '../names.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { no, ok } from '../session.js';

export async function createCommand(env: CommandEnv, cmd: CommandOf<'CREATE'>): Promise<CommandResult> {
  let name = cmd.args.mailbox;
  if (name.endsWith(SEPARATOR)) name = name.slice(0, -1);
  if (name.toUpperCase() === 'INBOX' || isInbox(name)) return no('INBOX always exists', { name: 'ALREADYEXISTS' });
  checkName(name);
  const specialUse = cmd.args.specialUse[0];
  await env.s.user.createMailbox(name, specialUse ? { specialUse } : undefined);
  return ok('Create completed');
}
