/**
 * One open message file for several reads (MailboxHandle.openMessageFile):
 * positional reads on one descriptor, so a FETCH response with several
 * sections opens the file once, and every section comes from the same file
 * even if it is renamed (flag change) or unlinked (expunge) meanwhile.
 * No fs.ReadStream: destroying one closes its descriptor whatever autoClose
 * says, which would pull the file from under the other sections.
 */
import { LIMITS } from '../../limits.js';
import type { MessageFile } from '../store.js';
import { fdClose, fdRead } from './fd.js';

/** Bytes per read when streaming a range. */
const CHUNK = LIMITS.store.readChunkBytes;

export class FdMessageFile implements MessageFile {
  /** Reads in libuv's pool: the descriptor is closed only after they finish. */
  private readonly pending = new Set<Promise<unknown>>();
  private closing: Promise<void> | null = null;

  constructor(private readonly fd: number) {}

  async read(start: number, end: number): Promise<Buffer> {
    if (this.closing) throw new Error('message file is closed');
    // Not zeroed: only the bytes read are returned.
    const buf = Buffer.allocUnsafe(Math.max(0, end - start));
    let off = 0;
    while (off < buf.length) {
      const n = await this.track(fdRead(this.fd, buf, off, start + off));
      if (n === 0) break;
      off += n;
    }
    return off === buf.length ? buf : buf.subarray(0, off);
  }

  async *chunks(start: number, end: number): AsyncGenerator<Buffer> {
    for (let pos = start; pos < end; ) {
      const b = await this.read(pos, Math.min(end, pos + CHUNK));
      if (b.length === 0) return;
      pos += b.length;
      yield b;
    }
  }

  /**
   * Waits for reads still running: closing under them could let another
   * file reuse the descriptor's number while a read is queued.
   */
  close(): Promise<void> {
    this.closing ??= (async () => {
      while (this.pending.size > 0) await Promise.allSettled([...this.pending]);
      await fdClose(this.fd);
    })();
    return this.closing;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.pending.add(p);
    const done = (): void => void this.pending.delete(p);
    p.then(done, done);
    return p;
  }
}
