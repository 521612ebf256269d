/**
 * Group commit (issue 2 benchmark; STYLE.md habit 6). Every change is a job:
 *
 *   build()        sync, in commit order: allocate UIDs/modseqs, return records
 *   journal        one SQLite transaction (WAL, synchronous=FULL) for the whole batch
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

export interface CommitJob<T> {
  build(): RecordDraft[];
  afterJournal?(records: readonly JournalRecord[]): readonly string[];
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
    if (!this.flushing && this.queue.length === 0) return Promise.resolve();
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
      else for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async run(batch: Queued[]): Promise<void> {
    const live: { q: Queued; drafts: RecordDraft[]; records: JournalRecord[]; dirs: readonly string[]; failed: unknown }[] = [];
    for (const q of batch) {
      try {
        live.push({ q, drafts: q.job.build(), records: [], dirs: [], failed: null });
      } catch (err) {
        safeAbort(q.job, err);
        q.reject(err);
      }
    }
    if (live.length === 0) return;
    let all: JournalRecord[];
    try {
      all = live.some((l) => l.drafts.length > 0) ? this.journal.append(live.flatMap((l) => l.drafts), this.epoch()) : [];
    } catch (err) {
      for (const l of live) {
        safeAbort(l.q.job, err);
        l.q.reject(err);
      }
      return;
    }
    let i = 0;
    for (const l of live) {
      l.records = all.slice(i, i + l.drafts.length);
      i += l.drafts.length;
      try {
        l.dirs = l.q.job.afterJournal?.(l.records) ?? [];
      } catch (err) {
        l.failed = err;
      }
    }
    const dirs = new Set<string>();
    for (const l of live) for (const d of l.dirs) dirs.add(d);
    const synced = await Promise.allSettled([...dirs].map((d) => fsyncDir(d)));
    const failedDirs = new Set([...dirs].filter((_d, k) => synced[k]!.status === 'rejected'));
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
    this.stats.batches++;
    this.stats.jobs += live.length;
    if (all.length > 0) this.onRecords(all);
  }
}

function safeAbort(job: CommitJob<unknown>, err: unknown): void {
  try {
    job.abort?.(err);
  } catch {
    // Cleanup is best effort; recovery at the next open removes leftovers.
  }
}
