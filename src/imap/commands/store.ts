/**
 * STORE and UID STORE (RFC 3501 §6.4.6). Without .SILENT every named message
 * gets an untagged FETCH with its flags afterwards (also those whose flags
 * did not change, as §6.4.6 describes). \Recent cannot be stored (§2.3.2).
 * A message expunged by another session makes the command end NO
 * (RFC 2180 §4.2.1) after the others were changed.
 */
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { bad, no, ok } from '../session.js';
import { flagsText } from '../updates.js';
import { resolveSet } from './sets.js';

export async function storeCommand(env: CommandEnv, cmd: CommandOf<'STORE'>): Promise<CommandResult> {
  const s = env.s;
  const view = s.view;
  const args = cmd.args;
  if (args.unchangedSince !== null) return bad('CONDSTORE is not supported');
  if (args.flags.some((f) => f.toLowerCase() === '\\recent')) return bad('\\Recent cannot be stored');
  if (view.readOnly) return no('Mailbox is read-only', { name: 'READ-ONLY' });
  const uids = resolveSet(view, args.set, cmd.uid);
  const { found, missing } = view.records(uids);
  if (found.length > 0) {
    await view.handle.storeFlags(
      found.map((m) => m.uid),
      args.op,
      args.flags,
    );
  }
  if (!args.silent && found.length > 0) {
    // Report what is stored now (one snapshot after the change).
    const now = view.records(found.map((m) => m.uid)).found;
    for (const m of now) {
      const seq = view.seqOf(m.uid);
      if (seq === 0) continue;
      s.out.push(`* ${seq} FETCH (${cmd.uid ? `UID ${m.uid} ` : ''}FLAGS ${flagsText(m.flags)})\r\n`);
      if (s.out.full) await s.out.flush();
    }
  }
  if (missing.length > 0 && !cmd.uid) return no('Some of the requested messages no longer exist', { name: 'EXPUNGEISSUED' });
  return ok('Store completed');
}
