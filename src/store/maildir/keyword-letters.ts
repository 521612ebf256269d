/**
 * Dovecot's Maildir keywords: a folder's `dovecot-keywords`
 * file numbers its keywords, one "<index> <name>" per line, and the info
 * part of a file name ("…:2,Sab") carries letter a for index 0 up to z for
 * index 25. Keywords past the 26th have no letter (Dovecot keeps them in its
 * index only). Reading both on import/reindex keeps $Forwarded, $Junk,
 * $Label1…; writing them keeps a Maildir readable by Dovecot.
 *
 * Parsing, formatting and the letter mapping are pure. The tables of the
 * folders in use are cached here (bounded, LIMITS.store.keywordTables);
 * a writer of names (file work, delivery, COPY) awaits ensureKeywordLetters
 * first, which gives new keywords their letters and writes the file before
 * any name carries them, so a reader never meets a letter the file lacks.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LIMITS } from '../../limits.js';
import { replaceFile, replaceFileSync } from './fd.js';

export const KEYWORDS_FILE = 'dovecot-keywords';
/** a..z */
export const MAX_LETTERS = 26;

/** index → keyword; holes are unused indexes. */
export type KeywordTable = (string | undefined)[];

/** Parse a `dovecot-keywords` file (lines "<index> <keyword>"; bad lines are skipped). */
export function parseDovecotKeywords(text: string): KeywordTable {
  const table: KeywordTable = [];
  for (const line of text.split('\n')) {
    const m = /^(\d+) (\S+)\r?$/.exec(line);
    if (!m) continue;
    const i = Number(m[1]);
    if (i < MAX_LETTERS && table[i] === undefined && !m[2]!.startsWith('\\')) table[i] = m[2]!;
  }
  return table;
}

export function formatDovecotKeywords(table: KeywordTable): string {
  let out = '';
  for (let i = 0; i < table.length; i++) if (table[i] !== undefined) out += `${i} ${table[i]}\n`;
  return out;
}

/** The folder's table, empty when it has no `dovecot-keywords`. */
export function readDovecotKeywords(dir: string): KeywordTable {
  try {
    return parseDovecotKeywords(fs.readFileSync(path.join(dir, KEYWORDS_FILE), 'utf8'));
  } catch {
    return [];
  }
}

/** Keywords named by the letters a–z of an info part (other letters are system flags or unknown). */
export function keywordsFromLetters(letters: string, table: KeywordTable): string[] {
  const out: string[] = [];
  for (const l of letters) {
    const i = l.charCodeAt(0) - 0x61;
    if (i < 0 || i >= MAX_LETTERS) continue;
    const k = table[i];
    if (k !== undefined && !out.includes(k)) out.push(k);
  }
  return out;
}

/**
 * The letters for a message's keywords, giving each keyword not in the table
 * the first free index (as Dovecot does; keywords are case-insensitive,
 * RFC 3501 §2.3.2). Returns the letters sorted and whether the table grew
 * (then `dovecot-keywords` must be written before the new name).
 */
export function lettersForKeywords(keywords: readonly string[], table: KeywordTable): { letters: string; grew: boolean } {
  let grew = false;
  const letters: string[] = [];
  for (const k of keywords) {
    if (k.startsWith('\\')) continue;
    let i = table.findIndex((t) => t !== undefined && t.toLowerCase() === k.toLowerCase());
    if (i < 0) {
      i = table.findIndex((t) => t === undefined);
      if (i < 0) i = table.length;
      if (i >= MAX_LETTERS) continue;
      table[i] = k;
      grew = true;
    }
    letters.push(String.fromCharCode(0x61 + i));
  }
  return { letters: [...new Set(letters)].sort().join(''), grew };
}

/** Write the table atomically (tmp + rename), so a reader never sees half a file. */
export function writeDovecotKeywords(dir: string, table: KeywordTable): void {
  // Durable before the rename (replaceFileSync): names with its letters may follow at once.
  replaceFileSync(path.join(dir, KEYWORDS_FILE), formatDovecotKeywords(table));
}

/**
 * Make `table` the folder's table, on disk and in the cache: a replica
 * takes the primary's table from a 'keywords' record (store/side-files.ts)
 * before any name that uses its letters arrives, so its own flag renames
 * never give a letter another meaning.
 */
export function installKeywordTable(dir: string, table: KeywordTable): void {
  if (formatDovecotKeywords(readDovecotKeywords(dir)) !== formatDovecotKeywords(table)) writeDovecotKeywords(dir, table);
  remember(dir, [...table]);
}

/** The table's index of a keyword (case-insensitive, RFC 3501 §2.3.2), or -1. */
export function keywordIndex(keyword: string, table: KeywordTable): number {
  const lower = keyword.toLowerCase();
  for (let i = 0; i < table.length && i < MAX_LETTERS; i++) if (table[i] !== undefined && table[i]!.toLowerCase() === lower) return i;
  return -1;
}

/** Letters a–z the table already gives these flags' keywords (no new index; keywords without one get no letter). */
export function keywordLetters(flags: readonly string[], table: KeywordTable): string {
  let out = '';
  for (const f of flags) {
    if (f.startsWith('\\')) continue;
    const i = keywordIndex(f, table);
    if (i >= 0) out += String.fromCharCode(0x61 + i);
  }
  return out;
}

const tables = new Map<string, KeywordTable>();

function remember(dir: string, table: KeywordTable): void {
  tables.delete(dir);
  tables.set(dir, table);
  // Insertion order is use order: drop the least recently loaded folder.
  while (tables.size > LIMITS.store.keywordTables) tables.delete(tables.keys().next().value!);
}

/** The folder's keyword table (from the cache, else from its dovecot-keywords). */
export function keywordTable(dir: string): KeywordTable {
  let t = tables.get(dir);
  if (!t) remember(dir, (t = readDovecotKeywords(dir)));
  return t;
}

/** Read a folder's table from its file again (another program may have changed it). */
export function reloadKeywordTable(dir: string): KeywordTable {
  const t = readDovecotKeywords(dir);
  remember(dir, t);
  return t;
}

/** Forget a folder's cached table (the folder was deleted or renamed). */
export function forgetKeywordTable(dir: string): void {
  for (const d of [...tables.keys()]) if (d === dir || d.startsWith(dir + path.sep)) tables.delete(d);
}

/** Whether naming with `table` would leave a keyword of `flags` without a letter while one is free. */
function lacksLetters(table: KeywordTable, flags: readonly string[]): boolean {
  if (table.length >= MAX_LETTERS && !table.includes(undefined)) return false;
  return flags.some((f) => !f.startsWith('\\') && keywordIndex(f, table) < 0);
}

/** Letter assignments in progress, per folder: one at a time, so two never give one index to two keywords. */
const assigning = new Map<string, Promise<unknown>>();

/**
 * Give every keyword of `flags` a letter if one is free, writing the
 * folder's dovecot-keywords (tmp, fsync, rename; off the event loop) before
 * resolving when the table grew; the file is read again first, so indexes
 * another writer added (Dovecot, a second Roost process) are kept.
 * Assignments in one folder run one after another: concurrent ones (two
 * APPENDs, a STORE beside a COPY) each see the letters the other gave.
 * Past 26 keywords the rest live only in the index, as in Dovecot.
 * Resolves to the table to name with.
 */
export function ensureKeywordLetters(dir: string, flags: readonly string[]): Promise<KeywordTable> {
  const cached = tables.get(dir);
  // The common case: every keyword has its letter already; nothing to wait for.
  if (cached && !lacksLetters(cached, flags) && !assigning.has(dir)) return Promise.resolve(cached);
  const run = (assigning.get(dir) ?? Promise.resolve()).then(async () => {
    const known = tables.get(dir);
    if (known && !lacksLetters(known, flags)) return known;
    const table = parseDovecotKeywords(await fs.promises.readFile(path.join(dir, KEYWORDS_FILE), 'utf8').catch(() => ''));
    const { grew } = lettersForKeywords(flags, table);
    // Durable before the rename (replaceFile): names with its letters may follow at once.
    if (grew) await replaceFile(path.join(dir, KEYWORDS_FILE), formatDovecotKeywords(table));
    remember(dir, table);
    return table;
  });
  const tail = run.catch(() => undefined);
  assigning.set(dir, tail);
  void tail.then(() => {
    if (assigning.get(dir) === tail) assigning.delete(dir);
  });
  return run;
}
