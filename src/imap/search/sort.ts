/**
 * SORT keys and ordering (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO).
 * Keys come from the index, read once per mailbox into shared columns
 * (sort-columns.ts): INTERNALDATE and RFC822.SIZE from the message record,
 * the others from the sort keys stored with the MIME structure at delivery,
 * so no message file is read and no whole structure parsed.
 *
 * Comparisons: i;ascii-casemap for addresses and subjects (RFC 5256 §3:
 * ASCII letters compared as upper case), i;unicode-casemap for display names
 * (RFC 5957 §3, RFC 5051). Each key is a rank per message (equal keys,
 * equal rank); the sort is a stable counting sort per criterion, last
 * criterion first (least significant digit first), over the messages in
 * sequence order, so equal messages stay ordered by sequence number (RFC
 * 5256 §3, last paragraph) and REVERSE flips a key's ranks only.
 *
 * Every pass is charged to the command's budget (src/work/budget.ts) and
 * yields between passes.
 */
import type { SearchKey, SortCriterion } from '../wire/types.js';
import type { MailboxView } from '../mailbox-view.js';
import type { WorkBudget } from '../../work/budget.js';
import { searchHits } from './evaluate.js';
import { sortColumns, type ColumnSet } from './sort-columns.js';

export { asciiCasemap, unicodeCasemap } from './casemap.js';
export { numberLine } from './digits.js';

/** The messages a SORT or THREAD works on, in sequence order, with their column slots. */
export interface Selected {
  readonly cols: ColumnSet;
  readonly count: number;
  readonly uid: Float64Array;
  readonly seq: Float64Array;
  /** Slot of each message in `cols`. */
  readonly slot: Int32Array;
}

/**
 * Messages of the view the search program selects (those another session
 * expunged meanwhile left out), with the mailbox's columns. `ALL` takes the
 * view as it is, without a key evaluation per message. `withKeys` false
 * (needsKeys): the criteria are ARRIVAL and SIZE only, which need no stored key.
 */
export async function selectMessages(view: MailboxView, program: SearchKey, budget: WorkBudget, withKeys = true): Promise<Selected> {
  // The columns (ARRIVAL, SIZE) are built from exact facts only (store/facts.ts): they are kept for later commands.
  await view.handle.ensureFacts();
  // The store's messages first: the columns then hold every message the search can still find.
  const msgs = view.handle.snapshot().messages;
  const hits = await searchHits(view, program, budget);
  const cols = await sortColumns.columns(view.accountId, view.handle, msgs, budget, withKeys);
  const at = cols.slots(hits.uid);
  // A message whose keys could not be read (expunged while they were) is left out.
  let n = 0;
  const uid = new Float64Array(hits.uid.length);
  const seq = new Float64Array(hits.uid.length);
  const slot = new Int32Array(hits.uid.length);
  for (let i = 0; i < hits.uid.length; i++) {
    if (at[i] === -1) continue;
    uid[n] = hits.uid[i]!;
    seq[n] = hits.seq[i]!;
    slot[n++] = at[i]!;
  }
  return { cols, count: n, uid: uid.subarray(0, n), seq: seq.subarray(0, n), slot: slot.subarray(0, n) };
}

/** Do the criteria look at the stored keys (all but ARRIVAL and SIZE, which the message record has)? */
export function needsKeys(criteria: readonly SortCriterion[]): boolean {
  return criteria.some((c) => c.key !== 'ARRIVAL' && c.key !== 'SIZE');
}

/**
 * One stable counting-sort pass: `order` (positions into `slot`) reordered by
 * the rank of each position's slot, descending when `reverse`.
 */
export function countingPass(order: Int32Array, slot: Int32Array, rank: Int32Array, distinct: number, reverse: boolean): Int32Array<ArrayBuffer> {
  const counts = new Int32Array(distinct + 1);
  const key = (p: number): number => {
    const r = rank[slot[p]!]!;
    return reverse ? distinct - 1 - r : r;
  };
  for (let i = 0; i < order.length; i++) counts[key(order[i]!) + 1]!++;
  for (let r = 1; r <= distinct; r++) counts[r]! += counts[r - 1]!;
  const out = new Int32Array(order.length);
  for (let i = 0; i < order.length; i++) {
    const p = order[i]!;
    out[counts[key(p)]!++] = p;
  }
  return out;
}

/** Positions of `sel` in sort order under the criteria (RFC 5256 §3). */
export async function sortSelected(sel: Selected, criteria: readonly SortCriterion[], budget: WorkBudget): Promise<Int32Array> {
  let order: Int32Array<ArrayBuffer> = new Int32Array(sel.count);
  for (let i = 0; i < sel.count; i++) order[i] = i;
  for (let c = criteria.length - 1; c >= 0; c--) {
    const { key, reverse } = criteria[c]!;
    const { rank, distinct } = await sel.cols.rank(key);
    await budget.step(sel.count + distinct);
    order = countingPass(order, sel.slot, rank, distinct, reverse);
  }
  return order;
}
