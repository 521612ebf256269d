/**
 * The MIME parser (RFC 2045, RFC 2046): turns the stored bytes of a message
 * into a MimeTree once, at delivery. Pure: no I/O. Never throws on bad input;
 * bounded by LIMITS.store (parts, depth, header bytes).
 *
 * Boundary handling follows RFC 2046 §5.1.1 as Dovecot 2.3 reads it, which
 * is what clients have been tested against:
 *  - a delimiter is a line starting with "--" + boundary (anything may follow);
 *    the boundaries of all enclosing multiparts are active, the innermost wins;
 *  - the line end before a delimiter belongs to the delimiter, unless the
 *    part's header already consumed it;
 *  - a missing close delimiter ends the part at the end of the message, or at
 *    an enclosing multipart's delimiter;
 *  - a multipart with no boundary parameter or no parts gets one empty
 *    text/plain part, so BODYSTRUCTURE stays valid (RFC 3501 §7.4.2 needs >= 1).
 */
import { LIMITS } from '../../limits.js';
import type { MimeMessage, MimePart, MimeTree } from './types.js';
import { splitFields } from './header.js';
import { addEmptyChild, boundaryOf, describeEntity, emptyPart } from './entity.js';
import { sortKeys } from './sort.js';

const LF = 0x0a;
const CR = 0x0d;
const DASH = 0x2d;
const NL_DASHES = Buffer.from('\n--', 'latin1');

/** A delimiter line found while scanning. */
interface Hit {
  /** Index into the active boundary stack (0 = outermost). */
  level: number;
  close: boolean;
  /** Offset of the first "-". */
  lineStart: number;
  /** Offset after the delimiter line's line end. */
  next: number;
}

interface Ctx {
  buf: Buffer;
  end: number;
  parts: number;
  /** Whether the message has any bare LF; without one, sizes need no scan. */
  bareLf: boolean;
}

/** Count LF and bare LF (LF without CR before it) in [start, end). */
export function countLines(buf: Buffer, start: number, end: number): { lines: number; bare: number } {
  let lines = 0;
  let bare = 0;
  let p = start;
  while (p < end) {
    const nl = buf.indexOf(LF, p);
    if (nl < 0 || nl >= end) break;
    lines++;
    if (nl === 0 || buf[nl - 1] !== CR) bare++;
    p = nl + 1;
  }
  return { lines, bare };
}

function matchBoundary(ctx: Ctx, l: number, bounds: Buffer[]): Hit | null {
  const { buf, end } = ctx;
  // The longest active boundary that prefixes the line wins; on a tie the
  // innermost (RFC 2046 §5.1.2 nesting; Dovecot 2.3 reads "--ab" as "ab"
  // even inside a part whose boundary is "a").
  let best = -1;
  const s = l + 2;
  for (let level = bounds.length - 1; level >= 0; level--) {
    const b = bounds[level];
    if (best >= 0 && b.length <= bounds[best].length) continue;
    if (s + b.length > end) continue;
    if (buf.compare(b, 0, b.length, s, s + b.length) === 0) best = level;
  }
  if (best < 0) return null;
  const after = s + bounds[best].length;
  const close = after + 1 < end && buf[after] === DASH && buf[after + 1] === DASH;
  const nl = buf.indexOf(LF, after);
  return { level: best, close, lineStart: l, next: nl < 0 || nl >= end ? end : nl + 1 };
}

/** First delimiter line of any active boundary at or after line start `from`. */
function findBoundary(ctx: Ctx, from: number, bounds: Buffer[]): Hit | null {
  if (bounds.length === 0) return null;
  const { buf, end } = ctx;
  if (from + 1 < end && buf[from] === DASH && buf[from + 1] === DASH) {
    const h = matchBoundary(ctx, from, bounds);
    if (h) return h;
  }
  let p = from;
  while (p < end) {
    const i = buf.indexOf(NL_DASHES, p);
    if (i < 0 || i + 1 >= end) return null;
    const h = matchBoundary(ctx, i + 1, bounds);
    if (h) return h;
    p = i + 1;
  }
  return null;
}

/** Where a part that stops at `hit` ends (scan began at `scanStart`). */
function endAt(ctx: Ctx, hit: Hit | null, scanStart: number): number {
  if (!hit) return ctx.end;
  let e = hit.lineStart;
  if (e - 1 >= scanStart && ctx.buf[e - 1] === LF) {
    e--;
    if (e - 1 >= scanStart && ctx.buf[e - 1] === CR) e--;
  }
  return e;
}

interface Parsed {
  part: MimePart;
  /** The delimiter that ended the entity, or null at the end of the message. */
  hit: Hit | null;
  /** Where enclosing parts that end at the same delimiter end. */
  end: number;
}

/**
 * Parse the entity whose header starts at `start`. `bounds` are the active
 * boundaries; `digest` marks a child of multipart/digest (default type
 * message/rfc822, RFC 2046 §5.1.5); `isMessage` marks a message header
 * (the top or an encapsulated message), whose Content-* fields count only
 * with MIME-Version or Content-Type present (as Dovecot; RFC 2045 §4).
 */
function parseEntity(ctx: Ctx, start: number, bounds: Buffer[], depth: number, digest: boolean, isMessage: boolean): Parsed {
  const { buf, end } = ctx;
  ctx.parts++;
  // Header: up to a blank line, a delimiter line, or the end.
  let p = start;
  let bodyStart = end;
  let hit: Hit | null = null;
  while (p < end) {
    const c = buf[p];
    if (c === LF) {
      bodyStart = p + 1;
      break;
    }
    if (c === CR && p + 1 < end && buf[p + 1] === LF) {
      bodyStart = p + 2;
      break;
    }
    if (c === DASH && bounds.length > 0 && p + 1 < end && buf[p + 1] === DASH) {
      hit = matchBoundary(ctx, p, bounds);
      if (hit) {
        bodyStart = p;
        break;
      }
    }
    const nl = buf.indexOf(LF, p);
    p = nl < 0 ? end : nl + 1;
  }
  const fields = splitFields(buf, start, bodyStart, LIMITS.store.maxHeaderBytes);
  const hdrBare = ctx.bareLf ? countLines(buf, start, bodyStart).bare : 0;

  const part = emptyPart(start, bodyStart, bodyStart - start + hdrBare, digest);
  describeEntity(buf, fields, part, isMessage);

  const tooDeep = depth >= LIMITS.store.maxMimeDepth || ctx.parts >= LIMITS.store.maxMimeParts;
  let partEnd = bodyStart;
  if (!hit) {
    if (part.type === 'multipart' && !tooDeep) {
      ({ hit, end: partEnd } = parseMultipart(ctx, part, bounds, depth));
    } else if (part.type === 'message' && part.subtype === 'rfc822' && !tooDeep) {
      // Parsed as a message even when (wrongly, RFC 2046 §5.2.1) encoded: its
      // "header" then has no fields and swallows the body, as Dovecot reads it.
      const child = parseEntity(ctx, bodyStart, bounds, depth + 1, false, true);
      part.message = child.part as MimeMessage;
      ({ hit, end: partEnd } = child);
      part.bodyEnd = partEnd;
    } else {
      hit = findBoundary(ctx, bodyStart, bounds);
      partEnd = endAt(ctx, hit, bodyStart);
      part.bodyEnd = partEnd;
    }
  }
  // A multipart always shows at least one part (here: cut short by a delimiter or the limits).
  if (part.type === 'multipart' && !part.parts) addEmptyChild(part);
  if (hit && hit.lineStart === bodyStart) giveLineEndToDelimiter(buf, part, start);
  if (part.bodyStart !== bodyStart) {
    part.vHeaderSize = part.bodyStart - start + (ctx.bareLf ? countLines(buf, start, part.bodyStart).bare : 0);
  }
  // Line counts are reported for text/* and message/rfc822 only (RFC 3501 §7.4.2).
  const wantLines = part.type === 'text' || (part.type === 'message' && part.subtype === 'rfc822');
  if (wantLines || ctx.bareLf) {
    const body = countLines(buf, part.bodyStart, part.bodyEnd);
    part.vBodySize = part.bodyEnd - part.bodyStart + body.bare;
    part.bodyLines = wantLines ? body.lines : 0;
  } else {
    part.vBodySize = part.bodyEnd - part.bodyStart;
  }
  return { part, hit, end: partEnd };
}

/**
 * An entity whose header runs straight into a delimiter line (after its blank
 * line, or without one) has an empty body, and the line end before the
 * delimiter is the delimiter's (RFC 2046 §5.1.1), so the header stops before
 * it: Dovecot's sizes. Enclosing parts still end at the delimiter line.
 */
function giveLineEndToDelimiter(buf: Buffer, part: MimePart, headerStart: number): void {
  const b = part.bodyStart;
  let e = b;
  if (e - 1 >= headerStart && buf[e - 1] === LF) {
    e--;
    if (e - 1 >= headerStart && buf[e - 1] === CR) e--;
  }
  part.bodyStart = e;
  part.bodyEnd = e;
}

/** Parse a multipart body; returns the delimiter of an enclosing multipart that ended it, if any. */
function parseMultipart(ctx: Ctx, part: MimePart, bounds: Buffer[], depth: number): { hit: Hit | null; end: number } {
  const b = boundaryOf(part);
  if (!b) {
    const hit = findBoundary(ctx, part.bodyStart, bounds);
    part.bodyEnd = endAt(ctx, hit, part.bodyStart);
    addEmptyChild(part);
    return { hit, end: part.bodyEnd };
  }
  const mine = bounds.length;
  const inner = [...bounds, b];
  const digest = part.subtype === 'digest';
  const children: MimePart[] = [];
  let hit = findBoundary(ctx, part.bodyStart, inner);
  let lastEnd = -1;
  let epilogueFrom = -1;
  while (hit && hit.level === mine) {
    if (hit.close || ctx.parts >= LIMITS.store.maxMimeParts) {
      // Close delimiter (or out of part budget): the rest is epilogue, which
      // runs to an enclosing delimiter or the end.
      epilogueFrom = hit.next;
      break;
    }
    const child = parseEntity(ctx, hit.next, inner, depth + 1, digest, false);
    children.push(child.part);
    hit = child.hit;
    lastEnd = child.end;
  }
  let outer: Hit | null;
  if (epilogueFrom >= 0) {
    outer = findBoundary(ctx, epilogueFrom, bounds);
    part.bodyEnd = endAt(ctx, outer, epilogueFrom);
  } else {
    // Ended by an enclosing delimiter (or the end) where the last child ended.
    outer = hit;
    part.bodyEnd = !outer ? ctx.end : lastEnd >= 0 ? lastEnd : endAt(ctx, outer, part.bodyStart);
  }
  if (children.length === 0) addEmptyChild(part);
  else part.parts = children;
  return { hit: outer, end: part.bodyEnd };
}

/** Parse a whole message. Never throws; a malformed message still gets a valid tree. */
export function parseMessage(raw: Buffer): MimeTree {
  const all = countLines(raw, 0, raw.length);
  const ctx: Ctx = { buf: raw, end: raw.length, parts: 0, bareLf: all.bare > 0 };
  const { part } = parseEntity(ctx, 0, [], 0, false, true);
  const msg = part as MimeMessage;
  const headerFields = splitFields(raw, 0, part.bodyStart, LIMITS.store.maxHeaderBytes);
  return {
    ...msg,
    bareLf: all.bare > 0,
    rawSize: raw.length,
    vSize: raw.length + all.bare,
    sort: sortKeys(raw, headerFields),
  };
}
