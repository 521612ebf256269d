/**
 * A QMQP request at the wire edge (cr.yp.to/proto/qmqp.html): one outer
 * netstring holding netstring(message) netstring(sender) netstring(rcpt)...
 * Bytes in, typed events out; the message body is passed through in slices
 * for streaming, addresses are collected (bounded) into an Envelope.
 */
import type { EnvelopeProblem } from '../delivery/verdict.js';
import { LIMITS } from '../limits.js';
import { NetstringDecoder, NetstringError, type NetstringEvent } from './netstring.js';

export type { EnvelopeProblem };

export interface Envelope {
  sender: string;
  recipients: string[];
  problem: EnvelopeProblem | null;
}

export type QmqpEvent =
  | { kind: 'message-start'; length: number }
  | { kind: 'message-data'; chunk: Buffer }
  | { kind: 'message-end' }
  /** The outer netstring is complete: the client has sent everything. */
  | { kind: 'done'; envelope: Envelope };

/** The packet is not valid QMQP; `compressed` marks qmail-ldap's zlib QMQP (non-digit first byte). */
export class QmqpFormatError extends Error {
  constructor(
    message: string,
    readonly compressed = false,
  ) {
    super(message);
    this.name = 'QmqpFormatError';
  }
}

export class QmqpRequestParser {
  private readonly outer = new NetstringDecoder(LIMITS.qmqp.maxPacketLength);
  private readonly inner = new NetstringDecoder(LIMITS.qmqp.maxPacketLength);
  private sawByte = false;
  private finished = false;
  /** Index of the inner netstring being read: 0 message, 1 sender, 2.. recipients. */
  private item = -1;
  private addr: Buffer[] = [];
  private addrLength = 0;
  private addrBad = false;
  private readonly envelope: Envelope = { sender: '', recipients: [], problem: null };
  private recipientCount = 0;

  constructor(private readonly maxRecipients: number) {}

  /** True once the whole request has been read. */
  get done(): boolean {
    return this.finished;
  }

  /** Decode a chunk; returns the events it completes. Bytes after the request are ignored. */
  push(chunk: Buffer): QmqpEvent[] {
    const out: QmqpEvent[] = [];
    if (this.finished) return out;
    if (!this.sawByte && chunk.length > 0) {
      this.sawByte = true;
      const c = chunk[0]!;
      if (c < 0x30 || c > 0x39) throw new QmqpFormatError('packet does not start with a netstring length', true);
    }
    try {
      this.outer.feed(chunk, (ev) => this.onOuter(ev, out));
    } catch (err) {
      if (err instanceof NetstringError) throw new QmqpFormatError(`netstring format error: ${err.message}`);
      throw err;
    }
    return out;
  }

  private onOuter(ev: NetstringEvent, out: QmqpEvent[]): boolean {
    switch (ev.kind) {
      case 'start':
        return true;
      case 'data':
        this.inner.feed(ev.chunk, (iev) => this.onInner(iev, out));
        return true;
      case 'end': {
        if (!this.inner.atBoundary) throw new QmqpFormatError('netstring format error: inner netstring crosses the packet end');
        if (this.item < 0) throw new QmqpFormatError('netstring format error: empty packet');
        this.finished = true;
        const env = this.envelope;
        if (!env.problem && this.item < 2) env.problem = 'norecipients';
        if (!env.problem && this.recipientCount > this.maxRecipients) env.problem = 'toomanyrecipients';
        out.push({ kind: 'done', envelope: env });
        // Stop: whatever follows the packet is not ours to read.
        return false;
      }
    }
  }

  private onInner(ev: NetstringEvent, out: QmqpEvent[]): void {
    if (ev.kind === 'start') {
      this.item++;
      if (this.item === 0) {
        out.push({ kind: 'message-start', length: ev.length });
        return;
      }
      if (this.item >= 2) this.recipientCount++;
      this.addr = [];
      this.addrLength = ev.length;
      // qmail-qmqpd refuses addresses of 1000 bytes or more; we decide at the length prefix and keep nothing.
      this.addrBad = ev.length > LIMITS.qmqp.maxAddressLength;
      return;
    }
    if (this.item === 0) {
      out.push(ev.kind === 'data' ? { kind: 'message-data', chunk: ev.chunk } : { kind: 'message-end' });
      return;
    }
    if (ev.kind === 'data') {
      if (this.addrBad) return;
      if (ev.chunk.includes(0)) this.addrBad = true;
      // Copy: the chunk is the socket's buffer, and addresses are tiny.
      else this.addr.push(Buffer.from(ev.chunk));
      return;
    }
    // end of an address netstring
    if (this.addrBad) {
      this.envelope.problem ??= 'badaddress';
      return;
    }
    if (this.item >= 2 && this.recipientCount > this.maxRecipients) return;
    const value = Buffer.concat(this.addr, this.addrLength).toString('utf8');
    if (this.item === 1) this.envelope.sender = value;
    else this.envelope.recipients.push(value);
  }
}
