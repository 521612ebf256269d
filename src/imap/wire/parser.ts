/**
 * Tokens → typed `Command` (STYLE.md habit 1). Grammar references are to
 * RFC 3501 §9 unless noted. Every refusal is a `ParseError` whose message is
 * sent as the BAD (or NO) text, so it names what was wrong.
 *
 * The argument cursor, shared value grammar (numbers, mod-sequences,
 * mailbox names, flags, dates) and most commands live here; FETCH items are
 * in parse-fetch.ts, mailbox commands in parse-mailbox.ts, search programs /
 * SORT / THREAD in parse-search.ts.
 */
import { decodeMailboxName, Utf7Error } from './utf7.js';
import { parseFetch } from './parse-fetch.js';
import { createArgs, listArgs, listPatternArgs, selectArgs, statusItems } from './parse-mailbox.js';
import { parseSearchCommand, parseSortCommand, parseThreadCommand } from './parse-search.js';
import { parseSequenceSet, SeqSetError } from './seqset.js';
import { parseImapUrl } from './imap-url.js';
import { parseNotify } from './parse-notify.js';
import { LIMITS } from '../../limits.js';
import type { Token } from './tokenizer.js';
import type {
  AppendArgs,
  AppendMessageHead,
  CatenatePart,
  Command,
  CommandName,
  SequenceSet,
  StoreArgs,
} from './types.js';

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

function flagList(items: readonly Token[]): string[] {
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

// ---------------------------------------------------------------------------
// Commands
// ---------------------------------------------------------------------------

type Parsed = { readonly name: CommandName; readonly args: unknown };
type ArgParser = (a: Args, uid: boolean) => Parsed['args'];

const noArgs = (a: Args): Record<string, never> => {
  a.end();
  return {};
};

function storeArgs(a: Args): StoreArgs {
  const set = a.sequenceSet();
  let unchangedSince: bigint | null = null;
  if (a.peek()?.type === 'list') {
    const m = new Args(a.list('STORE modifiers'), 'STORE modifiers');
    while (!m.done) {
      const k = m.keyword('STORE modifier');
      if (k !== 'UNCHANGEDSINCE') throw new ParseError(`Unknown STORE modifier ${k}`);
      unchangedSince = parseModseq(m.atom('UNCHANGEDSINCE value'), 'UNCHANGEDSINCE value', true);
    }
  }
  const opText = a.keyword('STORE data item');
  const m = /^([+-]?)FLAGS(\.SILENT)?$/.exec(opText);
  if (!m) throw new ParseError(`Invalid STORE data item ${opText}`);
  const op = m[1] === '+' ? 'add' : m[1] === '-' ? 'remove' : 'set';
  let flags: string[];
  if (a.peek()?.type === 'list') {
    flags = flagList(a.list('flag list'));
    a.end();
  } else {
    if (a.done) throw new ParseError('Missing flags');
    const rest: Token[] = [];
    while (!a.done) rest.push(a.next('flag'));
    flags = flagList(rest);
  }
  return { set, op, silent: m[2] !== undefined, flags, unchangedSince };
}

function idArgs(a: Args): { params: (readonly [string, string | null])[] | null } {
  const t = a.next('ID parameters');
  a.end();
  if (t.type === 'atom' && t.value.toUpperCase() === 'NIL') return { params: null };
  if (t.type !== 'list') throw new ParseError('Invalid ID parameters: expected NIL or a list');
  // RFC 2971 §3.3: at most 30 field-value pairs.
  if (t.items.length % 2 !== 0) throw new ParseError('ID parameter list must hold field-value pairs');
  if (t.items.length > 60) throw new ParseError('Too many ID parameters (at most 30 pairs)');
  const params: (readonly [string, string | null])[] = [];
  for (let i = 0; i < t.items.length; i += 2) {
    const k = t.items[i]!;
    const v = t.items[i + 1]!;
    if (k.type !== 'string') throw new ParseError('ID field names must be strings');
    const value = v.type === 'atom' && v.section === null && v.value.toUpperCase() === 'NIL' ? null : v.type === 'string' ? v.value.toString('utf8') : undefined;
    if (value === undefined) throw new ParseError('ID values must be strings or NIL');
    params.push([k.value.toString('utf8'), value]);
  }
  return { params };
}

const BASE64_RE = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Strict base64 (RFC 4648 §4) as SASL needs it; null if invalid. */
export function decodeBase64Strict(text: string): Buffer | null {
  return BASE64_RE.test(text) ? Buffer.from(text, 'base64') : null;
}

function authenticateArgs(a: Args): { mechanism: string; initialResponse: Buffer | null } {
  const mechanism = a.keyword('SASL mechanism');
  let initialResponse: Buffer | null = null;
  if (!a.done) {
    // RFC 4959 §3: "=" is an empty initial response.
    const text = a.astring('initial response').toString('latin1');
    initialResponse = text === '=' ? Buffer.alloc(0) : decodeBase64Strict(text);
    if (initialResponse === null) throw new ParseError('Invalid base64 in initial response');
  }
  a.end();
  return { mechanism, initialResponse };
}

const utf8 = (b: Buffer): string => b.toString('utf8');

const COMMANDS: Readonly<Record<string, ArgParser>> = {
  CAPABILITY: noArgs,
  NOOP: noArgs,
  LOGOUT: noArgs,
  STARTTLS: noArgs,
  CHECK: noArgs,
  CLOSE: noArgs,
  UNSELECT: noArgs,
  IDLE: noArgs,
  NAMESPACE: noArgs,
  AUTHENTICATE: authenticateArgs,
  LOGIN: (a) => {
    const username = utf8(a.astring('user name'));
    const password = utf8(a.astring('password'));
    a.end();
    return { username, password };
  },
  SELECT: selectArgs,
  EXAMINE: selectArgs,
  CREATE: createArgs,
  DELETE: mailboxOnly,
  SUBSCRIBE: mailboxOnly,
  UNSUBSCRIBE: mailboxOnly,
  GETQUOTAROOT: mailboxOnly,
  RENAME: (a) => {
    const from = a.mailbox('existing mailbox name');
    const to = a.mailbox('new mailbox name');
    a.end();
    return { from, to };
  },
  LIST: listArgs,
  LSUB: listPatternArgs,
  XLIST: listPatternArgs,
  STATUS: (a) => {
    const mailbox = a.mailbox();
    const items = statusItems(a.list('STATUS items'));
    a.end();
    return { mailbox, items };
  },
  APPEND: (a) => appendArgs(a),
  EXPUNGE: (a, uid) => {
    const set = uid ? a.sequenceSet('UID set') : null;
    a.end();
    return { set };
  },
  SEARCH: (a) => parseSearchCommand(a),
  SORT: (a) => parseSortCommand(a),
  THREAD: (a) => parseThreadCommand(a),
  FETCH: (a, uid) => parseFetch(a, uid),
  STORE: storeArgs,
  COPY: copyArgs,
  MOVE: copyArgs,
  ID: idArgs,
  ENABLE: (a) => {
    const capabilities: string[] = [];
    do capabilities.push(a.keyword('capability'));
    while (!a.done);
    return { capabilities };
  },
  COMPRESS: (a) => {
    const mechanism = a.keyword('compression mechanism');
    a.end();
    return { mechanism };
  },
  // RFC 5267 §5: CANCELUPDATE 1*(SP quoted).
  CANCELUPDATE: (a) => {
    const tags: string[] = [];
    do {
      const t = a.next('search tag');
      if (t.type !== 'string' || t.form !== 'quoted') throw new ParseError('CANCELUPDATE takes quoted tags');
      tags.push(t.value.toString('latin1'));
    } while (!a.done);
    return { tags };
  },
  NOTIFY: parseNotify,
  GETQUOTA: (a) => {
    const root = utf8(a.astring('quota root'));
    a.end();
    return { root };
  },
  SETQUOTA: (a) => {
    const root = utf8(a.astring('quota root'));
    const l = new Args(a.list('quota limits'), 'SETQUOTA');
    const limits: { resource: string; limit: number }[] = [];
    while (!l.done) limits.push({ resource: l.keyword('resource name'), limit: parseLimit(l.atom('resource limit')) });
    a.end();
    return { root, limits };
  },
};

function parseLimit(s: string): number {
  if (!/^[0-9]{1,15}$/.test(s)) throw new ParseError(`Invalid resource limit "${s}"`);
  return Number(s);
}

function mailboxOnly(a: Args): { mailbox: string } {
  const mailbox = a.mailbox();
  a.end();
  return { mailbox };
}

function copyArgs(a: Args): { set: SequenceSet; mailbox: string } {
  const set = a.sequenceSet();
  const mailbox = a.mailbox();
  a.end();
  return { set, mailbox };
}

/** Commands that take the UID prefix (RFC 3501 §6.4.8, RFC 4315, RFC 6851, RFC 5256). */
const UID_COMMANDS = new Set(['FETCH', 'STORE', 'COPY', 'MOVE', 'SEARCH', 'SORT', 'THREAD', 'EXPUNGE']);

/** tokens[0] is the tag, tokens[1] the command name. Throws ParseError. */
export function parseCommand(tokens: readonly Token[]): Command {
  const tag = tagOf(tokens[0]);
  if (tag === null) throw new ParseError(tokens.length === 0 ? 'Empty command' : 'Invalid or missing tag');
  const a = new Args(tokens.slice(1), 'command');
  let name = a.done ? '' : (a.peekKeyword() ?? '');
  if (a.done) throw new ParseError('Missing command');
  if (name === '') throw new ParseError('Invalid command name');
  a.next('command');
  let uid = false;
  if (name === 'UID') {
    uid = true;
    name = a.peekKeyword() ?? '';
    if (a.done) throw new ParseError('Missing command after UID');
    if (!UID_COMMANDS.has(name)) throw new ParseError(`Unknown UID command ${name || '(not an atom)'}`);
    a.next('command');
  }
  const parse = Object.prototype.hasOwnProperty.call(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!parse) throw new ParseError(`Unknown command ${name}`);
  const args = parse(new Args(tokens.slice(uid ? 3 : 2), uid ? `UID ${name}` : name), uid);
  return { tag, uid, name, args } as Command;
}

// ---------------------------------------------------------------------------
// APPEND
// ---------------------------------------------------------------------------

/**
 * Walk APPEND's arguments (`mailbox 1*( [flags] [date-time] append-data )`,
 * RFC 3502 for more than one, RFC 4469 §5 `CATENATE (cat-part …)` as
 * append-data) and return the message heads. Used when a message literal
 * or a CATENATE TEXT literal is announced (with a placeholder for it, so
 * flags and date are checked before the client sends the body; a CATENATE
 * list still open then holds the parts so far) and on the complete command.
 * `tokens` starts with the tag and APPEND.
 */
function appendGroups(tokens: readonly Token[]): { mailbox: string; heads: AppendMessageHead[] } {
  const a = new Args(tokens.slice(2), 'APPEND');
  const mailbox = a.mailbox();
  const heads: AppendMessageHead[] = [];
  do {
    let flags: string[] = [];
    let internalDate: Date | null = null;
    let t = a.next('message literal');
    if (t.type === 'list') {
      flags = flagList(t.items);
      t = a.next('message literal');
    }
    if (t.type === 'string' && t.form === 'quoted') {
      internalDate = parseDateTime(t.value.toString('latin1'));
      t = a.next('message literal');
    }
    const head = { index: heads.length, mailbox, flags, internalDate };
    if (t.type === 'atom' && t.section === null && t.value.toUpperCase() === 'CATENATE') {
      heads.push({ ...head, size: 0, binary: false, catenate: catenateParts(a.list('CATENATE parts')) });
      continue;
    }
    if (t.type !== 'stream') throw new ParseError('Invalid APPEND arguments: expected flags, date-time, a message literal or CATENATE');
    heads.push({ ...head, size: t.size, binary: t.binary, catenate: null });
  } while (!a.done);
  return { mailbox, heads };
}

/** RFC 4469 §5 `cat-part *(SP cat-part)`; at most LIMITS.imap.maxCatenateParts of them. */
function catenateParts(items: readonly Token[]): CatenatePart[] {
  if (items.length === 0) throw new ParseError('Empty CATENATE list');
  const a = new Args(items, 'CATENATE');
  const parts: CatenatePart[] = [];
  while (!a.done) {
    if (parts.length === LIMITS.imap.maxCatenateParts) {
      throw new ParseError(`Too many CATENATE parts (limit ${LIMITS.imap.maxCatenateParts})`, 'NO', 'LIMIT');
    }
    const kind = a.keyword('CATENATE part');
    if (kind === 'TEXT') {
      const t = a.next('TEXT literal');
      // The tokenizer streams every TEXT literal; a quoted string or atom here is not `literal`.
      if (t.type !== 'stream') throw new ParseError('CATENATE TEXT needs a literal');
      parts.push({ kind: 'text', size: t.size, binary: t.binary });
    } else if (kind === 'URL') {
      const url = a.astring('CATENATE URL').toString('utf8');
      parts.push({ kind: 'url', url, ref: parseImapUrl(url) });
    } else {
      throw new ParseError(`Unknown CATENATE part ${kind}`);
    }
  }
  return parts;
}

/**
 * The heads of the messages so far; the last one's literal (a message
 * literal or a CATENATE TEXT literal) was just announced. `tokens` is the
 * command so far without it (an open CATENATE list as its last list token).
 */
export function appendHeads(tokens: readonly Token[], size: number, binary: boolean, inCatenate: boolean): AppendMessageHead[] {
  const stream: Token = { type: 'stream', size, binary };
  let all: readonly Token[];
  if (inCatenate) {
    const open = tokens[tokens.length - 1];
    if (open?.type !== 'list') throw new ParseError('Invalid APPEND arguments');
    all = [...tokens.slice(0, -1), { type: 'list', items: [...open.items, stream] }];
  } else {
    all = [...tokens, stream];
  }
  return appendGroups(all).heads;
}

const APPEND_PREFIX: readonly Token[] = [
  { type: 'atom', value: 'tag', section: null, partial: null },
  { type: 'atom', value: 'APPEND', section: null, partial: null },
];

function appendArgs(a: Args): AppendArgs {
  const rest: Token[] = [];
  while (!a.done) rest.push(a.next('message'));
  const { mailbox, heads } = appendGroups([...APPEND_PREFIX, ...rest]);
  return { mailbox, messages: heads };
}
