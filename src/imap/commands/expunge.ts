/**
 * EXPUNGE (RFC 3501 §6.4.3) and UID EXPUNGE (RFC 4315 §2.1: only the given
 * UIDs, and only if they carry \Deleted). The EXPUNGE responses come from
 * the view's flush after the command, together with other sessions' expunges,
 * highest sequence number first.
 */
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { no, ok } from '../command.js';
import { resolveSet } from './sets.js';

export async function expungeCommand(env: CommandEnv, cmd: CommandOf<'EXPUNGE'>): Promise<CommandResult> {
  const view = env.s.view;
  if (view.readOnly) return no('Mailbox is read-only', { name: 'READ-ONLY' });
  let uids: number[] | undefined;
  if (cmd.args.set) {
    uids = resolveSet(view, cmd.args.set, true);
    if (uids.length === 0) return ok('Expunge completed');
  }
  const gone = await view.handle.expunge(uids ? { uids } : undefined);
  // The store's own event carries the modseq; it replaces this placeholder if it comes first.
  view.noteExpunged(gone, view.modseq);
  return ok('Expunge completed');
}
