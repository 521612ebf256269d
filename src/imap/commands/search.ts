/**
 * SEARCH and UID SEARCH (RFC 3501 §6.4.4, §6.4.8). CHARSET is checked by the
 * parser (UTF-8 and US-ASCII, else NO [BADCHARSET]); evaluation lives in
 * search/evaluate.ts. ESEARCH (RETURN) comes with issue 7.
 */
import type { CommandOf } from '../wire/types.js';
import { evaluateSearch, UnsupportedSearchKey, usesModseq } from '../search/evaluate.js';
import type { MailboxView } from '../mailbox-view.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { bad, ok } from '../session.js';

export async function searchCommand(env: CommandEnv, cmd: CommandOf<'SEARCH'>): Promise<CommandResult> {
  const s = env.s;
  if (cmd.args.returnOptions !== null) return bad('SEARCH RETURN (ESEARCH) is not supported');
  // RFC 7162 §3.1.5: MODSEQ enables CONDSTORE, and a non-empty answer carries the highest modseq of the hits.
  const withModseq = usesModseq(cmd.args.program);
  if (withModseq) s.enabled.add('CONDSTORE');
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
  if (withModseq && hits.length > 0) line += ` (MODSEQ ${highestOf(s.view, hits)})`;
  s.out.push(`${line}\r\n`);
  return ok('Search completed');
}

function highestOf(view: MailboxView, hits: readonly { uid: number }[]): bigint {
  let max = 0n;
  for (const m of view.records(hits.map((h) => h.uid)).found) if (m.modseq > max) max = m.modseq;
  return max;
}
