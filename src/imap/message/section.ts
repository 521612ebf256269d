/**
 * FETCH section resolution (RFC 3501 §6.4.5 BODY[section]<partial>, RFC 3516
 * BINARY[section]): find the byte range a section names in the parsed tree,
 * read it through the caller's `read`, and return the exact bytes IMAP sends.
 * Stored bare LFs are sent as CRLF (sizes in the tree already count them so).
 */
import { RoostError } from '../../errors.js';
import type { MimePart, MimeTree } from '../../store/mime/types.js';
import { splitFields } from '../../store/mime/header.js';
import { decodeTransfer } from '../../store/mime/decode.js';
import { copyRun } from '../../text/copy-run.js';

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
 * The part a path names (RFC 3501 §6.4.5): numbers pick multipart children;
 * "1" of a non-multipart message is its body; below a message/rfc822 part
 * the numbers address the encapsulated message the same way. A leaf that is
 * not a message has no subparts. Returns null if there is no such part.
 */
export function findPart(tree: MimeTree, path: readonly number[]): MimePart | null {
  let cur: MimePart = tree;
  // `cur` stands for a message (whose non-multipart body is part 1) ...
  let isMessage = true;
  // ... or is the non-multipart body of one, which has no subparts.
  let bodyOfMessage = false;
  for (const n of path) {
    let container: MimePart;
    if (isMessage || cur.parts) container = cur;
    else if (cur.message) container = cur.message;
    else if (!bodyOfMessage && n === 1) continue; // Dovecot reads "n.1" of a leaf part as the part itself.
    else return null;
    if (container.parts) {
      if (n < 1 || n > container.parts.length) return null;
      cur = container.parts[n - 1];
      bodyOfMessage = false;
    } else {
      if (n !== 1) return null;
      cur = container;
      bodyOfMessage = true;
    }
    isMessage = false;
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
 * Byte range of a section. Null when the message has no such section,
 * including HEADER/TEXT of a part that is not message/rfc822 (RFC 3501
 * §6.4.5 allows them only there); Dovecot answers those with an empty string.
 * For HEADER.FIELDS[.NOT] the range is the whole header to filter.
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
      return m ? { start: m.headerStart, end: m.bodyStart, vSize: m.vHeaderSize } : null;
    }
    case 'TEXT': {
      const m = messageAt(tree, spec.path);
      return m ? { start: m.bodyStart, end: m.bodyEnd, vSize: m.vBodySize } : null;
    }
  }
}

/**
 * Convert bare LF to CRLF (RFC 5322 §2.3: CR and LF only together).
 * `bareHint`, the count the index holds (vsize − size), saves the counting
 * pass over a message stored with LF line ends; the result is the same
 * whatever the hint says: a count that turns out wrong falls back to
 * counting.
 */
export function toCrlf(b: Buffer, bareHint?: number): Buffer {
  if (bareHint !== undefined && bareHint > 0) {
    const out = convertBareLf(b, bareHint);
    if (out) return out;
  }
  let bare = 0;
  for (let p = b.indexOf(0x0a); p >= 0; p = b.indexOf(0x0a, p + 1)) if (p === 0 || b[p - 1] !== 0x0d) bare++;
  if (bare === 0) return b;
  return convertBareLf(b, bare)!;
}

/** `b` with a CR before each of its `bare` bare LFs; null when it has another number of them. */
function convertBareLf(b: Buffer, bare: number): Buffer | null {
  const out = Buffer.allocUnsafe(b.length + bare);
  let o = 0;
  let s = 0;
  let n = 0;
  for (let p = b.indexOf(0x0a); p >= 0; p = b.indexOf(0x0a, p + 1)) {
    if (p === 0 || b[p - 1] !== 0x0d) {
      if (++n > bare) return null;
      o = copyRun(b, s, p, out, o);
      out[o++] = 0x0d;
      s = p;
    }
  }
  if (n !== bare) return null;
  copyRun(b, s, b.length, out, o);
  return out;
}

/**
 * A literal may carry any octet but NUL (RFC 3501 §4.3, §9 CHAR8); only
 * BINARY's literal8 may (RFC 3516 §4.2). BODY[…] and RFC822 of a message
 * stored with NULs send 0x80 in their place, as Dovecot does: the size is
 * unchanged, so RFC822.SIZE and partial offsets still hold.
 */
export function withoutNuls(b: Buffer): Buffer {
  let p = b.indexOf(0);
  if (p < 0) return b;
  const out = Buffer.from(b);
  for (; p >= 0; p = out.indexOf(0, p + 1)) out[p] = 0x80;
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
 * as written (folded lines included), in message order. HEADER.FIELDS always
 * ends with a blank line (RFC 3501: "the delimiting blank line between the
 * header and the body is not affected by header line subsetting"); .NOT
 * passes on the header's own blank line, so a header that had none gets none
 * (both as Dovecot does).
 */
export function filterHeader(header: Buffer, names: readonly string[], not: boolean): Buffer {
  const wanted = new Set(names.map((n) => n.toLowerCase()));
  const pieces: Buffer[] = [];
  const fields = splitFields(header, 0, header.length);
  if (!not) {
    for (const f of fields) if (wanted.has(f.lname)) pieces.push(header.subarray(f.start, f.end));
    pieces.push(Buffer.from('\r\n'));
  } else {
    // Everything but the named fields: lines that are not fields and the blank line stay.
    let pos = 0;
    for (const f of fields) {
      if (!wanted.has(f.lname)) continue;
      pieces.push(header.subarray(pos, f.start));
      pos = f.end;
    }
    pieces.push(header.subarray(pos));
  }
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
    return withoutNuls(applyPartial(filterHeader(header, spec.fields, spec.kind === 'HEADER.FIELDS.NOT'), partial));
  }
  if (!tree.bareLf && partial) {
    // Without bare LFs stored offsets equal sent offsets: read only the slice.
    const s = Math.min(r.end, r.start + partial.offset);
    const e = Math.min(r.end, s + partial.length);
    return e > s ? withoutNuls(await read(s, e)) : Buffer.alloc(0);
  }
  const bytes = r.end > r.start ? await read(r.start, r.end) : Buffer.alloc(0);
  return withoutNuls(applyPartial(tree.bareLf ? toCrlf(bytes) : bytes, partial));
}

/** Size as sent of a section that is a plain slice (RFC822.SIZE-style), without reading; null for HEADER.FIELDS. */
export function sectionSize(tree: MimeTree, spec: SectionSpec): number | null {
  if (spec.kind === 'HEADER.FIELDS' || spec.kind === 'HEADER.FIELDS.NOT') return null;
  return sectionRange(tree, spec)?.vSize ?? null;
}

const IDENTITY = new Set(['7bit', '8bit', 'binary']);

function isIdentity(encoding: string | null): boolean {
  return encoding === null || IDENTITY.has(encoding.toLowerCase());
}

/**
 * Whether BINARY gives a leaf's stored bytes without completing bare LFs
 * with CR: Content-Transfer-Encoding binary (RFC 2045 §2.9, §6.2) says the
 * body is not lines, and when the part's own header has CRLF line ends the
 * message was stored as sent, so an LF in that body is data (imaptest
 * append-binary). A message stored with LF line ends throughout (QMQP
 * delivery) has its LFs completed, as Dovecot answers for such a file; 7bit
 * and 8bit bodies are text and always go out with CRLF, like BODY[].
 */
function binaryAsStored(p: MimePart): boolean {
  const e = p.cte ?? p.encoding;
  return e !== null && e.toLowerCase() === 'binary' && p.vHeaderSize === p.bodyStart - p.headerStart;
}

/**
 * BINARY[section]<partial> (RFC 3516 §4.2): the section with its
 * Content-Transfer-Encoding removed. For a leaf that is its decoded body;
 * for the whole message, a multipart or a message/rfc822 part, every
 * base64 / quoted-printable part inside is decoded in place (see
 * convertParts). Throws RoostError('UNKNOWNCTE') / ('PARSE') for a leaf
 * that cannot be decoded, ('NOTFOUND') for a missing part.
 */
export async function fetchBinary(tree: MimeTree, path: readonly number[], read: ReadRange, partial?: Partial): Promise<Buffer> {
  if (path.length === 0) {
    const raw = await read(0, tree.rawSize);
    return applyPartial(convertParts(raw, 0, tree, tree.bareLf), partial);
  }
  const p = findPart(tree, path);
  if (!p) throw new RoostError('NOTFOUND', 'No such section');
  const raw = p.bodyEnd > p.bodyStart ? await read(p.bodyStart, p.bodyEnd) : Buffer.alloc(0);
  if (p.parts) return applyPartial(convertParts(raw, p.bodyStart, p, tree.bareLf), partial);
  if (p.message) return applyPartial(convertParts(raw, p.bodyStart, p.message, tree.bareLf), partial);
  if (binaryAsStored(p)) return applyPartial(raw, partial);
  return applyPartial(decodeLeaf(raw, p.cte ?? p.encoding, tree.bareLf), partial);
}

/** A leaf's body decoded; text encodings are decoded from the CRLF form IMAP sends. */
function decodeLeaf(raw: Buffer, encoding: string | null, bareLf: boolean): Buffer {
  if (isIdentity(encoding)) return bareLf ? toCrlf(raw) : raw;
  return decodeTransfer(bareLf && encoding!.toLowerCase() === 'quoted-printable' ? toCrlf(raw) : raw, encoding);
}

/**
 * The bytes `raw` (stored bytes from offset `base`) with every base64 or
 * quoted-printable leaf under `root` replaced by its decoded bytes, and that
 * leaf's Content-Transfer-Encoding field replaced by
 * "Content-Transfer-Encoding: binary" at the end of its header. RFC 3516
 * §4.2 leaves non-leaf sections open; this is Dovecot's answer, byte for
 * byte. Text around decoded bodies goes out with CRLF line ends; decoding
 * errors are those of decodeTransfer (UNKNOWNCTE, PARSE) for any part inside.
 */
function convertParts(raw: Buffer, base: number, root: MimePart, bareLf: boolean): Buffer {
  const text = (b: Buffer): Buffer => (bareLf ? toCrlf(b) : b);
  const pieces: Buffer[] = [];
  let pos = 0;
  const walk = (p: MimePart): void => {
    if (p.parts || p.message) {
      // A container's own encoding is not undone, but one nobody knows is refused (as Dovecot does).
      const own = (p.cte ?? p.encoding)?.toLowerCase();
      if (own !== undefined && !isIdentity(own) && own !== 'base64' && own !== 'quoted-printable') {
        throw new RoostError('UNKNOWNCTE', `Unknown Content-Transfer-Encoding ${own}`);
      }
    }
    if (p.parts) {
      p.parts.forEach(walk);
      return;
    }
    if (p.message) {
      // The encapsulated message is converted; the part's own (illegal, RFC
      // 2046 §5.2.1) encoding is left alone, as Dovecot does.
      walk(p.message);
      return;
    }
    const encoding = p.cte ?? p.encoding;
    const enc = encoding?.toLowerCase();
    if (!p.synthetic && binaryAsStored(p) && p.bodyEnd > p.bodyStart) {
      // Text up to the body with CRLF, the body as stored (see binaryAsStored).
      pieces.push(text(raw.subarray(pos, p.bodyStart - base)), raw.subarray(p.bodyStart - base, p.bodyEnd - base));
      pos = p.bodyEnd - base;
      return;
    }
    if (p.synthetic || isIdentity(encoding)) return;
    if (enc !== 'base64' && enc !== 'quoted-printable') throw new RoostError('UNKNOWNCTE', `Unknown Content-Transfer-Encoding ${enc}`);
    const hs = p.headerStart - base;
    const bs = p.bodyStart - base;
    const header = raw.subarray(hs, bs);
    const blank = blankLineStart(header);
    // With a blank line but no body, the part is left as it is (as Dovecot does).
    if (blank >= 0 && p.bodyEnd <= p.bodyStart) return;
    pieces.push(text(raw.subarray(pos, hs)));
    const fieldsEnd = blank >= 0 ? blank : header.length;
    let hp = 0;
    for (const f of splitFields(header, 0, fieldsEnd)) {
      if (f.lname !== 'content-transfer-encoding') continue;
      pieces.push(text(header.subarray(hp, f.start)));
      hp = f.end;
    }
    pieces.push(text(header.subarray(hp, fieldsEnd)));
    // A header cut short (no blank line) loses the field and gains nothing.
    if (blank >= 0) pieces.push(Buffer.from('Content-Transfer-Encoding: binary\r\n'), text(header.subarray(blank)));
    const body = raw.subarray(bs, p.bodyEnd - base);
    pieces.push(decodeTransfer(enc === 'base64' ? body : text(body), enc));
    pos = p.bodyEnd - base;
  };
  walk(root);
  pieces.push(text(raw.subarray(pos)));
  return Buffer.concat(pieces);
}

/** Offset of the blank line that ends a header block, or -1 if it has none. */
function blankLineStart(header: Buffer): number {
  const n = header.length;
  if (n >= 2 && header[n - 1] === 0x0a && header[n - 2] === 0x0d && (n === 2 || header[n - 3] === 0x0a)) return n - 2;
  if (n >= 1 && header[n - 1] === 0x0a && (n === 1 || header[n - 2] === 0x0a)) return n - 1;
  return -1;
}

/** BINARY.SIZE[section] (RFC 3516 §4.2): the length BINARY[section] has. */
export async function binarySize(tree: MimeTree, path: readonly number[], read: ReadRange): Promise<number> {
  const p = path.length === 0 ? null : findPart(tree, path);
  if (path.length > 0 && !p) throw new RoostError('NOTFOUND', 'No such section');
  // A leaf in an identity encoding: the size is known without reading.
  if (p && !p.parts && !p.message && isIdentity(p.cte ?? p.encoding)) {
    return binaryAsStored(p) ? Math.max(0, p.bodyEnd - p.bodyStart) : p.vBodySize;
  }
  return (await fetchBinary(tree, path, read)).length;
}
