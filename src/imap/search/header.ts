/**
 * What SEARCH keeps of a message's header block, computed once per message
 * and shared by every key of every command (fetch/cache.ts keeps it per
 * process). Everything is lower-cased here, once: RFC 3501 §6.4.4 matching
 * is case-insensitive, and lower-casing per key was the cost of a program
 * with thousands of keys.
 */
import { fieldValue, splitFields, unfold } from '../../store/mime/header.js';
import { decodeHeaderValue } from '../../store/mime/decode.js';
import { addressListText, parseAddressList } from '../../store/mime/address.js';

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

/** Members parsed per address field; a longer list is still matched in its decoded text form. */
const MAX_ADDRESSES = 1000;

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
