/**
 * Writing message files (protocols.md §3.1): the spool draft, and placing a
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
import type { Draft, DraftOptions } from '../store.js';

/** Bytes kept in memory for the MIME parser when the message is small; larger ones are read back. */
const KEEP_IN_MEMORY = 512 * 1024;
/** Writes are coalesced into chunks of this size (fewer syscalls for many small network reads). */
const WRITE_CHUNK = 64 * 1024;

export class SpoolDraft implements Draft {
  size = 0;
  /** Size with every bare LF counted as CRLF (Maildir W=, RFC822.SIZE). */
  vsize = 0;
  finished = false;
  private discarded = false;
  private bodyBytes = 0;
  private lastCr = false;
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  private kept: Buffer[] | null = [];
  private fh: fsp.FileHandle | null;
  private failure: Error | null = null;

  private constructor(
    readonly path: string,
    fh: fsp.FileHandle,
    private readonly maxSize: number,
  ) {
    this.fh = fh;
  }

  static async create(spoolDir: string, name: string, opts: DraftOptions = {}): Promise<SpoolDraft> {
    const file = path.join(spoolDir, name);
    let fh: fsp.FileHandle;
    try {
      fh = await fsp.open(file, 'wx', 0o600);
    } catch (err) {
      throw tempFromOs(err, 'spool open');
    }
    const d = new SpoolDraft(file, fh, opts.maxSize ?? 0);
    if (opts.prefix && opts.prefix.length > 0) d.account(opts.prefix, false);
    return d;
  }

  async write(chunk: Buffer): Promise<void> {
    if (this.finished || this.discarded) throw new RoostError('TEMP', 'draft is closed');
    if (this.failure) throw this.failure;
    this.account(chunk, true);
    if (this.maxSize > 0 && this.bodyBytes > this.maxSize) {
      this.failure = new RoostError('TOOBIG', `message larger than ${this.maxSize} bytes`);
      throw this.failure;
    }
    if (this.pendingBytes >= WRITE_CHUNK) await this.flush();
  }

  async finish(): Promise<void> {
    if (this.finished) return;
    if (this.discarded) throw new RoostError('TEMP', 'draft was discarded');
    if (this.failure) throw this.failure;
    await this.flush();
    try {
      // fdatasync covers the data and the size (what a reader needs); the
      // directory entries that make it visible are fsync'd at commit.
      await this.fh!.datasync();
      await this.fh!.close();
      this.fh = null;
    } catch (err) {
      throw tempFromOs(err, 'spool fsync');
    }
    this.finished = true;
  }

  async discard(): Promise<void> {
    if (this.discarded) return;
    this.discarded = true;
    this.kept = null;
    this.pending = [];
    const fh = this.fh;
    this.fh = null;
    await fh?.close().catch(() => undefined);
    await fsp.unlink(this.path).catch(() => undefined);
  }

  /** The message bytes: from memory when small, else read back from the spool file. */
  async content(): Promise<Buffer> {
    if (this.kept) return Buffer.concat(this.kept, this.size);
    return fsp.readFile(this.path);
  }

  private account(chunk: Buffer, body: boolean): void {
    let bare = 0;
    let idx = chunk.indexOf(10);
    while (idx >= 0) {
      const prevCr = idx === 0 ? this.lastCr : chunk[idx - 1] === 13;
      if (!prevCr) bare++;
      idx = chunk.indexOf(10, idx + 1);
    }
    if (chunk.length > 0) this.lastCr = chunk[chunk.length - 1] === 13;
    this.size += chunk.length;
    this.vsize += chunk.length + bare;
    if (body) this.bodyBytes += chunk.length;
    // Copy: callers may reuse their buffers after write() resolves.
    const copy = Buffer.from(chunk);
    this.pending.push(copy);
    this.pendingBytes += copy.length;
    if (this.kept) {
      if (this.size <= KEEP_IN_MEMORY) this.kept.push(copy);
      else this.kept = null;
    }
  }

  private async flush(): Promise<void> {
    if (this.pendingBytes === 0) return;
    const buf = this.pending.length === 1 ? this.pending[0]! : Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    try {
      let off = 0;
      while (off < buf.length) {
        const { bytesWritten } = await this.fh!.write(buf, off, buf.length - off);
        off += bytesWritten;
      }
    } catch (err) {
      this.failure = tempFromOs(err, 'spool write');
      throw this.failure;
    }
  }
}

/**
 * Put the spool file at `dest` (a Maildir tmp/ path): hard link, or copy and
 * fsync when the Maildir is on another filesystem.
 */
export async function placeInTmp(spoolFile: string, dest: string): Promise<void> {
  try {
    await fsp.link(spoolFile, dest);
    return;
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

/** Create cur/ new/ tmp/ (and `maildirfolder` for a Maildir++ folder) if missing. */
export function ensureMaildir(dir: string, isFolder: boolean): void {
  for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
  if (isFolder) {
    const marker = path.join(dir, 'maildirfolder');
    if (!fs.existsSync(marker)) fs.writeFileSync(marker, '', { mode: 0o600 });
  }
}
