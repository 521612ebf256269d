/**
 * Trace fields of final delivery: the `Received:` line we add (RFC 5321
 * §4.4), the `Delivered-To:` line qmail-local prepends (RFC 9228), and the
 * loop checks made on the header block of an incoming message as it streams.
 *
 * The scan sees the same chunks that go into the store's draft, so no
 * message is read twice or held in memory; it looks only at the header
 * block, and only at its first LIMITS.delivery.maxTraceHeaderBytes bytes.
 */
import { LIMITS } from '../limits.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad = (n: number): string => String(n).padStart(2, '0');

/** RFC 5322 §3.3 date-time in UTC, e.g. "Tue, 24 Nov 2026 18:15:24 +0000". */
export function rfc5322Date(d: Date): string {
  return (
    `${DAYS[d.getUTCDay()]}, ${d.getUTCDate()} ${MONTHS[d.getUTCMonth()]} ${d.getUTCFullYear()} ` +
    `${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`
  );
}

/** RFC 5321 §4.1.3 address literal: [192.0.2.1], [IPv6:2001:db8::1]; IPv4-mapped IPv6 shown as IPv4. */
function addressLiteral(peer: string): string {
  const v4 = peer.startsWith('::ffff:') && peer.includes('.') ? peer.slice(7) : peer;
  return v4.includes(':') ? `IPv6:${v4}` : v4;
}

/** A client-given name (LHLO) is shown only when it is a plain domain or literal: no spaces, parentheses or controls. */
const SAFE_NAME = /^[A-Za-z0-9.\-:[\]_]{1,255}$/;

/**
 * The trace line a final-delivery server adds (RFC 5321 §4.4). LF line end:
 * messages are kept with LF line ends (qmqp.html; LMTP's CRLF is converted),
 * as qmail's Maildirs hold them.
 */
export function receivedLine(peer: string, hostname: string, opts: { via: 'QMQP' | 'LMTP'; helo?: string; when?: Date }): Buffer {
  const helo = opts.helo !== undefined && SAFE_NAME.test(opts.helo) ? `${opts.helo} ` : '';
  const from = helo ? `${helo}([${addressLiteral(peer)}])` : `[${addressLiteral(peer)}]`;
  const when = rfc5322Date(opts.when ?? new Date());
  return Buffer.from(`Received: from ${from} by ${hostname} (Roost) with ${opts.via}; ${when}\n`, 'latin1');
}

/** qmail-local's `Delivered-To: <recipient>` line (RFC 9228), LF-terminated. */
export function deliveredToLine(recipient: string): Buffer {
  return Buffer.from(`Delivered-To: ${recipient}\n`, 'utf8');
}

/** The form two addresses are compared in: trimmed, without angle brackets, lower-cased (qmail compares case-insensitively). */
export function traceKey(address: string): string {
  let a = address.trim();
  if (a.startsWith('<') && a.endsWith('>')) a = a.slice(1, -1).trim();
  return a.toLowerCase();
}

const RECEIVED = Buffer.from('received:', 'latin1');
const DELIVERED_TO = Buffer.from('delivered-to:', 'latin1');
/** Bytes of a line kept for the check: the field name plus the longest address we accept (and slack for spaces, CR). */
const KEEP_LINE_BYTES = DELIVERED_TO.length + LIMITS.qmqp.maxAddressLength + 16;

/** True when `line` starts with `name` (already lower-case ASCII), case-insensitively. */
function startsWithField(line: Buffer, len: number, name: Buffer): boolean {
  if (len < name.length) return false;
  for (let i = 0; i < name.length; i++) {
    let c = line[i]!;
    if (c >= 0x41 && c <= 0x5a) c += 0x20;
    if (c !== name[i]) return false;
  }
  return true;
}

/**
 * Watches the header block of an incoming message, chunk by chunk, for
 * `Received:` lines (hop count, qmail-send's 100) and `Delivered-To:`
 * addresses (qmail-local's loop check). Lines are split with indexOf; only
 * the first KEEP_LINE_BYTES of each header line are copied, and scanning
 * stops at the empty line that ends the header, or after
 * LIMITS.delivery.maxTraceHeaderBytes bytes of header.
 */
export class TraceScanner {
  /** `Received:` lines seen in the header. */
  received = 0;
  private readonly delivered = new Set<string>();
  private done = false;
  private scanned = 0;
  private readonly line = Buffer.allocUnsafe(KEEP_LINE_BYTES);
  private lineLen = 0;
  /** Bytes of the current line seen (may exceed what is kept). */
  private lineSeen = 0;

  /** Feed the next bytes of the message (the client's bytes, without our own prefix). */
  push(chunk: Buffer): void {
    let pos = 0;
    while (!this.done && pos < chunk.length) {
      const room = LIMITS.delivery.maxTraceHeaderBytes - this.scanned;
      if (room <= 0) {
        this.done = true;
        return;
      }
      const end = Math.min(chunk.length, pos + room);
      const lf = chunk.indexOf(0x0a, pos);
      const stop = lf >= 0 && lf < end ? lf : end;
      this.keep(chunk, pos, stop);
      this.scanned += stop - pos;
      if (stop === lf) {
        this.scanned++;
        this.endLine();
        pos = lf + 1;
      } else pos = stop;
    }
  }

  /** The header names `recipient` in a Delivered-To line. */
  hasDeliveredTo(recipient: string): boolean {
    return this.delivered.has(traceKey(recipient));
  }

  /** Some Delivered-To line starts with `prefix` (compared as traceKey does): the cluster hand-off's own line. */
  hasDeliveredToPrefix(prefix: string): boolean {
    const p = prefix.toLowerCase();
    for (const d of this.delivered) if (d.startsWith(p)) return true;
    return false;
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    const n = Math.min(to - from, KEEP_LINE_BYTES - this.lineLen);
    if (n > 0) {
      chunk.copy(this.line, this.lineLen, from, from + n);
      this.lineLen += n;
    }
    this.lineSeen += to - from;
  }

  private endLine(): void {
    let len = this.lineLen;
    /** The whole line was kept (a longer one cannot name an address we accept). */
    const whole = this.lineSeen === len;
    this.lineLen = 0;
    this.lineSeen = 0;
    if (whole && len > 0 && this.line[len - 1] === 0x0d) len--;
    // RFC 5322 §2.1: the header ends at the first empty line.
    if (whole && len === 0) {
      this.done = true;
      return;
    }
    if (startsWithField(this.line, len, RECEIVED)) this.received++;
    else if (whole && startsWithField(this.line, len, DELIVERED_TO) && this.delivered.size < LIMITS.delivery.maxDeliveredTo) {
      this.delivered.add(traceKey(this.line.toString('utf8', DELIVERED_TO.length, len)));
    }
  }
}
