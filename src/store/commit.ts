/**
 * Group commit (issue 2 benchmark; STYLE.md habit 6). Every change is a job:
 *
 *   build()        sync, in commit order: allocate UIDs/modseqs, return records
 *   journal        one SQLite transaction (WAL, synchronous=FULL) for the whole batch,
 *                  while the new message files are fdatasync'd in parallel (dataSync)
 *   afterJournal() sync: make files visible (rename tmp/ → new/), return dirs to fsync
 *   fsync dirs     each distinct directory once per batch, in parallel
 *   finish()       sync: index update, caches, events; the job's promise resolves
 *
 * Jobs that arrive while a batch is being flushed wait for the next batch, so
 * N concurrent deliveries share one journal fsync and one fsync per directory
 * instead of N. No fsync is skipped: every job's promise resolves only after
 * the fsyncs that cover it. When deliveries are still being prepared (spool
 * fsync, links) the flush waits up to LIMITS.store.groupCommitMaxWaitMs for
 * them to join.
 */
import { LIMITS } from '../limits.js';
import type { JournalRecord } from './types.js';
import type { Journal, RecordDraft } from './index/journal.js';
import { fsyncDir } from './maildir/save.js';
import { beginIndexBatch, endIndexBatch } from './index/db.js';

export interface CommitJob<T> {
  build(): RecordDraft[];
  /**
   * Make the job's new file data durable (fdatasync). Runs in the thread
   * pool while the journal commits; afterJournal() only runs once it is done.
   */
  dataSync?(): Promise<void>;
  afterJournal?(records: readonly JournalRecord[]): readonly string[] | Promise<readonly string[]>;
  finish(records: readonly JournalRecord[]): T;
  /** The job failed before its records were committed: undo its preparations. */
  abort?(err: unknown): void;
}

interface Queued {
  job: CommitJob<unknown>;
  resolve: (v: unknown) => void;
  reject: (e: unknown) => void;
}

export class GroupCommitter {
  private queue: Queued[] = [];
  private flushing = false;
  private scheduled = false;
  private preparingCount = 0;
  private wake: (() => void) | null = null;
  private idleWaiters: (() => void)[] = [];
  /** Batches past their journal commit whose finish has not run yet. */
  private outstanding = 0;
  private tail: Promise<void> = Promise.resolve();
  /** Batches flushed and jobs committed (for tests and metrics). */
  stats = { batches: 0, jobs: 0 };

  constructor(
    private readonly journal: Journal,
    private readonly epoch: () => number,
    private readonly onRecords: (records: readonly JournalRecord[]) => void,
  ) {}

  /** A delivery is being prepared and will submit soon (lets the flush wait for it briefly). */
  preparing(): () => void {
    this.preparingCount++;
    let done = false;
    return () => {
      if (done) return;
      done = true;
      this.preparingCount--;
      if (this.preparingCount === 0) this.wake?.();
    };
  }

  submit<T>(job: CommitJob<T>): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ job: job as CommitJob<unknown>, resolve: resolve as (v: unknown) => void, reject });
      this.schedule();
    });
  }

  /** Resolves when nothing is queued or flushing. */
  idle(): Promise<void> {
    if (!this.flushing && !this.scheduled && this.queue.length === 0 && this.outstanding === 0) return Promise.resolve();
    return new Promise((r) => this.idleWaiters.push(r));
  }

  private schedule(): void {
    if (this.flushing || this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => void this.flush());
  }

  private async waitForPreparers(): Promise<void> {
    if (this.preparingCount === 0 || LIMITS.store.groupCommitMaxWaitMs <= 0) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(done, LIMITS.store.groupCommitMaxWaitMs);
      const self = this;
      function done(): void {
        clearTimeout(t);
        self.wake = null;
        resolve();
      }
      this.wake = done;
    });
  }

  private async flush(): Promise<void> {
    this.scheduled = false;
    this.flushing = true;
    try {
      await this.waitForPreparers();
      const batch = this.queue.splice(0);
      if (batch.length > 0) await this.run(batch);
    } finally {
      this.flushing = false;
      if (this.queue.length > 0) this.schedule();
      else if (this.outstanding === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * Phase A (this call): build, journal + data fsyncs, renames. Phase B
   * (chained on `tail`): directory fsyncs, then finish() in batch order. The
   * next batch's phase A may start while this one's directory fsyncs run, so
   * the journal fsync of one batch overlaps the directory fsyncs of the
   * previous; finishes (index, events, promises) stay in LSN order.
   */
  private async run(batch: Queued[]): Promise<void> {
    const live: Live[] = [];
    for (const q of batch) {
      try {
        live.push({ q, drafts: q.job.build(), records: [], dirs: [], failed: null });
      } catch (err) {
        safeAbort(q.job, err);
        q.reject(err);
      }
    }
    if (live.length === 0) return;
    // Start the data fsyncs first: they run in the thread pool while the
    // journal commit (synchronous, on this thread) waits for its own fsync.
    const syncs = live.map((l) => (l.q.job.dataSync ? l.q.job.dataSync() : null));
    let all: JournalRecord[];
    try {
      all = live.some((l) => l.drafts.length > 0) ? this.journal.append(live.flatMap((l) => l.drafts), this.epoch()) : [];
    } catch (err) {
      await Promise.allSettled(syncs.map((p) => p ?? Promise.resolve()));
      for (const l of live) {
        safeAbort(l.q.job, err);
        l.q.reject(err);
      }
      return;
    }
    const synced = await Promise.allSettled(syncs.map((p) => p ?? Promise.resolve()));
    let i = 0;
    const after: Promise<void>[] = [];
    for (const [k, l] of live.entries()) {
      l.records = all.slice(i, i + l.drafts.length);
      i += l.drafts.length;
      const s = synced[k]!;
      if (s.status === 'rejected') {
        // Journaled but not durable: nothing is made visible; replay at the
        // next open checks the tmp/ file's size before using it.
        l.failed = s.reason;
        continue;
      }
      after.push(
        (async () => {
          try {
            l.dirs = (await l.q.job.afterJournal?.(l.records)) ?? [];
          } catch (err) {
            l.failed = err;
          }
        })(),
      );
    }
    await Promise.all(after);
    const dirs = [...new Set(live.flatMap((l) => l.dirs))];
    const dirSynced = Promise.allSettled(dirs.map((d) => fsyncDir(d)));
    const prev = this.tail;
    this.outstanding++;
    this.tail = (async () => {
      const res = await dirSynced;
      await prev;
      const failedDirs = new Set(dirs.filter((_d, k) => res[k]!.status === 'rejected'));
      this.finishBatch(live, failedDirs, all);
    })().finally(() => {
      this.outstanding--;
      if (this.outstanding === 0 && !this.flushing && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  private finishBatch(live: Live[], failedDirs: Set<string>, all: JournalRecord[]): void {
    beginIndexBatch();
    try {
      this.finishJobs(live, failedDirs);
    } finally {
      endIndexBatch();
    }
    this.stats.batches++;
    this.stats.jobs += live.length;
    if (all.length > 0) this.onRecords(all);
  }

  /** Promises resolve after endIndexBatch() commits (their callbacks run later, as microtasks). */
  private finishJobs(live: Live[], failedDirs: Set<string>): void {
    for (const l of live) {
      const dirErr = l.dirs.find((d) => failedDirs.has(d));
      if (l.failed === null && dirErr !== undefined) l.failed = new Error(`fsync ${dirErr} failed`);
      if (l.failed !== null) {
        l.q.reject(l.failed);
        continue;
      }
      try {
        l.q.resolve(l.q.job.finish(l.records));
      } catch (err) {
        l.q.reject(err);
      }
    }
  }
}

interface Live {
  q: Queued;
  drafts: RecordDraft[];
  records: JournalRecord[];
  dirs: readonly string[];
  failed: unknown;
}

function safeAbort(job: CommitJob<unknown>, err: unknown): void {
  try {
    job.abort?.(err);
  } catch {
    // Cleanup is best effort; recovery at the next open removes leftovers.
  }
}
