/**
 * The snapshot frames a full resync (catchup.ts) and an account move
 * (move.ts) both send: an account's index image in snap-image pieces (a
 * large index outgrows one frame, LIMITS.replication.maxFrameBody) and one
 * message file as a snap-file frame, whole or chunked. One copy of each, so
 * the two paths cannot drift apart in what they put on the wire.
 */
import type { Hash } from 'node:crypto';
import type { Readable } from 'node:stream';
import { LIMITS } from '../limits.js';
import type { SnapshotFile, Store } from '../store/store.js';
import { HandshakeError } from './handshake.js';
import type { BodySource, Link } from './protocol.js';

/** A snapshot file's bytes: whole when small, else a stream read in chunks as the link takes them; null when gone. */
export async function snapshotBody(store: Store, id: string, f: SnapshotFile): Promise<BodySource | null> {
  const rs = store.replication;
  if (f.size > LIMITS.replication.bodyChunkBytes && rs.openSnapshotFile) return rs.openSnapshotFile(id, f);
  return rs.readSnapshotFile!(id, f);
}

export async function sendImage(link: Link, image: Buffer): Promise<void> {
  const piece = LIMITS.replication.bodyChunkBytes;
  for (let off = 0; off < image.length; off += piece) await link.send({ t: 'snap-image' }, image.subarray(off, off + piece));
}

/**
 * `bytes` worth of snap-image pieces. A declared size over `maxBytes` is
 * refused before anything is read (the peer chose it, and it is held in memory).
 */
export async function receiveImage(link: Link, bytes: number, timeoutMs: number, maxBytes: number = Number.MAX_SAFE_INTEGER): Promise<Buffer> {
  if (!Number.isSafeInteger(bytes) || bytes < 0 || bytes > maxBytes) throw new HandshakeError('PROTOCOL', `index image of ${String(bytes)} bytes: more than the ${maxBytes} this node takes`);
  const pieces: Buffer[] = [];
  let got = 0;
  while (got < bytes) {
    const piece = await link.next(timeoutMs);
    if (piece.frame.t !== 'snap-image') throw new HandshakeError('PROTOCOL', `expected snap-image, got ${piece.frame.t}`);
    pieces.push(piece.body);
    got += piece.body.length;
  }
  if (got !== bytes) throw new HandshakeError('PROTOCOL', `index image of ${got} bytes, expected ${bytes}`);
  return Buffer.concat(pieces);
}

/**
 * One file as a snap-file frame (marked lost when it is gone since the
 * image), each piece fed to `hash` on its way when given. The bytes sent,
 * or null when lost. A stream is destroyed when the link fails, so its file
 * descriptor is not left open.
 */
export async function sendSnapshotFile(link: Link, store: Store, accountId: string, f: SnapshotFile, hash?: Hash): Promise<number | null> {
  const body = await snapshotBody(store, accountId, f);
  try {
    await link.sendBody({ t: 'snap-file', accountId, file: f, ...(body ? {} : { lost: true }) }, body && hash ? hashed(body, hash) : (body ?? undefined));
  } catch (err) {
    if (body && !Buffer.isBuffer(body)) (body as Partial<Readable>).destroy?.();
    throw err;
  }
  return body ? (Buffer.isBuffer(body) ? body.length : f.size) : null;
}

function hashed(body: BodySource, hash: Hash): BodySource {
  if (Buffer.isBuffer(body)) {
    hash.update(body);
    return body;
  }
  return (async function* () {
    for await (const piece of body) {
      hash.update(piece);
      yield piece;
    }
  })();
}

/**
 * The blocks an image delta compares and carries: SQLite's default page
 * size (an index's pages change whole, so a finer block saves nothing).
 */
export const IMAGE_DELTA_BLOCK = 4096;

/**
 * `next` as the blocks that differ from `base`: per block its index (u32,
 * big-endian) and its bytes (the last block of `next` may be short). The
 * frozen round of a move sends this against the image the round before it
 * sent, so the freeze carries the few pages its last changes touched
 * instead of the whole index.
 */
export function imageDelta(base: Buffer, next: Buffer): Buffer {
  const parts: Buffer[] = [];
  for (let off = 0, i = 0; off < next.length; off += IMAGE_DELTA_BLOCK, i++) {
    const end = Math.min(off + IMAGE_DELTA_BLOCK, next.length);
    if (end <= base.length && base.compare(next, off, end, off, end) === 0) continue;
    const head = Buffer.alloc(4);
    head.writeUInt32BE(i);
    parts.push(head, next.subarray(off, end));
  }
  return Buffer.concat(parts);
}

/**
 * The image of `length` bytes that `delta` (imageDelta's) makes of `base`.
 * The peer chose every number in it, so each block must lie inside the
 * image and the delta; the caller checks the result's SHA-256.
 */
export function applyImageDelta(base: Buffer, delta: Buffer, length: number): Buffer {
  const out = Buffer.alloc(length);
  base.copy(out, 0, 0, Math.min(base.length, length));
  let at = 0;
  while (at < delta.length) {
    if (at + 4 > delta.length) throw new HandshakeError('PROTOCOL', 'image delta cut inside a block number');
    const off = delta.readUInt32BE(at) * IMAGE_DELTA_BLOCK;
    if (off >= length) throw new HandshakeError('PROTOCOL', `image delta names a block at byte ${off} of a ${length}-byte image`);
    const size = Math.min(IMAGE_DELTA_BLOCK, length - off);
    if (at + 4 + size > delta.length) throw new HandshakeError('PROTOCOL', 'image delta cut inside a block');
    delta.copy(out, off, at + 4, at + 4 + size);
    at += 4 + size;
  }
  return out;
}
