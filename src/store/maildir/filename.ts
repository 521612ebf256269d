/**
 * Maildir file names (cr.yp.to/proto/maildir.html; Dovecot's S=/W= and M/P/Q parts): `TIME.M<usec>P<pid>Q<n>.HOST,S=<size>,W=<vsize>:2,<FLAGS>`.
 *
 * The unique part follows djb's maildir.html pieces (M microseconds, P pid,
 * Q deliveries by this process) so names sort by time the way Dovecot sorts
 * them when it hands out UIDs for files it finds.
 */
import { createHash } from 'node:crypto';
import { keywordLetters, type KeywordTable } from './keyword-letters.js';

/** IMAP system flag ↔ Maildir info letter (Dovecot `maildir_filename_get_flags`). */
const FLAG_TO_LETTER: Record<string, string> = {
  '\\Draft': 'D',
  '\\Flagged': 'F',
  '\\Answered': 'R',
  '\\Seen': 'S',
  '\\Deleted': 'T',
};
const LETTER_TO_FLAG: Record<string, string> = Object.fromEntries(Object.entries(FLAG_TO_LETTER).map(([f, l]) => [l, f]));
const SYSTEM_BY_LOWER: Record<string, string> = Object.fromEntries(Object.keys(FLAG_TO_LETTER).map((f) => [f.toLowerCase(), f]));

let lastUsec = 0n;
let deliveries = 0;

/** Escape a host name for a Maildir name: "/" → \057, ":" → \072 (maildir.html). */
export function escapeHost(host: string): string {
  return host.replace(/\//g, '\\057').replace(/:/g, '\\072') || 'localhost';
}

/**
 * A new unique base name (without ,S= ,W=). Microseconds are kept strictly
 * increasing within the process (as Dovecot's maildir_filename_generate does),
 * so two names from one process never collide even within one microsecond.
 */
export function uniqueName(host: string): string {
  // Wall clock in microseconds (ms resolution plus a sub-ms part from hrtime),
  // forced strictly increasing within this process.
  const wall = BigInt(Date.now()) * 1000n + ((process.hrtime.bigint() / 1000n) % 1000n);
  const usec = wall > lastUsec ? wall : lastUsec + 1n;
  lastUsec = usec;
  deliveries++;
  const secs = usec / 1000000n;
  const micro = usec % 1000000n;
  return `${secs}.M${micro}P${process.pid}Q${deliveries}.${escapeHost(host)}`;
}

/** `base,S=..,W=..` */
export function withSizes(unique: string, size: number, vsize: number): string {
  return `${unique},S=${size},W=${vsize}`;
}

export interface ParsedName {
  /** Everything before ":2," (or the whole name). POP3 UIDL. */
  basename: string;
  /** S= value, or null. */
  size: number | null;
  /** W= value, or null. */
  vsize: number | null;
  /** Info letters after ":2," (empty for new/ files). */
  letters: string;
  /** Whether the name carries a ":2," info part. */
  hasInfo: boolean;
}

export function parseName(name: string): ParsedName {
  const colon = name.indexOf(':');
  const basename = colon >= 0 ? name.slice(0, colon) : name;
  let letters = '';
  let hasInfo = false;
  if (colon >= 0 && name.startsWith(':2,', colon)) {
    hasInfo = true;
    letters = name.slice(colon + 3);
    // Dovecot: "<flags>[,<non-standard fields>]" — only the part before a second comma is flags.
    const comma = letters.indexOf(',');
    if (comma >= 0) letters = letters.slice(0, comma);
  }
  return { basename, size: sizeField(basename, 'S'), vsize: sizeField(basename, 'W'), letters, hasInfo };
}

/** `,S=123` style field; digits must be followed by "," or the end (Dovecot's rule). */
function sizeField(basename: string, key: 'S' | 'W'): number | null {
  const re = key === 'S' ? /,S=(\d+)(?=,|$)/ : /,W=(\d+)(?=,|$)/;
  const m = re.exec(basename);
  return m ? Number(m[1]) : null;
}

/** IMAP system flags named by info letters; unknown letters (P, a–z) are not flags here. */
export function flagsFromLetters(letters: string): string[] {
  const out: string[] = [];
  for (const l of letters) {
    const f = LETTER_TO_FLAG[l];
    if (f && !out.includes(f)) out.push(f);
  }
  return out.sort();
}

/**
 * Info letters for a set of IMAP flags, in ASCII order as maildir.html
 * requires (Dovecot sorts its letters the same way, system flags A–Z before
 * keyword letters a–z). Letters we do not map (P "passed", others') are kept
 * from the old name. With the folder's keyword table the letters a–z follow
 * the flags' keywords (Dovecot's dovecot-keywords); without one, the old
 * name's a–z are kept as they are.
 */
export function lettersFor(flags: readonly string[], oldLetters = '', table?: KeywordTable): string {
  const set = new Set<string>();
  for (const l of oldLetters) if (!LETTER_TO_FLAG[l] && !(table && l >= 'a' && l <= 'z')) set.add(l);
  for (const f of flags) {
    const l = FLAG_TO_LETTER[f];
    if (l) set.add(l);
  }
  if (table) for (const l of keywordLetters(flags, table)) set.add(l);
  return [...set].sort().join('');
}

/** The cur/ name for a base name with these flags. */
export function curName(basename: string, flags: readonly string[], oldLetters = '', table?: KeywordTable): string {
  return `${basename}:2,${lettersFor(flags, oldLetters, table)}`;
}

/**
 * Flags as the store keeps them: system flags in canonical case, keywords as
 * given, `\Recent` and unknown backslash flags dropped (\Recent is
 * session state, RFC 3501 §2.3.2), sorted, no duplicates (case-insensitive).
 */
export function normalizeFlags(flags: readonly string[]): string[] {
  const seen = new Map<string, string>();
  for (const raw of flags) {
    if (typeof raw !== 'string' || raw.length === 0) continue;
    if (raw.startsWith('\\')) {
      const sys = SYSTEM_BY_LOWER[raw.toLowerCase()];
      if (sys) seen.set(sys.toLowerCase(), sys);
      continue;
    }
    if (/[\s()\]{"\\%*\u0000-\u001f\u007f]/.test(raw)) continue;
    if (!seen.has(raw.toLowerCase())) seen.set(raw.toLowerCase(), raw);
  }
  return [...seen.values()].sort();
}

/** Flag set key for grouping (order-independent because flags are sorted). */
export function flagsKey(flags: readonly string[]): string {
  return flags.join(' ');
}

/**
 * Compare names for UID assignment of found files: seconds, then the M<usec>
 * part, then the whole base name (Dovecot `maildir_filename_sort_cmp`).
 */
export function compareNames(a: string, b: string): number {
  const ka = sortKey(a);
  const kb = sortKey(b);
  if (ka.secs !== kb.secs) return ka.secs < kb.secs ? -1 : 1;
  if (ka.usec !== kb.usec) return ka.usec < kb.usec ? -1 : 1;
  return a < b ? -1 : a > b ? 1 : 0;
}

function sortKey(name: string): { secs: number; usec: number } {
  const m = /^(\d+)\.(?:M(\d+))?/.exec(name);
  return { secs: m ? Number(m[1]) : 0, usec: m && m[2] ? Number(m[2]) : 0 };
}

/** A short stable hash (used where a name must stay short but distinct). */
export function shortHash(s: string): string {
  return createHash('sha1').update(s).digest('hex').slice(0, 12);
}

/**
 * Name a message should have for these flags: cur/<base>:2,<letters>, with
 * the keyword letters the folder's table gives (keyword-letters.ts) and
 * other letters (P) kept from its current name; the first flag change moves
 * it out of new/ (maildir.html).
 */
export function targetName(row: { basename: string; diskName: string }, flags: readonly string[], table: KeywordTable): string {
  if (row.diskName.startsWith('new/') && flags.length === 0) return row.diskName;
  const letters = parseName(row.diskName.slice(4)).letters;
  return 'cur/' + curName(row.basename, flags, letters, table);
}
