/**
 * THREAD and UID THREAD (RFC 5256 §3 ORDEREDSUBJECT, §4 REFERENCES) over
 * the messages the search program selects; keys from the index through
 * the shared sort columns (search/sort-columns.ts).
 */
import type { CommandOf } from '../wire/types.js';
import { UnsupportedSearchKey } from '../search/evaluate.js';
import { selectMessages } from '../search/sort.js';
import { orderedSubject, references } from '../search/thread.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, ok } from '../command.js';
import { WorkBudget } from '../../work/budget.js';

export async function threadCommand(env: CommandEnv, cmd: CommandOf<'THREAD'>): Promise<CommandResult> {
  const s = env.s;
  const view = s.view;
  // One budget for the search and the threading (src/work/budget.ts): past it, NO [LIMIT].
  const budget = new WorkBudget();
  let sel;
  try {
    sel = await selectMessages(view, cmd.args.program, budget);
  } catch (err) {
    if (err instanceof UnsupportedSearchKey) return bad(err.message);
    throw err;
  }
  const text = cmd.args.algorithm === 'REFERENCES' ? await references(sel, cmd.uid, budget) : await orderedSubject(sel, cmd.uid, budget);
  s.out.push(text === '' ? '* THREAD\r\n' : `* THREAD ${text}\r\n`);
  return ok('Thread completed');
}
