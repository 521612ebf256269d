/**
 * Modified UTF-7 for mailbox names (RFC 3501 §5.1.3).
 *
 * - Printable US-ASCII 0x20–0x7E except "&" stands for itself; "&" is "&-".
 * - Anything else is UTF-16BE in modified BASE64 (RFC 2045 alphabet with ","
 *   for "/", no "=" padding) between "&" and "-".
 * - Printable ASCII MUST NOT be base64-encoded, and a shifted run always
 *   closes with "-" (even at the end of the name).
 *
 * The decoder is strict: it accepts only the canonical form the encoder
 * produces (it re-encodes and compares), so no two wire names decode to the
 * same mailbox, and 8-bit bytes, bad padding bits, lone surrogates, adjacent
 * shifted runs (`&AGE-&AGI-`) and encoded ASCII (`&AGE-` for "a") are refused.
 */

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,';
const B64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_VALUE[B64.charCodeAt(i)] = i;

export class Utf7Error extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'Utf7Error';
  }
}

const isDirect = (c: number): boolean => c >= 0x20 && c <= 0x7e;

/** Unicode mailbox name → modified UTF-7 wire form. */
export function encodeMailboxName(name: string): string {
  let out = '';
  let i = 0;
  while (i < name.length) {
    const c = name.charCodeAt(i);
    if (c === 0x26) {
      out += '&-';
      i++;
    } else if (isDirect(c)) {
      out += name[i];
      i++;
    } else {
      let j = i;
      while (j < name.length && !isDirect(name.charCodeAt(j))) j++;
      out += '&' + base64Units(name, i, j) + '-';
      i = j;
    }
  }
  return out;
}

function base64Units(s: string, from: number, to: number): string {
  let out = '';
  let bits = 0;
  let nbits = 0;
  for (let i = from; i < to; i++) {
    bits = (bits << 16) | s.charCodeAt(i);
    nbits += 16;
    while (nbits >= 6) {
      nbits -= 6;
      out += B64[(bits >> nbits) & 0x3f];
    }
    // keep only the bits not yet written (at most 5)
    bits &= (1 << nbits) - 1;
  }
  if (nbits > 0) out += B64[(bits << (6 - nbits)) & 0x3f];
  return out;
}

/**
 * Modified UTF-7 wire form → Unicode. Throws Utf7Error for anything that is
 * not the canonical encoding of some name.
 */
export function decodeMailboxName(wire: string): string {
  let out = '';
  let i = 0;
  while (i < wire.length) {
    const c = wire.charCodeAt(i);
    if (!isDirect(c)) throw new Utf7Error('Mailbox name contains a character outside printable US-ASCII');
    if (c !== 0x26) {
      out += wire[i];
      i++;
      continue;
    }
    const end = wire.indexOf('-', i + 1);
    if (end < 0) throw new Utf7Error('Unterminated "&" shift in mailbox name');
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    out += decodeRun(wire, i + 1, end);
    i = end + 1;
  }
  if (encodeMailboxName(out) !== wire) throw new Utf7Error('Mailbox name is not in canonical modified UTF-7');
  return out;
}

/**
 * A LIST/LSUB pattern (RFC 3501 §6.3.8 list-mailbox) → Unicode. A pattern is
 * not a mailbox name: each canonical `&…-` run is decoded so the pattern
 * meets names as the store holds them, and an `&` that does not start one
 * stands for itself (Dovecot does the same), so such a pattern simply
 * matches nothing instead of failing the command.
 */
export function decodeListPattern(wire: string): string {
  let out = '';
  let i = 0;
  while (i < wire.length) {
    const end = wire[i] === '&' ? wire.indexOf('-', i + 1) : -1;
    if (end === i + 1) {
      out += '&';
      i = end + 1;
      continue;
    }
    if (end > i + 1) {
      let run: string | null;
      try {
        run = decodeRun(wire, i + 1, end);
      } catch (e) {
        if (!(e instanceof Utf7Error)) throw e;
        run = null;
      }
      // Only the canonical encoding counts (no encoded ASCII, no bad padding).
      if (run !== null && encodeMailboxName(run) === wire.slice(i, end + 1)) {
        out += run;
        i = end + 1;
        continue;
      }
    }
    out += wire[i];
    i++;
  }
  return out;
}

function decodeRun(s: string, from: number, to: number): string {
  let bits = 0;
  let nbits = 0;
  const units: number[] = [];
  for (let i = from; i < to; i++) {
    const code = s.charCodeAt(i);
    const v = code < 128 ? B64_VALUE[code]! : -1;
    if (v < 0) throw new Utf7Error(`Invalid character "${s[i]}" in modified BASE64`);
    bits = ((bits << 6) | v) & 0x3fffff;
    nbits += 6;
    if (nbits >= 16) {
      nbits -= 16;
      units.push((bits >> nbits) & 0xffff);
    }
  }
  // RFC 2152: leftover bits are padding, fewer than 6 of them and all zero.
  if (nbits >= 6 || (bits & ((1 << nbits) - 1)) !== 0) throw new Utf7Error('Bad padding in modified BASE64');
  let out = '';
  for (let k = 0; k < units.length; k++) {
    const u = units[k]!;
    if (u >= 0xd800 && u <= 0xdbff) {
      const lo = units[k + 1];
      if (lo === undefined || lo < 0xdc00 || lo > 0xdfff) throw new Utf7Error('Unpaired UTF-16 surrogate');
      out += String.fromCharCode(u, lo);
      k++;
    } else if (u >= 0xdc00 && u <= 0xdfff) {
      throw new Utf7Error('Unpaired UTF-16 surrogate');
    } else {
      out += String.fromCharCode(u);
    }
  }
  return out;
}
