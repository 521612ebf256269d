/**
 * The POP3 wire: command lines in (with a length limit), replies out with
 * back-pressure. The session pulls one line at a time, and
 * the reader stops reading from the socket once a bounded amount of pipelined
 * input is waiting, so a client that sends without reading is held up by TCP,
 * not by our memory.
 */
import type { Duplex } from 'node:stream';

export type LineResult =
  | { kind: 'line'; text: string }
  /** A line longer than the limit; it was skipped up to its LF. */
  | { kind: 'tooLong' }
  /** The peer closed (or the socket failed); a partial last line is dropped. */
  | { kind: 'eof' };

const LF = 0x0a;
const CR = 0x0d;

/**
 * Splits the input into lines ending in LF (CRLF per RFC 1939 §3; a bare LF
 * is accepted too, as qmail-pop3d and Dovecot do).
 */
export class LineReader {
  private buf: Buffer = Buffer.alloc(0);
  /** Bytes of `buf` already searched for LF. */
  private scanned = 0;
  /** Skipping an over-long line until its LF. */
  private discarding = false;
  private ended = false;
  private wake: (() => void) | null = null;
  private socket: Duplex | null = null;
  private readonly onData = (chunk: Buffer): void => {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    if (this.buf.length > this.maxBuffered) this.socket?.pause();
    this.notify();
  };
  private readonly onEnd = (): void => {
    this.ended = true;
    this.notify();
  };

  /**
   * @param maxLine longest line accepted, in octets without the line end
   * @param maxBuffered pipelined input held before the socket is paused
   */
  constructor(
    private readonly maxLine: number,
    private readonly maxBuffered: number,
  ) {}

  /** Start reading from a socket (again after STLS, from the TLS socket). */
  attach(socket: Duplex): void {
    this.socket = socket;
    this.ended = false;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('close', this.onEnd);
    socket.on('error', this.onEnd);
  }

  /** Stop reading; returns what was received but not yet read as lines. */
  detach(): Buffer {
    const s = this.socket;
    if (s) {
      s.off('data', this.onData);
      s.off('end', this.onEnd);
      s.off('close', this.onEnd);
      s.off('error', this.onEnd);
      s.pause();
    }
    this.socket = null;
    const rest = this.buf;
    this.buf = Buffer.alloc(0);
    this.scanned = 0;
    return rest;
  }

  /** Input is waiting beyond the line just read (pipelined commands). */
  get pending(): number {
    return this.buf.length;
  }

  /** A complete command line is already received (the client pipelines): the next readLine will not wait. */
  hasLine(): boolean {
    return this.buf.indexOf(LF, this.scanned) >= 0;
  }

  /** Up to `max` complete lines already received, without consuming them. */
  peekLines(max: number): string[] {
    const out: string[] = [];
    if (this.discarding) return out;
    let pos = 0;
    while (out.length < max) {
      const lf = this.buf.indexOf(LF, pos);
      if (lf < 0 || lf - pos > this.maxLine + 1) break;
      const end = lf > pos && this.buf[lf - 1] === CR ? lf - 1 : lf;
      out.push(this.buf.toString('utf8', pos, end));
      pos = lf + 1;
    }
    return out;
  }

  async readLine(): Promise<LineResult> {
    for (;;) {
      const lf = this.buf.indexOf(LF, this.scanned);
      if (lf >= 0) {
        const line = this.buf.subarray(0, lf);
        this.buf = this.buf.subarray(lf + 1);
        this.scanned = 0;
        if (this.discarding) {
          this.discarding = false;
          return { kind: 'tooLong' };
        }
        const end = line.length > 0 && line[line.length - 1] === CR ? line.length - 1 : line.length;
        if (end > this.maxLine) return { kind: 'tooLong' };
        return { kind: 'line', text: line.toString('utf8', 0, end) };
      }
      // No LF yet. maxLine octets plus a CR may still be a valid line;
      // anything longer is not: drop it and keep dropping to the LF.
      if (this.discarding || this.buf.length > this.maxLine + 1) {
        this.discarding = true;
        this.buf = Buffer.alloc(0);
      }
      this.scanned = this.buf.length;
      if (this.ended) return { kind: 'eof' };
      await this.waitForData();
    }
  }

  private waitForData(): Promise<void> {
    return new Promise((resolve) => {
      this.wake = resolve;
      this.socket?.resume();
    });
  }

  private notify(): void {
    const w = this.wake;
    this.wake = null;
    w?.();
  }
}

/**
 * Write with back-pressure: resolves once the data is accepted, waiting for
 * 'drain' when the socket's buffer is full. Resolves (does not hang) when the
 * socket closes meanwhile; callers see `socket.destroyed` afterwards.
 */
export function writeOut(socket: Duplex, data: string | Buffer): Promise<void> {
  if (socket.destroyed) return Promise.resolve();
  if (socket.write(data)) return Promise.resolve();
  return drained(socket);
}

function drained(socket: Duplex): Promise<void> {
  return new Promise((resolve) => {
    const done = (): void => {
      socket.off('drain', done);
      socket.off('close', done);
      socket.off('error', done);
      resolve();
    };
    socket.on('drain', done);
    socket.on('close', done);
    socket.on('error', done);
  });
}

const DONE = Promise.resolve();

/**
 * The session's replies on their way out. Replies to pipelined commands
 * (RFC 2449 §6.6) are gathered and handed to the socket together, in one
 * writev, once `batchBytes` are queued or the session is about to wait for
 * the client: downloading many small messages then costs one system call
 * per batch, not one per message. Back-pressure stays: a full batch waits
 * for 'drain' before the next command runs, so at most one batch plus the
 * socket's own buffer is held.
 */
export class Output {
  private parts: (string | Buffer)[] = [];
  private size = 0;
  constructor(
    private socket: Duplex,
    private readonly batchBytes: number,
  ) {}

  /** After STLS: everything from now on goes to the TLS socket (the queue was flushed before the handshake). */
  use(socket: Duplex): void {
    this.socket = socket;
  }

  /** Queue `data`; when the batch is full it goes out and this waits until the socket takes more. */
  write(...data: (string | Buffer)[]): Promise<void> {
    if (this.socket.destroyed) return DONE;
    for (const d of data) {
      this.parts.push(d);
      this.size += d.length;
    }
    return this.size >= this.batchBytes ? this.flush() : DONE;
  }

  /** Hand everything queued to the socket; resolves once the socket can take more. */
  flush(): Promise<void> {
    this.push();
    return this.socket.destroyed || !this.socket.writableNeedDrain ? DONE : drained(this.socket);
  }

  /** Hand everything queued to the socket now, without waiting (before end()). */
  push(): void {
    const parts = this.parts;
    if (parts.length === 0) return;
    this.parts = [];
    this.size = 0;
    if (this.socket.destroyed) return;
    if (parts.length === 1) {
      this.socket.write(parts[0]!);
      return;
    }
    // Corked writes reach the kernel together (net.Socket's writev).
    this.socket.cork();
    for (const p of parts) this.socket.write(p);
    this.socket.uncork();
  }
}

/**
 * A multi-line reply (RFC 1939 §3) built from many short lines (LIST, UIDL of
 * 10,000 messages): joined into pieces of about `chunkBytes`, each handed to
 * the session's Output. Lines must not start with "." (listings never do).
 */
export class ListingWriter {
  private parts: string[] = [];
  private size = 0;
  constructor(
    private readonly out: Output,
    private readonly chunkBytes: number,
  ) {}

  async line(text: string): Promise<void> {
    this.parts.push(text, '\r\n');
    this.size += text.length + 2;
    if (this.size >= this.chunkBytes) await this.flush();
  }

  /** Write the terminating ".". */
  async end(): Promise<void> {
    this.parts.push('.\r\n');
    await this.flush();
  }

  private async flush(): Promise<void> {
    const data = this.parts.join('');
    this.parts = [];
    this.size = 0;
    await this.out.write(data);
  }
}
