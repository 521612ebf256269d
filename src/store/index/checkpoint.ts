/**
 * WAL checkpoints of the account indexes and the journal off the event loop
 * (issue 16 §6).
 *
 * SQLite checkpoints a WAL database by itself once a commit leaves 1,000
 * pages in the WAL, in the committing call: with synchronous=NORMAL that is
 * an fsync of the WAL, the pages copied into the database and an fsync of
 * the database, all on the thread that committed — here the event loop, so
 * every session waited 10–30 ms behind it about every hundred APPENDs (an
 * APPEND's index commit writes some ten pages), which was APPEND's p99.
 *
 * The journal (a few pages per commit) did the same every ~200 APPENDs.
 *
 * So such a connection turns the automatic checkpoint off and counts its
 * commits; every LIMITS.store.walCheckpointCommits commits a worker
 * thread opens its own connection to the file and runs a PASSIVE checkpoint
 * (sqlite.org/wal.html#ckpt: any connection may checkpoint; PASSIVE never
 * blocks or waits for the writer). The checkpoint is SQLite's own, with its
 * own syncs in their order, so nothing about durability changes: only the
 * thread that waits for the disk. If the worker cannot run (it failed to
 * start or died), every index goes back to SQLite's automatic checkpoint.
 *
 * Off the event loop is not off the disk: the checkpoint writes the pages
 * of a hundred commits into the database file and fsyncs it, and an APPEND
 * whose message, directory and WAL syncs were issued meanwhile waits behind
 * those writes in the device queue and the filesystem journal (issue 16 §6,
 * APPEND p99). So a checkpoint that is due waits for a pause: it is asked
 * of the worker once no tracked connection has committed for
 * LIMITS.store.walCheckpointQuietMs, or at the latest when its connection
 * reaches LIMITS.store.walCheckpointMaxCommits commits without one (which
 * bounds the WAL under a load that never pauses).
 */
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { LIMITS } from '../../limits.js';

/** What the worker runs: one short-lived connection per request, so nothing stays open on a file the main thread closed. */
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.sqlite);
parentPort.on('message', (file) => {
  let db = null;
  try {
    db = new Database(file, { fileMustExist: true });
    db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ file, error: null });
  } catch (err) {
    parentPort.postMessage({ file, error: String(err && err.message ? err.message : err) });
  } finally {
    if (db && db.open) db.close();
  }
});
`;

/** A connection whose checkpoints this module runs. */
export interface CheckpointedDb {
  readonly file: string;
  /** SQLite's automatic checkpoint on (true) or off, on this connection. */
  autoCheckpoint(on: boolean): void;
}

class Checkpointer {
  private worker: Worker | null = null;
  private failed = false;
  /** Commits since the last checkpoint asked for, per connection. */
  private readonly tracked = new Map<CheckpointedDb, number>();
  /** Files with a checkpoint in the worker now (one at a time per file). */
  private readonly inFlight = new Set<string>();
  /** Connections past walCheckpointCommits whose checkpoint waits for a pause in the commits. */
  private readonly due = new Set<CheckpointedDb>();
  /** When a tracked connection last committed (performance.now()). */
  private lastCommit = 0;
  /** Looks for the pause the due checkpoints wait for. */
  private timer: NodeJS.Timeout | null = null;
  /** Checkpoints asked of the worker and finished by it (tests, metrics). */
  readonly stats = { requested: 0, done: 0, failed: 0 };
  private waiters: (() => void)[] = [];

  /** Take over `db`'s checkpoints (its automatic checkpoint goes off while the worker can run). */
  track(db: CheckpointedDb): void {
    if (this.failed) return;
    db.autoCheckpoint(false);
    this.tracked.set(db, 0);
  }

  /** `db` is being closed: forget it (a checkpoint already asked for still runs on its own connection). */
  untrack(db: CheckpointedDb): void {
    this.tracked.delete(db);
    if (this.due.delete(db)) this.wake();
  }

  /** `db` committed a write transaction. */
  committed(db: CheckpointedDb): void {
    const n = this.tracked.get(db);
    if (n === undefined) return;
    this.lastCommit = performance.now();
    this.tracked.set(db, n + 1);
    if (n + 1 < LIMITS.store.walCheckpointCommits || this.inFlight.has(db.file)) return;
    if (n + 1 >= LIMITS.store.walCheckpointMaxCommits) {
      this.due.delete(db);
      this.request(db);
      return;
    }
    this.due.add(db);
    this.armQuiet();
  }

  /** Resolves when no checkpoint is in flight or waiting for a pause (tests). */
  idle(): Promise<void> {
    if (this.inFlight.size === 0 && this.due.size === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
  }

  private request(db: CheckpointedDb): void {
    const w = this.start();
    if (!w) return;
    this.tracked.set(db, 0);
    this.inFlight.add(db.file);
    this.stats.requested++;
    w.postMessage(db.file);
  }

  /** Check for the pause once walCheckpointQuietMs after the last commit. */
  private armQuiet(): void {
    if (this.timer || this.due.size === 0) return;
    const wait = Math.max(0, this.lastCommit + LIMITS.store.walCheckpointQuietMs - performance.now());
    this.timer = setTimeout(() => {
      this.timer = null;
      if (performance.now() - this.lastCommit < LIMITS.store.walCheckpointQuietMs) {
        this.armQuiet();
        return;
      }
      const due = [...this.due];
      this.due.clear();
      for (const db of due) if (this.tracked.has(db) && !this.inFlight.has(db.file)) this.request(db);
      this.wake();
    }, wait);
    // Never what keeps a process (a CLI tool, a test) alive.
    this.timer.unref();
  }

  private start(): Worker | null {
    if (this.worker || this.failed) return this.worker;
    try {
      const sqlite = createRequire(import.meta.url).resolve('better-sqlite3');
      const w = new Worker(WORKER_SOURCE, { eval: true, workerData: { sqlite } });
      // Never what keeps a process (a CLI tool, a test) alive.
      w.unref();
      w.on('message', (m: { file: string; error: string | null }) => this.done(m.file, m.error));
      w.on('error', () => this.fail());
      w.on('exit', () => this.fail());
      this.worker = w;
    } catch {
      this.fail();
    }
    return this.worker;
  }

  private done(file: string, error: string | null): void {
    this.inFlight.delete(file);
    if (error === null) this.stats.done++;
    else this.stats.failed++;
    this.wake();
  }

  /** The worker is gone: SQLite checkpoints every index itself again, as without this module. */
  private fail(): void {
    if (this.failed) return;
    this.failed = true;
    this.worker = null;
    for (const db of this.tracked.keys()) db.autoCheckpoint(true);
    this.tracked.clear();
    this.inFlight.clear();
    this.due.clear();
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.wake();
  }

  private wake(): void {
    if (this.inFlight.size > 0 || this.due.size > 0) return;
    for (const w of this.waiters.splice(0)) w();
  }
}

/** One worker for every index and the journal of the process. */
export const walCheckpoints = new Checkpointer();
