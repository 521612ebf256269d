/**
 * FETCH arguments (RFC 3501 §6.4.5 and §9 fetch-att, RFC 3516 BINARY,
 * RFC 7162 §3.1.4 CHANGEDSINCE and §3.2.6 VANISHED).
 */
import { Args, ParseError, parseModseq, parseNumber } from './args.js';

import type { FetchArgs, FetchItem, Partial, Section, SectionSpecifier, SimpleFetchItemName, Token } from './types.js';

const SIMPLE = new Set<SimpleFetchItemName>([
  'FLAGS',
  'INTERNALDATE',
  'RFC822',
  'RFC822.HEADER',
  'RFC822.TEXT',
  'RFC822.SIZE',
  'ENVELOPE',
  'BODY',
  'BODYSTRUCTURE',
  'UID',
  'MODSEQ',
]);

const MACROS: Readonly<Record<string, readonly SimpleFetchItemName[]>> = {
  ALL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE'],
  FAST: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE'],
  FULL: ['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'ENVELOPE', 'BODY'],
};

const SPECIFIERS: readonly SectionSpecifier[] = ['HEADER', 'HEADER.FIELDS', 'HEADER.FIELDS.NOT', 'TEXT', 'MIME'];

function partialOf(text: string | null): Partial | null {
  if (text === null) return null;
  const m = /^([0-9]{1,10})\.([0-9]{1,10})$/.exec(text);
  if (!m) throw new ParseError(`Invalid partial range <${text}>`);
  const offset = parseNumber(m[1]!, 'partial offset');
  const length = parseNumber(m[2]!, 'partial length', true);
  return { offset, length };
}

/** Leading numeric components of a dotted section text. */
function splitPart(text: string, allowSpecifier: boolean): { part: number[]; rest: string } {
  const part: number[] = [];
  const comps = text.split('.');
  let i = 0;
  for (; i < comps.length; i++) {
    const c = comps[i]!;
    if (!/^[0-9]+$/.test(c)) break;
    part.push(parseNumber(c, 'section part number', true));
  }
  const rest = comps.slice(i).join('.');
  if (i < comps.length && (!allowSpecifier || comps[i] === '')) throw new ParseError(`Invalid section "${text}"`);
  return { part, rest };
}

function sectionOf(items: readonly Token[]): Section {
  if (items.length === 0) return { part: [], specifier: null, fields: [] };
  const a = new Args(items, 'section');
  const text = a.atom('section');
  const { part, rest } = splitPart(text, true);
  if (rest === '') {
    a.end();
    return { part, specifier: null, fields: [] };
  }
  const specifier = SPECIFIERS.find((s) => s === rest.toUpperCase());
  if (!specifier) throw new ParseError(`Invalid section "${text}"`);
  // RFC 3501 §6.4.5: MIME only for a part, never for the top level.
  if (specifier === 'MIME' && part.length === 0) throw new ParseError('MIME section needs a part number');
  let fields: string[] = [];
  if (specifier === 'HEADER.FIELDS' || specifier === 'HEADER.FIELDS.NOT') {
    const list = a.list('header field list');
    if (list.length === 0) throw new ParseError('Empty header field list');
    fields = list.map((t) => {
      const v = t.type === 'string' ? t.value.toString('latin1') : t.type === 'atom' && t.section === null ? t.value : null;
      // header-fld-name: printable US-ASCII except ":" (RFC 5322 §2.2 ftext).
      if (v === null || !/^[\x21-\x39\x3b-\x7e]+$/.test(v)) throw new ParseError('Invalid header field name');
      return v;
    });
  }
  a.end();
  return { part, specifier, fields };
}

function binaryPart(items: readonly Token[]): number[] {
  if (items.length === 0) return [];
  const a = new Args(items, 'section');
  const { part } = splitPart(a.atom('section part'), false);
  a.end();
  return part;
}

/** One fetch-att token. */
export function parseFetchItem(t: Token): FetchItem {
  if (t.type !== 'atom') throw new ParseError('Invalid FETCH item: expected an atom');
  const name = t.value.toUpperCase();
  if (t.section === null) {
    const simple = SIMPLE.has(name as SimpleFetchItemName) ? (name as SimpleFetchItemName) : null;
    if (simple) return { item: simple };
    throw new ParseError(`Unknown FETCH item ${t.value}`);
  }
  if (name === 'BODY' || name === 'BODY.PEEK') {
    return { item: 'BODY[]', section: sectionOf(t.section), partial: partialOf(t.partial), peek: name === 'BODY.PEEK' };
  }
  if (name === 'BINARY' || name === 'BINARY.PEEK') {
    return { item: 'BINARY[]', part: binaryPart(t.section), partial: partialOf(t.partial), peek: name === 'BINARY.PEEK' };
  }
  // BINARY.SIZE takes no partial (RFC 3516 §4.2).
  if (t.partial !== null) throw new ParseError('BINARY.SIZE takes no partial range');
  return { item: 'BINARY.SIZE', part: binaryPart(t.section) };
}

/** A stable key to drop duplicate items. */
function itemKey(i: FetchItem): string {
  switch (i.item) {
    case 'BODY[]':
      return `${i.peek ? 'P' : 'B'}[${i.section.part.join('.')}|${i.section.specifier}|${i.section.fields.join(' ').toUpperCase()}]<${i.partial?.offset}.${i.partial?.length}>`;
    case 'BINARY[]':
      return `${i.peek ? 'BP' : 'BB'}[${i.part.join('.')}]<${i.partial?.offset}.${i.partial?.length}>`;
    case 'BINARY.SIZE':
      return `BS[${i.part.join('.')}]`;
    default:
      return i.item;
  }
}

export function parseFetch(a: Args, uid: boolean): FetchArgs {
  const set = a.sequenceSet();
  const what = a.next('FETCH items');
  let macro: FetchArgs['macro'] = null;
  let raw: FetchItem[];
  if (what.type === 'list') {
    if (what.items.length === 0) throw new ParseError('Empty FETCH item list');
    raw = what.items.map(parseFetchItem);
  } else {
    const m = what.type === 'atom' && what.section === null ? MACROS[what.value.toUpperCase()] : undefined;
    if (m) {
      macro = what.type === 'atom' ? (what.value.toUpperCase() as 'ALL' | 'FAST' | 'FULL') : null;
      raw = m.map((item) => ({ item }));
    } else {
      raw = [parseFetchItem(what)];
    }
  }
  let changedSince: bigint | null = null;
  let vanished = false;
  if (!a.done) {
    const mods = new Args(a.list('FETCH modifiers'), 'FETCH modifiers');
    while (!mods.done) {
      const k = mods.keyword('FETCH modifier');
      // RFC 7162 §3.1.4 asks for a non-zero value; 0 ("everything") is accepted as harmless.
      if (k === 'CHANGEDSINCE') changedSince = parseModseq(mods.atom('CHANGEDSINCE value'), 'CHANGEDSINCE value', true);
      else if (k === 'VANISHED') vanished = true;
      else throw new ParseError(`Unknown FETCH modifier ${k}`);
    }
  }
  a.end();
  // RFC 7162 §3.2.6: VANISHED only in UID FETCH, and only with CHANGEDSINCE.
  if (vanished && !uid) throw new ParseError('VANISHED is only allowed in UID FETCH');
  if (vanished && changedSince === null) throw new ParseError('VANISHED requires CHANGEDSINCE');
  // RFC 7162 §3.1.4.1: CHANGEDSINCE implies MODSEQ in the answer.
  if (changedSince !== null) raw.push({ item: 'MODSEQ' });
  const seen = new Set<string>();
  const items: FetchItem[] = [];
  for (const i of raw) {
    const k = itemKey(i);
    if (!seen.has(k)) {
      seen.add(k);
      items.push(i);
    }
  }
  return { set, items, macro, changedSince, vanished };
}
