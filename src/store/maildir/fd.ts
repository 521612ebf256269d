/**
 * File I/O on plain descriptors with callbacks. For the many small files a
 * mail store reads and writes (one per message), this costs noticeably less
 * main-thread time than FileHandle promises or streams: each step is one
 * libuv request, nothing else.
 */
import fs from 'node:fs';

export const fdOpen = (file: string, flags: string = 'r', mode = 0o600): Promise<number> =>
  new Promise((resolve, reject) => fs.open(file, flags, mode, (err, fd) => (err ? reject(err) : resolve(fd))));
export const fdStat = (fd: number): Promise<fs.Stats> => new Promise((resolve, reject) => fs.fstat(fd, (err, st) => (err ? reject(err) : resolve(st))));
export const fdClose = (fd: number): Promise<void> => new Promise((resolve, reject) => fs.close(fd, (err) => (err ? reject(err) : resolve())));
/**
 * Close a descriptor only read from, without waiting: nothing uses it after
 * this, and a read-only close has no outcome to wait for. The caller's
 * answer does not wait one more thread-pool round trip.
 */
export const fdCloseLater = (fd: number): void => fs.close(fd, () => undefined);
export const fdRead = (fd: number, buf: Buffer, off: number, pos: number): Promise<number> =>
  new Promise((resolve, reject) => fs.read(fd, buf, off, buf.length - off, pos, (err, n) => (err ? reject(err) : resolve(n))));
const fdWrite = (fd: number, buf: Buffer, off: number): Promise<number> =>
  new Promise((resolve, reject) => fs.write(fd, buf, off, buf.length - off, null, (err, n) => (err ? reject(err) : resolve(n))));
const fdDatasync = (fd: number): Promise<void> => new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
const fdTimes = (fd: number, t: Date): Promise<void> => new Promise((resolve, reject) => fs.futimes(fd, t, t, (err) => (err ? reject(err) : resolve())));

/**
 * The whole file. `size` (the message's S= size) saves the fstat: the buffer
 * has one byte more, so reading the whole file ends in a short read, which
 * on a regular file is EOF — no extra read to confirm it. A file longer than
 * the hint is read on to its end.
 */
export async function readWhole(file: string, size?: number): Promise<Buffer> {
  const fd = await fdOpen(file);
  try {
    return await readToEnd(fd, size ?? (await fdStat(fd)).size);
  } finally {
    await fdClose(fd);
  }
}

/** An open file from offset 0 to its end, `size` being the expected length (one read when it is right). */
export async function readToEnd(fd: number, size: number): Promise<Buffer> {
  let buf = Buffer.allocUnsafe(size + 1);
  let got = 0;
  for (;;) {
    const n = await fdRead(fd, buf, got, got);
    got += n;
    if (n === 0 || got < buf.length) return buf.subarray(0, got);
    const bigger = Buffer.allocUnsafe(buf.length * 2);
    buf.copy(bigger);
    buf = bigger;
  }
}

/** Create `file` with `body`, set its mtime (a message's INTERNALDATE), fdatasync it. */
export async function writeDurable(file: string, body: Buffer, mtime: Date): Promise<void> {
  const fd = await fdOpen(file, 'w');
  try {
    for (let off = 0; off < body.length; ) off += await fdWrite(fd, body, off);
    await fdTimes(fd, mtime);
    await fdDatasync(fd);
  } finally {
    await fdClose(fd);
  }
}

/**
 * Make `file` hold the bytes of `body` durably with mtime `mtime`: a buffer
 * is written (writeDurable); a file already fdatasync'd by its writer (the
 * replication spool) is hard-linked — no copy, nothing read — or, on
 * another filesystem (EXDEV), copied by the kernel and fdatasync'd. The
 * source stays where it is.
 */
export async function placeDurable(file: string, body: Buffer | { file: string }, mtime: Date): Promise<void> {
  if (Buffer.isBuffer(body)) return writeDurable(file, body, mtime);
  await fs.promises.rm(file, { force: true });
  try {
    await fs.promises.link(body.file, file);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
    await fs.promises.copyFile(body.file, file);
    const fd = await fdOpen(file, 'r+');
    try {
      await fdDatasync(fd);
    } finally {
      await fdClose(fd);
    }
  }
  await fs.promises.utimes(file, mtime, mtime);
}

/**
 * Replace `file` with `text` so a reader sees the old content or the new,
 * never half of it: written to a tmp name beside it, fsync'd (durable before
 * the name is), then renamed over it. Synchronous: for small control files
 * (Dovecot keywords, subscriptions) written under the caller's lock.
 */
export function replaceFileSync(file: string, text: string): void {
  const tmp = `${file}.roost-${process.pid}`;
  writeSyncedSync(tmp, 'w', text);
  fs.renameSync(tmp, file);
}

/** replaceFileSync() in the thread pool: the fsync does not hold the event loop (and every other session) still. */
export async function replaceFile(file: string, text: string): Promise<void> {
  const tmp = `${file}.roost-${process.pid}`;
  const fd = await fdOpen(tmp, 'w');
  try {
    await new Promise<void>((resolve, reject) => fs.write(fd, text, (err) => (err ? reject(err) : resolve())));
    await new Promise<void>((resolve, reject) => fs.fsync(fd, (err) => (err ? reject(err) : resolve())));
  } finally {
    await fdClose(fd);
  }
  await fs.promises.rename(tmp, file);
}

/** Append `text` to `file` (created 0600 when missing) and fsync it before returning. */
export function appendFileSyncedSync(file: string, text: string): void {
  writeSyncedSync(file, 'a', text);
}

function writeSyncedSync(file: string, flags: 'w' | 'a', text: string): void {
  const fd = fs.openSync(file, flags, 0o600);
  try {
    fs.writeSync(fd, text);
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
}
