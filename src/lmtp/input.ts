/**
 * Pull-based reading of an LMTP connection: the session
 * asks for the next line or the next piece of data only when the previous
 * one is dealt with, so a slow disk slows the client instead of filling
 * memory. Bytes read past what a step needs (pipelined commands, RFC 2920)
 * stay here for the next step.
 */
import type net from 'node:net';

const LF = 0x0a;

export type LineResult = { kind: 'line'; text: string } | { kind: 'toolong' } | { kind: 'eof' };

export class SocketInput {
  private pending: Buffer | null = null;
  private readonly it: AsyncIterator<unknown>;
  private eof = false;

  /** `beforeWait` runs each time the session would wait for the network (flush corked replies there). */
  constructor(
    socket: net.Socket,
    private readonly beforeWait: () => void,
  ) {
    this.it = socket.iterator({ destroyOnReturn: false })[Symbol.asyncIterator]();
  }

  /** Bytes already read and waiting (pipelined input). */
  get buffered(): number {
    return this.pending?.length ?? 0;
  }

  /** The next bytes, from what is buffered or from the socket; null at end of input. */
  async chunk(): Promise<Buffer | null> {
    if (this.pending) {
      const p = this.pending;
      this.pending = null;
      return p;
    }
    if (this.eof) return null;
    this.beforeWait();
    try {
      const r = await this.it.next();
      if (r.done) {
        this.eof = true;
        return null;
      }
      return r.value as Buffer;
    } catch {
      // Reset, timeout (destroyed) or closed mid-read: all end the input.
      this.eof = true;
      return null;
    }
  }

  /** Give back bytes a step did not use; they are read first next time. */
  unshift(b: Buffer): void {
    if (b.length === 0) return;
    this.pending = this.pending ? Buffer.concat([b, this.pending]) : b;
  }

  /**
   * The next line without its LF (and CR). A line longer than `max` bytes
   * (line end included) is skipped up to its LF and reported as too long, so
   * the session stays in step with the client.
   */
  async line(max: number): Promise<LineResult> {
    const parts: Buffer[] = [];
    let length = 0;
    let tooLong = false;
    for (;;) {
      const c = await this.chunk();
      if (c === null) return { kind: 'eof' };
      const lf = c.indexOf(LF);
      if (lf < 0) {
        if (!tooLong) {
          length += c.length;
          if (length > max) tooLong = true;
          else parts.push(c);
        }
        continue;
      }
      this.unshift(c.subarray(lf + 1));
      if (tooLong || length + lf + 1 > max) return { kind: 'toolong' };
      parts.push(c.subarray(0, lf));
      let line = parts.length === 1 ? parts[0]! : Buffer.concat(parts);
      if (line.length > 0 && line[line.length - 1] === 0x0d) line = line.subarray(0, line.length - 1);
      return { kind: 'line', text: line.toString('utf8') };
    }
  }

  /** Exactly `n` bytes handed to `sink` as they arrive (BDAT); false if the input ended first. */
  async take(n: number, sink: (b: Buffer) => Promise<void>): Promise<boolean> {
    let left = n;
    while (left > 0) {
      const c = await this.chunk();
      if (c === null) return false;
      if (c.length > left) {
        this.unshift(c.subarray(left));
        await sink(c.subarray(0, left));
        left = 0;
      } else {
        left -= c.length;
        await sink(c);
      }
    }
    return true;
  }
}
