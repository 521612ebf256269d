/**
 * SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8). CHARSET is checked by the
 * parser (UTF-8 and US-ASCII, else NO [BADCHARSET]); evaluation lives in
 * search/evaluate.ts. ESEARCH (RETURN) comes with issue 7.
 */
import type { CommandOf } from '../wire/types.js';
import { evaluateSearch, UnsupportedSearchKey } from '../search/evaluate.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { bad, ok } from '../session.js';

export async function searchCommand(env: CommandEnv, cmd: CommandOf<'SEARCH'>): Promise<CommandResult> {
  const s = env.s;
  if (cmd.args.returnOptions !== null) return bad('SEARCH RETURN (ESEARCH) is not supported');
  let hits;
  try {
    hits = await evaluateSearch(s.view, cmd.args.program);
  } catch (err) {
    if (err instanceof UnsupportedSearchKey) return bad(err.message);
    throw err;
  }
  // One line; numbers are short, and even 100,000 hits are under a megabyte.
  let line = '* SEARCH';
  for (const h of hits) line += ` ${cmd.uid ? h.uid : h.seq}`;
  s.out.push(`${line}\r\n`);
  return ok('Search completed');
}
