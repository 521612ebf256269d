/**
 * Decoding for SEARCH (RFC 3501 §6.4.4: matching is on decoded text) and for
 * BINARY (RFC 3516): RFC 2047 encoded words, base64 / quoted-printable bodies
 * (RFC 2045 §6.7, §6.8) and charsets to UTF-8 (iconv-lite). Pure functions
 * on Buffers.
 */
import iconv from 'iconv-lite';
import { RoostError } from '../../errors.js';
import { LIMITS } from '../../limits.js';
import type { MimePart, MimeTree } from './types.js';
import { fieldValue, splitFields, unfold } from './header.js';

const utf8Strict = new TextDecoder('utf-8', { fatal: true });

/** Bytes in `charset` as a JS string. Unknown charsets: UTF-8 if valid, else latin1 (never throws). */
export function charsetToString(bytes: Buffer | Uint8Array, charset: string | null): string {
  const cs = (charset ?? '').trim().toLowerCase();
  if (cs === '' || cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8' || !iconv.encodingExists(cs)) {
    return rawToString(bytes);
  }
  return iconv.decode(Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength), cs);
}

/** Raw header or body bytes: UTF-8 when valid (RFC 6532), else latin1. */
export function rawToString(bytes: Buffer | Uint8Array): string {
  let ascii = true;
  for (let i = 0; i < bytes.length; i++) {
    if (bytes[i] >= 0x80) {
      ascii = false;
      break;
    }
  }
  const b = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (ascii) return b.toString("latin1");
  try {
    return utf8Strict.decode(b);
  } catch {
    return b.toString("latin1");
  }
}

const B64 = new Int16Array(256).fill(-1);
for (let i = 0; i < 64; i++) B64['ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/'.charCodeAt(i)] = i;

export interface Base64Result {
  data: Buffer;
  /** A byte outside the alphabet (other than whitespace), or data after the padding. */
  invalid: boolean;
  /** The input ended without the "=" padding a partial quantum needs. */
  unpadded: boolean;
}

/** Decode base64, skipping whitespace; reports what was wrong instead of throwing. */
export function decodeBase64(input: Buffer): Base64Result {
  const out = Buffer.allocUnsafe(Math.floor((input.length * 3) / 4) + 3);
  let n = 0;
  let acc = 0;
  let bits = 0;
  let quantum = 0;
  let invalid = false;
  let padded = false;
  for (let i = 0; i < input.length; i++) {
    const c = input[i];
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) continue;
    if (c === 0x3d) {
      padded = true;
      continue;
    }
    const v = B64[c];
    if (v < 0 || padded) {
      invalid = true;
      if (v < 0) continue;
    }
    acc = (acc << 6) | v;
    bits += 6;
    quantum = (quantum + 1) & 3;
    if (bits >= 8) {
      bits -= 8;
      out[n++] = (acc >> bits) & 0xff;
    }
  }
  return { data: out.subarray(0, n), invalid, unpadded: quantum !== 0 && !padded };
}

function hexVal(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  if (c >= 0x41 && c <= 0x46) return c - 0x37;
  if (c >= 0x61 && c <= 0x66) return c - 0x57;
  return -1;
}

/**
 * Quoted-printable (RFC 2045 §6.7): "=XX" (either case), soft line breaks
 * "=" CRLF / "=" LF, trailing blanks on a line dropped (rule 3). Malformed
 * "=" sequences are kept as they are (§6.7 note: robust decoders do so);
 * `onInvalid` hears of them (BINARY refuses such parts).
 */
export function decodeQuotedPrintable(input: Buffer, onInvalid?: () => void): Buffer {
  const out = Buffer.allocUnsafe(input.length);
  let n = 0;
  let i = 0;
  const len = input.length;
  while (i < len) {
    const c = input[i];
    if (c === 0x3d) {
      const a = i + 1 < len ? hexVal(input[i + 1]) : -1;
      const b = i + 2 < len ? hexVal(input[i + 2]) : -1;
      if (a >= 0 && b >= 0) {
        out[n++] = (a << 4) | b;
        i += 3;
        continue;
      }
      // Soft break: "=" then optional blanks then line end (or end of data).
      let j = i + 1;
      while (j < len && (input[j] === 0x20 || input[j] === 0x09)) j++;
      if (j >= len) {
        i = j;
        continue;
      }
      if (input[j] === 0x0a) {
        i = j + 1;
        continue;
      }
      if (input[j] === 0x0d && j + 1 < len && input[j + 1] === 0x0a) {
        i = j + 2;
        continue;
      }
      onInvalid?.();
      out[n++] = c;
      i++;
      continue;
    }
    if (c === 0x20 || c === 0x09) {
      // Drop blanks that end a line (they were added in transport).
      let j = i;
      while (j < len && (input[j] === 0x20 || input[j] === 0x09)) j++;
      if (j >= len || input[j] === 0x0a || (input[j] === 0x0d && j + 1 < len && input[j + 1] === 0x0a)) {
        i = j;
        continue;
      }
      while (i < j) out[n++] = input[i++];
      continue;
    }
    out[n++] = c;
    i++;
  }
  return out.subarray(0, n);
}

/**
 * Decode a body in its Content-Transfer-Encoding for BINARY (RFC 3516 §4.2).
 * Identity encodings (none, 7bit, 8bit, binary) return the input. Throws
 * RoostError('UNKNOWNCTE') for an encoding we cannot undo (RFC 3516 §4.3) and
 * RoostError('PARSE') for base64 with bytes outside the alphabet or
 * quoted-printable with a malformed "=" escape.
 */
export function decodeTransfer(body: Buffer, encoding: string | null): Buffer {
  const enc = (encoding ?? '7bit').toLowerCase();
  switch (enc) {
    case '7bit':
    case '8bit':
    case 'binary':
      return body;
    case 'quoted-printable': {
      let bad = false;
      const out = decodeQuotedPrintable(body, () => (bad = true));
      if (bad) throw new RoostError('PARSE', 'Invalid data in MIME part');
      return out;
    }
    case 'base64': {
      const r = decodeBase64(body);
      if (r.invalid) throw new RoostError('PARSE', 'Invalid data in MIME part');
      // Missing "=" padding is decoded as far as the data goes (Dovecot
      // 2.3.19 disconnects here; RFC 2045 §6.8 asks decoders to be robust).
      return r.data;
    }
    default:
      throw new RoostError('UNKNOWNCTE', `Unknown Content-Transfer-Encoding ${enc}`);
  }
}

/** Decode a body to text for searching: transfer encoding (leniently), then charset. */
export function bodyToText(body: Buffer, encoding: string | null, charset: string | null): string {
  const enc = (encoding ?? '7bit').toLowerCase();
  let bytes = body;
  if (enc === 'base64') bytes = decodeBase64(body).data;
  else if (enc === 'quoted-printable') bytes = decodeQuotedPrintable(body);
  return charsetToString(bytes, charset);
}

/** RFC 2047 §4.2 "Q": like QP, "_" is a space, no soft breaks. */
function decodeQ(text: string): Buffer {
  const out = Buffer.allocUnsafe(text.length);
  let n = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x5f) out[n++] = 0x20;
    else if (c === 0x3d && i + 2 < text.length) {
      const a = hexVal(text.charCodeAt(i + 1));
      const b = hexVal(text.charCodeAt(i + 2));
      if (a >= 0 && b >= 0) {
        out[n++] = (a << 4) | b;
        i += 2;
      } else out[n++] = c;
    } else out[n++] = c & 0xff;
  }
  return out.subarray(0, n);
}

// encoded-word = "=?" charset ["*" language] "?" B|Q "?" encoded-text "?=" (RFC 2047 §2, RFC 2231 §5).
// Bounded, non-nested quantifiers: no catastrophic backtracking.
const ENCODED_WORD = /=\?([^?\s*]{1,64})(?:\*[^?\s]{0,64})?\?([bBqQ])\?([^?\s]*)\?=/g;

/**
 * Decode RFC 2047 encoded words in an unfolded header value (a byte string,
 * latin1) to a JS string. Whitespace between two adjacent encoded words is
 * dropped (§6.2); text outside words is read as UTF-8 when valid (RFC 6532).
 * Words with an unknown charset or bad encoding are left as written.
 */
export function decodeHeaderValue(value: string): string {
  let out = '';
  let last = 0;
  let prevWordEnd = -1;
  ENCODED_WORD.lastIndex = 0;
  for (let m = ENCODED_WORD.exec(value); m !== null; m = ENCODED_WORD.exec(value)) {
    const decoded = decodeWord(m[1], m[2], m[3]);
    if (decoded === null) continue;
    const between = value.slice(last, m.index);
    if (!(prevWordEnd === last && /^[ \t\r\n]*$/.test(between))) {
      out += rawToString(Buffer.from(between, 'latin1'));
    }
    out += decoded;
    last = m.index + m[0].length;
    prevWordEnd = last;
  }
  out += rawToString(Buffer.from(value.slice(last), 'latin1'));
  return out;
}

function decodeWord(charset: string, enc: string, text: string): string | null {
  const cs = charset.toLowerCase();
  if (!(cs === 'us-ascii' || cs === 'utf-8' || cs === 'utf8' || iconv.encodingExists(cs))) return null;
  let bytes: Buffer;
  if (enc === 'b' || enc === 'B') {
    const r = decodeBase64(Buffer.from(text, 'latin1'));
    if (r.invalid) return null;
    bytes = r.data;
  } else {
    bytes = decodeQ(text);
  }
  return charsetToString(bytes, cs);
}

/** Collapse runs of whitespace to one space and trim (for comparing header text). */
export function normalizeSpace(s: string): string {
  return s.replace(/[ \t\r\n]+/g, ' ').trim();
}

/*
 * Decoded text of a message for SEARCH and the full-text index (RFC 3501
 * §6.4.4: TEXT, BODY and header keys match decoded strings). Headers are
 * unfolded and RFC 2047-decoded; the body is every text/* part (nested
 * messages included, their headers too), transfer-decoded and converted to
 * UTF-8. Non-text parts (images, archives) are skipped.
 */

export interface SearchText {
  /** "Name: decoded value" lines, one per field, joined by "\n". */
  headers: string;
  /** Decoded text parts joined by "\n". */
  body: string;
}

/** Decoded header block [start, end) of `raw` as "Name: value" lines. */
export function decodedHeaders(raw: Buffer, start: number, end: number): string {
  const lines: string[] = [];
  for (const f of splitFields(raw, start, end)) {
    lines.push(`${f.name}: ${decodeHeaderValue(unfold(fieldValue(raw, f)))}`);
  }
  return lines.join('\n');
}

function charsetOf(p: MimePart): string | null {
  for (const [k, v] of p.params) if (k.toLowerCase() === 'charset') return v;
  return null;
}

/** Bounded: at most `maxChars` characters of body text are collected; text beyond that is not searched. */
export function textForSearch(raw: Buffer, tree: MimeTree, maxChars: number = LIMITS.store.maxSearchTextChars): SearchText {
  const body: string[] = [];
  let size = 0;
  const walk = (p: MimePart): void => {
    if (size >= maxChars) return;
    if (p.parts) {
      for (const c of p.parts) walk(c);
      return;
    }
    if (p.message) {
      const h = decodedHeaders(raw, p.message.headerStart, p.message.bodyStart);
      body.push(h);
      size += h.length;
      walk(p.message);
      return;
    }
    if (p.type !== 'text' || p.synthetic || p.bodyEnd <= p.bodyStart) return;
    const t = bodyToText(raw.subarray(p.bodyStart, p.bodyEnd), p.cte ?? p.encoding, charsetOf(p));
    body.push(t.length > maxChars - size ? t.slice(0, maxChars - size) : t);
    size += t.length;
  };
  walk(tree);
  return { headers: decodedHeaders(raw, tree.headerStart, tree.bodyStart), body: body.join('\n') };
}
