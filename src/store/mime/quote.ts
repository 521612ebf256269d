/**
 * IMAP string forms (RFC 3501 §4.3, §9 `string`, `nstring`) for values the
 * MIME layer renders. Every rendered value is a "byte string": a JS string
 * whose char codes are the bytes to send (latin1), so that 8-bit header
 * bytes pass through unchanged and literal lengths are byte counts. Send
 * with `Buffer.from(s, 'latin1')`.
 */

/**
 * `nstring` the way Dovecot's imap_append_nstring chooses: quoted with
 * escapes, but a literal when the value has CR, LF or 8-bit bytes (not
 * allowed in `quoted`, RFC 3501 §9) or more than four characters to escape.
 */
export function imapNString(s: string | null): string {
  if (s === null) return 'NIL';
  let escapes = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x22 || c === 0x5c) {
      if (++escapes > 4) return literal(s);
    } else if (c === 0x0d || c === 0x0a || c >= 0x80) {
      return literal(s);
    }
  }
  return escapes === 0 ? `"${s}"` : `"${s.replace(/["\\]/g, '\\$&')}"`;
}

/** As imapNString but CR and LF are dropped first (Dovecot's `_nolf` variant for folded header values). */
export function imapNStringNoLf(s: string | null): string {
  if (s === null) return 'NIL';
  return imapNString(s.indexOf('\r') >= 0 || s.indexOf('\n') >= 0 ? s.replace(/[\r\n]/g, '') : s);
}

function literal(s: string): string {
  return `{${s.length}}\r\n${s}`;
}

/**
 * A string meant for people (Subject, display names): runs of whitespace
 * (SP, TAB, CR, LF) become one space and leading/trailing whitespace goes; written
 * quoted when nothing needed changing or escaping, otherwise as a literal.
 * This is Dovecot's imap_append_string_for_humans; RFC 3501 leaves the form
 * free, and matching it keeps our answers byte-identical to the fixtures.
 */
export function imapStringForHumans(s: string): string {
  let modify = false;
  let lastWs = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
      if (c !== 0x20 || lastWs) modify = true;
      lastWs = true;
    } else {
      if (c === 0x22 || c === 0x5c || c >= 0x80 || c === 0) modify = true;
      lastWs = false;
    }
  }
  // Trailing whitespace is dropped too.
  if (lastWs && s.length > 0) modify = true;
  if (!modify) return `"${s}"`;
  let out = '';
  lastWs = true;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
      if (!lastWs) out += ' ';
      lastWs = true;
    } else {
      // NUL cannot be sent (RFC 3501 §9 TEXT-CHAR); U+FFFD as UTF-8, as Dovecot 2.3.
      out += c === 0 ? '\xef\xbf\xbd' : s[i];
      lastWs = false;
    }
  }
  if (out.endsWith(' ')) out = out.slice(0, -1);
  if (out.length === 0) return '""';
  return literal(out);
}
