/**
 * THREAD (RFC 5256 §3 ORDEREDSUBJECT here, §4 REFERENCES in
 * thread-references.ts) over the selected messages' sort columns, and the
 * thread-list output (§5 BNF: `(3 6 (4 23)(44 7 96))`). Numbers are
 * sequence numbers, or UIDs for UID THREAD. The work is charged to the
 * command's budget (src/work/budget.ts) and pauses between passes.
 */
import type { WorkBudget } from '../../work/budget.js';
import type { NumberWriter } from './digits.js';
import { countingPass, type Selected } from './sort.js';

export { references } from './thread-references.js';

/**
 * §3: sort by base subject then sent date (then sequence number: counting
 * passes over the columns' ranks, sort.ts); each subject group is one
 * thread, all children of its first message; threads ordered by the sent
 * date of their first message.
 */
export async function orderedSubject(w: NumberWriter, sel: Selected, uid: boolean, budget: WorkBudget): Promise<void> {
  const subject = await sel.cols.rank('SUBJECT');
  const date = await sel.cols.rank('DATE');
  let order: Int32Array<ArrayBuffer> = new Int32Array(sel.count);
  for (let i = 0; i < sel.count; i++) order[i] = i;
  await budget.step(sel.count + date.distinct);
  order = countingPass(order, sel.slot, date.rank, date.distinct, false);
  await budget.step(sel.count + subject.distinct);
  order = countingPass(order, sel.slot, subject.rank, subject.distinct, false);
  // Thread starts (positions into `order`), then the threads by their first message's date and sequence number.
  const starts: number[] = [];
  for (let i = 0; i < order.length; i++) {
    if (i === 0 || subject.rank[sel.slot[order[i]!]!] !== subject.rank[sel.slot[order[i - 1]!]!]) starts.push(i);
  }
  // Positions ascend with sequence numbers: sorted, then a stable pass by date breaks date ties by sequence number.
  const at = new Map<number, number>();
  for (let t = 0; t < starts.length; t++) at.set(order[starts[t]!]!, t);
  const firsts = Int32Array.from(starts, (i) => order[i]!).sort();
  await budget.step(sel.count + date.distinct);
  const threads = countingPass(firsts, sel.slot, date.rank, date.distinct, false);
  const ids = uid ? sel.uid : sel.seq;
  // §5: a thread of one message is "(a)", of two "(a b)", of more "(a (b)(c)…)".
  for (let k = 0; k < threads.length; k++) {
    const t = at.get(threads[k]!)!;
    const from = starts[t]!;
    const to = t + 1 < starts.length ? starts[t + 1]! : order.length;
    w.byte(0x28);
    w.num(ids[order[from]!]!);
    if (to - from === 2) {
      w.byte(0x20);
      w.num(ids[order[from + 1]!]!);
    } else if (to - from > 2) {
      w.byte(0x20);
      for (let i = from + 1; i < to; i++) {
        w.byte(0x28);
        w.num(ids[order[i]!]!);
        w.byte(0x29);
      }
    }
    w.byte(0x29);
    if ((k & 1023) === 1023) await budget.step(1024);
  }
}
