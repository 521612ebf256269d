/**
 * A stable sort that yields to the event loop (src/work/budget.ts): SORT
 * and THREAD order tens of thousands of messages, and Array.prototype.sort
 * over them is one long synchronous call. Runs of RUN items are sorted
 * natively, then merged bottom-up, pausing every MERGE_STEP items; each
 * comparison is charged to the command's budget.
 */
import type { WorkBudget } from './budget.js';

const RUN = 1024;
const MERGE_STEP = 4096;

export async function sortInSlices<T>(input: readonly T[], cmp: (a: T, b: T) => number, budget: WorkBudget): Promise<T[]> {
  const n = input.length;
  let a = input.slice();
  for (let i = 0; i < n; i += RUN) {
    const part = a.slice(i, i + RUN).sort(cmp);
    for (let j = 0; j < part.length; j++) a[i + j] = part[j]!;
    await budget.step(part.length * Math.ceil(Math.log2(part.length + 1)));
  }
  let b = new Array<T>(n);
  for (let width = RUN; width < n; width *= 2) {
    let k = 0;
    for (let lo = 0; lo < n; lo += 2 * width) {
      const mid = Math.min(lo + width, n);
      const hi = Math.min(lo + 2 * width, n);
      let i = lo;
      let j = mid;
      while (i < mid || j < hi) {
        // Ties keep the left (earlier) item first: stable.
        b[k++] = j >= hi || (i < mid && cmp(a[i]!, a[j]!) <= 0) ? a[i++]! : a[j++]!;
        if (k % MERGE_STEP === 0) await budget.step(MERGE_STEP);
      }
    }
    [a, b] = [b, a];
  }
  return a;
}
