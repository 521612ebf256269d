/**
 * LMTP command lines (RFC 2033 §4, RFC 5321 §4.1) parsed at the edge into
 * typed commands. The session never sees the raw line.
 */
import { LIMITS } from '../limits.js';

export type BodyType = '7BIT' | '8BITMIME';

export type Command =
  | { verb: 'LHLO'; domain: string }
  | { verb: 'MAIL'; sender: string; size: number | null; body: BodyType }
  | { verb: 'RCPT'; recipient: string }
  | { verb: 'DATA' }
  /** RFC 3030 §2: the chunk's `size` octets follow the command line at once. */
  | { verb: 'BDAT'; size: number; last: boolean }
  | { verb: 'RSET' }
  | { verb: 'NOOP' }
  | { verb: 'QUIT' }
  | { verb: 'VRFY' }
  | { verb: 'HELP' }
  /** HELO/EHLO: RFC 2033 §4.1 says LMTP uses LHLO instead. */
  | { verb: 'HELO' };

/** A line that is not a valid command, with the reply it gets. */
export interface CommandError {
  verb: null;
  code: number;
  status: string;
  text: string;
  /** BDAT with a size we cannot read: its data cannot be skipped, so the connection must end. */
  fatal?: boolean;
}

const err = (code: number, status: string, text: string, fatal = false): CommandError => ({ verb: null, code, status, text, fatal });

const SYNTAX = (what: string): CommandError => err(501, '5.5.4', `Syntax: ${what}`);

/** Bytes that may not occur in an address: controls (NUL included), space outside quotes, DEL. */
function badAddressChar(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return true;
  }
  return false;
}

/**
 * `<path>` after "FROM:" / "TO:" (RFC 5321 §4.1.2): returns the address
 * (source route dropped, "" for `<>`) and the rest of the line (parameters).
 * Quoted local parts may hold '>' and spaces.
 */
function parsePath(s: string): { address: string; rest: string } | null {
  let i = 0;
  // Some clients put a space after the colon (Dovecot's whitespace-before-path workaround does the same).
  while (s[i] === ' ') i++;
  if (s[i] !== '<') return null;
  let j = i + 1;
  let quoted = false;
  for (; j < s.length; j++) {
    const c = s[j];
    if (quoted) {
      if (c === '\\') j++;
      else if (c === '"') quoted = false;
    } else if (c === '"') quoted = true;
    else if (c === '>') break;
  }
  if (j >= s.length) return null;
  let address = s.slice(i + 1, j);
  // A-d-l ":" Mailbox: source routes are to be ignored (RFC 5321 §3.3, §4.1.2).
  if (address.startsWith('@')) {
    const colon = address.indexOf(':');
    if (colon < 0) return null;
    address = address.slice(colon + 1);
  }
  return { address, rest: s.slice(j + 1) };
}

/** ESMTP parameters `KEY[=VALUE]` separated by spaces (RFC 5321 §4.1.2), keys upper-cased. */
function parseParams(rest: string): Map<string, string> | null {
  const params = new Map<string, string>();
  const trimmed = rest.trim();
  if (trimmed === '') return params;
  if (!rest.startsWith(' ')) return null;
  for (const p of trimmed.split(/ +/)) {
    const eq = p.indexOf('=');
    const key = (eq < 0 ? p : p.slice(0, eq)).toUpperCase();
    if (!/^[A-Z0-9][A-Z0-9-]*$/.test(key) || params.has(key)) return null;
    params.set(key, eq < 0 ? '' : p.slice(eq + 1));
  }
  return params;
}

function checkAddress(address: string): CommandError | null {
  if (Buffer.byteLength(address, 'utf8') > LIMITS.qmqp.maxAddressLength || badAddressChar(address)) {
    return err(501, '5.1.3', "sorry, I can't accept addresses like that");
  }
  return null;
}

function parseMail(args: string): Command | CommandError {
  if (args.slice(0, 5).toUpperCase() !== 'FROM:') return SYNTAX('MAIL FROM:<address>');
  const p = parsePath(args.slice(5));
  if (!p) return SYNTAX('MAIL FROM:<address>');
  const bad = checkAddress(p.address);
  if (bad) return bad;
  const params = parseParams(p.rest);
  if (!params) return SYNTAX('MAIL FROM:<address> [SIZE=n] [BODY=7BIT|8BITMIME]');
  let size: number | null = null;
  let body: BodyType = '7BIT';
  for (const [k, v] of params) {
    if (k === 'SIZE') {
      // RFC 1870 §6: size-value = 1*20DIGIT.
      if (!/^\d{1,20}$/.test(v)) return SYNTAX('SIZE=<decimal octets>');
      size = Number(v);
    } else if (k === 'BODY') {
      const b = v.toUpperCase();
      // RFC 6152 §2: 7BIT or 8BITMIME; BINARYMIME (RFC 3030 §3) is not offered.
      if (b !== '7BIT' && b !== '8BITMIME') return err(555, '5.5.4', `BODY=${v} is not supported`);
      body = b;
    } else return err(555, '5.5.4', `MAIL parameter ${k} is not supported`);
  }
  return { verb: 'MAIL', sender: p.address, size, body };
}

function parseRcpt(args: string): Command | CommandError {
  if (args.slice(0, 3).toUpperCase() !== 'TO:') return SYNTAX('RCPT TO:<address>');
  const p = parsePath(args.slice(3));
  if (!p || p.address === '') return SYNTAX('RCPT TO:<address>');
  const bad = checkAddress(p.address);
  if (bad) return bad;
  const params = parseParams(p.rest);
  if (!params) return SYNTAX('RCPT TO:<address>');
  // No RCPT extension (DSN's NOTIFY/ORCPT) is offered in LHLO, so none may be used (RFC 5321 §4.1.1.11).
  for (const k of params.keys()) return err(555, '5.5.4', `RCPT parameter ${k} is not supported`);
  return { verb: 'RCPT', recipient: p.address };
}

function parseBdat(args: string): Command | CommandError {
  const m = /^(\d+)( +LAST)? *$/i.exec(args);
  if (!m || m[1]!.length > LIMITS.lmtp.maxChunkSizeDigits) {
    // RFC 3030 §2 needs the size to skip the chunk; without one, the next command cannot be found.
    return err(501, '5.5.4', 'Syntax: BDAT <size> [LAST]; closing the connection', true);
  }
  return { verb: 'BDAT', size: Number(m[1]), last: m[2] !== undefined };
}

/** Commands with no argument; anything after them is a syntax error (RFC 5321 §4.1.1). */
const BARE = { DATA: 'DATA', RSET: 'RSET', QUIT: 'QUIT' } as const;

/** Parse one command line (CRLF removed). */
export function parseCommand(line: string): Command | CommandError {
  const sp = line.indexOf(' ');
  const verb = (sp < 0 ? line : line.slice(0, sp)).toUpperCase();
  const args = sp < 0 ? '' : line.slice(sp + 1);
  switch (verb) {
    case 'LHLO': {
      const domain = args.trim();
      if (domain === '' || badAddressChar(domain)) return SYNTAX('LHLO <domain>');
      return { verb: 'LHLO', domain };
    }
    case 'HELO':
    case 'EHLO':
      return { verb: 'HELO' };
    case 'MAIL':
      return parseMail(args);
    case 'RCPT':
      return parseRcpt(args);
    case 'BDAT':
      return parseBdat(args);
    case 'DATA':
    case 'RSET':
    case 'QUIT':
      if (args.trim() !== '') return SYNTAX(BARE[verb]);
      return { verb };
    // NOOP and HELP may carry a string argument, which is ignored (RFC 5321 §4.1.1.8, §4.1.1.9).
    case 'NOOP':
      return { verb: 'NOOP' };
    case 'HELP':
      return { verb: 'HELP' };
    case 'VRFY':
      return { verb: 'VRFY' };
    default:
      return err(500, '5.5.2', 'Command unrecognized');
  }
}
