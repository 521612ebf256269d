/**
 * Bounded journal history (replication.journal_max_bytes): the
 * journal is kept until acked, bounded by config; beyond the bound the
 * replica is marked for full resync.
 *
 * The journal is the commit point, the replication stream, the source of
 * crash replay for per-account indexes and of QRESYNC's expunge history. It
 * grows with every change, so once the pages in use pass the bound the
 * oldest records are deleted until journal_max_bytes × journalKeepFraction
 * remain. What must survive pruning:
 *
 *  - records an account's index has not applied yet (crash replay reads them
 *    from applied_lsn): pruning stops below the lowest such record;
 *  - records a snapshot being sent still needs (pin()): the stream that
 *    follows a snapshot starts at the pinned LSN;
 *  - a replica's unacknowledged records are NOT protected beyond the bound:
 *    a replica that falls further behind than the bound is served a full
 *    resync (snapshot) when it next connects, and the primary says so.
 *
 * Expunge history that goes is summarised per account in the journal's
 * expunge floor (./log.ts), so QRESYNC falls back to a complete,
 * if longer, VANISHED answer instead of a wrong one.
 */
import { LIMITS } from '../../limits.js';
import type { AccountState } from '../account.js';
import type { Journal } from './log.js';

export interface JournalStatus {
  /** Lowest LSN still held (0: none held). */
  firstLsn: bigint;
  lastLsn: bigint;
  usedBytes: number;
  maxBytes: number;
  /** Records deleted by pruning since this process started. */
  pruned: number;
}

export class JournalKeeper {
  private readonly pins = new Map<number, bigint>();
  private nextPin = 1;
  private sinceCheck = 0;
  private running: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private prunedTotal = 0;

  /** Records between size checks: journalCheckEveryRecords, fewer for a small bound (a record is a few hundred bytes). */
  private readonly checkEvery: number;

  constructor(
    private readonly store: { readonly journal: Journal; stateById(id: string): AccountState | null },
    readonly maxBytes: number,
    private readonly log: (msg: string, fields: Record<string, unknown>) => void,
  ) {
    this.checkEvery = Math.max(8, Math.min(LIMITS.store.journalCheckEveryRecords, Math.floor(maxBytes / 8192)));
  }

  start(): void {
    if (this.timer) return;
    this.timer = setInterval(() => this.check(), LIMITS.store.journalCheckMs);
    this.timer.unref();
  }

  stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = null;
    return this.running ?? Promise.resolve();
  }

  /** Keep every record above `lsn` until the returned function is called. */
  pin(lsn: bigint): () => void {
    const id = this.nextPin++;
    this.pins.set(id, lsn);
    return () => {
      this.pins.delete(id);
    };
  }

  /**
   * Counted after each commit; a size check runs every `checkEvery` records,
   * so the journal exceeds the bound by at most that many records between checks.
   */
  noteRecords(n: number): void {
    this.sinceCheck += n;
    if (this.sinceCheck >= this.checkEvery) this.check();
  }

  status(): JournalStatus {
    const j = this.store.journal;
    return { firstLsn: j.firstLsn(), lastLsn: j.lastLsn(), usedBytes: j.usedBytes(), maxBytes: this.maxBytes, pruned: this.prunedTotal };
  }

  /** Check the bound now (one check at a time); resolves when any pruning it started is done. */
  check(): Promise<void> {
    this.sinceCheck = 0;
    this.running ??= this.pruneIfOver()
      .catch((err: unknown) => this.log('store: journal pruning failed', { err: (err as Error).message }))
      .finally(() => {
        this.running = null;
      });
    return this.running;
  }

  private async pruneIfOver(): Promise<void> {
    const j = this.store.journal;
    const used = j.usedBytes();
    if (used <= this.maxBytes) return;
    const first = j.firstLsn();
    const last = j.refreshLastLsn();
    if (first === 0n) return;
    // Records are of similar size: drop the oldest share that leaves keepFraction of the bound.
    const keep = (LIMITS.store.journalKeepFraction * this.maxBytes) / used;
    const span = Number(last - first + 1n);
    let target = first - 1n + BigInt(Math.ceil(span * (1 - keep)));
    let heldBy = 'size';
    for (const p of this.pins.values()) {
      if (p < target) {
        target = p;
        heldBy = 'snapshot';
      }
    }
    for (const { account, last: lastOfAccount } of j.accountsUpTo(target)) {
      const st = this.store.stateById(account);
      if (!st) continue; // no account row: nothing will ever replay these
      const applied = st.db().appliedLsn();
      if (applied < lastOfAccount && applied < target) {
        target = applied;
        heldBy = `index of ${account}`;
      }
    }
    if (target < first) {
      this.log('store: journal over journal_max_bytes but nothing can be pruned yet', { usedBytes: used, maxBytes: this.maxBytes, heldBy });
      return;
    }
    let deleted = 0;
    for (let from = first - 1n; from < target; ) {
      const to = from + BigInt(LIMITS.store.journalPruneChunk) < target ? from + BigInt(LIMITS.store.journalPruneChunk) : target;
      deleted += j.prune(from, to);
      from = to;
      await new Promise((r) => setImmediate(r));
    }
    this.prunedTotal += deleted;
    this.log('store: journal pruned to stay within journal_max_bytes', {
      deleted,
      firstLsn: (target + 1n).toString(),
      lastLsn: last.toString(),
      usedBytesBefore: used,
      usedBytesAfter: j.usedBytes(),
      maxBytes: this.maxBytes,
    });
  }
}
