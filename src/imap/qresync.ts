/**
 * RFC 7162 §3.2.5 quick resynchronisation at SELECT/EXAMINE time, and the
 * `VANISHED (EARLIER)` answer of UID FETCH (CHANGEDSINCE n VANISHED)
 * (§3.2.6). The expunged UIDs come from the store's journal
 * (MailboxHandle.expungedSince), which keeps every expunge with its modseq,
 * so the answer is exact and the seq-match hint (§3.2.5.2, for servers
 * that forget expunges) is not needed and is ignored.
 */
import type { MailboxSnapshot, MessageRecord } from '../store/types.js';
import type { MailboxView } from './mailbox-view.js';
import type { Output } from './output.js';
import type { QresyncParams, SequenceSet } from './wire/types.js';
import { flagsText } from './updates.js';

type Range = readonly [number, number];

/** A UID set as ascending disjoint closed intervals; `*` is `star` (the client should not send it here, §3.2.5). */
export function setIntervals(set: SequenceSet, star: number): Range[] {
  if (set.kind !== 'ranges') return [];
  const raw: [number, number][] = set.ranges.map((r) => {
    const a = r.from === '*' ? star : r.from;
    const b = r.to === '*' ? star : r.to;
    return [Math.min(a, b), Math.max(a, b)];
  });
  raw.sort((x, y) => x[0] - y[0]);
  const out: [number, number][] = [];
  for (const r of raw) {
    const last = out[out.length - 1];
    if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
    else out.push(r);
  }
  return out;
}

/** Intersection of two ascending interval lists. */
export function intersect(a: readonly Range[], b: readonly Range[]): Range[] {
  const out: Range[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length && j < b.length) {
    const lo = Math.max(a[i]![0], b[j]![0]);
    const hi = Math.min(a[i]![1], b[j]![1]);
    if (lo <= hi) out.push([lo, hi]);
    if (a[i]![1] < b[j]![1]) i++;
    else j++;
  }
  return out;
}

export function formatIntervals(r: readonly Range[]): string {
  return r.map(([a, b]) => (a === b ? `${a}` : `${a}:${b}`)).join(',');
}

function within(r: readonly Range[], uid: number): boolean {
  let lo = 0;
  let hi = r.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    if (uid < r[mid]![0]) hi = mid - 1;
    else if (uid > r[mid]![1]) lo = mid + 1;
    else return true;
  }
  return false;
}

/**
 * `* VANISHED (EARLIER) …` for UIDs expunged after `since`, limited to
 * `limit` (the client's known UIDs, or the UID set of the FETCH) when given
 * and always below UIDNEXT. Nothing is written when none qualify.
 */
export function writeVanishedEarlier(out: Output, view: MailboxView, uidnext: number, since: bigint, limit: readonly Range[] | null): void {
  let gone: readonly Range[] = view.handle.expungedSince(since);
  gone = intersect(gone, limit ?? [[1, Math.max(0, uidnext - 1)]]);
  if (gone.length > 0) out.push(`* VANISHED (EARLIER) ${formatIntervals(gone)}\r\n`);
}

/**
 * The QRESYNC part of SELECT, after the usual untagged responses: the
 * vanished UIDs first, then a FETCH (UID FLAGS MODSEQ) for every message
 * changed or added since the client's modseq, in sequence order. A wrong
 * UIDVALIDITY means the client's cache is void: nothing is sent (§3.2.5.1).
 */
export async function resyncOnSelect(out: Output, view: MailboxView, snapshot: MailboxSnapshot, q: QresyncParams): Promise<void> {
  if (q.uidvalidity !== snapshot.uidvalidity) return;
  const known = q.knownUids ? setIntervals(q.knownUids, snapshot.uidnext - 1) : null;
  writeVanishedEarlier(out, view, snapshot.uidnext, q.modseq, known);
  const msgs: readonly MessageRecord[] = snapshot.messages;
  for (let i = 0; i < msgs.length; i++) {
    const m = msgs[i]!;
    if (m.modseq <= q.modseq) continue;
    if (known && !within(known, m.uid)) continue;
    out.push(`* ${i + 1} FETCH (UID ${m.uid} FLAGS ${flagsText(view.reportFlags(m.uid, m.flags))} MODSEQ (${m.modseq}))\r\n`);
    if (out.full) await out.flush();
  }
}
