/**
 * Body framing on the control socket: the body of a stream command is sent as
 * a sequence of netstrings ending with the empty one (`0:,`). End of file
 * alone is not the end of a body, so a client killed half-way through
 * `roost deliver` never has its partial message delivered.
 */
import { Transform, type TransformCallback } from 'node:stream';
import { NetstringDecoder } from '../qmqp/netstring.js';
import { LIMITS } from '../limits.js';

const MAX_CHUNK = LIMITS.admin.maxFrameChunk;

export function chunkEncoder(): Transform {
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (chunk.length === 0) return cb();
      this.push(Buffer.from(`${chunk.length}:`, 'latin1'));
      this.push(chunk);
      cb(null, Buffer.from(',', 'latin1'));
    },
    flush(cb: TransformCallback) {
      cb(null, Buffer.from('0:,', 'latin1'));
    },
  });
}

export function chunkDecoder(): Transform {
  const decoder = new NetstringDecoder(MAX_CHUNK);
  let complete = false;
  return new Transform({
    transform(chunk: Buffer, _enc, cb: TransformCallback) {
      if (complete) return cb();
      try {
        decoder.feed(chunk, (ev) => {
          if (ev.kind === 'start' && ev.length === 0) {
            complete = true;
            return false;
          }
          if (ev.kind === 'data') this.push(Buffer.from(ev.chunk));
          return true;
        });
      } catch (err) {
        return cb(err as Error);
      }
      cb();
    },
    flush(cb: TransformCallback) {
      cb(complete ? null : new Error('body ended before its final empty chunk (client went away)'));
    },
  });
}
