/**
 * Dovecot's Maildir keywords (issue 15 §2): a folder's `dovecot-keywords`
 * file numbers its keywords, one "<index> <name>" per line, and the info
 * part of a file name ("…:2,Sab") carries letter a for index 0 up to z for
 * index 25. Keywords past the 26th have no letter (Dovecot keeps them in its
 * index only). Reading both on import/reindex keeps $Forwarded, $Junk,
 * $Label1…; writing them keeps a Maildir readable by Dovecot.
 *
 * Pure: parsing, formatting and the letter mapping. Where the file is read
 * and written is the caller's (recovery on import; the flag renamer when
 * names follow the index).
 */
import fs from 'node:fs';
import path from 'node:path';

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
  const file = path.join(dir, KEYWORDS_FILE);
  const tmp = `${file}.roost-${process.pid}`;
  fs.writeFileSync(tmp, formatDovecotKeywords(table), { mode: 0o600 });
  fs.renameSync(tmp, file);
}
