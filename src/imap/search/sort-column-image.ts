/**
 * A column set (sort-column-set.ts) as bytes, kept in the index per mailbox
 * (MailboxHandle.saveSortColumns), so a node that restarts sorts a big
 * mailbox without reading a key row or a message file: loading is one read
 * and one copy, and the arrays are used in place; the dictionaries (needed
 * only to merge new messages in) are decoded when first asked for.
 *
 * Layout, little-endian, every section starting at a multiple of 8 bytes:
 * a header of HEADER_WORDS 32-bit words, then uids, arrival, size and date
 * (float64 × n), the six string keys' codes (int32 × n each), own Message-ID
 * (int32 × n), refStart (int32 × n + 1), refs (int32), isReply (uint8 × n),
 * then seven dictionaries (the six keys', then the Message-IDs): each its
 * offsets (int32 × count + 1, in UTF-16 code units of the joined strings)
 * and the joined strings, latin1 when every code unit fits, else UTF-16LE,
 * so the bytes give back exactly the strings that were sorted.
 */
import { ColumnSet, STRING_KEYS, type Dictionaries, type StringKey, type ThreadIds } from './sort-column-set.js';

const MAGIC = 0x31435352; // "RSC1"
const VERSION = 1;
/** magic, version, n, refs, ids, emptySubject + 1, 7 dictionary sizes, 7 × (encoding, byte length). */
const HEADER_WORDS = 27;
const DICTS = STRING_KEYS.length + 1;
const LATIN1 = 0;
const UTF16 = 1;

const align8 = (x: number): number => (x + 7) & ~7;

interface EncodedDict {
  offsets: Int32Array;
  enc: number;
  bytes: Buffer;
}

function encodeDict(dict: readonly string[]): EncodedDict {
  const offsets = new Int32Array(dict.length + 1);
  let at = 0;
  for (let i = 0; i < dict.length; i++) {
    offsets[i] = at;
    at += dict[i]!.length;
  }
  offsets[dict.length] = at;
  const joined = dict.join('');
  const enc = /[^\x00-\xff]/.test(joined) ? UTF16 : LATIN1;
  return { offsets, enc, bytes: Buffer.from(joined, enc === UTF16 ? 'utf16le' : 'latin1') };
}

/** The bytes of `set` (which must have keys). */
export function encodeColumns(set: ColumnSet): Buffer {
  if (!set.hasKeys) throw new Error('only a column set with keys is kept');
  const n = set.n;
  const ids = set.threadIds();
  const d = set.dictionaries();
  const dicts = [...STRING_KEYS.map((k) => encodeDict(d.strings[k])), encodeDict(d.ids)];
  let size = align8(HEADER_WORDS * 4) + 4 * align8(8 * n) + STRING_KEYS.length * align8(4 * n);
  size += align8(4 * n) + align8(4 * (n + 1)) + align8(4 * ids.refs.length) + align8(n);
  for (const e of dicts) size += align8(e.offsets.byteLength) + align8(e.bytes.length);
  const ab = new ArrayBuffer(size);
  const bytes = new Uint8Array(ab);
  const head = new Int32Array(ab, 0, HEADER_WORDS);
  head.set([MAGIC, VERSION, n, ids.refs.length, ids.distinct, set.emptySubject + 1]);
  for (let k = 0; k < DICTS; k++) {
    head[6 + k] = dicts[k]!.offsets.length - 1;
    head[6 + DICTS + 2 * k] = dicts[k]!.enc;
    head[7 + DICTS + 2 * k] = dicts[k]!.bytes.length;
  }
  let at = align8(HEADER_WORDS * 4);
  const put = (a: ArrayBufferView): void => {
    bytes.set(new Uint8Array(a.buffer, a.byteOffset, a.byteLength), at);
    at += align8(a.byteLength);
  };
  put(set.uids);
  put(set.arrival);
  put(set.size);
  put(set.date);
  for (const k of STRING_KEYS) put(set.codes[k]);
  put(ids.own);
  put(ids.refStart);
  put(ids.refs);
  put(set.isReply);
  for (const e of dicts) {
    put(e.offsets);
    put(e.bytes);
  }
  return Buffer.from(ab);
}

/** Are all of `a`'s values in 0..limit-1 (or -1 when `orNone`)? */
function within(a: Int32Array, limit: number, orNone: boolean): boolean {
  const low = orNone ? -1 : 0;
  for (let i = 0; i < a.length; i++) if (a[i]! < low || a[i]! >= limit) return false;
  return true;
}

/**
 * The set `image` holds, or null when it is not one this code wrote (an
 * older layout, a cut-short or damaged row): the caller builds the set from
 * the index rows instead. Every code and id is checked against its table,
 * so a bad image can make no SORT read out of bounds.
 */
export function decodeColumns(image: Uint8Array): ColumnSet | null {
  if (image.length < HEADER_WORDS * 4) return null;
  // One copy into fresh memory: typed arrays need their alignment, and the set must not share SQLite's buffer.
  const ab = new ArrayBuffer(image.length);
  const bytes = new Uint8Array(ab);
  bytes.set(image);
  const head = new Int32Array(ab, 0, HEADER_WORDS);
  if (head[0] !== MAGIC || head[1] !== VERSION) return null;
  const n = head[2]!;
  const refsLen = head[3]!;
  const idCount = head[4]!;
  const emptySubject = head[5]! - 1;
  if (n < 0 || refsLen < 0 || idCount < 0) return null;
  let at = align8(HEADER_WORDS * 4);
  let ok = true;
  const take = <T>(len: number, make: (off: number) => T): T | null => {
    if (!ok || len < 0 || at + len > ab.byteLength) {
      ok = false;
      return null;
    }
    const v = make(at);
    at += align8(len);
    return v;
  };
  const f64 = (): Float64Array => take(8 * n, (o) => new Float64Array(ab, o, n)) ?? new Float64Array(0);
  const i32 = (len: number): Int32Array => take(4 * len, (o) => new Int32Array(ab, o, len)) ?? new Int32Array(0);
  const uids = f64();
  const arrival = f64();
  const size = f64();
  const date = f64();
  const codes = {} as Record<StringKey, Int32Array>;
  for (const k of STRING_KEYS) codes[k] = i32(n);
  const own = i32(n);
  const refStart = i32(n + 1);
  const refs = i32(refsLen);
  const isReply = take(n, (o) => new Uint8Array(ab, o, n)) ?? new Uint8Array(0);
  const dictAt: { offsets: Int32Array; enc: number; start: number; length: number }[] = [];
  for (let k = 0; k < DICTS; k++) {
    const count = head[6 + k]!;
    const offsets = i32(count + 1);
    const length = head[7 + DICTS + 2 * k]!;
    const start = take(length, (o) => o) ?? 0;
    dictAt.push({ offsets, enc: head[6 + DICTS + 2 * k]!, start, length });
  }
  if (!ok || at !== ab.byteLength) return null;
  const distinct = {} as Record<StringKey, number>;
  for (let k = 0; k < STRING_KEYS.length; k++) {
    const key = STRING_KEYS[k]!;
    distinct[key] = dictAt[k]!.offsets.length - 1;
    if (!within(codes[key], distinct[key], false)) return null;
  }
  if (dictAt[DICTS - 1]!.offsets.length - 1 !== idCount || !within(own, idCount, true) || !within(refs, idCount, false)) return null;
  if (refStart[0] !== 0 || refStart[n] !== refsLen) return null;
  for (let s = 0; s < n; s++) if (refStart[s]! > refStart[s + 1]! || (s > 0 && uids[s - 1]! >= uids[s]!)) return null;
  if (emptySubject < -1 || emptySubject >= distinct.SUBJECT) return null;
  for (const d of dictAt) {
    const units = d.enc === UTF16 ? d.length / 2 : d.length;
    if ((d.enc !== LATIN1 && d.enc !== UTF16) || d.offsets[0] !== 0 || d.offsets[d.offsets.length - 1] !== units) return null;
    for (let i = 1; i < d.offsets.length; i++) if (d.offsets[i - 1]! > d.offsets[i]!) return null;
  }
  const decode = (d: (typeof dictAt)[number]): string[] => {
    const joined = Buffer.from(ab, d.start, d.length).toString(d.enc === UTF16 ? 'utf16le' : 'latin1');
    const out = new Array<string>(d.offsets.length - 1);
    for (let i = 0; i < out.length; i++) out[i] = joined.slice(d.offsets[i]!, d.offsets[i + 1]!);
    return out;
  };
  const dicts = (): Dictionaries => {
    const strings = {} as Record<StringKey, string[]>;
    for (let k = 0; k < STRING_KEYS.length; k++) strings[STRING_KEYS[k]!] = decode(dictAt[k]!);
    return { strings, ids: decode(dictAt[DICTS - 1]!) };
  };
  const ids: ThreadIds = { own, refStart, refs, distinct: idCount };
  // The image's own bytes stand for the dictionaries until they are decoded.
  const dictBytes = dictAt.reduce((b, d) => b + d.length + d.offsets.byteLength, 0);
  return new ColumnSet({ n, hasKeys: true, uids, arrival, size, date, isReply, codes, distinct, emptySubject, ids, dictBytes, dicts, decodes: true });
}
