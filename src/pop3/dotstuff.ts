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
 *
 * RETR converts in bulk, with no per-line work in JavaScript: a file the
 * index knows to have CRLF line ends only (its size equals its vsize) gets
 * dots added after "\n." and is otherwise passed on as it is, without a
 * copy; a chunk with no CR at all (LF-only storage, e.g. qmail's) is
 * converted in one pass over its lines into one buffer. Anything else
 * (mixed line ends, a CR at a chunk's end, TOP) goes through the general
 * line loop that also tracks CRs and TOP's line count.
 */

import { copyRun } from '../text/copy-run.js';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;
const EMPTY = Buffer.alloc(0);
const LF_DOT = Buffer.from('\n.');

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

  /** `crlf`: every line end of the message is CRLF already (the index says size = vsize). */
  constructor(
    bodyLines: number | null = null,
    private readonly crlf = false,
  ) {
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
    if (this.linesLeft < 0) {
      if (this.crlf) return this.stuffOnly(chunk);
      if (!this.prevCR && chunk.indexOf(CR) < 0) return this.lfOnly(chunk);
    }
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

  /** Line ends already CRLF: only the dots at line starts to double. */
  private stuffOnly(chunk: Buffer): Buffer {
    this.contentOctets += chunk.length;
    const lead = this.atLineStart && chunk[0] === DOT;
    this.atLineStart = chunk[chunk.length - 1] === LF;
    if (!lead && chunk.indexOf(LF_DOT) < 0) return chunk;
    const text = chunk.toString('latin1').replaceAll('\n.', '\n..');
    return Buffer.from(lead ? `.${text}` : text, 'latin1');
  }

  /**
   * No CR in the chunk (and none pending before it): every LF becomes CRLF
   * and a line starting with "." gets another. One pass over the lines
   * found with indexOf into one output buffer (text/copy-run.ts). A profiled POP3 download spent about
   * 1.7 times as long in the earlier string conversion (latin1 string,
   * two replaceAll, and back).
   */
  private lfOnly(chunk: Buffer): Buffer {
    const len = chunk.length;
    const out = Buffer.allocUnsafe(len * 2 + 1);
    let o = 0;
    let pos = 0;
    let atStart = this.atLineStart;
    let lfs = 0;
    while (pos < len) {
      if (atStart && chunk[pos] === DOT) out[o++] = DOT;
      let lf = chunk.indexOf(LF, pos);
      if (lf < 0) lf = len;
      o = copyRun(chunk, pos, lf, out, o);
      if (lf === len) {
        atStart = false;
        break;
      }
      out[o++] = CR;
      out[o++] = LF;
      lfs++;
      atStart = true;
      pos = lf + 1;
    }
    this.atLineStart = atStart;
    // Content is the message with CRLF line ends: each LF gained a CR (the stuffed dots are not counted).
    this.contentOctets += len + lfs;
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
