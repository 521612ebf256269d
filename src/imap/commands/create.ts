/**
 * CREATE (RFC 3501 §6.3.3). A trailing separator means "I intend to create
 * children" and is dropped; CREATE INBOX fails (it always exists).
 * CREATE-SPECIAL-USE (RFC 6154 §3): `(USE (\Drafts))` sets the attribute.
 */
import type { CommandOf } from '../wire/types.js';
import { checkName, isInbox, SEPARATOR } from '../names.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { no, ok } from '../command.js';

export async function createCommand(env: CommandEnv, cmd: CommandOf<'CREATE'>): Promise<CommandResult> {
  let name = cmd.args.mailbox;
  if (name.endsWith(SEPARATOR)) name = name.slice(0, -1);
  if (name.toUpperCase() === 'INBOX' || isInbox(name)) return no('INBOX always exists', { name: 'ALREADYEXISTS' });
  checkName(name);
  // RFC 6154 §3: one special use per mailbox here; more than one cannot be honoured.
  if (cmd.args.specialUse.length > 1) return no('Only one special use per mailbox', { name: 'USEATTR' });
  const specialUse = cmd.args.specialUse[0];
  // §6.3.3: CREATE does not subscribe (SUBSCRIBE does, §6.3.6).
  await env.s.user.createMailbox(name, { subscribed: false, ...(specialUse ? { specialUse } : {}) });
  return ok('Create completed');
}
