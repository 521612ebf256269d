/**
 * The replica-acknowledgement gate (ReplicationGate in src/context.ts). Client
 * answers that promise durability — QMQP K, IMAP APPEND/COPY/MOVE OK, POP3
 * QUIT's +OK after deletions — wait on `waitFor(lsn)`.
 *
 * Sync mode is DRBD protocol C (drbd.conf(5)): the write counts once it is
 * on the local disk and on the replica's. The replica acknowledges a record
 * once it is in its receive spool (fdatasync'd, ./spool.ts), before it is
 * applied — deliberately: applying is not needed for durability, and the
 * spool is applied first after a crash and before promote. Waiters are kept
 * sorted by LSN; each ack (the highest LSN spooled on the replica) releases
 * every waiter at or below it, so concurrent deliveries share one replica
 * round trip (group commit).
 *
 * On timeout, `on_sync_timeout = "tempfail"` rejects with RoostError('TEMP')
 * (the client retries; nothing is lost), `"degrade"` releases the waiter and
 * enters the degraded state — logged, exported as roost_replication_degraded,
 * shown by `roost status` and /health — until the replica has acknowledged
 * everything written up to the moment it caught up.
 */
import type { ReplicationGate } from '../context.js';
import { RoostError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { metrics } from './metrics.js';

export interface GateOptions {
  /** False when replication is not configured: every wait resolves at once. */
  enabled: boolean;
  ack: 'sync' | 'async';
  syncTimeoutMs: number;
  onSyncTimeout: 'tempfail' | 'degrade';
  /** Current journal head, to decide when a degraded node has caught up. */
  lastLsn: () => bigint;
  /** The node's role as its one owner (the replication state, ./epoch.ts) has it: the gate keeps no copy. */
  isPrimary: () => boolean;
  log: Logger;
}

interface Waiter {
  lsn: bigint;
  resolve: () => void;
  reject: (err: Error) => void;
  timer: NodeJS.Timeout;
}

export class AckGate implements ReplicationGate {
  private waiters: Waiter[] = [];
  private acked = 0n;
  private committed = 0n;
  private degradedSince: number | null = null;

  constructor(private readonly opts: GateOptions) {}

  get writable(): boolean {
    return this.opts.isPrimary();
  }

  get ackedLsn(): bigint {
    return this.acked;
  }

  /** Highest LSN acknowledged to a client; replicas refuse to promote below it. */
  get committedLsn(): bigint {
    return this.committed;
  }

  get degraded(): boolean {
    return this.degradedSince !== null;
  }

  get degradedSinceMs(): number | null {
    return this.degradedSince;
  }

  get mode(): 'sync' | 'async' {
    return this.opts.ack;
  }

  get pending(): number {
    return this.waiters.length;
  }

  /** The node stepped down to replica: every waiting write fails (the client retries on the new primary). */
  steppedDown(): void {
    this.failAll(new RoostError('NOTPRIMARY', 'this node stepped down to replica'));
  }

  /** A fresh replica session starts at the LSN the replica already holds. */
  resetAcked(lsn: bigint): void {
    this.acked = lsn;
    this.release();
  }

  waitFor(lsn: bigint): Promise<void> {
    if (!this.opts.isPrimary()) return Promise.reject(new RoostError('NOTPRIMARY', 'this node is a replica'));
    if (!this.opts.enabled || this.opts.ack === 'async' || this.degradedSince !== null || lsn <= this.acked) {
      this.commit(lsn);
      return Promise.resolve();
    }
    return new Promise((resolve, reject) => {
      const waiter: Waiter = {
        lsn,
        resolve: () => {
          this.commit(lsn);
          resolve();
        },
        reject,
        timer: setTimeout(() => this.timeout(waiter), this.opts.syncTimeoutMs),
      };
      // Keep sorted by LSN; deliveries mostly arrive in order, so scan from the end.
      let i = this.waiters.length;
      while (i > 0 && this.waiters[i - 1]!.lsn > lsn) i--;
      this.waiters.splice(i, 0, waiter);
    });
  }

  /** The replica has applied and fsync'd everything up to `lsn`. */
  onAck(lsn: bigint): void {
    if (lsn <= this.acked) return;
    this.acked = lsn;
    metrics.ackedLsn.set(Number(lsn));
    this.release();
    if (this.degradedSince !== null && lsn >= this.opts.lastLsn()) {
      this.opts.log.warn({ ackedLsn: lsn.toString(), degradedMs: Date.now() - this.degradedSince }, 'replication: replica caught up, sync mode restored');
      this.degradedSince = null;
      metrics.degraded.set(0);
    }
  }

  close(): void {
    this.failAll(new RoostError('TEMP', 'node shutting down'));
  }

  private commit(lsn: bigint): void {
    if (lsn > this.committed) this.committed = lsn;
  }

  private release(): void {
    let n = 0;
    while (n < this.waiters.length && this.waiters[n]!.lsn <= this.acked) n++;
    if (n === 0) return;
    const done = this.waiters.splice(0, n);
    for (const w of done) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  private timeout(waiter: Waiter): void {
    const i = this.waiters.indexOf(waiter);
    if (i < 0) return;
    metrics.syncTimeouts.inc();
    if (this.opts.onSyncTimeout === 'tempfail') {
      this.waiters.splice(i, 1);
      this.opts.log.warn({ lsn: waiter.lsn.toString(), ackedLsn: this.acked.toString(), timeoutMs: this.opts.syncTimeoutMs }, 'replication: replica ack timed out; answering temporary failure');
      waiter.reject(new RoostError('TEMP', `replica did not acknowledge within ${this.opts.syncTimeoutMs} ms`));
      return;
    }
    // degrade: release everyone now and stop waiting until the replica catches up.
    this.degradedSince = Date.now();
    metrics.degraded.set(1);
    this.opts.log.error(
      { lsn: waiter.lsn.toString(), ackedLsn: this.acked.toString(), timeoutMs: this.opts.syncTimeoutMs },
      'replication: DEGRADED — replica ack timed out, continuing asynchronously until it catches up',
    );
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) {
      clearTimeout(w.timer);
      w.resolve();
    }
  }

  private failAll(err: Error): void {
    const all = this.waiters;
    this.waiters = [];
    for (const w of all) {
      clearTimeout(w.timer);
      w.reject(err);
    }
  }
}
