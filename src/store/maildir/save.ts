/**
 * Writing message files (maildir(5)): the spool draft, and placing a
 * finished draft into a Maildir's tmp/ so the commit can rename it into new/
 * or cur/.
 *
 * The spool lives under data_dir/spool. Delivery hard-links the one spool
 * file into each recipient's `tmp/` (so N recipients share one inode and one
 * data fsync); when the Maildir is on another filesystem (EXDEV) it copies
 * and fsyncs the copy instead.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { RoostError, tempFromOs } from '../../errors.js';
import { LIMITS } from '../../limits.js';
import type { Draft, DraftOptions } from '../store.js';
import { MimeStreamParser, parseChunks } from '../mime/stream.js';
import type { MimeTree } from '../mime/types.js';
import { searchHeaderOfPrefix } from '../mime/search-header.js';
import { keptSearchFields, type SearchFieldsRow } from '../index/db.js';
import { countBareLf } from './scan.js';

/**
 * A small message is also kept in memory, for the replication ship cache
 * (up to LIMITS.replication.shipCacheMaxMessage); nothing else needs the
 * bytes, since the MIME structure is built while they stream.
 */
const KEEP_IN_MEMORY = LIMITS.replication.shipCacheMaxMessage;

export class SpoolDraft implements Draft {
  size = 0;
  /** Size with every bare LF counted as CRLF (Maildir W=, RFC822.SIZE). */
  vsize = 0;
  finished = false;
  /** Whether the data has been fdatasync'd (deliver does it inside the group commit when finish() did not). */
  synced = false;
  private discarded = false;
  private bodyBytes = 0;
  private kept: Buffer[] | null = [];
  /** The first LIMITS.store.searchHeadBytes bytes, for the stored search fields. */
  private head: Buffer[] = [];
  private headBytes = 0;
  /** Fed every byte written; null once it failed (the structure is then parsed on first access). */
  private parser: MimeStreamParser | null = new MimeStreamParser();
  private tree: MimeTree | null = null;
  private parseError: unknown = null;
  private lastByte = -1;
  private parked = false;
  /** Open until the draft is delivered, discarded or parked, so the commit can fdatasync it. */
  fd: number | null;
  private failure: Error | null = null;
  /**
   * The disk writes, one after another in the thread pool (never a
   * synchronous write on the event loop); the bookkeeping (size, parser) is
   * done when write() is called, so limits see every byte at once.
   */
  private writing: Promise<void> = Promise.resolve();

  private constructor(
    readonly path: string,
    fd: number,
    private readonly maxSize: number,
  ) {
    this.fd = fd;
  }

  static create(file: { path: string; fd: number }, opts: DraftOptions = {}): SpoolDraft {
    const d = new SpoolDraft(file.path, file.fd, opts.maxSize ?? 0);
    if (opts.prefix && opts.prefix.length > 0) d.append(opts.prefix, false);
    return d;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.finished || this.discarded) throw new RoostError('TEMP', 'draft is closed');
    if (this.failure) throw this.failure;
    if (this.maxSize > 0 && this.bodyBytes + chunk.length > this.maxSize) {
      this.failure = new RoostError('TOOBIG', `message larger than ${this.maxSize} bytes`);
      throw this.failure;
    }
    this.append(chunk, true);
    // Resolves once on disk: callers may then reuse their buffer.
    return this.drained();
  }

  /** Every write() so far is on disk (or the first failure is thrown). */
  private async drained(): Promise<void> {
    await this.writing;
    if (this.failure) throw this.failure;
  }

  /**
   * All bytes written. The fdatasync that makes them durable runs in
   * deliver()/append(), in parallel with the journal commit of the same
   * group (one fewer serial fsync per message); nothing becomes visible in a
   * Maildir before both have completed. A draft that is never delivered is
   * never synced, which costs nothing.
   */
  async finish(): Promise<void> {
    if (this.finished) return;
    if (this.discarded) throw new RoostError('TEMP', 'draft was discarded');
    if (this.failure) throw this.failure;
    this.finished = true;
    await this.drained();
    if (this.parser) {
      try {
        this.tree = this.parser.end();
      } catch (err) {
        this.parseError = err;
      }
      this.parser = null;
    }
  }

  /** The MIME structure of a finished draft (of a parked one: parsed from its file); throws what the parser threw. */
  async structure(): Promise<MimeTree> {
    if (this.tree) return this.tree;
    if (this.parked && !this.discarded) return parseChunks(fs.createReadStream(this.path, { highWaterMark: LIMITS.store.readChunkBytes }));
    throw this.parseError ?? new RoostError('TEMP', 'draft is not finished');
  }

  /**
   * Finished, and waiting for the rest of a batch (MULTIAPPEND): make the
   * bytes durable now and give the descriptor back, so a client sending
   * thousands of messages in one command holds files on disk, not fds.
   */
  async park(): Promise<void> {
    await this.finish();
    await this.datasync();
    this.closeFd();
    // Held until the batch commits, possibly a thousand of them: keep neither the bytes nor the
    // structure (the commit parses the file again, in chunks); only what is on disk.
    this.kept = null;
    this.head = [];
    this.tree = null;
    this.parked = true;
  }

  openReader(): fs.ReadStream {
    if (!this.finished || this.discarded) throw new RoostError('TEMP', 'draft is not finished');
    return fs.createReadStream(this.path, { highWaterMark: LIMITS.store.readChunkBytes });
  }

  /** Discarded (nothing may be delivered from it). */
  get isDiscarded(): boolean {
    return this.discarded;
  }

  async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    this.kept = null;
    this.parser = null;
    this.tree = null;
    await this.writing;
    this.closeFd();
    await fsp.unlink(this.path).catch(() => undefined);
  }

  closeFd(): void {
    if (this.fd === null) return;
    try {
      fs.closeSync(this.fd);
    } catch {
      // Closing twice or after an I/O error: nothing left to do.
    }
    this.fd = null;
  }

  /** fdatasync the spool file (covers every hard link to it). */
  async datasync(): Promise<void> {
    await this.drained();
    if (this.synced || this.fd === null) return;
    const fd = this.fd;
    return new Promise((resolve, reject) =>
      fs.fdatasync(fd, (err) => {
        if (err) reject(tempFromOs(err, 'spool fsync'));
        else {
          this.synced = true;
          resolve();
        }
      }),
    );
  }

  /**
   * The index's search fields of a finished draft (store/mime/search-header.ts),
   * from its first bytes; null when its header block is longer than those
   * (SEARCH then reads the file once and stores them).
   */
  searchFields(): SearchFieldsRow | null {
    if (this.parked || this.discarded) return null;
    const h = searchHeaderOfPrefix(Buffer.concat(this.head, this.headBytes), this.headBytes === this.size);
    return h && keptSearchFields(h);
  }

  /** The message bytes when it is small (at most KEEP_IN_MEMORY); null for a larger one. */
  smallContent(): Buffer | null {
    return this.kept ? Buffer.concat(this.kept, this.size) : null;
  }

  private append(chunk: Buffer, body: boolean): void {
    const fd = this.fd!;
    this.writing = this.writing.then(async () => {
      if (this.failure) return;
      try {
        let off = 0;
        while (off < chunk.length) off += await writeFd(fd, chunk, off, chunk.length - off);
      } catch (err) {
        this.failure = tempFromOs(err, 'spool write');
      }
    });
    this.size += chunk.length;
    if (this.parser) {
      try {
        this.parser.push(chunk);
      } catch (err) {
        this.parseError = err;
        this.parser = null;
      }
    }
    this.vsize += chunk.length + countBareLf(chunk, this.lastByte);
    this.lastByte = chunk.length > 0 ? chunk[chunk.length - 1]! : this.lastByte;
    if (body) this.bodyBytes += chunk.length;
    if (this.headBytes < LIMITS.store.searchHeadBytes) {
      const part = chunk.subarray(0, LIMITS.store.searchHeadBytes - this.headBytes);
      this.head.push(Buffer.from(part));
      this.headBytes += part.length;
    }
    if (this.kept) {
      // Copy: callers may reuse their buffers after write() resolves.
      if (this.size <= KEEP_IN_MEMORY) this.kept.push(Buffer.from(chunk));
      else this.kept = null;
    }
  }
}

function writeFd(fd: number, buf: Buffer, off: number, len: number): Promise<number> {
  return new Promise((resolve, reject) => fs.write(fd, buf, off, len, null, (err, n) => (err ? reject(err) : resolve(n))));
}

/**
 * Empty spool files created ahead of need. Creating a file can wait a
 * millisecond or more for the filesystem journal while other writers fsync
 * (ext4 jbd2); taking a ready one keeps that wait off the delivery path.
 */
export class SpoolPool {
  private ready: { path: string; fd: number }[] = [];
  private filling = 0;
  private closed = false;

  constructor(
    private readonly dir: string,
    private readonly name: () => string,
    private readonly size = 8,
  ) {}

  async take(): Promise<{ path: string; fd: number }> {
    const f = this.ready.pop() ?? (await this.create());
    this.refill();
    return f;
  }

  private refill(): void {
    while (!this.closed && this.ready.length + this.filling < this.size) {
      this.filling++;
      this.create()
        .then((f) => {
          if (this.closed) SpoolPool.remove(f);
          else this.ready.push(f);
        })
        .catch(() => undefined)
        .finally(() => this.filling--);
    }
  }

  private create(): Promise<{ path: string; fd: number }> {
    const file = path.join(this.dir, this.name());
    return new Promise((resolve, reject) =>
      fs.open(file, 'wx', 0o600, (e, fd) => (e ? reject(tempFromOs(e, 'spool open')) : resolve({ path: file, fd }))),
    );
  }

  private static remove(f: { path: string; fd: number }): void {
    try {
      fs.closeSync(f.fd);
      fs.unlinkSync(f.path);
    } catch {
      // Already gone.
    }
  }

  close(): void {
    this.closed = true;
    for (const f of this.ready.splice(0)) SpoolPool.remove(f);
  }
}

/**
 * Put the spool file at `dest` (a Maildir tmp/ path): hard link, or copy and
 * fsync when the Maildir is on another filesystem. Returns true for a copy.
 */
export async function placeInTmp(spoolFile: string, dest: string): Promise<boolean> {
  try {
    await fsp.link(spoolFile, dest);
    return false;
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EXDEV' && code !== 'EPERM' && code !== 'EMLINK') throw tempFromOs(err, `link ${dest}`);
  }
  try {
    await fsp.copyFile(spoolFile, dest, fs.constants.COPYFILE_EXCL);
    const fh = await fsp.open(dest, 'r+');
    try {
      await fh.datasync();
    } finally {
      await fh.close();
    }
    return true;
  } catch (err) {
    await fsp.unlink(dest).catch(() => undefined);
    throw tempFromOs(err, `copy ${dest}`);
  }
}

/** fsync a directory so the entries created/renamed/removed in it survive a crash. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await fsp.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

export function fsyncDirSync(dir: string): void {
  const fd = fs.openSync(dir, 'r');
  try {
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}

/** ensureMaildir in the thread pool. */
export async function ensureMaildirAsync(dir: string, isFolder: boolean): Promise<void> {
  // Two thread-pool round trips, not four: the folder, then its three subdirectories and marker at once.
  await fsp.mkdir(dir, { recursive: true, mode: 0o700 });
  await Promise.all([
    ...['cur', 'new', 'tmp'].map((sub) => fsp.mkdir(path.join(dir, sub), { recursive: true, mode: 0o700 })),
    ...(isFolder ? [fsp.writeFile(path.join(dir, 'maildirfolder'), '', { mode: 0o600, flag: 'a' })] : []),
  ]);
}

/** Create cur/ new/ tmp/ (and `maildirfolder` for a Maildir++ folder) if missing. */
export function ensureMaildir(dir: string, isFolder: boolean): void {
  for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  if (isFolder) {
    const marker = path.join(dir, 'maildirfolder');
    if (!fs.existsSync(marker)) fs.writeFileSync(marker, '', { mode: 0o600 });
  }
}

/**
 * Leftovers of deliveries that died before their commit: files in a spool or
 * tmp/ directory named by a process (P<pid>) that no longer runs, or older
 * than 36 hours whoever wrote them (maildir(5)). A live process's files —
 * another Roost process delivering right now — are left alone.
 */
export function cleanLeftovers(dir: string, maxAgeMs = LIMITS.store.tmpMaxAgeMs): number {
  let names: string[];
  try {
    names = fs.readdirSync(dir);
  } catch {
    return 0;
  }
  let removed = 0;
  const now = Date.now();
  for (const n of names) {
    if (n.startsWith('maildirsize')) continue;
    const m = /\.M\d+P(\d+)Q\d+\./.exec(n);
    const p = path.join(dir, n);
    try {
      const dead = m !== null && Number(m[1]) !== process.pid && !alive(Number(m[1]));
      if (dead || now - fs.statSync(p).mtimeMs > maxAgeMs) {
        fs.unlinkSync(p);
        removed++;
      }
    } catch {
      // Gone already, or a directory: not ours to remove.
    }
  }
  return removed;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}
