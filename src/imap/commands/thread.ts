/**
 * THREAD and UID THREAD (RFC 5256 §3 ORDEREDSUBJECT, §4 REFERENCES) over
 * the messages the search program selects; keys from the index through
 * the shared sort columns (search/sort-columns.ts).
 */
import type { CommandOf } from '../wire/types.js';
import { UnsupportedSearchKey } from '../search/evaluate.js';
import { NumberWriter } from '../search/digits.js';
import { selectMessages } from '../search/sort.js';
import { orderedSubject, references } from '../search/thread.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, ok } from '../command.js';
import { WorkBudget } from '../../work/budget.js';

const CRLF = Buffer.from('\r\n');

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
  // One buffer for the whole answer (search/digits.ts); "* THREAD" alone when nothing was selected.
  const w = new NumberWriter(64 + sel.count * 10);
  w.text('* THREAD');
  const start = w.length;
  w.byte(0x20);
  if (cmd.args.algorithm === 'REFERENCES') await references(w, sel, cmd.uid, budget);
  else await orderedSubject(w, sel, cmd.uid, budget);
  const out = w.done();
  s.out.push(Buffer.concat([out.length === start + 1 ? out.subarray(0, start) : out, CRLF]));
  return ok('Thread completed');
}
