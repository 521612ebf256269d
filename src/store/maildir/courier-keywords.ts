/**
 * Courier-IMAP's keywords, read when a Courier Maildir is
 * taken in (import, reindex), so `$Label1`, `$Junk`… survive a move from
 * Courier as they do from Dovecot (keyword-letters.ts). Courier keeps them
 * beside the folder, not in the file names:
 *
 *  - `courierimapkeywords/:list`: the keyword names, one per line, up to an
 *    empty line (a keyword's number is its position, from 0); then one line
 *    per message, `<base name>:<n> <n> …` (the base name is the file name
 *    before `:2,`);
 *  - `courierimapkeywords/<base name>` or `courierimapkeywords/.<N>.<base name>`:
 *    a later change of one message, its keyword names one per line. It
 *    replaces that message's line in `:list`; a plain name wins over the
 *    numbered ones, and among those the highest N wins.
 *
 * (Dovecot's courier-dovecot-migrate.pl reads the same layout.) Read-only:
 * Roost writes Dovecot's form. Bad lines are skipped; sizes are bounded by
 * LIMITS.store.maxCourierKeywordsBytes per file read.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LIMITS } from '../../limits.js';

export const COURIER_KEYWORDS_DIR = 'courierimapkeywords';
const LIST = ':list';
const UPDATE = /^\.(\d+)\.(.+)$/;

/** A file's text, or null when it is missing, not a file, or larger than the limit. */
function readBounded(file: string): string | null {
  try {
    const st = fs.statSync(file);
    if (!st.isFile() || st.size > LIMITS.store.maxCourierKeywordsBytes) return null;
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

/** Keyword names of an update file: one per line, empty lines and spaces dropped. */
function names(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/\s/.test(l));
}

/** Parse `:list`: the keywords of each base name. */
export function parseCourierList(text: string): Map<string, string[]> {
  const lines = text.split('\n');
  const table: string[] = [];
  let i = 0;
  for (; i < lines.length && lines[i]!.trim() !== ''; i++) table.push(lines[i]!.trim());
  const out = new Map<string, string[]>();
  for (i++; i < lines.length; i++) {
    const m = /^([^:]+):([\d ]*)$/.exec(lines[i]!.trimEnd());
    if (!m) continue;
    const kws = m[2]!
      .split(' ')
      .filter((n) => n !== '')
      .map((n) => table[Number(n)])
      .filter((k): k is string => k !== undefined && k !== '');
    if (kws.length > 0) out.set(m[1]!, kws);
  }
  return out;
}

/**
 * Every message's Courier keywords in folder `dir`, by base name (the file
 * name before `:2,`); empty when the folder has none.
 */
export function readCourierKeywords(dir: string): Map<string, string[]> {
  const kwDir = path.join(dir, COURIER_KEYWORDS_DIR);
  let entries: string[];
  try {
    entries = fs.readdirSync(kwDir);
  } catch {
    return new Map();
  }
  const list = readBounded(path.join(kwDir, LIST));
  const out = list === null ? new Map<string, string[]>() : parseCourierList(list);
  // The update that counts per base name: a plain name (N = Infinity) over the highest .N.
  const latest = new Map<string, { n: number; file: string }>();
  for (const e of entries) {
    if (e === LIST) continue;
    const m = UPDATE.exec(e);
    const base = m ? m[2]! : e;
    if (base.startsWith('.') || base.includes(':')) continue;
    const n = m ? Number(m[1]) : Infinity;
    const old = latest.get(base);
    if (!old || n > old.n) latest.set(base, { n, file: e });
  }
  for (const [base, { file }] of latest) {
    const text = readBounded(path.join(kwDir, file));
    if (text === null) continue;
    const kws = names(text);
    if (kws.length > 0) out.set(base, kws);
    else out.delete(base);
  }
  return out;
}
