/**
 * STORE and UID STORE (RFC 3501 §6.4.6). Without .SILENT every named message
 * gets an untagged FETCH with its flags afterwards (also those whose flags
 * did not change, as §6.4.6 describes). \Recent cannot be stored (§2.3.2).
 * A message another session expunged (still in this session's map until its
 * EXPUNGE may be sent) is skipped and the command still answers OK, as
 * Dovecot and Cyrus do (RFC 2180 §4.2.1 allows either; clients and imaptest
 * take NO as a failure of the whole STORE). A keyword new to this session is
 * announced in FLAGS before the FETCH that shows it (RFC 3501 §7.2.6).
 *
 * RFC 7162 §3.1.3 UNCHANGEDSINCE (enables CONDSTORE): messages changed after
 * the given modseq are left alone and listed in `[MODIFIED set]` (sequence
 * numbers, or UIDs for UID STORE). With CONDSTORE enabled every FETCH carries
 * UID and MODSEQ (RFC 7162 §3.1, RFC 5162 erratum 1807), and even .SILENT
 * reports the new MODSEQ of the messages it changed.
 */
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, no, ok } from '../command.js';
import { announceKeywords, flagsText } from '../updates.js';
import { formatUidSet, resolveSet } from './sets.js';

export async function storeCommand(env: CommandEnv, cmd: CommandOf<'STORE'>): Promise<CommandResult> {
  const s = env.s;
  const view = s.view;
  const args = cmd.args;
  if (args.unchangedSince !== null) s.enableCondstore();
  const condstore = s.enabled.has('CONDSTORE');
  if (args.flags.some((f) => f.toLowerCase() === '\\recent')) return bad('\\Recent cannot be stored');
  if (view.readOnly) return no('Mailbox is read-only', { name: 'READ-ONLY' });
  const uids = resolveSet(view, args.set, cmd.uid);
  const { found } = view.records(uids);
  let modified: readonly number[] = [];
  let updated = new Set<number>();
  if (found.length > 0) {
    const r = await view.handle.storeFlags(
      found.map((m) => m.uid),
      args.op,
      args.flags,
      args.unchangedSince !== null ? { unchangedSince: args.unchangedSince } : undefined,
    );
    modified = r.modified;
    updated = new Set(r.updated.map((u) => u.uid));
  }
  const failed = new Set(modified);
  const report = args.silent ? (condstore ? found.filter((m) => updated.has(m.uid)) : []) : found.filter((m) => !failed.has(m.uid));
  if (report.length > 0) {
    // Report what is stored now (one snapshot after the change).
    const now = view.records(report.map((m) => m.uid)).found;
    for (const m of now) {
      const seq = view.seqOf(m.uid);
      if (seq === 0) continue;
      if (!args.silent) announceKeywords(s.out, view, m.flags);
      const items = [cmd.uid || condstore ? `UID ${m.uid}` : '', args.silent ? '' : `FLAGS ${flagsText(view.reportFlags(m.uid, m.flags))}`, condstore ? `MODSEQ (${m.modseq})` : ''];
      s.out.push(`* ${seq} FETCH (${items.filter((x) => x !== '').join(' ')})\r\n`);
      if (s.out.full) await s.out.flush();
    }
  }
  if (modified.length > 0) {
    const set = cmd.uid ? modified : modified.map((u) => view.seqOf(u)).filter((n) => n > 0).sort((a, b) => a - b);
    return ok('Conditional STORE failed', { name: 'MODIFIED', args: [{ kind: 'atom', value: formatUidSet(set) }] });
  }
  return ok('Store completed');
}
