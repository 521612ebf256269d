/**
 * SMTP replies at the wire edge (RFC 5321 §4.2): bytes in, typed replies
 * out. Resumable: fed whatever the socket delivers, split anywhere. A line
 * longer than RFC 5321 §4.5.3.1.5 allows (512 octets with CRLF), a reply of
 * too many lines, or a line that is not `ddd[ -]text` makes the peer
 * unusable: ReplyError, and the session treats it as a temporary failure of
 * that smarthost.
 */
import { LIMITS } from '../limits.js';

export interface SmtpReply {
  /** Three-digit reply code (RFC 5321 §4.2.1). */
  code: number;
  /** The text of each line, without the code and separator. */
  lines: string[];
}

export class ReplyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ReplyError';
  }
}

/** One line of text for logs and verdicts: the code and the first line, control characters dropped. */
export function replyText(r: SmtpReply): string {
  return `${r.code} ${(r.lines[0] ?? '').replace(/[\x00-\x1f\x7f]/g, '')}`.trim();
}

const LINE = /^([2-5][0-9][0-9])([ -]|$)(.*)$/s;

export class ReplyParser {
  private partial: Buffer[] = [];
  private partialLength = 0;
  private lines: string[] = [];
  private code = 0;

  /** Feed bytes; returns the replies they complete. Throws ReplyError. */
  push(chunk: Buffer): SmtpReply[] {
    const out: SmtpReply[] = [];
    let pos = 0;
    while (pos < chunk.length) {
      const lf = chunk.indexOf(0x0a, pos);
      const end = lf < 0 ? chunk.length : lf + 1;
      this.partialLength += end - pos;
      if (this.partialLength > LIMITS.outbound.maxReplyLineLength) {
        throw new ReplyError(`reply line longer than ${LIMITS.outbound.maxReplyLineLength} octets`);
      }
      this.partial.push(chunk.subarray(pos, end));
      pos = end;
      if (lf < 0) break;
      const raw = Buffer.concat(this.partial, this.partialLength);
      this.partial = [];
      this.partialLength = 0;
      const reply = this.line(raw.toString('latin1').replace(/\r?\n$/, ''));
      if (reply) out.push(reply);
    }
    return out;
  }

  private line(text: string): SmtpReply | null {
    const m = LINE.exec(text);
    if (!m) throw new ReplyError('malformed reply line');
    const code = Number(m[1]);
    if (this.lines.length > 0 && code !== this.code) throw new ReplyError('reply code changed within a multiline reply');
    this.code = code;
    this.lines.push(m[3]!);
    if (this.lines.length > LIMITS.outbound.maxReplyLines) throw new ReplyError(`reply longer than ${LIMITS.outbound.maxReplyLines} lines`);
    if (m[2] === '-') return null;
    const reply = { code, lines: this.lines };
    this.lines = [];
    return reply;
  }
}
