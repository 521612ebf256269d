/**
 * The comparators' case mappings: i;ascii-casemap (RFC 4790 §9.2; SORT
 * addresses and subjects, RFC 5256 §3) and i;unicode-casemap (RFC 5051;
 * RFC 5957 display names). Both give a key whose code-unit order is the
 * comparator's order.
 */

/** i;ascii-casemap key: ASCII a-z as A-Z, everything else unchanged. */
export function asciiCasemap(s: string): string {
  // In an all-ASCII string the native upper-casing touches a-z only (and is much faster than the replace).
  return NON_ASCII.test(s) ? s.replace(/[a-z]+/g, (m) => m.toUpperCase()) : s.toUpperCase();
}
const NON_ASCII = /[^\x00-\x7f]/;

/** The four digraphs whose title case differs from their upper case (U+01C4-U+01CC, U+01F1-U+01F3). */
const TITLE_DIGRAPHS: Record<string, string> = {
  '\u01c4': '\u01c5', '\u01c5': '\u01c5', '\u01c6': '\u01c5',
  '\u01c7': '\u01c8', '\u01c8': '\u01c8', '\u01c9': '\u01c8',
  '\u01ca': '\u01cb', '\u01cb': '\u01cb', '\u01cc': '\u01cb',
  '\u01f1': '\u01f2', '\u01f2': '\u01f2', '\u01f3': '\u01f2',
};

/**
 * i;unicode-casemap key (RFC 5051 §2): each character mapped by its simple
 * title case (one character to one: upper case where that is one
 * character, so "ß" stays "ß"), then fully decomposed (NFKD), so "É" sorts
 * as "E" + U+0301, next to "E", as Dovecot sorts it.
 */
export function unicodeCasemap(s: string): string {
  // ASCII (most display names): each letter's title case is its upper case, one character, and
  // NFKD changes nothing, so the native upper-casing of the whole string is the key. About a
  // tenth of the per-character walk below, which was most of the first SORT's key reading.
  if (!NON_ASCII.test(s)) return s.toUpperCase();
  let out = '';
  for (const ch of s) {
    const digraph = TITLE_DIGRAPHS[ch];
    if (digraph !== undefined) {
      out += digraph;
      continue;
    }
    const up = ch.toUpperCase();
    out += oneCodePoint(up) ? up : ch;
  }
  return out.normalize('NFKD');
}

/** Whether `s` is a single code point (one BMP character or one surrogate pair), without spreading it into an array. */
function oneCodePoint(s: string): boolean {
  return s.length === 1 || (s.length === 2 && s.codePointAt(0)! > 0xffff);
}
