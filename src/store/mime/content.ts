/**
 * Content-* header values (RFC 2045 §5, RFC 2183, RFC 3066, RFC 2231), read
 * as leniently as Dovecot reads them so BODYSTRUCTURE matches byte for byte.
 * Input values are unfolded byte strings (latin1).
 */
import type { MimeParam } from './types.js';
import { Rfc822Scanner } from './rfc822.js';

/** One `; name=value` parameter, or -1 on a syntax error, 0 at the end. */
function contentParam(sc: Rfc822Scanner): [number, string, string] {
  if (sc.end) return [0, '', ''];
  if (sc.peek() !== 0x3b) return [-1, '', ''];
  sc.pos++;
  if (sc.skipLwsp() <= 0) return [-1, '', ''];
  const [kr, key] = sc.mimeToken();
  if (kr <= 0 || sc.peek() !== 0x3d) return [-1, '', ''];
  sc.pos++;
  let r = sc.skipLwsp();
  let value = '';
  if (r <= 0) {
    // "name=" with nothing after: an empty value.
  } else if (sc.peek() === 0x22) {
    [r, value] = sc.quotedString();
  } else if (sc.peek() === 0x3d) {
    // Broken senders write name==?utf-8?b?...?= unquoted; take it up to ';' or blank.
    const start = sc.pos;
    while (!sc.end) {
      const c = sc.peek();
      if (c === 0x3b || c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) break;
      sc.pos++;
    }
    value = sc.s.slice(start, sc.pos);
  } else {
    [r, value] = sc.mimeToken();
  }
  return [r < 0 ? -1 : 1, key, value];
}

interface Continuation {
  key: string;
  idx: number;
  extended: boolean;
  value: string;
}

/**
 * Parameters in order; RFC 2231 pieces (name*0, name*1*, ...) are merged into
 * one `name` or, when any piece is extended, `name*` whose value stays
 * percent-encoded (the charset'language' prefix included), and are listed
 * after the plain parameters. With a missing index the pieces are kept as they are.
 */
export function parseParams(sc: Rfc822Scanner, max = 1000): MimeParam[] {
  const plain: MimeParam[] = [];
  const pieces: Continuation[] = [];
  let guard = 0;
  while (guard++ < max) {
    const [r, key, value] = contentParam(sc);
    if (r === 0) break;
    if (r < 0) {
      if (sc.end) break;
      sc.pos++;
      continue;
    }
    const star = key.indexOf('*');
    if (star < 0) {
      plain.push([key, value]);
      continue;
    }
    let p = star + 1;
    let idx = 0;
    while (p < key.length && key.charCodeAt(p) >= 0x30 && key.charCodeAt(p) <= 0x39) {
      idx = idx * 10 + key.charCodeAt(p) - 0x30;
      p++;
    }
    let extended = false;
    if (star + 1 === key.length) {
      // "name*": a single extended piece (RFC 2231 §4).
      extended = true;
    } else if (key[p] === '*') {
      extended = true;
      p++;
    }
    if (p !== key.length) plain.push([key, value]);
    else pieces.push({ key: key.slice(0, star), idx, extended, value });
  }
  if (pieces.length === 0) return plain;
  pieces.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : a.idx - b.idx));
  for (let i = 0; i < pieces.length; ) {
    let j = i;
    let ok = true;
    let anyExtended = false;
    const lkey = pieces[i].key.toLowerCase();
    for (let next = 0; j < pieces.length && pieces[j].key.toLowerCase() === lkey; j++, next++) {
      if (pieces[j].idx !== next) ok = false;
      if (pieces[j].extended) anyExtended = true;
    }
    if (!ok) {
      for (let k = i; k < j; k++) {
        const c = pieces[k];
        plain.push([`${c.key}*${c.idx}${c.extended ? '*' : ''}`, c.value]);
      }
    } else {
      let v = !pieces[i].extended && anyExtended ? "''" : '';
      for (let k = i; k < j; k++) {
        const c = pieces[k];
        v += !c.extended && anyExtended ? c.value.replace(/%/g, '%25') : c.value;
      }
      plain.push([anyExtended ? pieces[i].key + '*' : pieces[i].key, v]);
    }
    i = j;
  }
  return plain;
}

export interface ContentType {
  /** As written ("" when broken). */
  type: string;
  subtype: string;
  params: MimeParam[];
}

/**
 * Content-Type. A value that is only a type token is kept with an empty
 * subtype; anything else unparseable gives "" / "" and no parameters (the
 * part is then neither text nor multipart).
 */
export function parseContentType(value: string): ContentType {
  const sc = new Rfc822Scanner(value);
  const broken = (type = ''): ContentType => ({ type, subtype: '', params: [] });
  if (sc.skipLwsp() <= 0) return broken();
  const [tr, type] = sc.mimeToken();
  if (tr <= 0) return broken(type);
  if (sc.peek() !== 0x2f) return broken();
  sc.pos++;
  if (sc.skipLwsp() <= 0) return broken();
  const [sr, subtype] = sc.mimeToken();
  if (sr < 0) return broken();
  if (sr > 0 && sc.peek() !== 0x3b) return broken();
  return { type, subtype, params: parseParams(sc) };
}

/** Content-Transfer-Encoding: one token and nothing else, or null. */
export function parseEncoding(value: string): string | null {
  const sc = new Rfc822Scanner(value);
  sc.skipLwsp();
  const [r, tok] = sc.mimeToken();
  if (r < 0 || tok.length === 0) return null;
  return sc.skipLwsp() === 0 ? tok : null;
}

export function parseDisposition(value: string): { type: string; params: MimeParam[] } | null {
  const sc = new Rfc822Scanner(value);
  sc.skipLwsp();
  const [r, tok] = sc.mimeToken();
  if (r < 0) return null;
  return { type: tok, params: parseParams(sc) };
}

/** Content-Language: a comma list of atoms (RFC 3282). */
export function parseLanguage(value: string): string[] | null {
  const sc = new Rfc822Scanner(value);
  const out: string[] = [];
  sc.skipLwsp();
  for (let guard = 0; guard < 1000; guard++) {
    const [r, atom] = sc.atom();
    if (r < 0) break;
    out.push(atom);
    if (sc.end || sc.peek() !== 0x2c) break;
    sc.pos++;
    sc.skipLwsp();
  }
  return out.length > 0 ? out : null;
}
