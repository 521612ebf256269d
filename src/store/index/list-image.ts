/**
 * A packed copy of a mailbox's message list, so the first SELECT of a large
 * mailbox after a restart does not materialise 100,000 SQLite rows one by
 * one (about a microsecond each in better-sqlite3). Written when a large
 * cache has been built or is dropped, used only while the mailbox's
 * UIDVALIDITY, UIDNEXT and HIGHESTMODSEQ are exactly what they were (every
 * message change moves one of them), otherwise the rows are read as usual.
 *
 * Layout: u32 header length, header JSON {n, flagSets}, then per message
 * u32 uid, u32 size, u32 vsize, u32 flag-set index, f64 modseq, f64
 * internal date (column-wise), then base names and disk names joined by "\n".
 */
import type { Entry } from '../message-list.js';

export interface Packed {
  entries: Entry[];
}

export function pack(entries: readonly Entry[]): Buffer {
  const steps = packSteps(entries);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/** Entries packed between two pauses of packSteps (a few ms of work). */
const PACK_STEP = 2000;

/**
 * pack, pausing (a bare yield) after each PACK_STEP entries, so a caller can
 * let the event loop run between: 100,000 entries take a few hundred ms.
 * `entries` must not change meanwhile (a cache's frozen snapshot).
 */
export function* packSteps(entries: readonly Entry[]): Generator<void, Buffer, void> {
  const n = entries.length;
  const sets = new Map<readonly string[], number>();
  const setList: string[] = [];
  const u32 = new Uint32Array(n * 4);
  const f64 = new Float64Array(n * 2);
  const bases: string[] = new Array(n);
  const disks: string[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const e = entries[i]!;
    let k = sets.get(e.flags);
    if (k === undefined) {
      k = setList.length;
      setList.push(e.flags.join(' '));
      sets.set(e.flags, k);
    }
    u32[i] = e.uid;
    u32[n + i] = e.size;
    u32[2 * n + i] = e.vsize;
    u32[3 * n + i] = k;
    f64[i] = Number(e.modseq);
    f64[n + i] = e.internalDate;
    bases[i] = e.basename;
    disks[i] = e.diskName;
    if ((i + 1) % PACK_STEP === 0) yield;
  }
  const header = Buffer.from(JSON.stringify({ n, flagSets: setList }));
  const names = Buffer.from(bases.join('\n') + '\u0000' + disks.join('\n'));
  const out = Buffer.alloc(4 + header.length + pad8(4 + header.length) + f64.byteLength + u32.byteLength + names.length);
  out.writeUInt32LE(header.length, 0);
  header.copy(out, 4);
  let off = 4 + header.length + pad8(4 + header.length);
  Buffer.from(f64.buffer).copy(out, off);
  off += f64.byteLength;
  Buffer.from(u32.buffer).copy(out, off);
  off += u32.byteLength;
  names.copy(out, off);
  return out;
}

/** Entries from a packed buffer; `intern` maps a flag string to the shared frozen array. */
export function unpack(buf: Buffer, intern: (key: string) => readonly string[]): Entry[] {
  const steps = unpackSteps(buf, intern);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

/**
 * unpack, pausing (a bare yield) after each PACK_STEP entries, so a caller
 * can let the event loop run between: the first SELECT of a 100,000-message
 * mailbox after a restart must not hold every other session's commands for
 * the whole list (AccountState.loadCache).
 */
export function* unpackSteps(buf: Buffer, intern: (key: string) => readonly string[]): Generator<void, Entry[], void> {
  const hlen = buf.readUInt32LE(0);
  const header = JSON.parse(buf.toString('utf8', 4, 4 + hlen)) as { n: number; flagSets: string[] };
  const n = header.n;
  const sets = header.flagSets.map(intern);
  let off = 4 + hlen + pad8(4 + hlen);
  // Copy into aligned arrays (the SQLite blob's offset is not necessarily aligned).
  const f64 = new Float64Array(n * 2);
  Buffer.from(f64.buffer).set(buf.subarray(off, off + f64.byteLength));
  off += f64.byteLength;
  const u32 = new Uint32Array(n * 4);
  Buffer.from(u32.buffer).set(buf.subarray(off, off + u32.byteLength));
  off += u32.byteLength;
  // The names are cut out of the text one by one as the entries are made (one split of 200,000 names was
  // a single step of tens of ms); a slice keeps the joined text alive, which is what the split did too.
  const text = buf.toString('utf8', off);
  const cut = text.indexOf('\u0000');
  let b = 0;
  let d = cut + 1;
  const out: Entry[] = new Array(n);
  // Equal modseqs (a bulk STORE, an import) share one BigInt.
  let lastNum = -1;
  let lastBig = 0n;
  for (let i = 0; i < n; i++) {
    const be = i === n - 1 ? cut : text.indexOf('\n', b);
    const de = i === n - 1 ? text.length : text.indexOf('\n', d);
    const num = f64[i]!;
    if (num !== lastNum) {
      lastNum = num;
      lastBig = BigInt(num);
    }
    out[i] = {
      uid: u32[i]!,
      modseq: lastBig,
      flags: sets[u32[3 * n + i]!]!,
      internalDate: f64[n + i]!,
      size: u32[n + i]!,
      vsize: u32[2 * n + i]!,
      basename: text.slice(b, be),
      diskName: text.slice(d, de),
    };
    b = be + 1;
    d = de + 1;
    if ((i + 1) % PACK_STEP === 0) yield;
  }
  return out;
}

function pad8(len: number): number {
  return (8 - (len % 8)) % 8;
}
