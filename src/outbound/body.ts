/**
 * The DATA body on the wire (RFC 5321 §4.1.1.4, §4.5.2): stored messages keep
 * LF line ends (as qmail's Maildirs do), SMTP wants CRLF; a line starting
 * with "." gets one more (transparency); the body ends with CRLF "." CRLF.
 * Chunk by chunk, split anywhere: no message is held whole.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const CRLF = Buffer.from('\r\n', 'latin1');
const DOT1 = Buffer.from('.', 'latin1');
const END = Buffer.from('.\r\n', 'latin1');

export class DataEncoder {
  private atLineStart = true;
  private lastByte = -1;

  /** Wire bytes for the next chunk of the stored message. */
  encode(chunk: Buffer): Buffer {
    const out: Buffer[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      if (this.atLineStart && chunk[pos] === DOT) out.push(DOT1);
      this.atLineStart = false;
      const lf = chunk.indexOf(LF, pos);
      if (lf < 0) {
        out.push(chunk.subarray(pos));
        this.lastByte = chunk[chunk.length - 1]!;
        break;
      }
      const before = lf > pos ? chunk[lf - 1] : this.lastByte;
      if (before === CR) out.push(chunk.subarray(pos, lf + 1));
      else out.push(chunk.subarray(pos, lf), CRLF);
      this.lastByte = LF;
      this.atLineStart = true;
      pos = lf + 1;
    }
    return out.length === 1 ? out[0]! : Buffer.concat(out);
  }

  /** The terminating sequence; a last line without its line end gets one first. */
  end(): Buffer {
    return this.atLineStart ? END : Buffer.concat([CRLF, END]);
  }
}

/** Whether an envelope address has non-ASCII characters, so needs SMTPUTF8 (RFC 6531 §3.4). */
export function isNonAsciiAddress(address: string): boolean {
  return /[^\x00-\x7f]/.test(address);
}
