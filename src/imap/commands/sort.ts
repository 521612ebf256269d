/**
 * SORT and UID SORT (RFC 5256 §3; RFC 5957 DISPLAYFROM/DISPLAYTO), and
 * ESORT: `SORT RETURN (...)` answers with ESEARCH in sort order (RFC 5267
 * §3), which may SAVE the result for `$` (RFC 5182). The search program is
 * the SEARCH evaluator's (skipped for ALL); the keys come from the index
 * through the shared sort columns (search/sort.ts, search/sort-columns.ts).
 * RFC 5267 §4.4 PARTIAL picks positions in sort order; live updates of a
 * sorted result (CONTEXT=SORT) are not offered, so UPDATE answers
 * NO [NOUPDATE] (§4.3.1) and the rest of the answer stands.
 */
import type { CommandOf } from '../wire/types.js';
import { UnsupportedSearchKey, usesModseq } from '../search/evaluate.js';
import { answerModseq, esearchLine, saveResult, type Hit } from '../search/result.js';
import { needsKeys, numberLine, selectMessages, sortSelected, type Selected } from '../search/sort.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, ok } from '../command.js';
import { WorkBudget } from '../../work/budget.js';

export async function sortCommand(env: CommandEnv, cmd: CommandOf<'SORT'>): Promise<CommandResult> {
  const s = env.s;
  const view = s.view;
  const opts = cmd.args.returnOptions;
  const withModseq = usesModseq(cmd.args.program);
  if (withModseq) s.enableCondstore();
  // One budget for the search and the sort (src/work/budget.ts): past it, NO [LIMIT].
  const budget = new WorkBudget();
  let sel: Selected;
  try {
    sel = await selectMessages(view, cmd.args.program, budget, needsKeys(cmd.args.criteria));
  } catch (err) {
    if (opts?.includes('SAVE')) view.searchResult = [];
    if (err instanceof UnsupportedSearchKey) return bad(err.message);
    throw err;
  }
  const order = await sortSelected(sel, cmd.args.criteria, budget);
  const nums = new Float64Array(order.length);
  const from = cmd.uid ? sel.uid : sel.seq;
  for (let i = 0; i < order.length; i++) nums[i] = from[order[i]!]!;
  if (opts === null && !withModseq) {
    s.out.push(numberLine('* SORT', nums, '\r\n'));
    return ok('Sort completed');
  }
  const sorted: Hit[] = Array.from(order, (p) => ({ uid: sel.uid[p]!, seq: sel.seq[p]! }));
  // RFC 7162 §3.1.5: the highest modseq of the returned messages (MIN/MAX alone: just those, in sort order).
  const modseq = withModseq ? answerModseq(view, opts, sorted) : null;
  if (opts !== null) {
    saveResult(view, opts, sorted);
    const line = esearchLine(env.tag, cmd.uid, opts, sorted, modseq, cmd.args.partial);
    if (line) s.out.push(line);
    if (opts.includes('UPDATE')) s.out.push(`* NO [NOUPDATE "${env.tag}"] Updates of sorted results are not offered\r\n`);
    return ok('Sort completed');
  }
  s.out.push(numberLine('* SORT', nums, modseq !== null ? ` (MODSEQ ${modseq})\r\n` : '\r\n'));
  return ok('Sort completed');
}
