/**
 * Sequence sets (RFC 3501 §9 `sequence-set`, RFC 5182 `$`): parse, format,
 * resolve against a mailbox, and compact number lists back into sets for
 * COPYUID / APPENDUID (RFC 4315), VANISHED (RFC 7162) and ESEARCH (RFC 4731).
 *
 * Resolution works on ranges, never per number per range: each range is
 * mapped to an index interval (binary search for UIDs), the intervals are
 * sorted and merged, and only then expanded — O(k log k + result) for k
 * ranges, so `1:*` over 100,000 messages or a 100,000-element UID set are
 * both linear.
 */
import type { SeqRange, SequenceSet } from './types.js';

export class SeqSetError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SeqSetError';
  }
}

/** RFC 3501 §9: nz-number fits in 32 bits. */
export const MAX_NZ_NUMBER = 4294967295;

function parseNumber(s: string, whole: string): number | '*' {
  if (s === '*') return '*';
  if (!/^[1-9][0-9]{0,9}$/.test(s)) throw new SeqSetError(`Invalid sequence set "${whole}"`);
  const n = Number(s);
  if (n > MAX_NZ_NUMBER) throw new SeqSetError(`Invalid sequence set "${whole}": number too large`);
  return n;
}

/**
 * Parse `1,3:5,7:*,*` (or `$` when `allowSaved`). Throws SeqSetError.
 * Numbers are 1..4294967295; `0` is refused (RFC 3501 §9 nz-number).
 */
export function parseSequenceSet(text: string, allowSaved = true): SequenceSet {
  if (text === '$') {
    if (!allowSaved) throw new SeqSetError('"$" is not allowed here');
    return { kind: 'saved' };
  }
  if (text.length === 0) throw new SeqSetError('Empty sequence set');
  const ranges: SeqRange[] = [];
  for (const part of text.split(',')) {
    const colon = part.indexOf(':');
    if (colon < 0) {
      const n = parseNumber(part, text);
      ranges.push({ from: n, to: n });
    } else {
      ranges.push({ from: parseNumber(part.slice(0, colon), text), to: parseNumber(part.slice(colon + 1), text) });
    }
  }
  return { kind: 'ranges', ranges };
}

/** True if `text` looks like a sequence set (used to tell a bare set from a search key). */
export function isSequenceSetText(text: string): boolean {
  return text === '$' || /^(\*|[0-9]+)(:(\*|[0-9]+))?(,(\*|[0-9]+)(:(\*|[0-9]+))?)*$/.test(text);
}

/** Back to wire form, ranges as written. */
export function formatSequenceSet(set: SequenceSet): string {
  if (set.kind === 'saved') return '$';
  return set.ranges.map((r) => (r.from === r.to ? String(r.from) : `${r.from}:${r.to}`)).join(',');
}

/**
 * Ranges with `*` replaced by `star`, each ordered low..high, sorted and
 * merged (adjacent ranges joined). Empty when `star` is 0 and every range
 * involves `*`… except that explicit numbers stay (callers bound-check).
 */
export function normalizeRanges(ranges: readonly SeqRange[], star: number): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  for (const r of ranges) {
    const a = r.from === '*' ? star : r.from;
    const b = r.to === '*' ? star : r.to;
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    if (hi < 1) continue; // `*` in an empty mailbox
    out.push([Math.max(lo, 1), hi]);
  }
  return mergeIntervals(out);
}

function mergeIntervals(iv: Array<[number, number]>): Array<[number, number]> {
  if (iv.length < 2) return iv;
  let sorted = true;
  for (let i = 1; i < iv.length; i++) {
    if (iv[i]![0] < iv[i - 1]![0]) {
      sorted = false;
      break;
    }
  }
  if (!sorted) iv.sort((x, y) => x[0] - y[0]);
  const out: Array<[number, number]> = [iv[0]!];
  for (let i = 1; i < iv.length; i++) {
    const cur = iv[i]!;
    const last = out[out.length - 1]!;
    if (cur[0] <= last[1] + 1) {
      if (cur[1] > last[1]) last[1] = cur[1];
    } else {
      out.push(cur);
    }
  }
  return out;
}

/**
 * Message sequence numbers of a sequence set, ascending and unique, against a
 * mailbox of `count` messages. RFC 3501 §6.4.5 / §9: a number beyond the
 * mailbox is an error (the command answers BAD); `*` is the last message.
 * Throws SeqSetError for `$` (resolve SEARCHRES before) and out-of-range numbers.
 */
export function expandSequenceSet(set: SequenceSet, count: number): Uint32Array {
  if (set.kind === 'saved') throw new SeqSetError('"$" must be resolved by the caller');
  if (count === 0) {
    // In an empty mailbox a set made only of "*"-ranges names no message
    // ("1:*" is what clients send blindly); any other number is invalid.
    if (set.ranges.every((r) => r.from === '*' || r.to === '*')) return new Uint32Array(0);
    throw new SeqSetError('Invalid message sequence number: the mailbox is empty');
  }
  const iv = normalizeRanges(set.ranges, count);
  const last = iv[iv.length - 1];
  if (last && last[1] > count) throw new SeqSetError('Invalid message sequence number');
  return expandIntervals(iv);
}

function expandIntervals(iv: ReadonlyArray<readonly [number, number]>): Uint32Array {
  let total = 0;
  for (const [lo, hi] of iv) total += hi - lo + 1;
  const out = new Uint32Array(total);
  let k = 0;
  for (const [lo, hi] of iv) for (let n = lo; n <= hi; n++) out[k++] = n;
  return out;
}

/** Index of the first element >= x in an ascending array. */
function lowerBound(a: ArrayLike<number>, x: number, from = 0): number {
  let lo = from;
  let hi = a.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (a[mid]! < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/**
 * Sequence numbers (1-based, ascending, unique) of the messages whose UID is
 * in the set. `uids` is the session's map, ascending. UIDs that do not exist
 * are ignored (RFC 3501 §6.4.8); `n:*` always includes the last message even
 * when n is above every UID (§6.4.8), and `*` alone is the last message.
 */
export function expandUidSet(set: SequenceSet, uids: ArrayLike<number>): Uint32Array {
  if (set.kind === 'saved') throw new SeqSetError('"$" must be resolved by the caller');
  const n = uids.length;
  if (n === 0) return new Uint32Array(0);
  const star = uids[n - 1]!;
  // Index intervals [start, end] (0-based, inclusive) in typed arrays: no
  // per-range allocation, so a 100,000-element set stays cheap.
  const k = set.ranges.length;
  let starts = new Float64Array(k);
  let ends = new Float64Array(k);
  let m = 0;
  let sorted = true;
  for (const r of set.ranges) {
    const a = r.from === '*' ? star : r.from;
    const b = r.to === '*' ? star : r.to;
    const lo = a < b ? a : b;
    const hi = a < b ? b : a;
    const ia = lowerBound(uids, lo);
    const ib = lowerBound(uids, hi + 1, ia) - 1;
    if (ia > ib) continue;
    if (m > 0 && ia < starts[m - 1]!) sorted = false;
    starts[m] = ia;
    ends[m] = ib;
    m++;
  }
  if (!sorted) {
    const order = Array.from({ length: m }, (_, i) => i).sort((x, y) => starts[x]! - starts[y]!);
    const s2 = new Float64Array(m);
    const e2 = new Float64Array(m);
    order.forEach((o, i) => {
      s2[i] = starts[o]!;
      e2[i] = ends[o]!;
    });
    starts = s2;
    ends = e2;
  }
  // Merge overlapping/adjacent intervals in place, counting the result.
  let w = -1;
  let total = 0;
  for (let i = 0; i < m; i++) {
    if (w >= 0 && starts[i]! <= ends[w]! + 1) {
      if (ends[i]! > ends[w]!) {
        total += ends[i]! - ends[w]!;
        ends[w] = ends[i]!;
      }
    } else {
      w++;
      starts[w] = starts[i]!;
      ends[w] = ends[i]!;
      total += ends[w]! - starts[w]! + 1;
    }
  }
  const out = new Uint32Array(total);
  let j = 0;
  for (let i = 0; i <= w; i++) for (let x = starts[i]!; x <= ends[i]!; x++) out[j++] = x + 1;
  return out;
}

/** UIDs (not sequence numbers) in the set that exist in `uids`, ascending. */
export function selectUids(set: SequenceSet, uids: ArrayLike<number>): Uint32Array {
  const seqs = expandUidSet(set, uids);
  const out = new Uint32Array(seqs.length);
  for (let i = 0; i < seqs.length; i++) out[i] = uids[seqs[i]! - 1]!;
  return out;
}

/** True when `n` lies in the set with `*` = star (no expansion). */
export function setContains(set: SequenceSet, n: number, star: number): boolean {
  if (set.kind === 'saved') throw new SeqSetError('"$" must be resolved by the caller');
  for (const r of set.ranges) {
    const a = r.from === '*' ? star : r.from;
    const b = r.to === '*' ? star : r.to;
    if (n >= Math.min(a, b) && n <= Math.max(a, b)) return true;
  }
  return false;
}

/**
 * Compact numbers into a sequence-set string: `[1,2,3,5,9,8]` → `1:3,5,8:9`.
 * Sorted ascending with duplicates dropped unless `keepOrder` (COPYUID pairs
 * must keep source order: RFC 4315 §4.3 matches the sets element by element,
 * so runs are only joined when consecutive in the given order).
 * Empty input gives ''.
 */
export function compactSet(nums: ArrayLike<number>, keepOrder = false): string {
  let a: ArrayLike<number> = nums;
  if (!keepOrder) {
    let sorted = true;
    for (let i = 1; i < nums.length; i++) {
      if (nums[i]! <= nums[i - 1]!) {
        sorted = false;
        break;
      }
    }
    if (!sorted) a = Float64Array.from(nums).sort();
  }
  const parts: string[] = [];
  let i = 0;
  while (i < a.length) {
    const start = a[i]!;
    let end = start;
    let j = i + 1;
    for (; j < a.length; j++) {
      const v = a[j]!;
      if (!keepOrder && v === end) continue; // duplicate
      if (v !== end + 1) break;
      end = v;
    }
    parts.push(start === end ? String(start) : `${start}:${end}`);
    i = j;
  }
  return parts.join(',');
}

/** Compact numbers into a SequenceSet value (ascending, merged; no ranges for no numbers). */
export function toSequenceSet(nums: ArrayLike<number>): SequenceSet {
  const text = compactSet(nums);
  return text === '' ? { kind: 'ranges', ranges: [] } : parseSequenceSet(text, false);
}
