/**
 * POP3 UIDL values (RFC 1939 §7) in the form the server a site comes from
 * answered, so "leave mail on server" clients download nothing twice after
 * a migration:
 *
 *  - "filename": the Maildir base name (up to ":2,"), as qmail-pop3d and
 *    Courier answer; Roost's default.
 *  - Dovecot's pop3_uidl_format variables: %u UID, %v UIDVALIDITY, %f the
 *    Maildir base name, %% a percent sign; long forms %{uid},
 *    %{uidvalidity}, %{filename}. Between % and the variable: an optional
 *    width ("0" first pads with zeros on the left, otherwise the value is cut
 *    to that many characters) and modifiers: X (decimal to lower-case hex,
 *    as Dovecot's var_expand prints it), L and U (case). Dovecot's default
 *    %08Xu%08Xv gives "0000001a4b0e7f3d" for UID 26, UIDVALIDITY 0x4b0e7f3d.
 *
 * %m (MD5 of the header) and %g (Dovecot's GUID) are not offered: they need
 * the message bytes or Dovecot's own index; import with the old server's
 * UIDL list for those.
 */
import { RoostError } from '../errors.js';

export interface UidlSource {
  uid: number;
  basename: string;
}

export type UidlFormatter = (m: UidlSource, uidvalidity: number) => string;

export class UidlFormatError extends Error {}

type Piece = string | { v: 'u' | 'v' | 'f'; width: number; zero: boolean; mods: string };

const LONG: Record<string, 'u' | 'v' | 'f'> = { uid: 'u', uidvalidity: 'v', filename: 'f' };

function parse(fmt: string): Piece[] {
  const out: Piece[] = [];
  let lit = '';
  for (let i = 0; i < fmt.length; i++) {
    const c = fmt[i]!;
    if (c !== '%') {
      lit += c;
      continue;
    }
    i++;
    if (fmt[i] === '%') {
      lit += '%';
      continue;
    }
    let zero = false;
    if (fmt[i] === '0') {
      zero = true;
      i++;
    }
    let digits = '';
    while (i < fmt.length && /[0-9]/.test(fmt[i]!)) digits += fmt[i++];
    let mods = '';
    while (i < fmt.length && 'XLU'.includes(fmt[i]!)) mods += fmt[i++];
    let v: 'u' | 'v' | 'f' | undefined;
    if (fmt[i] === '{') {
      const end = fmt.indexOf('}', i);
      if (end < 0) throw new UidlFormatError(`unterminated %{ at ${i}`);
      v = LONG[fmt.slice(i + 1, end)];
      if (!v) throw new UidlFormatError(`unknown variable %{${fmt.slice(i + 1, end)}}`);
      i = end;
    } else {
      const k = fmt[i];
      if (k === 'u' || k === 'v' || k === 'f') v = k;
      else throw new UidlFormatError(k === undefined ? 'format ends after %' : `unknown variable %${k} (supported: %u %v %f %%)`);
    }
    if (lit) out.push(lit);
    lit = '';
    out.push({ v, width: digits ? Number(digits) : 0, zero, mods });
  }
  if (lit) out.push(lit);
  return out;
}

function expand(p: Exclude<Piece, string>, m: UidlSource, uidvalidity: number): string {
  let s = p.v === 'u' ? String(m.uid) : p.v === 'v' ? String(uidvalidity) : m.basename;
  for (const mod of p.mods) {
    // Dovecot: strtoull(value, 10) printed with %llx; a non-number is 0.
    if (mod === 'X') s = /^\d+$/.test(s) ? BigInt(s).toString(16) : '0';
    else if (mod === 'L') s = s.toLowerCase();
    else s = s.toUpperCase();
  }
  if (p.width > 0) s = p.zero ? s.padStart(p.width, '0') : s.slice(0, p.width);
  return s;
}

/** A formatter for `fmt` ("filename" or Dovecot variables); throws UidlFormatError naming what is wrong. */
export function compileUidlFormat(fmt: string): UidlFormatter {
  if (fmt === 'filename') return (m) => m.basename;
  if (fmt === '') throw new UidlFormatError('empty format');
  const pieces = parse(fmt);
  // RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21..0x7E.
  for (const p of pieces) if (typeof p === 'string' && !/^[\x21-\x7e]+$/.test(p)) throw new UidlFormatError('only printable ASCII without spaces is allowed');
  if (!pieces.some((p) => typeof p !== 'string' && (p.v === 'u' || p.v === 'f'))) {
    // Without %u or %f every message of a mailbox would get the same UIDL (RFC 1939 §7 wants them unique).
    throw new UidlFormatError('the format must contain %u or %f');
  }
  return (m, uidvalidity) => {
    let s = '';
    for (const p of pieces) s += typeof p === 'string' ? p : expand(p, m, uidvalidity);
    return s;
  };
}

const compiled = new Map<string, UidlFormatter>();

/**
 * The formatter for an account's format, compiled once per distinct string.
 * The config's format was checked at start; a bad per-account one (directory
 * data) refuses the login as a temporary failure, with the reason in the log,
 * rather than answering UIDLs the client has never seen.
 */
export function uidlFormatter(fmt: string): UidlFormatter {
  let f = compiled.get(fmt);
  if (!f) {
    try {
      f = compileUidlFormat(fmt);
    } catch (err) {
      throw new RoostError('TEMP', `account uidl format ${JSON.stringify(fmt)}: ${(err as Error).message}`);
    }
    if (compiled.size < 1000) compiled.set(fmt, f);
  }
  return f;
}
