/**
 * COMPRESS=DEFLATE (RFC 4978): after the tagged OK, both directions are raw
 * DEFLATE (RFC 1951, no zlib header). Works the same over TLS (the layer
 * sits on the TLS socket). Back-pressure is kept both ways:
 *  - in: the socket is piped into the inflater, so when the session pauses
 *    the inflater (as it pauses a plain socket while handling a chunk), the
 *    inflater's buffer fills and the pipe pauses the socket;
 *  - out: each write is deflated and sync-flushed (§4: the client must see
 *    every response without waiting for more), and its callback fires only
 *    once the flush went through, so Output's 'drain' wait covers the
 *    deflater and the socket behind it.
 * Inflated input is bounded per chunk by the inflater's own high-water mark,
 * so a compressed bomb cannot grow memory past the reader's line limits.
 */
import { Writable, type Duplex } from 'node:stream';
import zlib from 'node:zlib';

export interface CompressLayer {
  /** Inflated bytes from the client. */
  readonly input: zlib.InflateRaw;
  /** Where the session's Output writes. */
  readonly sink: Writable;
}

export function compressLayer(socket: Duplex, early: Buffer): CompressLayer {
  const inflate = zlib.createInflateRaw();
  const deflate = zlib.createDeflateRaw();
  socket.pipe(inflate);
  if (early.length > 0) inflate.write(early);
  deflate.pipe(socket);
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      deflate.write(chunk);
      deflate.flush(zlib.constants.Z_SYNC_FLUSH, () => cb());
    },
    final(cb) {
      deflate.end(() => cb());
    },
  });
  // A dead socket must not leave writers waiting for a flush.
  socket.once('close', () => {
    sink.destroy();
    deflate.destroy();
    inflate.destroy();
  });
  return { input: inflate, sink };
}
