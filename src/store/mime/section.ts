/**
 * FETCH section resolution (RFC 3501 §6.4.5 BODY[section]<partial>, RFC 3516
 * BINARY[section]): find the byte range a section names in the parsed tree,
 * read it through the caller's `read`, and return the exact bytes IMAP sends.
 * Stored bare LFs are sent as CRLF (sizes in the tree already count them so).
 */
import { RoostError } from '../../errors.js';
import type { MimePart, MimeTree } from './types.js';
import { splitFields } from './header.js';
import { decodeBase64, decodeTransfer } from './decode.js';

export type SectionKind =
  | { kind: '' }
  | { kind: 'HEADER' }
  | { kind: 'HEADER.FIELDS'; fields: string[] }
  | { kind: 'HEADER.FIELDS.NOT'; fields: string[] }
  | { kind: 'TEXT' }
  | { kind: 'MIME' };

/** A section spec: part path (1-based numbers, [] = the whole message) and what of it. */
export type SectionSpec = { path: number[] } & SectionKind;

/** `<offset.length>` of a partial fetch. */
export interface Partial {
  offset: number;
  length: number;
}

/** Reads stored bytes [start, end) of the message file. */
export type ReadRange = (start: number, end: number) => Promise<Buffer>;

/** A resolved byte range: stored offsets plus the size as sent (CRLF-counted). */
export interface ByteRange {
  start: number;
  end: number;
  vSize: number;
}

/**
 * The part a path names (RFC 3501 §6.4.5): numbers walk multipart children;
 * a number applied to a message/rfc822 part walks into its message's body;
 * "1" of a non-multipart body is the body itself. Returns null if no such part.
 */
export function findPart(tree: MimeTree, path: readonly number[]): MimePart | null {
  let cur: MimePart = tree;
  let top = true;
  for (const n of path) {
    // Below a message/rfc822 part the numbers address the encapsulated message's parts.
    const container: MimePart = !top && cur.message ? cur.message : cur;
    top = false;
    if (container.parts) {
      if (n < 1 || n > container.parts.length) return null;
      cur = container.parts[n - 1];
    } else {
      if (n !== 1) return null;
      cur = container;
    }
  }
  return cur;
}

/** The message whose HEADER/TEXT a path names: the top, or a message/rfc822 part's message. */
function messageAt(tree: MimeTree, path: readonly number[]): MimePart | null {
  if (path.length === 0) return tree;
  const p = findPart(tree, path);
  return p?.message ?? null;
}

/**
 * Byte range of a section that is a plain slice of the file (everything but
 * HEADER.FIELDS[.NOT]). Null when the section does not exist. For a message
 * part whose message was not parsed (encoded message/rfc822), HEADER and
 * TEXT are empty.
 */
export function sectionRange(tree: MimeTree, spec: SectionSpec): ByteRange | null {
  switch (spec.kind) {
    case '': {
      if (spec.path.length === 0) return { start: 0, end: tree.rawSize, vSize: tree.vSize };
      const p = findPart(tree, spec.path);
      return p ? { start: p.bodyStart, end: p.bodyEnd, vSize: p.vBodySize } : null;
    }
    case 'MIME': {
      if (spec.path.length === 0) return null;
      const p = findPart(tree, spec.path);
      return p ? { start: p.headerStart, end: p.bodyStart, vSize: p.vHeaderSize } : null;
    }
    case 'HEADER':
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT': {
      const m = messageAt(tree, spec.path);
      if (m) return { start: m.headerStart, end: m.bodyStart, vSize: m.vHeaderSize };
      return spec.path.length > 0 && findPart(tree, spec.path) ? { start: 0, end: 0, vSize: 0 } : null;
    }
    case 'TEXT': {
      const m = messageAt(tree, spec.path);
      if (m) return { start: m.bodyStart, end: m.bodyEnd, vSize: m.vBodySize };
      return spec.path.length > 0 && findPart(tree, spec.path) ? { start: 0, end: 0, vSize: 0 } : null;
    }
  }
}

/** Convert bare LF to CRLF (RFC 5322 §2.3: CR and LF only together). */
export function toCrlf(b: Buffer): Buffer {
  let bare = 0;
  for (let p = b.indexOf(0x0a); p >= 0; p = b.indexOf(0x0a, p + 1)) if (p === 0 || b[p - 1] !== 0x0d) bare++;
  if (bare === 0) return b;
  const out = Buffer.allocUnsafe(b.length + bare);
  let o = 0;
  let s = 0;
  for (let p = b.indexOf(0x0a); p >= 0; p = b.indexOf(0x0a, p + 1)) {
    if (p === 0 || b[p - 1] !== 0x0d) {
      o += b.copy(out, o, s, p);
      out[o++] = 0x0d;
      s = p;
    }
  }
  b.copy(out, o, s);
  return out;
}

/** Apply `<offset.length>` (RFC 3501 §6.4.5: an offset past the end gives an empty string). */
export function applyPartial(b: Buffer, partial: Partial | undefined): Buffer {
  if (!partial) return b;
  if (partial.offset >= b.length) return b.subarray(0, 0);
  return b.subarray(partial.offset, Math.min(b.length, partial.offset + partial.length));
}

/**
 * HEADER.FIELDS / HEADER.FIELDS.NOT (RFC 3501 §6.4.5): the matching fields
 * as written, in message order, each line ending in CRLF, then the blank
 * line that ends a header.
 */
export function filterHeader(header: Buffer, names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const pieces: Buffer[] = [];
  for (const f of splitFields(header, 0, header.length)) {
    if (wanted.has(f.lname) === not) continue;
    let field = header.subarray(f.start, f.end);
    if (field.length === 0 || field[field.length - 1] !== 0x0a) field = Buffer.concat([field, Buffer.from('\r\n')]);
    pieces.push(field);
  }
  pieces.push(Buffer.from('\r\n'));
  return toCrlf(Buffer.concat(pieces));
}

/**
 * The bytes FETCH BODY[section]<partial> sends (a literal's content). Throws
 * RoostError('NOTFOUND') for a section that does not exist in this message.
 */
export async function fetchSection(tree: MimeTree, spec: SectionSpec, read: ReadRange, partial?: Partial): Promise<Buffer> {
  const r = sectionRange(tree, spec);
  if (!r) throw new RoostError('NOTFOUND', 'No such section');
  if (spec.kind === 'HEADER.FIELDS' || spec.kind === 'HEADER.FIELDS.NOT') {
    const header = r.end > r.start ? await read(r.start, r.end) : Buffer.alloc(0);
    return applyPartial(filterHeader(header, spec.fields, spec.kind === 'HEADER.FIELDS.NOT'), partial);
  }
  if (!tree.bareLf && partial) {
    // Without bare LFs stored offsets equal sent offsets: read only the slice.
    const s = Math.min(r.end, r.start + partial.offset);
    const e = Math.min(r.end, s + partial.length);
    return e > s ? read(s, e) : Buffer.alloc(0);
  }
  const bytes = r.end > r.start ? await read(r.start, r.end) : Buffer.alloc(0);
  return applyPartial(tree.bareLf ? toCrlf(bytes) : bytes, partial);
}

/** Size as sent of a section that is a plain slice (RFC822.SIZE-style), without reading; null for HEADER.FIELDS. */
export function sectionSize(tree: MimeTree, spec: SectionSpec): number | null {
  if (spec.kind === 'HEADER.FIELDS' || spec.kind === 'HEADER.FIELDS.NOT') return null;
  return sectionRange(tree, spec)?.vSize ?? null;
}

/**
 * BINARY[section]<partial> (RFC 3516 §4.2): the section's body with its
 * Content-Transfer-Encoding removed. `path` [] means the whole message, which
 * is sent as is. Throws RoostError('UNKNOWNCTE') / ('PARSE') / ('NOTFOUND').
 */
export async function fetchBinary(tree: MimeTree, path: readonly number[], read: ReadRange, partial?: Partial): Promise<Buffer> {
  if (path.length === 0) return fetchSection(tree, { path: [], kind: '' }, read, partial);
  const p = findPart(tree, path);
  if (!p) throw new RoostError('NOTFOUND', 'No such section');
  const raw = p.bodyEnd > p.bodyStart ? await read(p.bodyStart, p.bodyEnd) : Buffer.alloc(0);
  if (p.parts) return applyPartial(binaryMultipart(raw, p, tree.bareLf), partial);
  const decoded = decodeTransfer(raw, p.encoding);
  // Identity encodings are sent as lines, so bare LF goes out as CRLF like BODY[] (as Dovecot does).
  const out = decoded === raw && tree.bareLf ? toCrlf(raw) : decoded;
  return applyPartial(out, partial);
}

/**
 * A multipart's body for BINARY: every base64 part inside is replaced by its
 * decoded bytes and its Content-Transfer-Encoding field by
 * "Content-Transfer-Encoding: binary" at the end of its header (RFC 3516
 * §4.2 leaves multiparts open; this is Dovecot's answer, byte for byte).
 * `raw` holds the bytes [part.bodyStart, part.bodyEnd).
 */
function binaryMultipart(raw: Buffer, part: MimePart, bareLf: boolean): Buffer {
  // Text pieces go out with CRLF line ends; decoded bytes stay as they are.
  const text = (b: Buffer): Buffer => (bareLf ? toCrlf(b) : b);
  const base = part.bodyStart;
  const pieces: Buffer[] = [];
  let pos = 0;
  const walk = (p: MimePart): void => {
    if (p.parts) p.parts.forEach(walk);
    else if (p.message) walk(p.message);
    else if (p.encoding !== null && p.encoding.toLowerCase() === 'base64' && !p.synthetic) {
      const hs = p.headerStart - base;
      const bs = p.bodyStart - base;
      pieces.push(text(raw.subarray(pos, hs)));
      const header = raw.subarray(hs, bs);
      // Drop the old field(s), keep the rest, add ours before the blank line.
      let blank = header.length;
      if (blank >= 2 && header[blank - 2] === 0x0d && header[blank - 1] === 0x0a) blank -= 2;
      else if (blank >= 1 && header[blank - 1] === 0x0a) blank -= 1;
      let hp = 0;
      for (const f of splitFields(header, 0, blank)) {
        if (f.lname !== 'content-transfer-encoding') continue;
        pieces.push(text(header.subarray(hp, f.start)));
        hp = f.end;
      }
      pieces.push(text(header.subarray(hp, blank)), Buffer.from('Content-Transfer-Encoding: binary\r\n'), text(header.subarray(blank)));
      pieces.push(decodeBase64(raw.subarray(bs, p.bodyEnd - base)).data);
      pos = p.bodyEnd - base;
    }
  };
  walk(part);
  pieces.push(text(raw.subarray(pos)));
  return Buffer.concat(pieces);
}

/** BINARY.SIZE[section] (RFC 3516 §4.2): size of the decoded section. */
export async function binarySize(tree: MimeTree, path: readonly number[], read: ReadRange): Promise<number> {
  if (path.length === 0) return tree.vSize;
  const p = findPart(tree, path);
  if (!p) throw new RoostError('NOTFOUND', 'No such section');
  const enc = p.parts ? 'base64' : (p.encoding?.toLowerCase() ?? '7bit');
  if (enc === '7bit' || enc === '8bit' || enc === 'binary') return p.vBodySize;
  return (await fetchBinary(tree, path, read)).length;
}
