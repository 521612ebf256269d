/**
 * SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8). CHARSET is checked by the
 * parser (UTF-8 and US-ASCII, else NO [BADCHARSET]); evaluation lives in
 * search/evaluate.ts. `RETURN (...)` answers with ESEARCH (RFC 4731) and
 * may SAVE the result for `$` (RFC 5182); MODSEQ adds the highest modseq of
 * the hits (RFC 7162 §3.1.5). RFC 5267 §4: PARTIAL picks result positions,
 * UPDATE keeps the result live (search-context.ts), CONTEXT is a hint.
 */
import type { CommandOf } from '../wire/types.js';
import { evaluateSearch, UnsupportedSearchKey, usesModseq } from '../search/evaluate.js';
import { answerModseq, esearchLine, saveResult } from '../search/result.js';
import { searchUpdate } from '../search-context.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, ok } from '../command.js';

export async function searchCommand(env: CommandEnv, cmd: CommandOf<'SEARCH'>): Promise<CommandResult> {
  const s = env.s;
  const opts = cmd.args.returnOptions;
  // RFC 7162 §3.1.5: MODSEQ enables CONDSTORE, and a non-empty answer carries the highest modseq of the hits.
  const withModseq = usesModseq(cmd.args.program);
  if (withModseq) s.enableCondstore();
  const update = opts?.includes('UPDATE') === true;
  if (update) {
    const refused = searchUpdate.begin(s.searchContexts, s.view, env.tag);
    if (refused) return bad(refused);
  }
  let hits;
  try {
    hits = await evaluateSearch(s.view, cmd.args.program);
  } catch (err) {
    // RFC 5182 §2.1: a failed SEARCH ... RETURN (SAVE) leaves `$` empty.
    if (opts?.includes('SAVE')) s.view.searchResult = [];
    if (err instanceof UnsupportedSearchKey) return bad(err.message);
    throw err;
  }
  const modseq = withModseq ? answerModseq(s.view, opts, hits) : null;
  if (opts !== null) {
    saveResult(s.view, opts, hits);
    const line = esearchLine(env.tag, cmd.uid, opts, hits, modseq, cmd.args.partial);
    if (line) s.out.push(line);
    if (update) searchUpdate.finish(s.searchContexts, s.out, s.view, { tag: env.tag, uid: cmd.uid, program: cmd.args.program }, hits.map((h) => h.uid));
    return ok('Search completed');
  }
  // One line; numbers are short, and even 100,000 hits are under a megabyte.
  let line = '* SEARCH';
  for (const h of hits) line += ` ${cmd.uid ? h.uid : h.seq}`;
  if (modseq !== null) line += ` (MODSEQ ${modseq})`;
  s.out.push(`${line}\r\n`);
  return ok('Search completed');
}
