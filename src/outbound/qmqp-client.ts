/**
 * A QMQP client (cr.yp.to/proto/qmqp.html) for handing a message to another
 * mailHost of the cluster, as qmail-ldap's qmail-qmqpc does: one packet
 * netstring(netstring(message) netstring(sender) netstring(rcpt)…), the
 * message streamed from the spool file behind a prefix of our trace line,
 * then one netstring reply K/Z/D. Never throws: every failure is Z.
 */
import net from 'node:net';
import type { Readable } from 'node:stream';
import { LIMITS } from '../limits.js';
import { encodeNetstring, NetstringDecoder, NetstringError } from '../qmqp/netstring.js';
import type { OutboundMessage } from './smtp.js';
import type { HostPort } from './targets.js';

export interface QmqpAnswer {
  code: 'K' | 'Z' | 'D';
  text: string;
}

/** Bytes of the netstring holding `n` bytes. */
const netstringLength = (n: number): number => String(n).length + n + 2;

class Peer {
  private readonly decoder = new NetstringDecoder(LIMITS.outbound.maxQmqpReply);
  private reply: Buffer[] = [];
  private answer: QmqpAnswer | null = null;
  private failure: string | null = null;
  private wake: (() => void) | null = null;

  constructor(
    readonly socket: net.Socket,
    private readonly timeoutMs: number,
  ) {
    socket.on('data', (chunk: Buffer) => {
      try {
        this.decoder.feed(chunk, (ev) => {
          if (ev.kind === 'data') this.reply.push(Buffer.from(ev.chunk));
          else if (ev.kind === 'end') {
            const text = Buffer.concat(this.reply).toString('utf8');
            const code = text[0];
            this.answer = code === 'K' || code === 'Z' || code === 'D' ? { code, text: text.slice(1) } : null;
            if (!this.answer) this.fail('reply is not K, Z or D');
            this.signal();
            return false;
          }
          return true;
        });
      } catch (err) {
        this.fail(err instanceof NetstringError ? `bad reply: ${err.message}` : String(err));
      }
    });
    socket.on('error', (err) => this.fail(err.message));
    socket.on('close', () => this.fail('connection closed without a reply'));
  }

  fail(why: string): void {
    this.failure ??= why;
    this.socket.destroy();
    this.signal();
  }

  private signal(): void {
    this.wake?.();
  }

  /** Resolves when something happened (answer, failure) or after the timeout. */
  private wait(): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(() => {
        this.fail(`no progress within ${this.timeoutMs} ms`);
        resolve();
      }, this.timeoutMs);
      this.wake = () => {
        clearTimeout(t);
        this.wake = null;
        resolve();
      };
    });
  }

  async connected(): Promise<void> {
    if (this.socket.readyState === 'open') return;
    const ok = new Promise<void>((resolve) => this.socket.once('connect', () => this.wake?.() ?? resolve()));
    await Promise.race([ok, this.wait()]);
    if (this.failure) throw new Error(this.failure);
  }

  async write(data: Buffer): Promise<void> {
    if (this.failure) throw new Error(this.failure);
    if (this.socket.write(data)) return;
    const drained = new Promise<void>((resolve) => this.socket.once('drain', () => this.wake?.() ?? resolve()));
    await Promise.race([drained, this.wait()]);
    if (this.failure) throw new Error(this.failure);
  }

  async read(): Promise<QmqpAnswer> {
    while (!this.answer) {
      if (this.failure) throw new Error(this.failure);
      await this.wait();
    }
    return this.answer;
  }
}

/**
 * Send `prefix` + the stored message for `recipients` to a QMQP server and
 * return its answer; a connection failure, timeout or malformed reply is Z.
 * QMQP carries any octets (netstrings), so no 8-bit flag is needed.
 */
export async function qmqpHandOff(
  target: HostPort,
  message: Omit<OutboundMessage, 'eightBit'>,
  prefix: Buffer,
  recipients: readonly string[],
  timeoutMs: number,
): Promise<QmqpAnswer> {
  const length = prefix.length + message.size;
  const sender = encodeNetstring(message.sender);
  const rcpts = recipients.map((r) => encodeNetstring(r));
  const outer = netstringLength(length) + sender.length + rcpts.reduce((n, b) => n + b.length, 0);
  const peer = new Peer(net.connect({ host: target.host, port: target.port, noDelay: true }), timeoutMs);
  let source: Readable | null = null;
  try {
    await peer.connected();
    await peer.write(Buffer.concat([Buffer.from(`${outer}:${length}:`, 'latin1'), prefix]));
    source = message.open();
    let sent = 0;
    for await (const chunk of source) {
      sent += (chunk as Buffer).length;
      await peer.write(chunk as Buffer);
    }
    // The length went out first: a file that changed size would corrupt the packet.
    if (sent !== message.size) throw new Error('stored message changed size while being sent');
    await peer.write(Buffer.concat([Buffer.from(',', 'latin1'), sender, ...rcpts, Buffer.from(',', 'latin1')]));
    return await peer.read();
  } catch (err) {
    return { code: 'Z', text: `${target.host}:${target.port}: ${err instanceof Error ? err.message : String(err)} (#4.4.1)` };
  } finally {
    source?.destroy();
    peer.socket.destroy();
  }
}
