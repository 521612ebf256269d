/**
 * Answers of SEARCH / SORT: the classic `* SEARCH` / `* SORT` line, RFC 4731
 * ESEARCH (and RFC 5267 ESORT, where MIN/MAX/ALL follow the sort order), and
 * RFC 5182 SAVE of the result for `$`.
 */
import type { PartialRange, SearchReturnOption } from '../wire/types.js';
import type { MailboxView } from '../mailbox-view.js';

export interface Hit {
  readonly uid: number;
  readonly seq: number;
}

/** Runs of consecutive ascending numbers as `a:b`, keeping the given order (ESORT ALL, RFC 5267 §3.2). */
export function formatInOrder(nums: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < nums.length; ) {
    let j = i;
    while (j + 1 < nums.length && nums[j + 1] === nums[j]! + 1) j++;
    out.push(i === j ? `${nums[i]}` : `${nums[i]}:${nums[j]}`);
    i = j + 1;
  }
  return out.join(',');
}

/**
 * `* ESEARCH (TAG "t") [UID] [MIN n] [MAX n] [COUNT n] [ALL set] [PARTIAL (range set)] [MODSEQ m]`.
 * `hits` in answer order (UID order for SEARCH, sort order for SORT).
 * RFC 4731 §3.1: MIN/MAX/ALL are left out when nothing matched; COUNT 0 is
 * given. With SAVE alone no ESEARCH is sent (RFC 5182 §2.4). Returns null then.
 * RFC 5267 §4.4 PARTIAL gives the hits at those positions, NIL when none;
 * UPDATE and CONTEXT add nothing to this answer (§4.2, §4.3).
 */
export function esearchLine(
  tag: string,
  uid: boolean,
  opts: readonly SearchReturnOption[],
  hits: readonly Hit[],
  modseq: bigint | null,
  partial?: PartialRange,
): string | null {
  const want = new Set(opts);
  if (want.size === 1 && want.has('SAVE') && !partial) return null;
  const nums = hits.map((h) => (uid ? h.uid : h.seq));
  // Tags are atoms without quotes or backslashes (RFC 3501 §9 tag), so quoting is plain.
  let line = `* ESEARCH (TAG "${tag}")${uid ? ' UID' : ''}`;
  // SEARCH hits come in ascending order (UIDs and sequence numbers grow together), SORT hits in sort order:
  // either way MIN is the first and MAX the last (RFC 4731 §3.1, RFC 5267 §3.1).
  if (nums.length > 0) {
    if (want.has('MIN')) line += ` MIN ${nums[0]}`;
    if (want.has('MAX')) line += ` MAX ${nums[nums.length - 1]}`;
  }
  if (want.has('COUNT')) line += ` COUNT ${nums.length}`;
  if (nums.length > 0 && want.has('ALL')) line += ` ALL ${formatInOrder(nums)}`;
  if (partial) {
    const window = nums.slice(partial.first - 1, partial.last);
    line += ` PARTIAL (${partial.first}:${partial.last} ${window.length > 0 ? formatInOrder(window) : 'NIL'})`;
  }
  if (modseq !== null && nums.length > 0) line += ` MODSEQ ${modseq}`;
  return `${line}\r\n`;
}

/**
 * The messages an ESEARCH/ESORT answer names (RFC 4731 §3.1, RFC 5267 §3.1):
 * with MIN and/or MAX but neither ALL nor COUNT only those (first and last in
 * answer order), else all hits. SAVE keeps exactly these (RFC 5182 §2.1), and
 * MODSEQ is the highest modseq of these (RFC 7162 §3.1.5).
 */
function returnedHits(opts: readonly SearchReturnOption[], hits: readonly Hit[]): readonly Hit[] {
  const want = new Set(opts);
  if (hits.length === 0 || !(want.has('MIN') || want.has('MAX')) || want.has('ALL') || want.has('COUNT')) return hits;
  const picks: Hit[] = [];
  if (want.has('MIN')) picks.push(hits[0]!);
  if (want.has('MAX') && (picks.length === 0 || hits.length > 1)) picks.push(hits[hits.length - 1]!);
  return picks;
}

/**
 * The MODSEQ of a SEARCH/SORT answer with a MODSEQ key (RFC 7162 §3.1.5):
 * the highest modseq of the messages it returns, null when nothing matched.
 */
export function answerModseq(view: MailboxView, opts: readonly SearchReturnOption[] | null, hits: readonly Hit[]): bigint | null {
  if (hits.length === 0) return null;
  const named = opts ? returnedHits(opts, hits) : hits;
  let max = 0n;
  for (const m of view.records(named.map((h) => h.uid).sort((a, b) => a - b)).found) if (m.modseq > max) max = m.modseq;
  return max;
}

/** RFC 5182 §2.1: SAVE keeps the messages the answer names (returnedHits). */
export function saveResult(view: MailboxView, opts: readonly SearchReturnOption[] | null, hits: readonly Hit[]): void {
  if (!opts || !opts.includes('SAVE')) return;
  view.searchResult = returnedHits(opts, hits).map((h) => h.uid);
}
