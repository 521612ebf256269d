/**
 * THREAD and UID THREAD (RFC 5256 §3 ORDEREDSUBJECT, §4 REFERENCES) over
 * the messages the search program selects; keys from the index.
 */
import type { CommandOf } from '../wire/types.js';
import { evaluateSearch, UnsupportedSearchKey } from '../search/evaluate.js';
import { loadItems } from '../search/sort.js';
import { orderedSubject, references } from '../search/thread.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, ok } from '../command.js';
import { WorkBudget } from '../../work/budget.js';

export async function threadCommand(env: CommandEnv, cmd: CommandOf<'THREAD'>): Promise<CommandResult> {
  const s = env.s;
  const view = s.view;
  // One budget for the search and the threading (src/work/budget.ts): past it, NO [LIMIT].
  const budget = new WorkBudget();
  let hits;
  try {
    hits = await evaluateSearch(view, cmd.args.program, budget);
  } catch (err) {
    if (err instanceof UnsupportedSearchKey) return bad(err.message);
    throw err;
  }
  const { found } = view.records(hits.map((h) => h.uid));
  const items = await loadItems(
    view.handle,
    found.map((rec) => ({ rec, seq: view.seqOf(rec.uid) })),
    budget,
  );
  const id = cmd.uid ? (i: { uid: number }) => i.uid : (i: { seq: number }) => i.seq;
  const text = cmd.args.algorithm === 'REFERENCES' ? await references(items, id, budget) : await orderedSubject(items, id, budget);
  s.out.push(text === '' ? '* THREAD\r\n' : `* THREAD ${text}\r\n`);
  return ok('Thread completed');
}
