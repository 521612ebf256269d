/**
 * The MIME parser fed chunk by chunk (RFC 2045, RFC 2046): the structure of
 * a message is built while it streams to the spool, so a delivery or APPEND
 * never reads the message back whole. Its answers are those of
 * parse.ts, which reads a whole buffer (test/mime/stream.test.ts feeds every
 * fixture split at many chunk sizes and compares).
 *
 * Every decision of parse.ts is taken at the start of a line, left to right:
 * a header runs to a blank line or a delimiter line; a body runs to a
 * delimiter line of an active boundary. So the parser is written as the same
 * recursive descent, but as generators that ask for the next line; the
 * driver (MimeStreamParser) cuts the chunks into lines, counts line ends,
 * and hands over only the lines the parser looks at: every line of a header
 * (the fields starting in its first LIMITS.store.maxHeaderBytes kept), and in a body only the lines
 * starting "--", cut to the longest active boundary. Memory is bounded by
 * the header limit and the tree, whatever the message's size.
 */
import { LIMITS } from '../../limits.js';
import type { MimeMessage, MimePart, MimeTree, SortKeys } from './types.js';
import { splitFields } from './header.js';
import { addEmptyChild, boundaryOf, describeEntity, emptyPart } from './entity.js';
import { sortKeys } from './sort.js';

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;

/** A position in the message, with the line ends (all, and bare LF) before it. */
interface Pos {
  off: number;
  lf: number;
  bare: number;
}

/** Line end kinds: none (the last line), LF, CRLF. */
type Eol = 0 | 1 | 2;

interface Line {
  /** Where the line starts and where the next one starts. */
  at: Pos;
  next: Pos;
  eol: Eol;
  /** The line end of the line before this one (0 at the start of the message). */
  prevEol: Eol;
  /** Bytes in the line, line end included. */
  len: number;
  /** Its first bytes, as many as were asked for. */
  head: Buffer;
  /** The end of the message: no more lines (`at` is the end). */
  eof: boolean;
}

/** What the parser wants next: every line, only lines starting "--", or none (run to the end). */
interface Want {
  mode: 'all' | 'dash' | 'none';
  /** Bytes of each line to keep. */
  cap: number;
}

type Gen<T> = Generator<Want, T, Line>;

interface Hit {
  level: number;
  close: boolean;
  line: Line;
}

interface Ctx {
  parts: number;
  /** The end of the message, set when the driver reaches it. */
  eof: Pos | null;
  sort: SortKeys | null;
}

interface Parsed {
  part: MimePart;
  hit: Hit | null;
  end: Pos;
}

/** `p` less a line end just before it. */
function before(p: Pos, eol: Eol): Pos {
  if (eol === 0) return p;
  return { off: p.off - eol, lf: p.lf - 1, bare: p.bare - (eol === 1 ? 1 : 0) };
}

/** Bytes of a line needed to tell a delimiter: "--", the longest boundary, "--". */
function delimiterCap(bounds: Buffer[]): number {
  let n = 0;
  for (const b of bounds) n = Math.max(n, b.length);
  return n + 4;
}

/** As parse.ts matchBoundary, on the first bytes of one line (a boundary holds no LF). */
function matchBoundary(line: Line, bounds: Buffer[]): Hit | null {
  const h = line.head;
  if (h.length < 2 || h[0] !== DASH || h[1] !== DASH) return null;
  let best = -1;
  for (let level = bounds.length - 1; level >= 0; level--) {
    const b = bounds[level];
    if (best >= 0 && b.length <= bounds[best].length) continue;
    if (2 + b.length > h.length) continue;
    if (h.compare(b, 0, b.length, 2, 2 + b.length) === 0) best = level;
  }
  if (best < 0) return null;
  const after = 2 + bounds[best].length;
  const close = after + 1 < h.length && h[after] === DASH && h[after + 1] === DASH;
  return { level: best, close, line };
}

/** The next delimiter line of an active boundary; null at the end of the message. */
function* findBoundary(bounds: Buffer[]): Gen<Hit | null> {
  const want: Want = { mode: bounds.length === 0 ? 'none' : 'dash', cap: delimiterCap(bounds) };
  for (;;) {
    const line = yield want;
    if (line.eof) return null;
    const hit = matchBoundary(line, bounds);
    if (hit) return hit;
  }
}

/** Where a part that stops at `hit` ends: before the line end that belongs to the delimiter. */
function endAt(ctx: Ctx, hit: Hit | null, scanStart: Pos): Pos {
  if (!hit) return ctx.eof!;
  return hit.line.at.off > scanStart.off ? before(hit.line.at, hit.line.prevEol) : hit.line.at;
}

function* parseEntity(ctx: Ctx, start: Pos, bounds: Buffer[], depth: number, digest: boolean, isMessage: boolean): Gen<Parsed> {
  ctx.parts++;
  const max = LIMITS.store.maxHeaderBytes;
  // splitFields reads a field starting inside `max` on to twice `max`.
  const keep = 2 * max;
  const need = bounds.length > 0 ? delimiterCap(bounds) : 2;
  const kept: Buffer[] = [];
  let keptBytes = 0;
  let p = start;
  let bodyStart: Pos;
  let hit: Hit | null = null;
  for (;;) {
    const line = yield { mode: 'all', cap: Math.max(need, p.off - start.off < max ? keep - (p.off - start.off) : 0) };
    if (line.eof) {
      bodyStart = line.at;
      break;
    }
    if ((line.len === 1 && line.eol === 1) || (line.len === 2 && line.eol === 2)) {
      bodyStart = line.next;
      break;
    }
    if (bounds.length > 0) {
      hit = matchBoundary(line, bounds);
      if (hit) {
        bodyStart = line.at;
        break;
      }
    }
    if (p.off - start.off < max) {
      const piece = line.head.subarray(0, keep - keptBytes);
      kept.push(piece);
      keptBytes += piece.length;
    }
    p = line.next;
  }
  const hdr = Buffer.concat(kept, keptBytes);
  const fields = splitFields(hdr, 0, hdr.length, max);

  const part = emptyPart(start.off, bodyStart.off, bodyStart.off - start.off + bodyStart.bare - start.bare, digest);
  describeEntity(hdr, fields, part, isMessage);
  if (isMessage && depth === 0) ctx.sort = sortKeys(hdr, fields);

  const tooDeep = depth >= LIMITS.store.maxMimeDepth || ctx.parts >= LIMITS.store.maxMimeParts;
  let bs = bodyStart;
  let be = bodyStart;
  let partEnd = bodyStart;
  if (!hit) {
    if (part.type === 'multipart' && !tooDeep) {
      ({ hit, end: partEnd } = yield* parseMultipart(ctx, part, bodyStart, bounds, depth));
    } else if (part.type === 'message' && part.subtype === 'rfc822' && !tooDeep) {
      const child = yield* parseEntity(ctx, bodyStart, bounds, depth + 1, false, true);
      part.message = child.part as MimeMessage;
      ({ hit, end: partEnd } = child);
    } else {
      hit = yield* findBoundary(bounds);
      partEnd = endAt(ctx, hit, bodyStart);
    }
    be = partEnd;
  }
  if (part.type === 'multipart' && !part.parts) addEmptyChild(part);
  if (hit && hit.line.at.off === bodyStart.off) {
    // The header ran into the delimiter: the line end before it is the delimiter's (parse.ts giveLineEndToDelimiter).
    if (bodyStart.off > start.off) bs = before(bodyStart, hit.line.prevEol);
    be = bs;
  }
  part.bodyStart = bs.off;
  part.bodyEnd = be.off;
  if (bs.off !== bodyStart.off) part.vHeaderSize = bs.off - start.off + bs.bare - start.bare;
  const wantLines = part.type === 'text' || (part.type === 'message' && part.subtype === 'rfc822');
  part.vBodySize = be.off - bs.off + be.bare - bs.bare;
  part.bodyLines = wantLines ? be.lf - bs.lf : 0;
  return { part, hit, end: partEnd };
}

function* parseMultipart(ctx: Ctx, part: MimePart, bodyStart: Pos, bounds: Buffer[], depth: number): Gen<{ hit: Hit | null; end: Pos }> {
  const b = boundaryOf(part);
  if (!b) {
    const hit = yield* findBoundary(bounds);
    addEmptyChild(part);
    return { hit, end: endAt(ctx, hit, bodyStart) };
  }
  const mine = bounds.length;
  const inner = [...bounds, b];
  const digest = part.subtype === 'digest';
  const children: MimePart[] = [];
  let hit = yield* findBoundary(inner);
  let lastEnd: Pos | null = null;
  let epilogueFrom: Pos | null = null;
  while (hit && hit.level === mine) {
    if (hit.close || ctx.parts >= LIMITS.store.maxMimeParts) {
      epilogueFrom = hit.line.next;
      break;
    }
    const child = yield* parseEntity(ctx, hit.line.next, inner, depth + 1, digest, false);
    children.push(child.part);
    hit = child.hit;
    lastEnd = child.end;
  }
  let outer: Hit | null;
  let end: Pos;
  if (epilogueFrom) {
    outer = yield* findBoundary(bounds);
    end = endAt(ctx, outer, epilogueFrom);
  } else {
    outer = hit;
    end = !outer ? ctx.eof! : (lastEnd ?? endAt(ctx, outer, bodyStart));
  }
  if (children.length === 0) addEmptyChild(part);
  else part.parts = children;
  return { hit: outer, end };
}

/**
 * Feed the message with push(), in chunks of any size, then call end() for
 * its MimeTree (the same tree parseMessage gives for the whole bytes). Never
 * throws on bad input. Chunks are copied where kept, so callers may reuse them.
 */
export class MimeStreamParser {
  private readonly ctx: Ctx = { parts: 0, eof: null, sort: null };
  private readonly gen: Gen<Parsed>;
  private want: Want;
  private result: Parsed | null = null;
  /** Offset of the next chunk, line ends and bare LFs so far, the last byte seen. */
  private base = 0;
  private lf = 0;
  private bare = 0;
  private lastByte = -1;
  /** The line being read. */
  private lineAt: Pos = { off: 0, lf: 0, bare: 0 };
  private lineLen = 0;
  private prevEol: Eol = 0;
  private head: Buffer[] = [];
  private headLen = 0;
  /** Whether the current line's bytes are kept (null: not decided yet). */
  private keep = true;

  constructor() {
    this.gen = parseEntity(this.ctx, { off: 0, lf: 0, bare: 0 }, [], 0, false, true);
    this.want = this.step(null);
  }

  /** Bytes so far, and the same with every bare LF counted as CRLF. */
  get size(): number {
    return this.base;
  }
  get vsize(): number {
    return this.base + this.bare;
  }

  push(chunk: Buffer): void {
    if (this.ctx.eof) throw new Error('MimeStreamParser: push after end');
    const n = chunk.length;
    let p = 0;
    while (p < n) {
      if (this.lineLen === 0 && this.want.mode !== 'all') {
        // In a body most lines are only counted: skip them here without a copy or an object per line.
        const q = this.skipLines(chunk, p);
        if (q !== p) {
          p = q;
          continue;
        }
      }
      if (this.lineLen === 0) this.startLine(this.base + p);
      const nl = chunk.indexOf(LF, p);
      const segEnd = nl < 0 ? n : nl + 1;
      if (this.keep) this.take(chunk, p, segEnd);
      this.lineLen += segEnd - p;
      if (nl < 0) break;
      const prev = nl > 0 ? chunk[nl - 1] : this.lastByte;
      const eol: Eol = prev === CR && this.lineLen >= 2 ? 2 : 1;
      this.lf++;
      if (eol === 1) this.bare++;
      this.endLine(eol, { off: this.base + segEnd, lf: this.lf, bare: this.bare });
      p = segEnd;
    }
    if (n > 0) this.lastByte = chunk[n - 1]!;
    this.base += n;
  }

  end(): MimeTree {
    if (!this.ctx.eof) {
      const at: Pos = { off: this.base, lf: this.lf, bare: this.bare };
      if (this.lineLen > 0) this.endLine(0, at);
      this.ctx.eof = at;
      const eofLine: Line = { at, next: at, eol: 0, prevEol: this.prevEol, len: 0, head: Buffer.alloc(0), eof: true };
      // Every scan still open ends here; bounded by the nesting the parts limit allows.
      for (let guard = 0; !this.result && guard <= LIMITS.store.maxMimeParts * 4 + 8; guard++) this.step(eofLine);
    }
    const part = this.result!.part as MimeMessage;
    return { ...part, bareLf: this.bare > 0, rawSize: this.base, vSize: this.base + this.bare, sort: this.ctx.sort! };
  }

  private step(line: Line | null): Want {
    if (this.result) return { mode: 'none', cap: 0 };
    const r = line === null ? this.gen.next() : this.gen.next(line);
    if (r.done) {
      this.result = r.value;
      return { mode: 'none', cap: 0 };
    }
    return r.value;
  }

  /**
   * From the start of a line at `p`: count the lines the parser does not
   * look at (every line in 'none' mode; in 'dash' mode those not starting
   * "--") as endLine would, and return where the first other one starts —
   * `p` itself when that line is a candidate or its first two bytes are
   * not in this chunk yet (push's general path takes it). A line the chunk
   * ends inside is begun as unkept.
   */
  private skipLines(chunk: Buffer, p: number): number {
    const n = chunk.length;
    const dash = this.want.mode === 'dash';
    while (p < n) {
      if (dash && (p + 1 >= n || (chunk[p] === DASH && chunk[p + 1] === DASH))) return p;
      const nl = chunk.indexOf(LF, p);
      if (nl < 0) {
        this.startLine(this.base + p);
        this.keep = false;
        this.lineLen = n - p;
        return n;
      }
      // As push: CRLF only when the CR is on this line.
      const eol: Eol = nl > p && chunk[nl - 1] === CR ? 2 : 1;
      this.lf++;
      if (eol === 1) this.bare++;
      this.prevEol = eol;
      p = nl + 1;
    }
    return p;
  }

  private startLine(off: number): void {
    this.lineAt = { off, lf: this.lf, bare: this.bare };
    this.head = [];
    this.headLen = 0;
    this.keep = this.want.mode !== 'none';
  }

  private take(chunk: Buffer, from: number, to: number): void {
    const room = this.want.cap - this.headLen;
    if (room > 0) {
      const piece = Buffer.from(chunk.subarray(from, Math.min(to, from + room)));
      this.head.push(piece);
      this.headLen += piece.length;
    }
    // A body line matters only when it starts "--" (a delimiter candidate).
    if (this.want.mode === 'dash' && this.headLen >= 2 && !this.startsDash()) {
      this.keep = false;
      this.head = [];
      this.headLen = 0;
    }
  }

  private startsDash(): boolean {
    const a = this.head[0]!;
    const b = a.length >= 2 ? a[1] : this.head[1]![0];
    return a[0] === DASH && b === DASH;
  }

  private endLine(eol: Eol, next: Pos): void {
    const wanted = this.keep && (this.want.mode === 'all' || (this.want.mode === 'dash' && this.headLen >= 2));
    if (wanted) {
      const head = this.head.length === 1 ? this.head[0]! : Buffer.concat(this.head, this.headLen);
      this.want = this.step({ at: this.lineAt, next, eol, prevEol: this.prevEol, len: this.lineLen, head, eof: false });
    }
    this.prevEol = eol;
    this.lineLen = 0;
  }
}

/** Parse a message read piece by piece from `chunks` (a file stream, say). */
export async function parseChunks(chunks: AsyncIterable<Buffer>): Promise<MimeTree> {
  const parser = new MimeStreamParser();
  for await (const c of chunks) parser.push(c);
  return parser.end();
}
