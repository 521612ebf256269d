/**
 * Rendering one message's FETCH response (RFC 3501 §7.4.2). Metadata items
 * are strings built from the index record; BODY[section] literals stream
 * from the Maildir file through Output, which waits for 'drain', so a 50 MB
 * body never sits in memory. Bare LFs in stored files are sent as CRLF (the sizes in the index already count them so).
 */
import type { MessageFile } from '../../store/store.js';
import type { MessageRecord } from '../../store/types.js';
import type { MimeTree } from '../../store/mime/types.js';
import { renderBodyStructure } from '../message/bodystructure.js';
import { applyPartial, binarySize, fetchBinary, fetchSection, findPart, sectionRange, toCrlf, withoutNuls, type SectionSpec } from '../message/section.js';
import type { FetchItem, Partial, Section } from '../wire/types.js';
import { fetchItemLabel, formatDateTime } from '../wire/encoder.js';
import { ClosedError, ResponseAbortedError, type Output } from '../output.js';
import { flagsText } from '../updates.js';
import type { FetchPlan } from './plan.js';
import type { StructureTexts } from './shared-values.js';

export interface FetchTarget {
  readonly seq: number;
  readonly record: MessageRecord;
  /** Flags to report (after an implicit \Seen). */
  readonly flags: readonly string[];
  readonly tree: MimeTree | null;
  /** ENVELOPE/BODY/BODYSTRUCTURE already rendered (fetch/shared-values.ts); used instead of `tree` when present. */
  readonly texts?: StructureTexts;
  /** Modseq to report when it changed with the flags (implicit \Seen); else the record's. */
  readonly modseq?: bigint;
}

export function toSpec(s: Section): SectionSpec {
  const path = [...s.part];
  switch (s.specifier) {
    case null:
      return { path, kind: '' };
    case 'HEADER.FIELDS':
    case 'HEADER.FIELDS.NOT':
      return { path, kind: s.specifier, fields: [...s.fields] };
    default:
      return { path, kind: s.specifier };
  }
}

/** The section a body item reads and its partial range. */
function bodyItem(it: FetchItem): { spec: SectionSpec; partial: Partial | null } | null {
  switch (it.item) {
    case 'RFC822':
      return { spec: { path: [], kind: '' }, partial: null };
    case 'RFC822.HEADER':
      return { spec: { path: [], kind: 'HEADER' }, partial: null };
    case 'RFC822.TEXT':
      return { spec: { path: [], kind: 'TEXT' }, partial: null };
    case 'BODY[]':
      return { spec: toSpec(it.section), partial: it.partial };
    default:
      return null;
  }
}

/**
 * RFC 3516 §4.2 allows literal8 for any BINARY answer and requires it for
 * NUL. Like Dovecot: also when decoding produced 8-bit bytes (the section
 * was 7-bit on the wire before); an 8bit/binary part sent as stored keeps a
 * plain literal.
 */
function needsLiteral8(b: Buffer, tree: MimeTree, part: readonly number[]): boolean {
  let eight = false;
  for (let i = 0; i < b.length; i++) {
    if (b[i] === 0) return true;
    if (b[i]! >= 0x80) eight = true;
  }
  if (!eight) return false;
  const p = part.length === 0 ? tree : findPart(tree, part);
  const identity = (e: string | null | undefined): boolean => !e || ['7bit', '8bit', 'binary'].includes(e.toLowerCase());
  return !p || p.parts || p.message ? true : !identity(p.cte ?? p.encoding);
}

/**
 * Reads for a section, whose range comes from the stored structure. A file
 * shorter than that (truncated by another program) fails the command
 * before any of this response is written, never as a shorter literal.
 */
const reader =
  (file: MessageFile) =>
  async (start: number, end: number): Promise<Buffer> => {
    const b = await file.read(start, end);
    if (b.length < end - start) throw new Error(`message file ends at byte ${start + b.length}, its stored structure at ${end} or later`);
    return b;
  };

/** Insert CR before every bare LF, across chunk boundaries. */
async function* crlf(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  let prevCr = false;
  for await (const chunk of src) {
    const parts: Buffer[] = [];
    let start = 0;
    for (let p = chunk.indexOf(0x0a); p >= 0; p = chunk.indexOf(0x0a, p + 1)) {
      const cr = p > 0 ? chunk[p - 1] === 0x0d : prevCr;
      if (!cr) {
        parts.push(chunk.subarray(start, p), CR);
        start = p;
      }
    }
    parts.push(chunk.subarray(start));
    prevCr = chunk.length > 0 && chunk[chunk.length - 1] === 0x0d;
    yield parts.length === 1 ? parts[0]! : Buffer.concat(parts);
  }
}
const CR = Buffer.from('\r');

/** NUL as 0x80 in a streamed literal (withoutNuls: a plain literal cannot carry NUL). */
async function* noNuls(src: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
  for await (const chunk of src) yield withoutNuls(chunk);
}

/** Skip `skip` bytes, then pass `take` bytes. */
async function* slice(src: AsyncIterable<Buffer>, skip: number, take: number): AsyncGenerator<Buffer> {
  for await (const chunk of src) {
    if (take <= 0) return;
    let c = chunk;
    if (skip > 0) {
      if (c.length <= skip) {
        skip -= c.length;
        continue;
      }
      c = c.subarray(skip);
      skip = 0;
    }
    if (c.length > take) c = c.subarray(0, take);
    take -= c.length;
    yield c;
  }
}

/**
 * A literal's bytes: either a small Buffer or a stream of `size` bytes on
 * the message's open file (renderFetch), so a message expunged and unlinked
 * meanwhile is still read whole.
 */
export type Body = { size: number; buffer: Buffer } | { size: number; stream: AsyncIterable<Buffer> };

/** Also the reader of CATENATE URL parts (commands/catenate.ts): the same bytes FETCH would send. */
export async function openBody(file: MessageFile, tree: MimeTree, spec: SectionSpec, partial: Partial | null): Promise<Body | null> {
  const read = reader(file);
  if (spec.kind === 'HEADER.FIELDS' || spec.kind === 'HEADER.FIELDS.NOT') {
    if (!sectionRange(tree, spec)) return null;
    const b = await fetchSection(tree, spec, read, partial ?? undefined);
    return { size: b.length, buffer: b };
  }
  const r = sectionRange(tree, spec);
  if (!r) return null;
  const off = partial ? Math.min(partial.offset, r.vSize) : 0;
  const len = partial ? Math.min(partial.length, r.vSize - off) : r.vSize;
  if (len <= 0 || r.end <= r.start) return { size: 0, buffer: Buffer.alloc(0) };
  if (len <= 16 * 1024) {
    const b = await fetchSection(tree, spec, read, partial ?? undefined);
    return { size: b.length, buffer: b };
  }
  if (!tree.bareLf) {
    return { size: len, stream: noNuls(file.chunks(r.start + off, r.start + off + len)) };
  }
  return { size: len, stream: noNuls(slice(crlf(file.chunks(r.start, r.end)), off, len)) };
}

// ---------------------------------------------------------------------------
// The FETCH line, built in one place
// ---------------------------------------------------------------------------

/** Items that read the message file (all others come from the index and the stored structure). */
const FILE_ITEMS: ReadonlySet<string> = new Set(['RFC822', 'RFC822.HEADER', 'RFC822.TEXT', 'BODY[]', 'BINARY[]', 'BINARY.SIZE']);
/** Checked per message: a set lookup, without building bodyItem's section. */
const readsFile = (it: FetchItem): boolean => FILE_ITEMS.has(it.item);
/** The item reads the message file (the command opens it for renderFetch). */
export const readsMessageFile = readsFile;

/** The value of an item that reads the message: text after its label (a number, NIL), or a literal (`~{n}` when `literal8`, RFC 3516 §4.2). */
type FileValue = { readonly text: string } | { readonly literal: Body; readonly literal8: boolean };

/** Where the built line goes: text, and literals between it. */
interface LineOut {
  text(s: string): void;
  literal(b: Body): void;
}

/**
 * `* seq FETCH (...)\r\n` for one message (RFC 3501 §7.4.2): UID and FLAGS
 * first when the plan adds them, then the items in the plan's order.
 * Index and structure items are written here from `m`; the items that read
 * the message file take their value from `fileValue`, the strategy of the
 * caller: none (index data only, renderMetaLine), the whole message in one
 * buffer (renderWholeMessage), or sections read from an open file
 * (renderFetch). A new FETCH item is a case of metaItem or of the file
 * strategies, never a fourth line builder.
 */
function buildFetch(plan: FetchPlan, m: FetchTarget, fileValue: (it: FetchItem) => FileValue, out: LineOut): void {
  const rec = m.record;
  let text = `* ${m.seq} FETCH (`;
  let sep = '';
  if (plan.addUid) {
    text += `UID ${rec.uid}`;
    sep = ' ';
  }
  if (plan.addFlags) {
    text += `${sep}FLAGS ${flagsText(m.flags)}`;
    sep = ' ';
  }
  for (const it of plan.items) {
    const meta = metaItem(it, m);
    if (meta !== null) {
      text += sep + meta;
      sep = ' ';
      continue;
    }
    // §7.4.2: the answer names BODY[section]<origin> without the length, and never .PEEK.
    const v = fileValue(it);
    if ('text' in v) {
      text += `${sep}${fetchItemLabel(it)} ${v.text}`;
    } else {
      out.text(`${text}${sep}${fetchItemLabel(it)} ${v.literal8 ? '~' : ''}{${v.literal.size}}\r\n`);
      out.literal(v.literal);
      text = '';
    }
    sep = ' ';
  }
  out.text(`${text})\r\n`);
}

/**
 * One index-data item, or a structure item from the cached rendered texts
 * or else the stored structure, as `NAME value`; null for an item that
 * reads the message file (readsFile).
 */
function metaItem(it: FetchItem, m: FetchTarget): string | null {
  switch (it.item) {
    case 'FLAGS':
      return `FLAGS ${flagsText(m.flags)}`;
    case 'INTERNALDATE':
      return `INTERNALDATE "${formatDateTime(m.record.internalDate)}"`;
    case 'RFC822.SIZE':
      return `RFC822.SIZE ${m.record.vsize}`;
    case 'MODSEQ':
      return `MODSEQ (${m.modseq ?? m.record.modseq})`;
    // Rendered-text cache hits (fetch/shared-values.ts): still one synchronous line per message.
    case 'ENVELOPE':
      return `ENVELOPE ${textOf(m.texts?.envelope ?? m.tree?.envelope, it.item)}`;
    case 'BODY':
      return `BODY ${textOf(m.texts?.body ?? (m.tree ? renderBodyStructure(m.tree, false) : undefined), it.item)}`;
    case 'BODYSTRUCTURE':
      return `BODYSTRUCTURE ${textOf(m.texts?.bodystructure ?? (m.tree ? renderBodyStructure(m.tree, true) : undefined), it.item)}`;
    default:
      return null;
  }
}

function textOf(t: string | undefined, item: string): string {
  if (t === undefined) throw new Error(`FETCH ${item}: neither rendered text nor structure at hand`);
  return t;
}

/** Collects a line as one string (index data only: no literal can come). */
class TextLine implements LineOut {
  s = '';
  text(s: string): void {
    this.s += s;
  }
  literal(): void {
    throw new Error('FETCH literal without a message file');
  }
}

const META_LINE = new TextLine();

const noFile = (it: FetchItem): FileValue => {
  throw new Error(`FETCH ${it.item} needs more than the index`);
};

/**
 * The whole response line when the plan needs only index data (FLAGS, UID,
 * RFC822.SIZE, INTERNALDATE, MODSEQ) or cached/stored structure texts:
 * built synchronously, no promise per message, which is what makes FETCH
 * 1:* (FLAGS UID) over 100,000 messages cheap.
 */
export function renderMetaLine(plan: FetchPlan, m: FetchTarget): string {
  // One collector reused: the line is built synchronously, so no other call can interleave.
  META_LINE.s = '';
  buildFetch(plan, m, noFile, META_LINE);
  const s = META_LINE.s;
  META_LINE.s = '';
  return s;
}

/** BODY[] or RFC822 of the whole message: the file's bytes (CRLF line ends), no structure needed. */
export function isWholeMessageItem(it: FetchItem): boolean {
  return it.item === 'RFC822' || (it.item === 'BODY[]' && it.section.part.length === 0 && it.section.specifier === null);
}

/**
 * `* seq FETCH (...)` when every item is index data or the whole message
 * (isWholeMessageItem) and the file was read into `raw` in one piece:
 * queued synchronously, one string plus the literal per message, so 1,000
 * small bodies cost no stream and no stored structure each. Bare LFs become
 * CRLF (toCrlf returns `raw` itself when there are none), as openBody does;
 * the index's count of them (vsize − size) spares the counting pass.
 */
export function renderWholeMessage(out: Output, plan: FetchPlan, m: FetchTarget, raw: Buffer): void {
  const content = withoutNuls(toCrlf(raw, m.record.vsize - m.record.size));
  const whole = (it: FetchItem): FileValue => {
    const partial = it.item === 'BODY[]' ? it.partial : null;
    const data = applyPartial(content, partial ?? undefined);
    return { literal: { size: data.length, buffer: data }, literal8: false };
  };
  buildFetch(plan, m, whole, {
    text: (t) => out.push(t),
    literal: (b) => {
      if (!('buffer' in b)) throw new Error('renderWholeMessage: a streamed literal');
      out.push(b.buffer);
    },
  });
}

/**
 * Write `* seq FETCH (...)` for one message from its open file (`file`,
 * null when no item reads it; the caller opens and closes it). Every item
 * is read (small sections into buffers) or set up (big ones: a stream on
 * that open file, which stays readable if the message is renamed, expunged
 * and unlinked meanwhile) before the first byte goes out, so a part that
 * cannot be decoded (UNKNOWNCTE) fails with nothing written and the command
 * can skip it. A response once started is always completed (RFC 3501
 * §7.4.2), or the connection ends (writeLiteral).
 */
export async function renderFetch(out: Output, plan: FetchPlan, m: FetchTarget, file: MessageFile | null): Promise<void> {
  const values = await readFileItems(file, plan, m);
  const pieces: (string | Body)[] = [];
  let next = 0;
  buildFetch(plan, m, () => values[next++]!, { text: (t) => pieces.push(t), literal: (b) => pieces.push(b) });
  for (const p of pieces) {
    if (typeof p === 'string') out.push(p);
    else if ('buffer' in p) await out.bytes(p.buffer);
    else await writeLiteral(out, p);
  }
  if (out.full) await out.flush();
}

/** The values of the plan's file items, in the plan's order; nothing is written. */
async function readFileItems(file: MessageFile | null, plan: FetchPlan, m: FetchTarget): Promise<FileValue[]> {
  const values: FileValue[] = [];
  for (const it of plan.items) {
    if (!readsFile(it)) continue;
    if (it.item === 'BINARY.SIZE') {
      const size = findPart(m.tree!, it.part) || it.part.length === 0 ? await binarySize(m.tree!, it.part, reader(file!)) : null;
      values.push({ text: String(size ?? 'NIL') });
      continue;
    }
    if (it.item === 'BINARY[]') {
      // A part the message does not have: NIL, as for BODY[]; an undecodable one throws UNKNOWNCTE (tagged NO [UNKNOWN-CTE]).
      if (it.part.length > 0 && !findPart(m.tree!, it.part)) {
        values.push({ text: 'NIL' });
        continue;
      }
      const data = await fetchBinary(m.tree!, it.part, reader(file!), it.partial ?? undefined);
      values.push({ literal: { size: data.length, buffer: data }, literal8: needsLiteral8(data, m.tree!, it.part) });
      continue;
    }
    const b = bodyItem(it)!;
    const body = await openBody(file!, m.tree!, b.spec, b.partial);
    // A section the message does not have (RFC 3501 leaves it open; NIL like Dovecot's empty answer).
    values.push(body ? { literal: body, literal8: false } : { text: 'NIL' });
  }
  return values;
}

/**
 * Send a streamed literal of exactly the announced size. If the file ends
 * early (another program truncated it) or a read fails, the bytes announced
 * cannot be sent: padding would hand the client a corrupt message as if it
 * were whole, and anything else desynchronises the stream, so the
 * connection ends mid-literal (Dovecot disconnects too), which every client
 * reads as an incomplete response.
 */
async function writeLiteral(out: Output, body: Extract<Body, { stream: AsyncIterable<Buffer> }>): Promise<void> {
  let sent = 0;
  try {
    for await (const chunk of body.stream) {
      const c = chunk.length > body.size - sent ? chunk.subarray(0, body.size - sent) : chunk;
      sent += c.length;
      await out.bytes(c);
      if (sent === body.size) break;
    }
  } catch (err) {
    if (err instanceof ClosedError) throw err;
    throw new ResponseAbortedError(`message read failed after ${sent} of ${body.size} literal bytes: ${(err as Error).message}`);
  }
  if (sent < body.size) throw new ResponseAbortedError(`message file ended after ${sent} of ${body.size} literal bytes`);
}
