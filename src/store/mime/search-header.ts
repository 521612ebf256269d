/**
 * What SEARCH keeps of a message's header block, computed once per message
 * and shared by every key of every command (imap/fetch/shared-values.ts keeps it per
 * process; the index keeps the common fields of every message, storedFields
 * below). Everything is lower-cased here, once: RFC 3501 §6.4.4 matching
 * is case-insensitive, and lower-casing per key was the cost of a program
 * with thousands of keys.
 */
import { fieldValue, splitFields, unfold } from './header.js';
import { decodeHeaderValue } from './decode.js';
import { addressListText, parseAddressList } from './address.js';
import { LIMITS } from '../../limits.js';

export interface SearchHeader {
  /**
   * "name: value" lines joined by "\n", RFC 2047 words decoded, lower-cased
   * (the same text the full-text index holds for TEXT, store/fts).
   */
  readonly text: string;
  /**
   * "name: value" lines for the address fields FROM/TO/CC/BCC search, each
   * list rewritten by addressListText, then decoded and lower-cased.
   */
  readonly addresses: string;
}

/** Header fields whose SEARCH key matches the address forms too (RFC 3501 §6.4.4 BCC, CC, FROM, TO). */
const ADDRESS_FIELDS = new Set(['from', 'to', 'cc', 'bcc']);

const MAX_ADDRESSES = LIMITS.store.maxSearchAddresses;

/** Build the SEARCH view of the header block [start, end) of `raw`. */
export function searchHeader(raw: Buffer, start: number, end: number): SearchHeader {
  const lines: string[] = [];
  const addresses: string[] = [];
  for (const f of splitFields(raw, start, end)) {
    const value = unfold(fieldValue(raw, f));
    lines.push(`${f.name}: ${decodeHeaderValue(value)}`);
    if (ADDRESS_FIELDS.has(f.lname)) {
      // Parsed before decoding: a decoded display name may hold "," or "<" that would split it.
      addresses.push(`${f.lname}: ${decodeHeaderValue(addressListText(parseAddressList(value, MAX_ADDRESSES)))}`);
    }
  }
  return { text: lines.join('\n').toLowerCase(), addresses: addresses.join('\n').toLowerCase() };
}

/** Size for the cache's byte budget. */
export const searchHeaderSize = (h: SearchHeader): number => h.text.length + h.addresses.length;

/** "name: value" lines split into values by lower-cased field name, in order. */
export function fieldsOf(lines: string): Map<string, string[]> {
  const out = new Map<string, string[]>();
  if (lines === '') return out;
  for (const line of lines.split('\n')) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).toLowerCase();
    const values = out.get(name);
    const value = line.slice(colon + 2);
    if (values) values.push(value);
    else out.set(name, [value]);
  }
  return out;
}

/**
 * Fields whose SEARCH view is stored in the index at delivery (Dovecot's
 * cache keeps the same ones by default): SUBJECT, FROM, TO, CC, BCC and
 * HEADER on these are answered without opening the message file.
 */
export const INDEXED_FIELDS: ReadonlySet<string> = new Set([
  'subject',
  'from',
  'to',
  'cc',
  'bcc',
  'message-id',
  'in-reply-to',
  'references',
  'list-id',
]);

/**
 * The part of a SearchHeader the index keeps: the "name: value" lines of
 * INDEXED_FIELDS (as fieldsOf splits `text`, so a decoded value holding a
 * line break reads back exactly as from the whole block) and the address
 * forms. Matching on them gives the same answer as on the whole block.
 */
export interface StoredSearchFields {
  readonly fields: string;
  readonly addresses: string;
}

export function storedFields(h: SearchHeader): StoredSearchFields {
  const keep: string[] = [];
  if (h.text !== '') {
    for (const line of h.text.split('\n')) {
      const colon = line.indexOf(':');
      if (colon > 0 && INDEXED_FIELDS.has(line.slice(0, colon))) keep.push(line);
    }
  }
  return { fields: keep.join('\n'), addresses: h.addresses };
}

/** Offset of the empty line ending a header block (LF or CRLF line ends), or -1. */
export function headerEnd(b: Buffer): number {
  if (b[0] === 0x0a) return 0;
  if (b[0] === 0x0d && b[1] === 0x0a) return 0;
  for (let p = b.indexOf(0x0a); p >= 0 && p + 1 < b.length; p = b.indexOf(0x0a, p + 1)) {
    if (b[p + 1] === 0x0a) return p + 1;
    if (b[p + 1] === 0x0d && b[p + 2] === 0x0a) return p + 1;
  }
  return -1;
}

/**
 * The SearchHeader of a message from its first bytes, when they hold the
 * whole header block (`whole`: they are the entire message); null when the
 * header goes on past them.
 */
export function searchHeaderOfPrefix(prefix: Buffer, whole: boolean): SearchHeader | null {
  const end = headerEnd(prefix);
  if (end < 0 && !whole) return null;
  return searchHeader(prefix, 0, end >= 0 ? end : prefix.length);
}
