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
  }

  /** `db` committed a write transaction. */
  committed(db: CheckpointedDb): void {
    const n = this.tracked.get(db);
    if (n === undefined) return;
    if (n + 1 < LIMITS.store.walCheckpointCommits || this.inFlight.has(db.file)) {
      this.tracked.set(db, n + 1);
      return;
    }
    const w = this.start();
    if (!w) return;
    this.tracked.set(db, 0);
    this.inFlight.add(db.file);
    this.stats.requested++;
    w.postMessage(db.file);
  }

  /** Resolves when no checkpoint is in flight (tests). */
  idle(): Promise<void> {
    if (this.inFlight.size === 0) return Promise.resolve();
    return new Promise((r) => this.waiters.push(r));
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
    this.wake();
  }

  private wake(): void {
    if (this.inFlight.size > 0) return;
    for (const w of this.waiters.splice(0)) w();
  }
}

/** One worker for every index and the journal of the process. */
export const walCheckpoints = new Checkpointer();
