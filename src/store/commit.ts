/**
 * Group commit. Every change is a job:
 *
 *   build()        sync, in commit order: allocate UIDs/modseqs, return records
 *   journal        one SQLite transaction for the whole batch (committed, not yet synced)
 *   dataSync()     the new files' data, in the thread pool (started by the job, beside the journal)
 *   afterJournal() once the job's data is synced: rename tmp/ → new/, return dirs to fsync
 *   fsyncs         at once, in the thread pool: the journal's WAL (shared by
 *                  concurrent batches, running since the journal commit), each
 *                  distinct directory (shared too)
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
import type { Journal, RecordDraft } from './journal/log.js';
import { fsyncDir } from './maildir/save.js';
import { beginIndexBatch, endIndexBatch } from './index/db.js';

export interface CommitJob<T> {
  /**
   * The accounts the job's records will name, checked against the committer's
   * refusal before build() allocates UIDs or modseqs (a frozen account must
   * not change at all). The records are checked again after build().
   */
  accounts?: readonly string[];
  /**
   * The store's own bookkeeping of a rebuild (store/facts.ts journaling the
   * rows a rebuild wrote): not refused while that account's index is being
   * rebuilt, only while it is frozen.
   */
  rebuildWork?: boolean;
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
  /** Phase A of the batch being flushed now (it chains its phase B on `tail` before it resolves). */
  private running: Promise<void> | null = null;
  /** Called once after the next batch's finish (or failure) and then forgotten. */
  private batchWaiters: (() => void)[] = [];
  private readonly dirSyncs = new SharedSync((d) => fsyncDir(d));
  /** Batches flushed and jobs committed (for tests and metrics). */
  stats = { batches: 0, jobs: 0 };

  constructor(
    private readonly journal: Journal,
    private readonly epoch: () => number,
    private readonly onRecords: (records: readonly JournalRecord[]) => void,
    /** Records committed and their files renamed into place, before any fsync is awaited (replication ships from here). */
    private readonly onCommitted: (records: readonly JournalRecord[]) => void = () => undefined,
    /** Why a record naming this account may not be committed now (an account being moved, ./freezer.ts), or null. */
    private readonly refusal: (accountId: string, rebuildWork: boolean) => Error | null = () => null,
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

  /**
   * Resolves once every batch that has begun committing (past its refusal
   * check) has finished: its index updates are applied and its jobs settled.
   * Jobs still queued, and batches begun later, are not waited for: a job
   * naming a frozen account is refused when its batch begins (`refusal`), so
   * after a freeze this is the moment the account's index stops changing.
   */
  async inFlight(): Promise<void> {
    if (this.running) await this.running.catch(() => undefined);
    await this.tail.catch(() => undefined);
  }

  /** Resolves after the next batch finishes (a wait for the index to move on, without a timer). */
  nextBatch(): Promise<void> {
    return new Promise((r) => this.batchWaiters.push(r));
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
      if (batch.length > 0) {
        this.running = this.run(batch);
        await this.running;
      }
    } finally {
      this.running = null;
      this.flushing = false;
      if (this.queue.length > 0) this.schedule();
      else if (this.outstanding === 0) for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  /**
   * Phase A (this call, holds `flushing`): build, commit the journal
   * transaction (no fsync: see ./journal/log.ts), start the fsyncs, rename
   * tmp/ → new/. Phase B (chained on `tail`): wait for the journal's WAL
   * fdatasync, the data fdatasyncs and the directory fsyncs, which all run
   * at once in the thread pool; then finish() in batch order. The next
   * batch's phase A may run while this one's fsyncs are in flight; the
   * journal and directory syncs are shared between such batches.
   *
   * Invariant (what K / OK means): a job resolves only after (1) its records
   * are committed and the WAL holding them is fdatasync'd, (2) the message
   * data is fdatasync'd, (3) the directories holding the new names are
   * fsync'd after the renames. Renaming before (1) completes is safe:
   *  - kill -9: the commit is already in the page cache (SQLite recovers it
   *    at the next open) and so is the rename, so both or neither survive
   *    exactly as before;
   *  - power loss after the rename reached the disk but before the WAL
   *    frames did: the file sits in new/ with no journal record; the next
   *    open's reconcile indexes it as a message found in the Maildir. Nothing
   *    acknowledged is lost and nothing is removed; the client got no K and
   *    may send it again, the same outcome as a crash between the commit and
   *    the K (documented in ./store-impl.ts). On ext4 the rename and the WAL
   *    append share the filesystem journal, so the WAL fdatasync commits
   *    both together in practice.
   */
  private async run(batch: Queued[]): Promise<void> {
    const live: Live[] = [];
    for (const q of batch) {
      try {
        const rebuildWork = q.job.rebuildWork === true;
        for (const id of q.job.accounts ?? []) {
          const refused = this.refusal(id, rebuildWork);
          if (refused) throw refused;
        }
        const drafts = q.job.build();
        for (const d of drafts) {
          const refused = this.refusal(d.accountId, rebuildWork);
          if (refused) throw refused;
        }
        live.push({ q, drafts, records: [], dirs: [], failed: null });
      } catch (err) {
        safeAbort(q.job, err);
        q.reject(err);
      }
    }
    if (live.length === 0) return;
    let all: JournalRecord[];
    try {
      all = live.some((l) => l.drafts.length > 0) ? this.journal.appendCommitted(live.flatMap((l) => l.drafts), this.epoch()) : [];
    } catch (err) {
      for (const l of live) {
        safeAbort(l.q.job, err);
        l.q.reject(err);
      }
      return;
    }
    const walSynced = all.length > 0 ? this.journal.durable() : Promise.resolve();
    const syncs = live.map((l) => (l.q.job.dataSync ? l.q.job.dataSync() : Promise.resolve()));
    const synced = Promise.allSettled(syncs);
    let i = 0;
    const after: Promise<void>[] = [];
    for (const [k, l] of live.entries()) {
      l.records = all.slice(i, i + l.drafts.length);
      i += l.drafts.length;
      after.push(
        (async () => {
          try {
            // maildir(5): a file's data is on disk before its name appears in new/ or cur/, so a
            // crash never leaves a visible name over data the disk did not keep. A failed sync
            // fails the job (below) without the rename.
            await syncs[k];
            l.dirs = (await l.q.job.afterJournal?.(l.records)) ?? [];
          } catch (err) {
            l.failed = err;
          }
        })(),
      );
    }
    await Promise.all(after);
    // Shipping may start now, in parallel with the local fsyncs (DRBD protocol C writes both
    // disks at once); a client still hears OK only after both (gate.waitFor after finish).
    if (all.length > 0) this.onCommitted(all);
    const dirs = [...new Set(live.flatMap((l) => l.dirs))];
    const dirSynced = Promise.allSettled(dirs.map((d) => this.dirSyncs.sync(d)));
    const prev = this.tail;
    this.outstanding++;
    this.tail = (async () => {
      const [wal, data, dirRes] = await Promise.all([walSynced.then(() => null, (e: unknown) => e), synced, dirSynced]);
      await prev;
      live.forEach((l, k) => {
        const s = data[k]!;
        if (l.failed === null && s.status === 'rejected') l.failed = s.reason;
        if (l.failed === null && wal !== null && l.drafts.length > 0) l.failed = wal;
      });
      const failedDirs = new Set(dirs.filter((_d, k) => dirRes[k]!.status === 'rejected'));
      this.finishBatch(live, failedDirs, all);
    })().finally(() => {
      this.outstanding--;
      if (this.outstanding === 0 && !this.flushing && this.queue.length === 0) for (const w of this.idleWaiters.splice(0)) w();
    });
  }

  private finishBatch(live: Live[], failedDirs: Set<string>, all: JournalRecord[]): void {
    try {
      beginIndexBatch();
      try {
        this.finishJobs(live, failedDirs);
      } finally {
        endIndexBatch();
      }
      this.stats.batches++;
      this.stats.jobs += live.length;
      if (all.length > 0) this.onRecords(all);
    } finally {
      for (const w of this.batchWaiters.splice(0)) w();
    }
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

/**
 * fsync of a key (a directory) shared by concurrent callers: a call made
 * while one runs waits for the following one, which starts after the
 * running one ends and so covers every change made before the call.
 */
export class SharedSync {
  private readonly running = new Map<string, Promise<void>>();
  private readonly waiting = new Map<string, Promise<void>>();

  constructor(private readonly doSync: (key: string) => Promise<void>) {}

  sync(key: string): Promise<void> {
    const cur = this.running.get(key);
    if (!cur) return this.start(key);
    let next = this.waiting.get(key);
    if (!next) {
      const again = (): Promise<void> => {
        this.waiting.delete(key);
        return this.start(key);
      };
      next = cur.then(again, again);
      this.waiting.set(key, next);
    }
    return next;
  }

  private start(key: string): Promise<void> {
    const p: Promise<void> = this.doSync(key).finally(() => {
      if (this.running.get(key) === p) this.running.delete(key);
    });
    this.running.set(key, p);
    return p;
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
