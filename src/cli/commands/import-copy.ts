/**
 * The copy step of `roost import ADDRESS MAILDIR`: every file of the source
 * Maildir++ (root and `.Folder` directories, and whatever the old server
 * keeps beside cur/ and new/) except the old server's private state, with
 * the mtime kept (it is the INTERNALDATE).
 *
 * Each file is written under a temporary name (a message in its folder's
 * tmp/, maildir(5), which no reader adopts) and renamed into place once
 * whole, so a run killed at any point leaves only complete files under their
 * real names; a resumed run (`resume`) skips those and copies the rest. With
 * `link`, message files are hard-linked instead (same filesystem; a Maildir
 * message never changes after delivery, maildir(5)) — one atomic step —
 * falling back to a copy across filesystems.
 *
 * The work runs in LIMITS.import.copyWorkers worker threads with synchronous
 * calls, LIMITS.import.copyBatch files per message between threads: a file
 * costs open, fstat, open, read, write, futimes, close, close and rename,
 * and nothing else — no thread-pool round trip and promise per call, no
 * second stat of the source by path (copyFile, stat, utimes took three of
 * each). Nothing is fsync'd per file: the import is acknowledged only at
 * its end, and the caller makes the whole copy durable at once (syncfs).
 */
import fs from 'node:fs/promises';
import path from 'node:path';
import { Worker } from 'node:worker_threads';
import { LIMITS } from '../../limits.js';

export interface CopyOptions {
  /** Names (any level) never carried: another server's index, locks, tmp/. */
  skip: RegExp;
  /** Source paths left out (folders that cannot be carried, --skip-errors). */
  skipped: ReadonlySet<string>;
  link: boolean;
  /** A run that was interrupted: files already under their real names are complete and left alone. */
  resume: boolean;
  /** Called with the number of message files placed in cur/ or new/ (a batch at a time). */
  onMessages: (n: number) => void;
}

/** One file: source, destination, the temporary name it is written under, whether it is a message. */
type Job = [src: string, dst: string, tmp: string, message: boolean];
interface Done {
  linked: number;
  copied: number;
  messages: number;
  /** A link failed with EXDEV: the rest is copied. */
  exdev: boolean;
  error: string | null;
}

const WORKER_SOURCE = `
const fs = require('node:fs');
const { parentPort } = require('node:worker_threads');
let buf = Buffer.allocUnsafe(64 * 1024);
const code = (e) => e && e.code;
function copy(src, tmp, dst) {
  const fi = fs.openSync(src, 'r');
  let fo = -1;
  try {
    const st = fs.fstatSync(fi);
    fo = fs.openSync(tmp, 'w', 0o600);
    if (buf.length < Math.min(st.size, ${LIMITS.import.copyBufferBytes})) buf = Buffer.allocUnsafe(Math.min(st.size, ${LIMITS.import.copyBufferBytes}));
    // To the size fstat gave: a Maildir message never changes after delivery.
    for (let got = 0; got < st.size; ) {
      const n = fs.readSync(fi, buf, 0, Math.min(buf.length, st.size - got), got);
      if (n === 0) break;
      for (let off = 0; off < n; ) off += fs.writeSync(fo, buf, off, n - off);
      got += n;
    }
    fs.futimesSync(fo, st.atime, st.mtime);
  } finally {
    fs.closeSync(fi);
    if (fo >= 0) fs.closeSync(fo);
  }
  fs.renameSync(tmp, dst);
}
parentPort.on('message', ({ jobs, link, resume }) => {
  const out = { linked: 0, copied: 0, messages: 0, exdev: false, error: null };
  try {
    for (const [src, dst, tmp, message] of jobs) {
      if (message) out.messages++;
      if (resume && fs.existsSync(dst)) continue;
      if (message && link && !out.exdev) {
        try {
          fs.linkSync(src, dst);
          out.linked++;
          continue;
        } catch (e) {
          if (code(e) === 'EEXIST') continue;
          if (code(e) !== 'EXDEV') throw e;
          out.exdev = true;
        }
      }
      copy(src, tmp, dst);
      out.copied++;
    }
  } catch (e) {
    out.error = String(e && e.message ? e.message : e);
  }
  parentPort.postMessage(out);
});
`;

export async function copyMaildir(source: string, target: string, o: CopyOptions): Promise<{ linked: number; copied: number }> {
  const counts = { linked: 0, copied: 0 };
  let link = o.link;
  let failed: unknown = null;
  const free = Array.from({ length: LIMITS.import.copyWorkers }, () => new Worker(WORKER_SOURCE, { eval: true }));
  const all = [...free];
  /** Batches in a worker now: at most one per worker. */
  const running = new Set<Promise<void>>();
  const run = (w: Worker, jobs: Job[]): Promise<void> =>
    new Promise<Done>((resolve, reject) => {
      const onError = (err: Error): void => {
        w.off('message', onDone);
        reject(err);
      };
      const onDone = (d: Done): void => {
        w.off('error', onError);
        resolve(d);
      };
      w.once('message', onDone);
      w.once('error', onError);
      w.postMessage({ jobs, link, resume: o.resume });
    }).then(
      (d) => {
        counts.linked += d.linked;
        counts.copied += d.copied;
        if (d.exdev) link = false;
        if (d.error !== null) failed ??= new Error(d.error);
        else o.onMessages(d.messages);
        free.push(w);
      },
      (err: unknown) => {
        failed ??= err;
      },
    );
  const send = async (jobs: Job[]): Promise<void> => {
    while (free.length === 0 && !failed) await Promise.race(running);
    const w = free.pop();
    if (!w || failed) return;
    const p = run(w, jobs).finally(() => running.delete(p));
    running.add(p);
  };
  let batch: Job[] = [];
  const walk = async (src: string, dst: string, tmpDir: string | null): Promise<void> => {
    await fs.mkdir(dst, { recursive: true, mode: 0o700 });
    const entries = await fs.readdir(src, { withFileTypes: true });
    // A folder's message files are written in its own tmp/ (maildir(5)) before they are renamed into cur/ or new/.
    const hasMessages = entries.some((e) => e.isDirectory() && (e.name === 'cur' || e.name === 'new'));
    if (hasMessages) await fs.mkdir(path.join(dst, 'tmp'), { recursive: true, mode: 0o700 });
    for (const e of entries) {
      if (failed) return;
      const s = path.join(src, e.name);
      if (o.skip.test(e.name) || o.skipped.has(s)) continue;
      const d = path.join(dst, e.name);
      if (e.isDirectory()) await walk(s, d, e.name === 'cur' || e.name === 'new' ? path.join(dst, 'tmp') : null);
      else if (e.isFile()) {
        const message = tmpDir !== null && !e.name.startsWith('.');
        // Other files (dovecot-uidlist, subscriptions…) beside themselves, under a name no reader takes.
        batch.push([s, d, message ? path.join(tmpDir, e.name) : `${d}.roost-import-tmp`, message]);
        if (batch.length >= LIMITS.import.copyBatch) {
          const b = batch;
          batch = [];
          await send(b);
        }
      }
    }
  };
  try {
    await walk(source, target, null);
    if (batch.length > 0) await send(batch);
    await Promise.all(running);
  } finally {
    await Promise.all(all.map((w) => w.terminate()));
  }
  if (failed) throw failed;
  return counts;
}
