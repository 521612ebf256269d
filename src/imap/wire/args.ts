/**
 * The argument cursor and the value grammar every command parser shares
 * (RFC 3501 §9 unless noted: tag, number, mod-sequence, sequence set,
 * mailbox name, flag, date-time). Every refusal is a `ParseError`
 * whose message is sent as the BAD (or NO) text, so it names what was wrong.
 */
import { decodeMailboxName, Utf7Error } from '../../text/mutf7.js';
import { parseSequenceSet, SeqSetError } from './seqset.js';
import type { SequenceSet, Token } from './types.js';

export class ParseError extends Error {
  constructor(
    message: string,
    readonly status: 'BAD' | 'NO' = 'BAD',
    readonly code: string | null = null,
  ) {
    super(message);
    this.name = 'ParseError';
  }
}

/** RFC 3501 §9 tag: ASTRING-CHAR except "+", i.e. no SP ( ) { % * " \ + or controls. */
const TAG_RE = /^[\x21\x23\x24\x26\x27\x2c-\x5b\x5d-\x7a\x7c\x7e]+$/;

/** The tag of a command's first token, or null if it is not a valid tag. */
export function tagOf(t: Token | undefined): string | null {
  if (!t || t.type !== 'atom' || t.section !== null) return null;
  return TAG_RE.test(t.value) ? t.value : null;
}

// ---------------------------------------------------------------------------
// Argument cursor
// ---------------------------------------------------------------------------

const NUMBER_RE = /^[0-9]{1,10}$/;
const MAX_U32 = 4294967295;
const MAX_MODSEQ = (1n << 63n) - 1n;

/** Reads a command's arguments left to right; every accessor names what it expected. */
export class Args {
  private i = 0;
  constructor(
    private readonly toks: readonly Token[],
    readonly command: string,
  ) {}

  get done(): boolean {
    return this.i >= this.toks.length;
  }

  peek(): Token | undefined {
    return this.toks[this.i];
  }

  /** Upper-cased atom value of the next token, if it is a plain atom. */
  peekKeyword(): string | null {
    const t = this.toks[this.i];
    return t && t.type === 'atom' && t.section === null ? t.value.toUpperCase() : null;
  }

  next(what: string): Token {
    const t = this.toks[this.i];
    if (!t) throw new ParseError(`Missing ${what}`);
    this.i++;
    return t;
  }

  atom(what: string): string {
    const t = this.next(what);
    if (t.type !== 'atom' || t.section !== null) throw new ParseError(`Invalid ${what}: expected an atom`);
    return t.value;
  }

  keyword(what: string): string {
    return this.atom(what).toUpperCase();
  }

  /** atom or string, as bytes */
  astring(what: string): Buffer {
    return astringBytes(this.next(what), what);
  }

  list(what: string): readonly Token[] {
    const t = this.next(what);
    if (t.type !== 'list') throw new ParseError(`Invalid ${what}: expected a parenthesised list`);
    return t.items;
  }

  number(what: string, nonZero = false): number {
    return parseNumber(this.atom(what), what, nonZero);
  }

  sequenceSet(what = 'sequence set'): SequenceSet {
    const t = this.next(what);
    if (t.type !== 'atom' || t.section !== null) throw new ParseError(`Invalid ${what}`);
    return seqSet(t.value);
  }

  mailbox(what = 'mailbox name'): string {
    return mailboxName(this.astring(what));
  }

  end(): void {
    if (!this.done) throw new ParseError(`Unexpected extra arguments to ${this.command}`);
  }
}

export function astringBytes(t: Token, what: string): Buffer {
  if (t.type === 'string') return t.value;
  if (t.type === 'atom' && t.section === null) return Buffer.from(t.value, 'latin1');
  throw new ParseError(`Invalid ${what}: expected a string`);
}

export function parseNumber(s: string, what: string, nonZero = false): number {
  if (!NUMBER_RE.test(s)) throw new ParseError(`Invalid ${what} "${s}": expected a number`);
  const n = Number(s);
  if (n > MAX_U32 || (nonZero && n === 0)) throw new ParseError(`Invalid ${what} "${s}": out of range`);
  return n;
}

/** RFC 7162 §7 mod-sequence-value (1..2^63-1), or mod-sequence-valzer when `allowZero`. */
export function parseModseq(s: string, what: string, allowZero: boolean): bigint {
  if (!/^[0-9]{1,19}$/.test(s)) throw new ParseError(`Invalid ${what} "${s}"`);
  const v = BigInt(s);
  if (v > MAX_MODSEQ || (!allowZero && v === 0n)) throw new ParseError(`Invalid ${what} "${s}": out of range`);
  return v;
}

export function seqSet(text: string): SequenceSet {
  try {
    return parseSequenceSet(text);
  } catch (e) {
    if (e instanceof SeqSetError) throw new ParseError(e.message);
    throw e;
  }
}

/**
 * Mailbox name bytes → Unicode, INBOX canonicalised (RFC 3501 §5.1: INBOX
 * is case-insensitive; "inbox.foo" names a child of INBOX with "." as the
 * hierarchy separator). Invalid modified UTF-7 → NO (the name is refused,
 * the command was well-formed).
 */
export function mailboxName(bytes: Buffer): string {
  const wire = bytes.toString('latin1');
  let name: string;
  try {
    name = decodeMailboxName(wire);
  } catch (e) {
    if (e instanceof Utf7Error) throw new ParseError(`Mailbox name is not valid modified UTF-7: ${e.message}`, 'NO', 'CANNOT');
    throw e;
  }
  return canonicalInbox(name);
}

export function canonicalInbox(name: string): string {
  if (name.length >= 5 && name.slice(0, 5).toUpperCase() === 'INBOX' && (name.length === 5 || name[5] === '.')) {
    return 'INBOX' + name.slice(5);
  }
  return name;
}

const SYSTEM_FLAG_CASE = new Map(
  ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft', '\\Recent'].map((f) => [f.toUpperCase(), f]),
);
/** flag-keyword = atom: ATOM-CHARs, i.e. no ( ) { SP CTL % * " \ ] */
const KEYWORD_RE = /^[\x21\x23\x24\x26\x27\x2b-\x5b\x5e-\x7a\x7c\x7e]+$/;

/** A flag as RFC 3501 §9 `flag`: system flags canonicalised, `\ext` and keywords kept. */
export function parseFlag(t: Token, what = 'flag'): string {
  if (t.type !== 'atom' || t.section !== null) throw new ParseError(`Invalid ${what}: expected an atom`);
  const v = t.value;
  if (v.startsWith('\\')) {
    const sys = SYSTEM_FLAG_CASE.get(v.toUpperCase());
    if (sys) return sys;
    if (KEYWORD_RE.test(v.slice(1))) return v; // flag-extension
    throw new ParseError(`Invalid ${what} "${v}"`);
  }
  if (!KEYWORD_RE.test(v)) throw new ParseError(`Invalid ${what} "${v}"`);
  return v;
}

/** A flag list's flags, each once, in the order given. */
export function flagList(items: readonly Token[]): string[] {
  const out: string[] = [];
  for (const t of items) {
    const f = parseFlag(t);
    if (!out.includes(f)) out.push(f);
  }
  return out;
}

const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

export function daysInMonth(year: number, month: number): number {
  return new Date(Date.UTC(year, month, 0)).getUTCDate();
}

/** RFC 3501 §9 date-time `"dd-Mon-yyyy hh:mm:ss +zzzz"` (day may be " d"). */
export function parseDateTime(s: string): Date {
  const m = /^([ 0-9]?[0-9])-([A-Za-z]{3})-([0-9]{4}) ([0-9]{2}):([0-9]{2}):([0-9]{2}) ([+-])([0-9]{2})([0-9]{2})$/.exec(s);
  const month = m ? MONTHS.indexOf(m[2]!.toUpperCase()) + 1 : 0;
  if (!m || month === 0) throw new ParseError(`Invalid date-time "${s}"`);
  const day = Number(m[1]!.trim());
  const year = Number(m[3]);
  const [hh, mi, ss, zh, zm] = [m[4], m[5], m[6], m[8], m[9]].map(Number) as [number, number, number, number, number];
  if (day < 1 || day > daysInMonth(year, month) || hh > 23 || mi > 59 || ss > 60 || zm > 59) {
    throw new ParseError(`Invalid date-time "${s}"`);
  }
  const offset = (m[7] === '-' ? -1 : 1) * (zh * 60 + zm);
  return new Date(Date.UTC(year, month - 1, day, hh, mi, ss) - offset * 60_000);
}

