/**
 * Message bytes as stored (LF or CRLF line ends) → the body of a POP3
 * multi-line reply (RFC 1939 §3): every bare LF becomes CRLF, a line starting
 * with "." gets another "." in front, and the reply ends with CRLF "." CRLF.
 *
 * Octet counts: the bytes this sends before the terminator, with the stuffed
 * dots removed, are exactly the message with CRLF line ends — the record's
 * vsize (Maildir W=), which LIST and STAT report (RFC 1939 §11). A message
 * whose last line has no line end gets one CRLF as part of the terminator
 * ("CRLF.CRLF"), as Dovecot does.
 *
 * TOP (RFC 1939 §7): with `bodyLines` set, only the header, the blank line
 * and that many body lines are sent, then `done` turns true and the caller
 * stops reading the file.
 */

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const EMPTY = Buffer.alloc(0);

export class DotStuffer {
  /** The next byte starts a line. */
  private atLineStart = true;
  /** The last byte seen (in an earlier chunk) was CR. */
  private prevCR = false;
  /** Bytes on the current line so far, ignoring a trailing CR (for the blank-line test). */
  private lineLen = 0;
  private inHeader: boolean;
  private linesLeft: number;
  /** Octets sent so far without the stuffed dots (= vsize when complete). */
  contentOctets = 0;
  /** TOP has sent all it should. */
  done = false;

  constructor(bodyLines: number | null = null) {
    this.inHeader = bodyLines !== null;
    this.linesLeft = bodyLines ?? -1;
  }

  /**
   * Convert one chunk. Segments are copied into one buffer sized for the
   * worst case (every LF gains a CR, every line start a dot: at most twice
   * the input plus one), which is about twice as fast as collecting slices.
   */
  convert(chunk: Buffer): Buffer {
    if (this.done || chunk.length === 0) return EMPTY;
    const out = Buffer.allocUnsafe(chunk.length * 2 + 1);
    let o = 0;
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(LF, pos);
      const end = lf < 0 ? chunk.length : lf;
      if (end > pos) {
        // Text of a line (or its continuation from the previous chunk).
        if (this.atLineStart && chunk[pos] === DOT) out[o++] = DOT;
        o += chunk.copy(out, o, pos, end);
        this.contentOctets += end - pos;
        this.lineLen += end - pos;
        this.atLineStart = false;
        this.prevCR = chunk[end - 1] === CR;
      }
      if (lf < 0) break;
      // The line end: keep CRLF, turn a bare LF into CRLF.
      if (this.prevCR && !this.atLineStart) {
        this.contentOctets += 1;
        this.lineLen -= 1;
      } else {
        out[o++] = CR;
        this.contentOctets += 2;
      }
      out[o++] = LF;
      pos = lf + 1;
      const blank = this.lineLen === 0;
      this.atLineStart = true;
      this.prevCR = false;
      this.lineLen = 0;
      if (this.linesLeft >= 0 && this.endOfLine(blank)) {
        this.done = true;
        break;
      }
    }
    return out.subarray(0, o);
  }

  /** The terminator: CRLF "." CRLF, or "." CRLF after a complete line. */
  end(): Buffer {
    return Buffer.from(this.atLineStart ? '.\r\n' : '\r\n.\r\n');
  }

  /** TOP bookkeeping after each complete line; true when enough was sent. */
  private endOfLine(blank: boolean): boolean {
    if (this.inHeader) {
      if (blank) {
        this.inHeader = false;
        return this.linesLeft === 0;
      }
      return false;
    }
    this.linesLeft -= 1;
    return this.linesLeft <= 0;
  }
}

/**
 * The stuffing stage for `pipeline(message, stage, socket)`. `first` goes out
 * in front of the first chunk (the "+OK" line), so a small message leaves in
 * one write. For TOP the generator returns early, which ends the for-await
 * and so closes the file.
 */
export function dotStuffStage(
  stuffer: DotStuffer,
  first: Buffer,
  onOctets: (n: number) => void,
): (source: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* stuff(source: AsyncIterable<Buffer>): AsyncGenerator<Buffer> {
    let head: Buffer | null = first;
    for await (const chunk of source) {
      const body = stuffer.convert(chunk);
      const out = head ? Buffer.concat([head, body]) : body;
      head = null;
      onOctets(body.length);
      if (out.length > 0) yield out;
      if (stuffer.done) break;
    }
    const tail = stuffer.end();
    yield head ? Buffer.concat([head, tail]) : tail;
  };
}
