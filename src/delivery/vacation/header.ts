/**
 * The header block of an incoming message, kept while it streams so a
 * vacation reply can be decided and built after the delivery committed
 * (RFC 3834 §2 looks at To/Cc, Auto-Submitted, Precedence, List-*; §3.1 takes
 * Subject and Message-ID). Only the header is copied, at most
 * LIMITS.delivery.maxReplyHeaderBytes of it; a longer header is marked
 * incomplete and gets no reply (a List-Id past the cut would go unseen).
 */
import { LIMITS } from '../../limits.js';
import { parseAddressList } from '../../store/mime/address.js';
import { fieldValue, splitFields, unfold } from '../../store/mime/header.js';

export class HeaderCapture {
  private buf: Buffer = Buffer.alloc(0);
  private ended = false;
  private over = false;

  push(chunk: Buffer): void {
    if (this.ended || this.over) return;
    const from = Math.max(0, this.buf.length - 2);
    // Up to the limit, plus the empty line that ends a header of exactly the limit (LF or CRLF).
    const room = LIMITS.delivery.maxReplyHeaderBytes + 2 - this.buf.length;
    this.buf = Buffer.concat([this.buf, chunk.subarray(0, Math.max(0, room))]);
    // RFC 5322 §2.1: the header ends at the first empty line (LF LF; CRLF from LMTP is already LF, but accept it).
    for (let i = this.buf.indexOf(0x0a, from); i >= 0; i = this.buf.indexOf(0x0a, i + 1)) {
      const next = this.buf[i + 1];
      if (i === 0 || next === 0x0a || (next === 0x0d && this.buf[i + 2] === 0x0a)) {
        const end = i === 0 ? 0 : i + 1;
        this.buf = this.buf.subarray(0, Math.min(end, LIMITS.delivery.maxReplyHeaderBytes));
        this.ended = true;
        this.over = end > LIMITS.delivery.maxReplyHeaderBytes;
        return;
      }
    }
    if (this.buf.length >= LIMITS.delivery.maxReplyHeaderBytes + 2) {
      this.buf = this.buf.subarray(0, LIMITS.delivery.maxReplyHeaderBytes);
      this.over = true;
    }
  }

  /** The header bytes, and whether they are all of it (not cut at the limit). */
  header(): { bytes: Buffer; complete: boolean } {
    return { bytes: this.buf, complete: !this.over };
  }
}

/** The fields a vacation decision and reply read from the incoming header, unfolded (RFC 5322 §2.2.3), as byte strings. */
export interface ReplyHeader {
  /** Lower-cased field name → values in order. */
  readonly fields: ReadonlyMap<string, readonly string[]>;
  /** The header was captured whole (not cut at LIMITS.delivery.maxReplyHeaderBytes). */
  readonly complete: boolean;
}

export function readReplyHeader(capture: { bytes: Buffer; complete: boolean }): ReplyHeader {
  const fields = new Map<string, string[]>();
  for (const f of splitFields(capture.bytes, 0, capture.bytes.length)) {
    const list = fields.get(f.lname) ?? [];
    list.push(unfold(fieldValue(capture.bytes, f)));
    fields.set(f.lname, list);
  }
  return { fields, complete: capture.complete };
}

/** Every addr-spec in the header's address-list fields `names` (To, Cc), lower-cased. */
export function addressesIn(h: ReplyHeader, names: readonly string[]): Set<string> {
  const out = new Set<string>();
  for (const n of names)
    for (const v of h.fields.get(n) ?? [])
      for (const a of parseAddressList(v, LIMITS.delivery.maxDeliveredTo))
        if (a.mailbox && a.domain) out.add(`${a.mailbox}@${a.domain}`.toLowerCase());
  return out;
}
