/**
 * RFC 5322 / RFC 2045 lexical scanner over one unfolded header value held as
 * a byte string (latin1). It follows the lenient reading Dovecot's
 * rfc822-parser uses, so that addresses and Content-* values come out as the
 * golden fixtures show. Every loop advances `pos`; nothing backtracks beyond
 * one saved position, so input size bounds the work.
 *
 * Return convention of the scanning methods: -1 = syntax error, 0 = reached
 * the end of the value, 1 = more input follows.
 */

const ATEXT = new Uint8Array(256);
// RFC 5322 §3.2.3 atext; 8-bit bytes count as atext (RFC 6532 raw UTF-8).
for (let c = 0x21; c < 0x7f; c++) ATEXT[c] = 1;
for (const ch of '()<>[]:;@\\,."') ATEXT[ch.charCodeAt(0)] = 0;
for (let c = 0x80; c < 0x100; c++) ATEXT[c] = 1;
/** RFC 2045 §5.1 token: atext minus tspecials "/", "?", "=" (and plus "."). */
const TOKEN = new Uint8Array(ATEXT);
for (const ch of '/?=') TOKEN[ch.charCodeAt(0)] = 0;
TOKEN[0x2e] = 1;

export const isAtext = (c: number): boolean => ATEXT[c] === 1;

export class Rfc822Scanner {
  pos = 0;
  /** Text of the last comment skipped, when `keepComments` (addr-spec display names). */
  lastComment = '';

  /**
   * `keepComments`: remember the last comment's text (an addr-spec's
   * display name). `nulReplacement`: what a NUL inside a quoted string,
   * comment or domain literal becomes (Dovecot uses U+FFFD as UTF-8).
   */
  constructor(
    readonly s: string,
    readonly keepComments = false,
    readonly nulReplacement: string | null = null,
  ) {}

  get end(): boolean {
    return this.pos >= this.s.length;
  }

  peek(): number {
    return this.pos < this.s.length ? this.s.charCodeAt(this.pos) : -1;
  }

  /**
   * Skip a (possibly nested) comment starting at "(". With keepComments its
   * text (unescaped, unfolded) goes to lastComment as it is read, so an
   * unterminated comment leaves what was read so far (as Dovecot does).
   */
  skipComment(): number {
    const s = this.s;
    const keep = this.keepComments;
    let level = 1;
    let start = ++this.pos;
    if (keep) this.lastComment = '';
    for (; this.pos < s.length; this.pos++) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x00 && this.nulReplacement !== null) {
        if (keep) this.lastComment += s.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      } else if (c === 0x28) level++;
      else if (c === 0x29) {
        if (--level === 0) {
          if (keep) this.lastComment += s.slice(start, this.pos);
          this.pos++;
          return this.end ? 0 : 1;
        }
      } else if (c === 0x0a) {
        if (!keep) continue;
        let piece = s.slice(start, this.pos);
        if (piece.endsWith('\r')) piece = piece.slice(0, -1);
        this.lastComment += piece;
        start = this.pos + 1;
      } else if (c === 0x5c) {
        this.pos++;
        if (this.pos >= s.length) return -1;
        const n = s.charCodeAt(this.pos);
        // A backslash before a line end or NUL quotes nothing: keep it as text.
        if (n === 0x0d || n === 0x0a || n === 0x00) {
          this.pos--;
          continue;
        }
        if (keep) this.lastComment += s.slice(start, this.pos - 1);
        start = this.pos;
      }
    }
    return -1;
  }

  /** Skip whitespace and comments (CFWS). */
  skipLwsp(): number {
    const s = this.s;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a) {
        this.pos++;
      } else if (c === 0x28) {
        if (this.skipComment() < 0) return -1;
      } else {
        break;
      }
    }
    return this.end ? 0 : 1;
  }

  private run(table: Uint8Array, extraDot: boolean): string {
    const s = this.s;
    const start = this.pos;
    while (this.pos < s.length) {
      const c = s.charCodeAt(this.pos);
      if (table[c] === 1 || (extraDot && c === 0x2e)) this.pos++;
      else break;
    }
    return s.slice(start, this.pos);
  }

  /** RFC 2045 token; returns [result, text]. */
  mimeToken(): [number, string] {
    const t = this.run(TOKEN, false);
    if (this.end) return [0, t];
    return [this.skipLwsp(), t];
  }

  atom(): [number, string] {
    if (this.end || !isAtext(this.peek())) return [-1, ''];
    const t = this.run(ATEXT, false);
    if (this.end) return [0, t];
    return [this.skipLwsp(), t];
  }

  /** dot-atom, allowing CFWS around the dots (RFC 822 compatibility); an empty atom is an error. */
  dotAtom(): [number, string] {
    if (this.end || !isAtext(this.peek())) return [-1, ''];
    let out = '';
    for (;;) {
      const word = this.run(ATEXT, false);
      if (word.length === 0) return [-1, out];
      out += word;
      if (this.end) return [0, out];
      const r = this.skipLwsp();
      if (r <= 0) return [r, out];
      if (this.peek() !== 0x2e) return [1, out];
      this.pos++;
      out += '.';
      if (this.skipLwsp() <= 0) return [-1, out];
    }
  }

  /**
   * Local part with dots anywhere ("a..b", ".a", "a."), as mail in the wild
   * has them (RFC 5322 §4.4 obs-local-part, read loosely).
   */
  looseDotAtom(): [number, string] {
    let out = '';
    let r = -1;
    do {
      while (this.peek() === 0x2e) {
        out += '.';
        this.pos++;
        if (this.end) return [0, out];
        r = 1;
      }
      if (this.peek() === 0x40) break;
      let w: string;
      [r, w] = this.atom();
      out += w;
    } while (r > 0 && this.peek() === 0x2e);
    return [r, out];
  }

  /** quoted-string at a '"'; folding CRLFs inside are removed, quoted-pairs unescaped. */
  quotedString(): [number, string] {
    const s = this.s;
    let out = '';
    let start = ++this.pos;
    for (; this.pos < s.length; this.pos++) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x22) {
        out += s.slice(start, this.pos);
        this.pos++;
        return [this.skipLwsp(), out];
      }
      if (c === 0x00 && this.nulReplacement !== null) {
        out += s.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      } else if (c === 0x0a) {
        let piece = s.slice(start, this.pos);
        if (piece.endsWith('\r')) piece = piece.slice(0, -1);
        out += piece;
        start = this.pos + 1;
      } else if (c === 0x5c) {
        this.pos++;
        if (this.pos >= s.length) return [-1, out];
        const n = s.charCodeAt(this.pos);
        if (n === 0x0d || n === 0x0a || n === 0x00) {
          this.pos--;
          continue;
        }
        out += s.slice(start, this.pos - 1);
        start = this.pos;
      }
    }
    return [-1, out];
  }

  /** RFC 5322 phrase, including obs-phrase (dots between words). Words are joined with one space. */
  phrase(): [number, string] {
    if (this.end) return [0, ''];
    if (this.peek() === 0x2e) return [-1, ''];
    let out = '';
    for (;;) {
      let r: number;
      let w: string;
      if (this.peek() === 0x22) [r, w] = this.quotedString();
      else {
        w = this.run(ATEXT, true);
        r = this.end ? 0 : this.skipLwsp();
      }
      out += w;
      if (r <= 0) return [r, out];
      const c = this.peek();
      if (!isAtext(c) && c !== 0x22 && c !== 0x2e) break;
      out += ' ';
    }
    return [this.skipLwsp(), out];
  }

  /** "[" ... "]", brackets kept; folding removed; a second "[" is an error. */
  private domainLiteral(): [number, string] {
    const s = this.s;
    let start = this.pos++;
    let out = '';
    for (; this.pos < s.length; this.pos++) {
      const c = s.charCodeAt(this.pos);
      if (c === 0x00 && this.nulReplacement !== null) {
        out += s.slice(start, this.pos) + this.nulReplacement;
        start = this.pos + 1;
      } else if (c === 0x5b) {
        return [-1, ''];
      } else if (c === 0x5d) {
        out += s.slice(start, this.pos + 1);
        this.pos++;
        return [this.skipLwsp(), out];
      } else if (c === 0x0a) {
        let piece = s.slice(start, this.pos);
        if (piece.endsWith('\r')) piece = piece.slice(0, -1);
        out += piece;
        start = this.pos + 1;
      } else if (c === 0x5c) {
        this.pos++;
        if (this.pos >= s.length) return [-1, ''];
        const n = s.charCodeAt(this.pos);
        if (n === 0x0d || n === 0x0a || n === 0x00) {
          out += s.slice(start, this.pos);
          start = this.pos;
          this.pos--;
        }
      }
    }
    return [-1, ''];
  }

  /** domain after an "@" (current char). */
  domain(): [number, string] {
    this.pos++;
    if (this.skipLwsp() <= 0) return [-1, ''];
    if (this.peek() === 0x5b) return this.domainLiteral();
    return this.dotAtom();
  }
}
