/**
 * SEARCH keys the index's stored search fields answer (SUBJECT, FROM, TO,
 * CC, BCC, and HEADER on store/mime/search-header.ts INDEXED_FIELDS; RFC
 * 3501 §6.4.4), and narrowing with them: every such key with a non-empty
 * string that must hold (a conjunct of the top-level AND) rules out the
 * messages whose stored text does not contain the string at all, in one
 * SQLite scan, before any row reaches JavaScript. The stored text holds
 * every value the key is matched on, so a message ruled out cannot match;
 * the evaluator still checks every key on the messages left, so the answer
 * is exactly a full scan's.
 */
import { INDEXED_FIELDS } from '../../store/mime/search-header.js';
import type { MailboxHandle, StoredFieldsNeedle } from '../../store/store.js';
import type { SearchKey } from '../wire/types.js';
import type { WorkBudget } from '../../work/budget.js';
import { conjuncts } from './fulltext.js';
import { LIMITS } from '../../limits.js';

const MAX_NEEDLES = LIMITS.tuning.searchNarrowingNeedles;

/** Is `k` (a single key, not AND/OR/NOT) answered from the stored fields? */
export function storedKey(k: SearchKey): boolean {
  switch (k.key) {
    case 'BCC':
    case 'CC':
    case 'FROM':
    case 'TO':
    case 'SUBJECT':
      return true;
    case 'HEADER':
      return INDEXED_FIELDS.has(k.field.toLowerCase());
    default:
      return false;
  }
}

/** Does the program have a key the stored search fields answer? */
export function usesStoredFields(prog: SearchKey): boolean {
  const stack: SearchKey[] = [prog];
  while (stack.length > 0) {
    const k = stack.pop()!;
    if (k.key === 'AND') stack.push(...k.operands);
    else if (k.key === 'OR') stack.push(k.left, k.right);
    else if (k.key === 'NOT') stack.push(k.operand);
    else if (storedKey(k)) return true;
  }
  return false;
}

/**
 * UIDs that cannot match the (prepared, lower-cased) program by its stored
 * fields, or null when no required key narrows it. Messages without stored
 * fields are never ruled out.
 */
export async function storedNarrowing(handle: MailboxHandle, prog: SearchKey, budget: WorkBudget): Promise<ReadonlySet<number> | null> {
  const needles: StoredFieldsNeedle[] = [];
  for (const k of conjuncts(prog, [])) {
    if (needles.length >= MAX_NEEDLES) break;
    // HEADER name "" only asks for the field to be there: nothing to look for.
    if (!storedKey(k) || !('value' in k) || k.value === '') continue;
    // The address keys also match the canonical address forms (search-header.ts `addresses`).
    needles.push({ needle: k.value, addresses: k.key === 'BCC' || k.key === 'CC' || k.key === 'FROM' || k.key === 'TO' });
  }
  if (needles.length === 0) return null;
  const out = await handle.searchFieldsExcluded(needles);
  await budget.step(out.size + 1);
  return out;
}
