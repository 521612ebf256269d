/**
 * The resumable IMAP command reader.
 *
 * Bytes are pushed as they arrive; `next()` hands out one event at a time
 * (see `WireEvent` in types.ts). The reader never holds more than one
 * command's text and small literals (`ReaderLimits.maxLineLength`) plus the
 * chunk being consumed:
 *
 * - Command text is cut into segments at line ends; a segment is tokenised
 *   when complete. A segment ending in `{n}`, `{n+}` (RFC 7888) or `~{n}`
 *   (RFC 3516 literal8) announces a literal of n octets, after which the
 *   command continues on the next segment (RFC 3501 §4.3, §7.5).
 * - A literal that is an APPEND message body (RFC 3501 §6.3.11, RFC 3502
 *   MULTIAPPEND) or a CATENATE TEXT part (RFC 4469 §5) is never buffered:
 *   it is handed out as `appendData` slices of the pushed chunks so the
 *   session can stream it into the store.
 * - Synchronising literals and APPEND bodies stop at a `literal` event so the
 *   session can send `+` or refuse (e.g. `NO [TOOBIG]`, RFC 7889) before the
 *   client sends the bytes (RFC 3501 §7.5).
 * - After a syntax error the rest of the command is skipped up to its line
 *   end, including any non-synchronising literals it still announces, so the
 *   next command starts cleanly and the connection stays usable.
 *
 * Tokens are generic (atoms, strings, lists, bracketed FETCH sections);
 * parser.ts gives them meaning. Line ends are CRLF; a bare LF is accepted too.
 */
import { LIMITS } from '../../limits.js';
import { ParseError, tagOf } from './args.js';
import { appendHeads, parseCommand, type CommandGrammar } from './parser.js';
import type { AppendMessageHead, CommandReaderApi, ReaderLimits, Token, WireEvent } from './types.js';

export const DEFAULT_READER_LIMITS: ReaderLimits = {
  maxLineLength: LIMITS.imap.maxLineLength,
  maxLiteralSize: LIMITS.imap.maxLiteralSize,
  maxNonSyncLiteral: LIMITS.imap.maxNonSyncLiteral,
  maxNestingDepth: LIMITS.imap.maxNestingDepth,
};

/** Atoms that open a FETCH section when directly followed by "[" (RFC 3501 §9 fetch-att, RFC 3516). */
const SECTION_ATOMS = new Set(['BODY', 'BODY.PEEK', 'BINARY', 'BINARY.PEEK', 'BINARY.SIZE']);

const SP = 0x20;
const LF = 0x0a;
const CR = 0x0d;
const DQUOTE = 0x22;
const LPAREN = 0x28;
const RPAREN = 0x29;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const BACKSLASH = 0x5c;
const TILDE = 0x7e;
const LT = 0x3c;
const GT = 0x3e;

/** Thrown inside the tokenizer; becomes an `error` event. */
class TokenError extends Error {}

interface Frame {
  readonly kind: 'top' | 'list' | 'section';
  readonly items: Token[];
  /** The atom a section belongs to. */
  readonly owner: string;
}

interface LiteralHeader {
  readonly size: number;
  readonly sync: boolean;
  readonly binary: boolean;
}

type Mode =
  | { readonly m: 'line' }
  | { readonly m: 'decide'; readonly lit: LiteralHeader; readonly append: AppendMessageHead | null }
  | { readonly m: 'literal'; readonly buf: Buffer; filled: number }
  | { readonly m: 'append'; remaining: number }
  | { readonly m: 'appendEnd' }
  | { readonly m: 'skipLiteral'; remaining: number }
  | { readonly m: 'skipLine' }
  | { readonly m: 'expectLine' };

/** Longest tail kept while skipping a line, enough for `~{4294967295+}\r`. */
const TAIL_KEEP = 24;
const TRAILING_NONSYNC = /\{([0-9]{1,10})\+\}\r?$/;

/** See the file comment and `CommandReaderApi` in types.ts. */
export class CommandReader implements CommandReaderApi {
  private readonly limits: ReaderLimits;
  private chunks: Buffer[] = [];
  private pos = 0;
  private mode: Mode = { m: 'line' };

  /** The segment being accumulated (copied once from the chunks). */
  private lineBuf: Buffer = Buffer.allocUnsafe(1024);
  private lineLen = 0;
  /** Last bytes of a line being skipped (to spot a trailing `{n+}`). */
  private skipTail = '';
  /** First bytes of an over-long line (for its tag). */
  private overflowHead = '';

  // Per-command state.
  private frames: Frame[] = [{ kind: 'top', items: [], owner: '' }];
  /** Command text and small-literal bytes of the current command so far. */
  private cmdBytes = 0;
  private started = false;

  /** `grammar`: the commands and their argument grammar (registry.ts COMMANDS). */
  constructor(
    private readonly grammar: CommandGrammar,
    limits: Partial<ReaderLimits> = {},
  ) {
    this.limits = { ...DEFAULT_READER_LIMITS, ...limits };
  }

  push(chunk: Buffer): void {
    if (chunk.length > 0) this.chunks.push(chunk);
  }

  acceptLiteral(): void {
    const mode = this.mode;
    if (mode.m !== 'decide') throw new Error('acceptLiteral() without a pending literal');
    if (mode.append) {
      // Into the top level, or into the open CATENATE list for a TEXT literal.
      this.top().items.push({ type: 'stream', size: mode.lit.size, binary: mode.lit.binary });
      this.mode = mode.lit.size === 0 ? { m: 'appendEnd' } : { m: 'append', remaining: mode.lit.size };
    } else {
      this.cmdBytes += mode.lit.size;
      this.mode = { m: 'literal', buf: Buffer.allocUnsafe(mode.lit.size), filled: 0 };
    }
  }

  rejectLiteral(): void {
    const mode = this.mode;
    if (mode.m !== 'decide') throw new Error('rejectLiteral() without a pending literal');
    this.resetCommand();
    // RFC 3501 §7.5: after a refused synchronising literal the client sends
    // nothing more of the command; a non-synchronising one is on its way.
    this.mode = mode.lit.sync ? { m: 'line' } : { m: 'skipLiteral', remaining: mode.lit.size };
  }

  expectLine(): void {
    if (this.mode.m !== 'line' || this.started) throw new Error('expectLine() in the middle of a command');
    this.mode = { m: 'expectLine' };
  }

  takeBuffered(): Buffer {
    const parts: Buffer[] = [];
    if (this.mode.m === 'line' && !this.started && this.lineLen > 0) parts.push(Buffer.from(this.lineBuf.subarray(0, this.lineLen)));
    if (this.chunks.length > 0) {
      // A loop, not push(...chunks): a big literal arrives in tens of thousands of chunks.
      parts.push(this.chunks[0]!.subarray(this.pos));
      for (let i = 1; i < this.chunks.length; i++) parts.push(this.chunks[i]!);
    }
    this.chunks = [];
    this.pos = 0;
    this.lineLen = 0;
    return Buffer.concat(parts);
  }

  next(): WireEvent {
    for (;;) {
      const mode = this.mode;
      switch (mode.m) {
        case 'decide':
          throw new Error('next() called before acceptLiteral()/rejectLiteral()');
        case 'appendEnd':
          this.mode = { m: 'line' };
          return { kind: 'appendEnd' };
        case 'append': {
          const head = this.head();
          if (!head) return { kind: 'needMore' };
          const n = Math.min(mode.remaining, head.length - this.pos);
          const chunk = head.subarray(this.pos, this.pos + n);
          this.advance(n);
          mode.remaining -= n;
          if (mode.remaining === 0) this.mode = { m: 'appendEnd' };
          return { kind: 'appendData', chunk };
        }
        case 'literal': {
          if (mode.filled < mode.buf.length) {
            const head = this.head();
            if (!head) return { kind: 'needMore' };
            const n = Math.min(mode.buf.length - mode.filled, head.length - this.pos);
            head.copy(mode.buf, mode.filled, this.pos, this.pos + n);
            this.advance(n);
            mode.filled += n;
          }
          if (mode.filled === mode.buf.length) {
            this.top().items.push({ type: 'string', value: mode.buf, form: 'literal' });
            this.mode = { m: 'line' };
          }
          continue;
        }
        case 'skipLiteral': {
          const head = this.head();
          if (!head) return { kind: 'needMore' };
          const n = Math.min(mode.remaining, head.length - this.pos);
          this.advance(n);
          mode.remaining -= n;
          if (mode.remaining === 0) {
            this.skipTail = '';
            this.mode = { m: 'skipLine' };
          }
          continue;
        }
        case 'skipLine': {
          const head = this.head();
          if (!head) return { kind: 'needMore' };
          const lf = head.indexOf(LF, this.pos);
          const end = lf < 0 ? head.length : lf;
          const from = Math.max(this.pos, end - TAIL_KEEP);
          this.skipTail = (this.skipTail + head.toString('latin1', from, end)).slice(-TAIL_KEEP);
          this.advance(end - this.pos + (lf < 0 ? 0 : 1));
          if (lf >= 0) {
            const m = TRAILING_NONSYNC.exec(this.skipTail);
            this.skipTail = '';
            this.mode = m ? { m: 'skipLiteral', remaining: Number(m[1]) } : { m: 'line' };
            if (m && Number(m[1]) === 0) this.mode = { m: 'skipLine' };
          }
          continue;
        }
        case 'expectLine': {
          const r = this.readSegment(this.limits.maxLineLength);
          if (r === 'more') return { kind: 'needMore' };
          if (r === 'toolong' || r === 'toolongEnded') {
            this.mode = r === 'toolong' ? { m: 'skipLine' } : { m: 'line' };
            this.skipTail = '';
            return { kind: 'error', tag: null, status: 'BAD', code: null, text: 'Line too long' };
          }
          this.mode = { m: 'line' };
          const text = this.lineBuf.toString('utf8', 0, this.lineLen);
          this.lineLen = 0;
          return { kind: 'line', text };
        }
        case 'line': {
          const ev = this.lineStep();
          if (ev) return ev;
          continue;
        }
      }
    }
  }

  // -------------------------------------------------------------------------

  private head(): Buffer | null {
    while (this.chunks.length > 0) {
      const c = this.chunks[0]!;
      if (this.pos < c.length) return c;
      this.chunks.shift();
      this.pos = 0;
    }
    return null;
  }

  private advance(n: number): void {
    this.pos += n;
    const c = this.chunks[0];
    if (c && this.pos >= c.length) {
      this.chunks.shift();
      this.pos = 0;
    }
  }

  private top(): Frame {
    return this.frames[this.frames.length - 1]!;
  }

  private resetCommand(): void {
    this.frames = [{ kind: 'top', items: [], owner: '' }];
    this.cmdBytes = 0;
    this.started = false;
    this.lineLen = 0;
  }

  /**
   * Accumulate bytes up to LF into lineBuf. `budget` is the most text bytes
   * (CR/LF excluded) allowed. Returns 'done' with lineLen set to the text
   * length, 'more' when the chunks ran out, or — when over budget —
   * 'toolong' (the line has not ended; skip it) or 'toolongEnded' (it ended
   * and was consumed; skipTail holds its last bytes). `overflowHead` keeps
   * the first bytes of an over-long line so its tag can be reported.
   */
  private readSegment(budget: number): 'done' | 'more' | 'toolong' | 'toolongEnded' {
    for (;;) {
      const head = this.head();
      if (!head) return 'more';
      const lf = head.indexOf(LF, this.pos);
      const end = lf < 0 ? head.length : lf;
      const n = end - this.pos;
      // One byte of slack for a CR that may precede the LF.
      if (this.lineLen + n > budget + 1) {
        this.overflowHead = Buffer.concat([
          this.lineBuf.subarray(0, Math.min(this.lineLen, 80)),
          head.subarray(this.pos, this.pos + 80),
        ]).toString('latin1', 0, 80);
        this.skipTail = (
          this.lineBuf.toString('latin1', Math.max(0, this.lineLen - TAIL_KEEP), this.lineLen) +
          head.toString('latin1', Math.max(this.pos, end - TAIL_KEEP), end)
        ).slice(-TAIL_KEEP);
        this.lineLen = 0;
        this.advance(n + (lf < 0 ? 0 : 1));
        return lf < 0 ? 'toolong' : 'toolongEnded';
      }
      this.ensureLineCapacity(this.lineLen + n);
      head.copy(this.lineBuf, this.lineLen, this.pos, end);
      this.lineLen += n;
      this.advance(n + (lf < 0 ? 0 : 1));
      if (lf < 0) continue;
      if (this.lineLen > 0 && this.lineBuf[this.lineLen - 1] === CR) this.lineLen--;
      if (this.lineLen > budget) {
        this.overflowHead = this.lineBuf.toString('latin1', 0, Math.min(this.lineLen, 80));
        this.skipTail = this.lineBuf.toString('latin1', Math.max(0, this.lineLen - TAIL_KEEP), this.lineLen);
        this.lineLen = 0;
        return 'toolongEnded';
      }
      return 'done';
    }
  }

  /** Mode after an over-long line: skip its rest, or a literal it announced at its end. */
  private afterTooLong(ended: boolean): Mode {
    if (!ended) return { m: 'skipLine' };
    const m = TRAILING_NONSYNC.exec(this.skipTail);
    this.skipTail = '';
    if (!m) return { m: 'line' };
    return Number(m[1]) === 0 ? { m: 'skipLine' } : { m: 'skipLiteral', remaining: Number(m[1]) };
  }

  private ensureLineCapacity(n: number): void {
    if (n <= this.lineBuf.length) return;
    let size = this.lineBuf.length * 2;
    while (size < n) size *= 2;
    const nb = Buffer.allocUnsafe(size);
    this.lineBuf.copy(nb, 0, 0, this.lineLen);
    this.lineBuf = nb;
  }

  private currentTag(): string | null {
    return tagOf(this.frames[0]!.items[0]);
  }

  /** An error for the current command; `skip` says what remains on the wire. */
  private fail(text: string, skip: 'none' | 'line' | number, status: 'BAD' | 'NO' = 'BAD', code: string | null = null): WireEvent {
    const tag = this.currentTag();
    this.resetCommand();
    if (skip === 'line') {
      this.mode = { m: 'skipLine' };
    } else if (typeof skip === 'number') {
      this.mode = { m: 'skipLiteral', remaining: skip };
    } else {
      this.mode = { m: 'line' };
    }
    if (skip === 0) this.mode = { m: 'skipLine' };
    return { kind: 'error', tag, status, code, text };
  }

  /** Tag of a line that was too long to tokenise: the bytes before the first space, if a plausible tag. */
  private rawTag(): string | null {
    const sp = this.overflowHead.indexOf(' ');
    if (sp <= 0) return null;
    return tagOf({ type: 'atom', value: this.overflowHead.slice(0, sp), section: null, partial: null });
  }

  private lineStep(): WireEvent | null {
    const r = this.readSegment(this.limits.maxLineLength - this.cmdBytes);
    if (r === 'more') return { kind: 'needMore' };
    if (r === 'toolong' || r === 'toolongEnded') {
      const tag = this.started ? this.currentTag() : this.rawTag();
      this.resetCommand();
      this.mode = this.afterTooLong(r === 'toolongEnded');
      return { kind: 'error', tag, status: 'BAD', code: null, text: `Command line too long (limit ${this.limits.maxLineLength} octets)` };
    }
    const seg = this.lineBuf.subarray(0, this.lineLen);
    this.lineLen = 0;
    if (!this.started && seg.length === 0) return null; // empty line between commands
    this.started = true;
    this.cmdBytes += seg.length;
    let lit: LiteralHeader | null;
    try {
      lit = this.tokenize(seg);
    } catch (e) {
      if (!(e instanceof TokenError)) throw e;
      const m = TRAILING_NONSYNC.exec(seg.toString('latin1', Math.max(0, seg.length - TAIL_KEEP)));
      return this.fail(e.message, m ? Number(m[1]) : 'none');
    }
    if (lit) return this.literalAnnounced(lit);
    if (this.frames.length > 1) {
      return this.fail(this.top().kind === 'list' ? 'Missing ")"' : 'Missing "]"', 'none');
    }
    const tokens = this.frames[0]!.items;
    const tag = this.currentTag();
    this.resetCommand();
    try {
      return { kind: 'command', command: parseCommand(tokens, this.grammar) };
    } catch (e) {
      if (!(e instanceof ParseError)) throw e;
      return { kind: 'error', tag, status: e.status, code: e.code, text: e.message };
    }
  }

  private literalAnnounced(lit: LiteralHeader): WireEvent | null {
    const skip = lit.sync ? 'none' : lit.size;
    const tokens = this.frames[0]!.items;
    if (tokens.length === 0 || this.currentTag() === null) return this.fail('Invalid or missing tag', skip);
    const catenate = this.inCatenateText();
    const isAppend =
      (this.frames.length === 1 || catenate) &&
      tokens.length >= 3 &&
      tokens[1]!.type === 'atom' &&
      tokens[1]!.value.toUpperCase() === 'APPEND';
    if (isAppend) {
      let heads: AppendMessageHead[];
      try {
        const sofar = catenate ? [...tokens, { type: 'list' as const, items: this.top().items }] : tokens;
        heads = appendHeads(sofar, lit.size, lit.binary, catenate);
      } catch (e) {
        if (!(e instanceof ParseError)) throw e;
        return this.fail(e.message, skip, e.status, e.code);
      }
      if (lit.size > this.limits.maxLiteralSize) {
        // RFC 7889 §4: TOOBIG before the client sends; RFC 7888 §4: BAD for a non-synchronising one.
        return this.fail(`Message too large (limit ${this.limits.maxLiteralSize} octets)`, skip, lit.sync ? 'NO' : 'BAD', 'TOOBIG');
      }
      const head = heads[heads.length - 1]!;
      this.mode = { m: 'decide', lit, append: head };
      const ev: WireEvent = { kind: 'literal', tag: this.currentTag()!, size: lit.size, sync: lit.sync, binary: lit.binary, append: head };
      // Earlier CATENATE messages: the session can finish them now (their remaining parts are all URLs).
      const before = heads.slice(0, -1).filter((h) => h.catenate !== null);
      return before.length > 0 ? { ...ev, before } : ev;
    }
    if (lit.binary) return this.fail('literal8 is only allowed in APPEND', skip);
    if (!lit.sync && lit.size > this.limits.maxNonSyncLiteral) {
      return this.fail(`Non-synchronizing literal too large (limit ${this.limits.maxNonSyncLiteral} octets)`, skip, 'BAD', 'TOOBIG');
    }
    if (this.cmdBytes + lit.size > this.limits.maxLineLength) {
      return this.fail(`Literal too large for this command (limit ${this.limits.maxLineLength} octets per command)`, skip);
    }
    if (lit.sync) {
      this.mode = { m: 'decide', lit, append: null };
      return { kind: 'literal', tag: this.currentTag()!, size: lit.size, sync: true, binary: false, append: null };
    }
    this.cmdBytes += lit.size;
    this.mode = { m: 'literal', buf: Buffer.allocUnsafe(lit.size), filled: 0 };
    return null;
  }

  /**
   * The literal now announced is a CATENATE `TEXT` literal (RFC 4469 §5):
   * directly inside the list that follows a top-level CATENATE atom. It is
   * streamed like a message literal; any other literal inside that list
   * (a URL given as a literal) is an ordinary one.
   */
  private inCatenateText(): boolean {
    if (this.frames.length !== 2 || this.top().kind !== 'list') return false;
    const before = this.frames[0]!.items[this.frames[0]!.items.length - 1];
    const last = this.top().items[this.top().items.length - 1];
    const isAtom = (t: Token | undefined, v: string): boolean => t?.type === 'atom' && t.section === null && t.value.toUpperCase() === v;
    return isAtom(before, 'CATENATE') && isAtom(last, 'TEXT');
  }

  // -------------------------------------------------------------------------
  // Tokenising one complete segment
  // -------------------------------------------------------------------------

  private tokenize(seg: Buffer): LiteralHeader | null {
    let i = 0;
    const n = seg.length;
    while (i < n) {
      const c = seg[i]!;
      const frame = this.top();
      if (c === SP) {
        i++;
      } else if (c === LPAREN) {
        this.open('list', '');
        i++;
      } else if (c === RPAREN) {
        if (frame.kind !== 'list') throw new TokenError('Unexpected ")"');
        this.frames.pop();
        this.top().items.push({ type: 'list', items: frame.items });
        i++;
        i = this.expectDelimiter(seg, i);
      } else if (c === RBRACKET && frame.kind === 'section') {
        i = this.closeSection(seg, i + 1);
      } else if (c === DQUOTE) {
        i = this.quoted(seg, i + 1);
      } else if (c === LBRACE || (c === TILDE && seg[i + 1] === LBRACE)) {
        return this.literalHeader(seg, i);
      } else {
        i = this.atom(seg, i);
      }
    }
    return null;
  }

  private open(kind: 'list' | 'section', owner: string): void {
    // The top-level frame is depth 0; each list or section adds one.
    if (this.frames.length > this.limits.maxNestingDepth) {
      throw new TokenError(`Too deeply nested (limit ${this.limits.maxNestingDepth})`);
    }
    this.frames.push({ kind, items: [], owner });
  }

  /** After a closing bracket or quote the next byte must end the token. */
  private expectDelimiter(seg: Buffer, i: number): number {
    if (i >= seg.length) return i;
    const c = seg[i]!;
    if (c === SP || c === RPAREN || (c === RBRACKET && this.top().kind === 'section')) return i;
    throw new TokenError(`Missing space before "${String.fromCharCode(c)}"`);
  }

  private atom(seg: Buffer, start: number): number {
    let i = start;
    const inSection = this.top().kind === 'section';
    for (; i < seg.length; i++) {
      const c = seg[i]!;
      if (c === SP || c === LPAREN || c === RPAREN) break;
      if (c === RBRACKET && inSection) break;
      if (c === LBRACKET && SECTION_ATOMS.has(seg.toString('latin1', start, i).toUpperCase())) {
        this.open('section', seg.toString('latin1', start, i));
        return i + 1;
      }
      if (c < 0x21 || c > 0x7e) {
        throw new TokenError(c > 0x7e ? '8-bit character in atom (use a quoted string or literal)' : 'Control character in command');
      }
      if (c === DQUOTE || c === LBRACE) throw new TokenError(`Invalid character "${String.fromCharCode(c)}" in atom`);
    }
    this.top().items.push({ type: 'atom', value: seg.toString('latin1', start, i), section: null, partial: null });
    return i;
  }

  private closeSection(seg: Buffer, i: number): number {
    const frame = this.frames.pop()!;
    let partial: string | null = null;
    if (seg[i] === LT) {
      const gt = seg.indexOf(GT, i);
      if (gt < 0) throw new TokenError('Missing ">" after partial range');
      partial = seg.toString('latin1', i + 1, gt);
      i = gt + 1;
    }
    this.top().items.push({ type: 'atom', value: frame.owner, section: frame.items, partial });
    return this.expectDelimiter(seg, i);
  }

  private quoted(seg: Buffer, start: number): number {
    const out = Buffer.allocUnsafe(seg.length - start);
    let k = 0;
    for (let i = start; i < seg.length; i++) {
      const c = seg[i]!;
      if (c === DQUOTE) {
        this.top().items.push({ type: 'string', value: Buffer.from(out.subarray(0, k)), form: 'quoted' });
        return this.expectDelimiter(seg, i + 1);
      }
      if (c === BACKSLASH) {
        const e = seg[i + 1];
        // RFC 3501 §9 quoted-specials: only \" and \\ are escapes.
        if (e !== DQUOTE && e !== BACKSLASH) throw new TokenError('Invalid escape in quoted string');
        out[k++] = e;
        i++;
      } else if (c === CR || c === 0) {
        throw new TokenError('Invalid character in quoted string');
      } else {
        out[k++] = c;
      }
    }
    throw new TokenError('Unterminated quoted string');
  }

  private literalHeader(seg: Buffer, i: number): LiteralHeader {
    const text = seg.toString('latin1', i);
    const m = /^(~?)\{([0-9]{1,10})(\+?)\}$/.exec(text);
    if (!m) throw new TokenError(/^~?\{[0-9]+\+?\}$/.test(text) ? 'Literal size too large' : 'Invalid literal');
    const size = Number(m[2]);
    if (size > 4294967295) throw new TokenError('Literal size too large');
    return { size, sync: m[3] !== '+', binary: m[1] === '~' };
  }
}
