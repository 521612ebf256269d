/**
 * Search hits as two columns, UIDs and sequence numbers in sequence order
 * (what SORT and THREAD work on, search/sort.ts), and the one walk that
 * answers ALL for SEARCH, SORT and THREAD alike (search/evaluate.ts).
 */
import type { MessageRecord } from '../../store/types.js';
import type { MailboxView } from '../mailbox-view.js';
import type { WorkBudget } from '../../work/budget.js';

/** The hits of a search as columns (SORT and THREAD): UIDs and sequence numbers, in sequence order. */
export interface HitColumns {
  readonly uid: Float64Array;
  readonly seq: Float64Array;
}

/** The view's messages less those expunged meanwhile: the view's UIDs and the store's are both ascending, a merge walk. */
export function everyMessage(view: MailboxView, budget: WorkBudget): Promise<HitColumns> {
  return liveHits(view, budget, null, { perMessage: 1, slice: Infinity });
}

/**
 * everyMessage's merge walk keeping the messages `keep` accepts (all when
 * null). Charges `cost.perMessage` units per message walked, in steps of
 * `cost.slice` messages (each step may yield) and the rest at the end.
 */
export async function liveHits(
  view: MailboxView,
  budget: WorkBudget,
  keep: ((m: MessageRecord, seq: number) => boolean) | null,
  cost: { readonly perMessage: number; readonly slice: number },
): Promise<HitColumns> {
  const msgs = view.handle.snapshot().messages;
  const uid = new Float64Array(view.exists);
  const seq = new Float64Array(view.exists);
  let n = 0;
  let j = 0;
  for (let s = 1; s <= view.exists; s++) {
    const u = view.uidAt(s);
    while (j < msgs.length && msgs[j]!.uid < u) j++;
    if (j < msgs.length && msgs[j]!.uid === u && (keep === null || keep(msgs[j]!, s))) {
      uid[n] = u;
      seq[n++] = s;
    }
    if (s % cost.slice === 0) await budget.step(cost.slice * cost.perMessage);
  }
  await budget.step((view.exists % cost.slice) * cost.perMessage);
  return { uid: uid.subarray(0, n), seq: seq.subarray(0, n) };
}
