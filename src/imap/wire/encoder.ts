/**
 * Response building in one place (RFC 3501 §7, §9 grammar of the server's
 * side). Commands describe a response as `ImapValue`s (types.ts) and this
 * module chooses the wire form: atom, quoted string or literal; NIL; lists;
 * response codes; and the status/continuation lines.
 *
 * String choice (RFC 3501 §4.3): a quoted string may hold only 7-bit
 * characters other than CR, LF and NUL, so anything else — and anything long,
 * where a literal is cheaper than escaping and safer for clients with line
 * limits — is sent as a literal `{n}`.
 */
import { encodeMailboxName } from '../../text/mutf7.js';
import type { AtomValue, FetchItem, ImapValue, RawValue, ResponseCode, ResponseStatus } from './types.js';
import { LIMITS } from '../../limits.js';

export const MAX_QUOTED_LENGTH = LIMITS.tuning.imapMaxQuotedLength;

const CRLF = Buffer.from('\r\n');

// ---------------------------------------------------------------------------
// Value constructors
// ---------------------------------------------------------------------------

const ASTRING_ATOM_RE = /^[\x21\x23-\x24\x26-\x27\x2b-\x5b\x5d-\x7a\x7c\x7e]+$/;

/** An astring: a bare atom when safe (and not "NIL"), else a string. */
export function astring(s: string): ImapValue {
  return ASTRING_ATOM_RE.test(s) && s.toUpperCase() !== 'NIL' ? { kind: 'atom', value: s } : s;
}

/**
 * A mailbox name as IMAP sends it: modified UTF-7 (RFC 3501 §5.1.3), as an
 * atom when safe, else quoted (names with spaces) or literal.
 */
export function mailboxValue(name: string): ImapValue {
  return astring(encodeMailboxName(name));
}

const MONTH_NAMES = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => (n < 10 ? '0' : '') + n;

/**
 * RFC 3501 §9 date-time text `dd-Mon-yyyy hh:mm:ss +zzzz` (unquoted) for an
 * instant, shown in the zone `offsetMinutes` east of UTC (default UTC).
 */
export function formatDateTime(time: number | Date, offsetMinutes = 0): string {
  const ms = typeof time === 'number' ? time : time.getTime();
  const d = new Date(ms + offsetMinutes * 60_000);
  const sign = offsetMinutes < 0 ? '-' : '+';
  const off = Math.abs(offsetMinutes);
  return (
    `${pad2(d.getUTCDate())}-${MONTH_NAMES[d.getUTCMonth()]}-${String(d.getUTCFullYear()).padStart(4, '0')} ` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} ${sign}${pad2(Math.floor(off / 60))}${pad2(off % 60)}`
  );
}

/** Header field names in a section label: atoms as sent, quoted if they need it. */
function fieldText(f: string): string {
  return ASTRING_ATOM_RE.test(f) ? f : `"${f.replace(/(["\\])/g, '\\$1')}"`;
}

/**
 * The label a FETCH response uses for an item (RFC 3501 §7.4.2): `.PEEK` is
 * dropped, a partial shows only its origin (`BODY[]<0>`), BINARY as RFC 3516.
 */
export function fetchItemLabel(item: FetchItem): string {
  switch (item.item) {
    case 'BODY[]': {
      const { part, specifier, fields } = item.section;
      let s = part.join('.');
      if (specifier) s += (s ? '.' : '') + specifier;
      if (fields.length > 0) s += ` (${fields.map(fieldText).join(' ')})`;
      return `BODY[${s}]${item.partial ? `<${item.partial.offset}>` : ''}`;
    }
    case 'BINARY[]':
      return `BINARY[${item.part.join('.')}]${item.partial ? `<${item.partial.offset}>` : ''}`;
    case 'BINARY.SIZE':
      return `BINARY.SIZE[${item.part.join('.')}]`;
    default:
      return item.item;
  }
}

// ---------------------------------------------------------------------------
// Encoding
// ---------------------------------------------------------------------------

/** True when the bytes may be sent as a quoted string. */
function quotable(b: Buffer): boolean {
  if (b.length > MAX_QUOTED_LENGTH) return false;
  for (let i = 0; i < b.length; i++) {
    const c = b[i]!;
    if (c === 0 || c === 0x0a || c === 0x0d || c > 0x7f) return false;
  }
  return true;
}

/** An IMAP string: quoted with `\"` and `\\` escaped when safe, else a literal. */
export function encodeString(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  if (!quotable(b)) return Buffer.concat([Buffer.from(`{${b.length}}\r\n`), b]);
  let needEscape = false;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0x22 || b[i] === 0x5c) {
      needEscape = true;
      break;
    }
  }
  if (!needEscape) return Buffer.concat([Buffer.from('"'), b, Buffer.from('"')]);
  return Buffer.from(`"${b.toString('latin1').replace(/(["\\])/g, '\\$1')}"`, 'latin1');
}

/** Appends values' wire forms to a list of buffers; lists are space-separated inside parentheses. */
class ValueWriter {
  readonly parts: Buffer[] = [];

  text(s: string): void {
    this.parts.push(Buffer.from(s, 'utf8'));
  }

  value(v: ImapValue): void {
    if (v === null) return this.text('NIL');
    if (typeof v === 'number') {
      if (!Number.isInteger(v) || v < 0) throw new Error(`not an IMAP number: ${v}`);
      return this.text(String(v));
    }
    if (typeof v === 'bigint') return this.text(v.toString());
    if (typeof v === 'string' || Buffer.isBuffer(v)) {
      this.parts.push(encodeString(v));
      return;
    }
    if (Array.isArray(v)) {
      this.text('(');
      this.values(v);
      return this.text(')');
    }
    const o = v as AtomValue | RawValue;
    if (o.kind === 'atom') return this.text(o.value);
    if (typeof o.value === 'string') return this.text(o.value);
    this.parts.push(o.value);
  }

  values(vs: readonly ImapValue[]): void {
    for (let i = 0; i < vs.length; i++) {
      if (i > 0) this.text(' ');
      this.value(vs[i]!);
    }
  }

  done(): Buffer {
    return Buffer.concat(this.parts);
  }
}

/** `* v1 v2 ...\r\n`, e.g. `untagged(5, { kind: 'atom', value: 'EXISTS' })`. */
export function untagged(...values: ImapValue[]): Buffer {
  const w = new ValueWriter();
  w.text('* ');
  w.values(values);
  w.parts.push(CRLF);
  return w.done();
}

/** Human-readable text must stay on one line. */
function safeText(text: string): string {
  return text.replace(/[\r\n\0]+/g, ' ');
}

function codeText(code: ResponseCode | undefined): string {
  if (!code) return '';
  const w = new ValueWriter();
  w.text(`[${code.name}`);
  if (code.args && code.args.length > 0) {
    w.text(' ');
    w.values(code.args);
  }
  w.text('] ');
  return w.done().toString('utf8');
}

/** `* OK [CODE args] text\r\n` (also NO, BAD, BYE, PREAUTH). */
export function untaggedStatus(status: ResponseStatus, text: string, code?: ResponseCode): Buffer {
  return Buffer.from(`* ${status} ${codeText(code)}${safeText(text)}\r\n`, 'utf8');
}

/** `tag OK [CODE args] text\r\n` */
export function tagged(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code?: ResponseCode): Buffer {
  return Buffer.from(`${tag} ${status} ${codeText(code)}${safeText(text)}\r\n`, 'utf8');
}

/** `+ text\r\n` (RFC 3501 §7.5); SASL challenges pass base64 text here. */
export function continuation(text = 'OK'): Buffer {
  return Buffer.from(`+ ${safeText(text)}\r\n`, 'utf8');
}
