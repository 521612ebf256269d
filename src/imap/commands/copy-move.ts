/**
 * COPY (RFC 3501 §6.4.7) and MOVE (RFC 6851) with UIDPLUS COPYUID (RFC 4315
 * §3). A missing destination answers [TRYCREATE]. The tagged OK waits for
 * the replica's acknowledgement of the copy (ReplicationGate).
 *
 * MOVE: `* OK [COPYUID ...]` comes first, then the EXPUNGEs of the moved
 * messages (RFC 6851 §4.3), which the dispatcher sends after the command.
 */
import { isRoostError } from '../../errors.js';
import type { CommandOf } from '../wire/types.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { no, ok } from '../command.js';
import { formatUidSet, resolveSet } from './sets.js';

async function copyOrMove(env: CommandEnv, cmd: CommandOf<'COPY' | 'MOVE'>, move: boolean): Promise<CommandResult> {
  const s = env.s;
  const view = s.view;
  const dest = checkName(cmd.args.mailbox);
  if (move && view.readOnly) return no('Mailbox is read-only', { name: 'READ-ONLY' });
  const uids = resolveSet(view, cmd.args.set, cmd.uid);
  // RFC 2180 §4.4: a message expunged by another session cannot be copied.
  const { found, missing } = view.records(uids);
  if (missing.length > 0 && !cmd.uid) return no('Some of the requested messages no longer exist', { name: 'EXPUNGEISSUED' });
  if (found.length === 0) return ok(`No messages ${move ? 'moved' : 'copied'}`);
  let result;
  try {
    result = await view.handle.copyTo(
      found.map((m) => m.uid),
      dest,
      { move },
    );
  } catch (err) {
    if (isRoostError(err, 'NOTFOUND')) return no('Destination mailbox does not exist', { name: 'TRYCREATE' });
    throw err;
  }
  if (result.lsn !== undefined) await s.ctx.replication.waitFor(result.lsn);
  if (result.pairs.length === 0) {
    // Another session expunged them between our look and the store's (RFC 2180 §4.4): like any expunged message.
    if (view.records(found.map((m) => m.uid)).missing.length > 0) {
      return cmd.uid ? ok(`No messages ${move ? 'moved' : 'copied'}`) : no('Some of the requested messages no longer exist', { name: 'EXPUNGEISSUED' });
    }
    // The store skips messages whose file vanished meanwhile; with none copied there is no COPYUID to give.
    return no('The messages could not be copied, try again', { name: 'UNAVAILABLE' });
  }
  // RFC 4315 §3: the nth source UID maps to the nth destination UID; both lists are in source order.
  const src = formatUidSet(result.pairs.map((p) => p[0]));
  const dst = result.pairs.map((p) => p[1]);
  const code = `COPYUID ${result.uidvalidity} ${src} ${formatUidSet(dst)}`;
  if (move) {
    view.noteExpunged(
      result.pairs.map((p) => p[0]),
      view.modseq,
    );
    s.out.push(`* OK [${code}] Moved UIDs\r\n`);
    return ok('Move completed');
  }
  return ok('Copy completed', { name: 'COPYUID', args: [result.uidvalidity, { kind: 'atom', value: src }, { kind: 'atom', value: formatUidSet(dst) }] });
}

export const copyCommand = (env: CommandEnv, cmd: CommandOf<'COPY'>): Promise<CommandResult> => copyOrMove(env, cmd, false);
export const moveCommand = (env: CommandEnv, cmd: CommandOf<'MOVE'>): Promise<CommandResult> => copyOrMove(env, cmd, true);
