/**
 * Netstrings (http://cr.yp.to/proto/netstrings.txt): `<len>:<bytes>,` with
 * `<len>` in decimal, no leading zeros ("0:," is the empty string).
 *
 * NetstringDecoder is resumable: it is fed chunks as they arrive from the
 * socket, split anywhere, and reports what it found as events. Bodies are
 * handed out as slices of the input chunk, never copied into one buffer, so a
 * 50 MB message netstring passes through in socket-sized pieces.
 */
import { LIMITS } from '../limits.js';

export type NetstringEvent =
  /** A netstring's length prefix was read; `length` body bytes follow. */
  | { kind: 'start'; length: number }
  /** Body bytes (a slice of the fed chunk; consume before the next feed). */
  | { kind: 'data'; chunk: Buffer }
  /** The closing comma was read. */
  | { kind: 'end' };

export type NetstringFault = 'nondigit' | 'leadingzero' | 'toolong' | 'nocolon' | 'nocomma';

/** Malformed input. `fault` says which rule broke; the decoder is unusable afterwards. */
export class NetstringError extends Error {
  constructor(
    readonly fault: NetstringFault,
    message: string,
  ) {
    super(message);
    this.name = 'NetstringError';
  }
}

const COLON = 0x3a;
const COMMA = 0x2c;
const ZERO = 0x30;
const NINE = 0x39;

type State =
  | { at: 'length'; digits: number; value: number }
  | { at: 'body'; remaining: number }
  | { at: 'comma' }
  | { at: 'failed' };

/**
 * Decodes a sequence of consecutive netstrings. `atBoundary` is true between
 * netstrings, which is the only place a stream may legally end.
 */
export class NetstringDecoder {
  private state: State = { at: 'length', digits: 0, value: 0 };

  /** @param maxLength longest body accepted; a longer length prefix is a 'toolong' fault. */
  constructor(private readonly maxLength: number) {}

  get atBoundary(): boolean {
    return this.state.at === 'length' && this.state.digits === 0;
  }

  /**
   * Consume `chunk` from `offset` and call `emit` for each event. Stops early
   * (returning the offset reached) when `emit` returns false, so a caller can
   * hand the rest of the chunk to another decoder. Throws NetstringError.
   */
  feed(chunk: Buffer, emit: (ev: NetstringEvent) => boolean | void, offset = 0): number {
    let i = offset;
    while (i < chunk.length) {
      const s = this.state;
      switch (s.at) {
        case 'length': {
          const c = chunk[i]!;
          if (c === COLON) {
            if (s.digits === 0) this.fail('nondigit', 'netstring length missing');
            i++;
            this.state = s.value === 0 ? { at: 'comma' } : { at: 'body', remaining: s.value };
            if (emit({ kind: 'start', length: s.value }) === false) return i;
            continue;
          }
          if (c < ZERO || c > NINE) this.fail(s.digits === 0 ? 'nondigit' : 'nocolon', 'netstring length is not a decimal number');
          if (s.digits === 1 && s.value === 0) this.fail('leadingzero', 'netstring length has a leading zero');
          s.digits++;
          s.value = s.value * 10 + (c - ZERO);
          if (s.digits > LIMITS.qmqp.maxLengthDigits || s.value > this.maxLength)
            this.fail('toolong', `netstring longer than ${this.maxLength} bytes`);
          i++;
          continue;
        }
        case 'body': {
          const n = Math.min(s.remaining, chunk.length - i);
          const piece = chunk.subarray(i, i + n);
          i += n;
          s.remaining -= n;
          if (s.remaining === 0) this.state = { at: 'comma' };
          if (emit({ kind: 'data', chunk: piece }) === false) return i;
          continue;
        }
        case 'comma':
          if (chunk[i] !== COMMA) this.fail('nocomma', 'netstring does not end with a comma');
          i++;
          this.state = { at: 'length', digits: 0, value: 0 };
          if (emit({ kind: 'end' }) === false) return i;
          continue;
        case 'failed':
          throw new NetstringError('nondigit', 'decoder used after a fault');
      }
    }
    return i;
  }

  private fail(fault: NetstringFault, message: string): never {
    this.state = { at: 'failed' };
    throw new NetstringError(fault, message);
  }
}

/** Encode one netstring (replies, test clients). */
export function encodeNetstring(body: Buffer | string): Buffer {
  const b = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return Buffer.concat([Buffer.from(`${b.length}:`, 'latin1'), b, Buffer.from(',', 'latin1')]);
}
