/**
 * The session's outgoing byte stream with back-pressure.
 *
 * Small responses are gathered into one write (a FETCH 1:* of 100,000
 * messages is 100,000 lines, and one syscall per line would dominate); when
 * the gathered bytes pass CHUNK, or the caller needs them on the wire, they
 * are written, and when the socket's buffer is full the caller awaits
 * 'drain' before producing more. So a slow reader holds the server to about
 * CHUNK plus the socket's high-water mark per connection.
 */
import type { Readable } from 'node:stream';
import { LIMITS } from '../limits.js';

const CHUNK = LIMITS.tuning.imapOutputChunkBytes;

export interface Sink {
  write(chunk: Buffer | string): boolean;
  once(event: 'drain' | 'close', fn: () => void): unknown;
  off(event: 'drain' | 'close', fn: () => void): unknown;
  readonly destroyed: boolean;
  readonly writableNeedDrain: boolean;
}

export class ClosedError extends Error {
  constructor() {
    super('connection closed');
  }
}

/**
 * A response that was started could not be completed (a message file that
 * failed or ended early mid-literal). The peer can no longer tell where the
 * next response begins, so like a closed connection this ends the session:
 * the dispatcher sends no tagged reply for it, and the session closes.
 */
export class ResponseAbortedError extends ClosedError {
  constructor(readonly reason: string) {
    super();
    this.message = `response aborted: ${reason}`;
  }
}

export class Output {
  /** Text gathered since the last Buffer (one string: 100,000 FETCH lines become one conversion). */
  private str = '';
  private parts: Buffer[] = [];
  private pending = 0;
  /** After BYE: the one tagged line still allowed (RFC 3501 §6.1.3, §7.1.5), or null; undefined while open. */
  private sealedFor: string | null | undefined = undefined;

  constructor(private sink: Sink) {}

  /**
   * BYE has been queued: nothing untagged may follow it (RFC 3501 §7.1.5; for
   * LOGOUT only the tagged OK, §6.1.3). Later pushes are dropped, so an IDLE
   * push or a streaming answer still running cannot write after it; only
   * `tagged(allowTag, …)` gets through.
   */
  seal(allowTag: string | null): void {
    if (this.sealedFor === undefined) this.sealedFor = allowTag;
  }

  get sealed(): boolean {
    return this.sealedFor !== undefined;
  }

  /** Queue a command's tagged answer; after seal() only the allowed tag's. */
  tagged(tag: string, line: string | Buffer): void {
    if (this.sealedFor === undefined) this.push(line);
    else if (this.sealedFor === tag) {
      this.sealedFor = null;
      this.append(line);
    }
  }

  /** After STARTTLS the same session writes to the TLS socket. */
  replaceSink(sink: Sink): void {
    this.sink = sink;
  }

  /**
   * Queue response text without waiting. Text is a byte string (latin1):
   * responses are ASCII except ENVELOPE/BODYSTRUCTURE values, which the MIME
   * layer renders as byte strings; UTF-8 text goes through the encoder as Buffers.
   */
  push(s: string | Buffer): void {
    if (this.sealedFor !== undefined) return;
    this.append(s);
  }

  private append(s: string | Buffer): void {
    if (typeof s === 'string') {
      this.str += s;
      this.pending += s.length;
      return;
    }
    this.takeText();
    this.parts.push(s);
    this.pending += s.length;
  }

  /** Enough is gathered that the caller should `await flush()` before producing more. */
  get full(): boolean {
    return this.pending >= CHUNK;
  }

  /** Queue text; awaits only when the buffer is full. */
  async text(s: string): Promise<void> {
    this.push(s);
    if (this.pending >= CHUNK) await this.flush();
  }

  /** Queue bytes; awaits only when the buffer is full. */
  async bytes(b: Buffer): Promise<void> {
    this.push(b);
    if (this.pending >= CHUNK) await this.flush();
  }

  /**
   * Copy a stream to the socket, pausing the source when the socket is full.
   * Resolves with the number of bytes copied.
   */
  async stream(src: Readable): Promise<number> {
    let n = 0;
    for await (const chunk of src) {
      const b = chunk as Buffer;
      n += b.length;
      await this.bytes(b);
    }
    return n;
  }

  /** Write everything gathered; resolves once the socket can take more. */
  async flush(): Promise<void> {
    if (this.sink.destroyed) {
      this.str = '';
      this.parts = [];
      this.pending = 0;
      throw new ClosedError();
    }
    this.takeText();
    if (this.parts.length > 0) {
      const parts = this.parts;
      this.parts = [];
      this.pending = 0;
      this.sink.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    }
    if (this.sink.writableNeedDrain) await this.drain();
  }

  private takeText(): void {
    if (this.str === '') return;
    this.parts.push(Buffer.from(this.str, 'latin1'));
    this.str = '';
  }

  private drain(): Promise<void> {
    return new Promise((resolve, reject) => {
      const onDrain = (): void => {
        this.sink.off('close', onClose);
        resolve();
      };
      const onClose = (): void => {
        this.sink.off('drain', onDrain);
        reject(new ClosedError());
      };
      this.sink.once('drain', onDrain);
      this.sink.once('close', onClose);
    });
  }
}
