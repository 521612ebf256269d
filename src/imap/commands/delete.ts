/**
 * DELETE (RFC 3501 §6.3.4). INBOX cannot be deleted. A mailbox with children
 * is the store's decision (§6.3.4 allows either refusing or leaving it
 * \Noselect). Sessions that have it selected get a 'gone' event and BYE.
 */
import type { CommandOf } from '../wire/types.js';
import { checkName, isInbox } from '../names.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { no, ok } from '../command.js';

export async function deleteCommand(env: CommandEnv, cmd: CommandOf<'DELETE'>): Promise<CommandResult> {
  const name = checkName(cmd.args.mailbox);
  if (isInbox(name)) return no('INBOX cannot be deleted', { name: 'CANNOT' });
  const s = env.s;
  // Deleting the mailbox we have selected: leave it first, as Dovecot does.
  if (s.state.kind === 'selected' && s.state.view.handle.name === name) s.deselect();
  await s.user.deleteMailbox(name);
  return ok('Delete completed');
}
