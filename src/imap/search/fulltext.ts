/**
 * Narrowing a SEARCH with the store's full-text index (textCandidates):
 * every BODY/TEXT key that must hold (a conjunct of the top-level AND)
 * limits the messages the evaluator looks at to the index's candidates. The
 * evaluator still checks every key on every remaining message, so the answer
 * is exactly a full scan's (RFC 3501 §6.4.4 substring semantics); only the
 * messages that cannot match are skipped.
 */
import type { MailboxHandle } from '../../store/store.js';
import type { SearchKey } from '../wire/types.js';
import type { WorkBudget } from '../../work/budget.js';
import { LIMITS } from '../../limits.js';

const MAX_QUERIES = LIMITS.tuning.searchIndexQueries;

/** The keys that must hold: operands of the top-level AND, nested ANDs flattened. */
export function conjuncts(k: SearchKey, out: SearchKey[]): SearchKey[] {
  if (k.key === 'AND') for (const op of k.operands) conjuncts(op, out);
  else out.push(k);
  return out;
}

/** UIDs that can possibly match `program`, or null when the index cannot narrow it. */
export async function textNarrowing(handle: MailboxHandle, program: SearchKey, budget: WorkBudget): Promise<ReadonlySet<number> | null> {
  let result: Set<number> | null = null;
  let queries = 0;
  for (const k of conjuncts(program, [])) {
    if (k.key !== 'BODY' && k.key !== 'TEXT') continue;
    if (queries++ >= MAX_QUERIES) break;
    const c = await handle.textCandidates(k.key, k.value);
    if (c === null) continue;
    await budget.step(c.size + (result?.size ?? 0));
    if (result === null) result = new Set(c);
    else for (const uid of result) if (!c.has(uid)) result.delete(uid);
  }
  return result;
}
