/**
 * Message bytes at the LMTP wire edge, decoded in bulk (Buffer.indexOf per
 * line, slices instead of byte copies):
 *  - DataDecoder: the DATA stream (RFC 5321 §4.1.1.4, §4.5.2): a line "."
 *    ends it, a leading "." of any other line is removed (dot-unstuffing).
 *  - CrlfDecoder: BDAT chunks (RFC 3030 §2), whose bytes are the message
 *    itself with no terminator and no stuffing.
 * Both turn CRLF into LF, the line end the Maildir keeps (qmail's, and what
 * QMQP carries), and leave a bare CR or bare LF as it is. Either may be fed
 * any split of the input, down to one byte at a time.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CR_BUF = Buffer.from([CR]);

export interface DecodedData {
  /** Message bytes to store (LF line ends, unstuffed). */
  data: Buffer;
  /** Offset in the chunk just after the terminating ".CRLF", or -1 while the data goes on. */
  end: number;
}

/** Slice `chunk[from, lf]` (lf = index of an LF) into `parts`, without a CR right before the LF. */
function lineOut(parts: Buffer[], chunk: Buffer, from: number, lf: number): void {
  if (lf > from && chunk[lf - 1] === CR) {
    if (lf - 1 > from) parts.push(chunk.subarray(from, lf - 1));
    parts.push(chunk.subarray(lf, lf + 1));
  } else parts.push(chunk.subarray(from, lf + 1));
}

/** Decoder of the DATA stream; one per DATA command. */
export class DataDecoder {
  /** The next byte starts a line (true at first: the data starts right after the 354 reply). */
  private lineStart = true;
  /** At a line start: 1 = a "." was seen (and dropped), 2 = ".\r" was seen. */
  private dot: 0 | 1 | 2 = 0;
  /** The previous chunk ended with a CR inside a line, not yet emitted. */
  private pendingCr = false;
  private ended = false;

  get done(): boolean {
    return this.ended;
  }

  push(chunk: Buffer): DecodedData {
    const parts: Buffer[] = [];
    let i = 0;
    const n = chunk.length;
    while (i < n && !this.ended) {
      if (this.lineStart) {
        const c = chunk[i]!;
        if (this.dot === 0) {
          if (c === DOT) {
            this.dot = 1;
            i++;
            continue;
          }
        } else if (this.dot === 1) {
          if (c === LF) return this.finish(parts, i + 1);
          if (c === CR) {
            this.dot = 2;
            i++;
            continue;
          }
        } else {
          if (c === LF) return this.finish(parts, i + 1);
          // ".\r" and then something else: the CR belongs to the line.
          parts.push(CR_BUF);
        }
        this.dot = 0;
        this.lineStart = false;
      }
      if (this.pendingCr) {
        this.pendingCr = false;
        if (chunk[i] !== LF) parts.push(CR_BUF);
      }
      const lf = chunk.indexOf(LF, i);
      if (lf < 0) {
        if (chunk[n - 1] === CR) {
          this.pendingCr = true;
          if (n - 1 > i) parts.push(chunk.subarray(i, n - 1));
        } else parts.push(chunk.subarray(i, n));
        i = n;
      } else {
        lineOut(parts, chunk, i, lf);
        this.lineStart = true;
        i = lf + 1;
      }
    }
    return { data: concat(parts), end: -1 };
  }

  private finish(parts: Buffer[], end: number): DecodedData {
    this.ended = true;
    return { data: concat(parts), end };
  }
}

/** CRLF → LF over a run of BDAT chunks (a CR at a chunk's end waits for the next byte). */
export class CrlfDecoder {
  private pendingCr = false;

  push(chunk: Buffer): Buffer {
    const parts: Buffer[] = [];
    let i = 0;
    const n = chunk.length;
    if (this.pendingCr && n > 0) {
      this.pendingCr = false;
      if (chunk[0] !== LF) parts.push(CR_BUF);
    }
    while (i < n) {
      const lf = chunk.indexOf(LF, i);
      if (lf < 0) {
        if (chunk[n - 1] === CR) {
          this.pendingCr = true;
          if (n - 1 > i) parts.push(chunk.subarray(i, n - 1));
        } else parts.push(chunk.subarray(i, n));
        break;
      }
      lineOut(parts, chunk, i, lf);
      i = lf + 1;
    }
    return concat(parts);
  }

  /** The message is complete: a CR left at the very end is data. */
  end(): Buffer {
    if (!this.pendingCr) return Buffer.alloc(0);
    this.pendingCr = false;
    return Buffer.from(CR_BUF);
  }
}

function concat(parts: Buffer[]): Buffer {
  if (parts.length === 1) return parts[0]!;
  return Buffer.concat(parts);
}
