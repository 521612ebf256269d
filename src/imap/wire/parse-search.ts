/**
 * SEARCH programs (RFC 3501 §6.4.4), with RFC 4731 ESEARCH RETURN options,
 * RFC 5182 SAVE / `$`, RFC 7162 §3.1.5 MODSEQ, RFC 5032 OLDER/YOUNGER, and
 * the SORT (RFC 5256, RFC 5267 ESORT, RFC 5957 DISPLAY) and THREAD commands
 * that share the program grammar.
 */
import { LIMITS } from '../../limits.js';
import { Args, ParseError, astringBytes, daysInMonth, parseFlag, parseModseq, parseNumber, seqSet } from './args.js';
import { isSequenceSetText } from './seqset.js';
import type {
  ImapDate,
  PartialRange,
  SearchArgs,
  SearchFlagKey,
  SearchKey,
  SearchReturnOption,
  SearchStringKey,
  SortArgs,
  SortCriterion,
  SortKey,
  ThreadArgs,
  SearchDateKey,
  Token,
} from './types.js';

/** Charsets the server accepts for SEARCH/SORT/THREAD strings (RFC 3501 §6.4.4 requires US-ASCII and UTF-8 is expected). */
export const SEARCH_CHARSETS = ['US-ASCII', 'UTF-8'] as const;

const FLAG_KEYS = new Set<SearchFlagKey>([
  'ALL',
  'ANSWERED',
  'DELETED',
  'DRAFT',
  'FLAGGED',
  'NEW',
  'OLD',
  'RECENT',
  'SEEN',
  'UNANSWERED',
  'UNDELETED',
  'UNDRAFT',
  'UNFLAGGED',
  'UNSEEN',
]);
const STRING_KEYS = new Set<SearchStringKey>(['BCC', 'CC', 'FROM', 'TO', 'SUBJECT', 'BODY', 'TEXT']);
const DATE_KEYS = new Set<SearchDateKey>(['BEFORE', 'ON', 'SINCE', 'SENTBEFORE', 'SENTON', 'SENTSINCE']);
const MONTHS = ['JAN', 'FEB', 'MAR', 'APR', 'MAY', 'JUN', 'JUL', 'AUG', 'SEP', 'OCT', 'NOV', 'DEC'];

/** RFC 3501 §9 date: `d-Mon-yyyy` or `dd-Mon-yyyy`, optionally quoted. */
export function parseSearchDate(t: Token): ImapDate {
  const text = astringBytes(t, 'date').toString('latin1');
  const m = /^([0-9]{1,2})-([A-Za-z]{3})-([0-9]{4})$/.exec(text);
  const month = m ? MONTHS.indexOf(m[2]!.toUpperCase()) + 1 : 0;
  if (!m || month === 0) throw new ParseError(`Invalid date "${text}" (expected dd-Mon-yyyy)`);
  const year = Number(m[3]);
  const day = Number(m[1]);
  if (day < 1 || day > daysInMonth(year, month)) throw new ParseError(`Invalid date "${text}"`);
  return { year, month, day };
}

function checkCharset(name: string): string {
  const cs = name.toUpperCase();
  if (!(SEARCH_CHARSETS as readonly string[]).includes(cs)) {
    // RFC 3501 §6.4.4: NO [BADCHARSET] listing what is supported.
    throw new ParseError(`Unsupported charset ${name}`, 'NO', `BADCHARSET (${SEARCH_CHARSETS.join(' ')})`);
  }
  return cs;
}

function decodeString(t: Token, what: string): string {
  const bytes = astringBytes(t, what);
  // US-ASCII is a subset of UTF-8; stray 8-bit bytes become U+FFFD and simply match nothing.
  return bytes.toString('utf8');
}

class ProgramParser {
  constructor(private readonly a: Args) {}

  /** All remaining keys of `a` as one AND (or the single key). */
  program(): SearchKey {
    if (this.a.done) throw new ParseError('Missing search criteria');
    const keys: SearchKey[] = [];
    while (!this.a.done) keys.push(this.key(this.a, 0));
    return keys.length === 1 ? keys[0]! : { key: 'AND', operands: keys };
  }

  private key(a: Args, depth: number): SearchKey {
    // NOT/OR chains and groups count like parentheses against the nesting limit.
    if (depth > LIMITS.imap.maxNestingDepth) throw new ParseError('Search program nested too deeply');
    const t = a.next('search key');
    if (t.type === 'list') {
      if (t.items.length === 0) throw new ParseError('Empty search group');
      const inner = new Args(t.items, 'search group');
      const keys: SearchKey[] = [];
      while (!inner.done) keys.push(this.key(inner, depth + 1));
      return keys.length === 1 ? keys[0]! : { key: 'AND', operands: keys };
    }
    if (t.type !== 'atom' || t.section !== null) throw new ParseError('Invalid search key: expected an atom');
    const k = t.value.toUpperCase();
    if (FLAG_KEYS.has(k as SearchFlagKey)) return { key: k as SearchFlagKey };
    if (STRING_KEYS.has(k as SearchStringKey)) return { key: k as SearchStringKey, value: decodeString(a.next(`${k} string`), `${k} string`) };
    if (DATE_KEYS.has(k as SearchDateKey)) return { key: k as SearchDateKey, date: parseSearchDate(a.next(`${k} date`)) };
    switch (k) {
      case 'KEYWORD':
      case 'UNKEYWORD':
        return { key: k, flag: parseFlag(a.next(`${k} flag`), 'keyword') };
      case 'HEADER': {
        const field = decodeString(a.next('header field name'), 'header field name');
        const value = decodeString(a.next('header value'), 'header value');
        return { key: 'HEADER', field, value };
      }
      case 'LARGER':
      case 'SMALLER':
        return { key: k, size: parseNumber(a.atom(`${k} size`), `${k} size`) };
      case 'UID':
        return { key: 'UID', set: a.sequenceSet('UID set') };
      case 'NOT':
        return { key: 'NOT', operand: this.key(a, depth + 1) };
      case 'OR': {
        const left = this.key(a, depth + 1);
        const right = this.key(a, depth + 1);
        return { key: 'OR', left, right };
      }
      case 'MODSEQ':
        return this.modseq(a);
      case 'OLDER':
      case 'YOUNGER':
        return { key: k, seconds: parseNumber(a.atom(`${k} interval`), `${k} interval`, true) };
      default:
        if (isSequenceSetText(t.value)) return { key: 'SEQ', set: seqSet(t.value) };
        throw new ParseError(`Unknown search key ${t.value}`);
    }
  }

  /** RFC 7162 §3.1.5: MODSEQ [entry-name entry-type-req] mod-sequence-valzer */
  private modseq(a: Args): SearchKey {
    const t = a.next('MODSEQ value');
    if (t.type === 'string') {
      const name = t.value.toString('latin1');
      const type = a.keyword('entry type').toLowerCase();
      if (type !== 'priv' && type !== 'shared' && type !== 'all') throw new ParseError(`Invalid MODSEQ entry type ${type}`);
      const modseq = parseModseq(a.atom('MODSEQ value'), 'MODSEQ value', true);
      return { key: 'MODSEQ', modseq, entry: { name, type } };
    }
    if (t.type !== 'atom') throw new ParseError('Invalid MODSEQ value');
    return { key: 'MODSEQ', modseq: parseModseq(t.value, 'MODSEQ value', true), entry: null };
  }
}

const RETURN_OPTIONS: readonly SearchReturnOption[] = ['MIN', 'MAX', 'ALL', 'COUNT', 'SAVE', 'UPDATE', 'CONTEXT'];

interface ReturnSpec {
  readonly options: SearchReturnOption[] | null;
  readonly partial?: PartialRange;
}

/** RFC 5267 §5 partial-range = nz-number ":" nz-number (no "*"; 500:400 is 400:500). */
function partialRange(t: Token | undefined): PartialRange {
  const text = t?.type === 'atom' && t.section === null ? t.value : '';
  const m = /^([0-9]+):([0-9]+)$/.exec(text);
  if (!m) throw new ParseError(`Invalid PARTIAL range ${text}`.trimEnd());
  const a = parseNumber(m[1]!, 'PARTIAL range', true);
  const b = parseNumber(m[2]!, 'PARTIAL range', true);
  return { first: Math.min(a, b), last: Math.max(a, b) };
}

/** `RETURN (...)` if present (RFC 4731 §3.1: an empty list means ALL; RFC 5267 §4 UPDATE, CONTEXT, PARTIAL). */
function returnOptions(a: Args): ReturnSpec {
  if (a.peekKeyword() !== 'RETURN') return { options: null };
  a.next('RETURN');
  const list = a.list('RETURN options');
  const out: SearchReturnOption[] = [];
  let partial: PartialRange | undefined;
  for (let i = 0; i < list.length; i++) {
    const t = list[i]!;
    const v = t.type === 'atom' ? t.value.toUpperCase() : '';
    if (v === 'PARTIAL') {
      // §4.4: one PARTIAL at most, and never together with ALL.
      if (partial) throw new ParseError('PARTIAL given twice');
      partial = partialRange(list[++i]);
      continue;
    }
    const o = RETURN_OPTIONS.find((r) => r === v);
    if (!o) throw new ParseError(`Unknown SEARCH RETURN option ${t.type === 'atom' ? t.value : ''}`.trimEnd());
    if (!out.includes(o)) out.push(o);
  }
  if (partial && out.includes('ALL')) throw new ParseError('PARTIAL and ALL cannot be combined');
  if (partial) return { options: out, partial };
  return { options: out.length === 0 ? ['ALL'] : out };
}

export function parseSearchCommand(a: Args): SearchArgs {
  const ret = returnOptions(a);
  let charset: string | null = null;
  if (a.peekKeyword() === 'CHARSET') {
    a.next('CHARSET');
    charset = checkCharset(astringBytes(a.next('charset name'), 'charset name').toString('latin1'));
  }
  const args: SearchArgs = { charset, program: new ProgramParser(a).program(), returnOptions: ret.options };
  return ret.partial ? { ...args, partial: ret.partial } : args;
}

const SORT_KEYS: readonly SortKey[] = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'];

export function parseSortCommand(a: Args): SortArgs {
  const ret = returnOptions(a);
  const list = a.list('sort criteria');
  if (list.length === 0) throw new ParseError('Empty sort criteria');
  const criteria: SortCriterion[] = [];
  let reverse = false;
  for (const t of list) {
    const v = t.type === 'atom' ? t.value.toUpperCase() : '';
    if (v === 'REVERSE') {
      if (reverse) throw new ParseError('REVERSE REVERSE in sort criteria');
      reverse = true;
      continue;
    }
    const key = SORT_KEYS.find((s) => s === v);
    if (!key) throw new ParseError(`Unknown sort criterion ${t.type === 'atom' ? t.value : ''}`.trimEnd());
    criteria.push({ key, reverse });
    reverse = false;
  }
  if (reverse) throw new ParseError('REVERSE must precede a sort key');
  const charset = checkCharset(astringBytes(a.next('charset'), 'charset').toString('latin1'));
  const args: SortArgs = { criteria, charset, program: new ProgramParser(a).program(), returnOptions: ret.options };
  return ret.partial ? { ...args, partial: ret.partial } : args;
}

export function parseThreadCommand(a: Args): ThreadArgs {
  const alg = a.keyword('threading algorithm');
  if (alg !== 'REFERENCES' && alg !== 'ORDEREDSUBJECT') throw new ParseError(`Unknown threading algorithm ${alg}`);
  const charset = checkCharset(astringBytes(a.next('charset'), 'charset').toString('latin1'));
  return { algorithm: alg, charset, program: new ProgramParser(a).program() };
}
