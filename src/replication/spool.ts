/**
 * The replica's receive spool. DRBD protocol C (protocols.md §5.1) counts a
 * write once it is on the remote *disk*, not once the remote has finished
 * processing it; the spool gives the replica that cheap durable step. A batch
 * of received records is appended to data_dir/replication-spool with one
 * write and one fdatasync, then acknowledged — concurrent deliveries on the
 * primary share one replica fsync (group commit). A separate applier feeds
 * the records, in LSN order, to store.replication.apply; once everything in
 * the file is applied, the file is truncated.
 *
 * After a crash the spool is read back and applied before anything else;
 * `promote` drains it before the node opens its ports.
 *
 * File format: the wire frames of protocol.ts (`rec` header + body), so a
 * torn last frame after a crash is detected by length and dropped (it was
 * never acknowledged).
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import type { JournalRecord } from '../store/store.js';
import { FrameDecoder, ProtocolError, encodeFrame, fromWire, toWire } from './protocol.js';

export const SPOOL_FILE = 'replication-spool';
/** Records handed to the store per apply call (one group commit on the replica). */
const APPLY_BATCH = 256;

export interface Spooled {
  record: JournalRecord;
  body: Buffer | null;
}

export class ReceiveSpool {
  private pending: Spooled[] = [];
  private pendingBytesCount = 0;
  private received: bigint;
  private ops: Promise<unknown> = Promise.resolve();
  private applying: Promise<void> | null = null;
  private failure: Error | null = null;
  private idle: (() => void)[] = [];
  private stopped = false;

  private constructor(
    private readonly fh: FileHandle,
    /** Applies a run of records in LSN order (store.replication.applyBatch: one group commit per run). */
    private readonly apply: (items: readonly Spooled[]) => Promise<void>,
    private readonly appliedLsn: () => bigint,
    private readonly log: Logger,
  ) {
    this.received = appliedLsn();
  }

  /** Open (and read back) the spool; records not yet applied are applied from here on. */
  static async open(dataDir: string, apply: ReceiveSpool['apply'], appliedLsn: () => bigint, log: Logger): Promise<ReceiveSpool> {
    const file = path.join(dataDir, SPOOL_FILE);
    const fh = await fs.open(file, 'a+', 0o600);
    const spool = new ReceiveSpool(fh, apply, appliedLsn, log);
    const data = await fs.readFile(file);
    if (data.length > 0) {
      const decoder = new FrameDecoder();
      let items: Spooled[] = [];
      try {
        items = decoder.push(data).flatMap(({ frame, body }) => (frame.t === 'rec' ? [{ record: fromWire(frame.r), body: frame.r.kind === 'deliver' ? body : null }] : []));
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        log.warn({ err: err.message }, 'replication: spool ends in a damaged frame (never acknowledged); ignoring the rest');
      }
      const applied = appliedLsn();
      spool.enqueue(items.filter((i) => i.record.lsn > applied));
      if (spool.pending.length > 0) log.info({ records: spool.pending.length, from: spool.pending[0]!.record.lsn.toString() }, 'replication: applying spooled records left from before the restart');
    }
    spool.kick();
    return spool;
  }

  /** Highest LSN durably received (spooled or applied). */
  get receivedLsn(): bigint {
    return this.received;
  }

  get pendingRecords(): number {
    return this.pending.length;
  }

  get pendingBytes(): number {
    return this.pendingBytesCount;
  }

  /** The applier's last error (it retries); null when healthy. */
  get error(): Error | null {
    return this.failure;
  }

  /** Append a batch durably (one write, one fdatasync); resolves when it may be acknowledged. */
  append(items: readonly Spooled[]): Promise<void> {
    const fresh = items.filter((i) => i.record.lsn > this.received);
    if (fresh.length === 0) return Promise.resolve();
    return this.serial(async () => {
      const buffers = fresh.flatMap((i) => encodeFrame({ t: 'rec', r: toWire(i.record) }, i.body ?? undefined));
      await this.fh.writev(buffers);
      await this.fh.datasync();
      this.enqueue(fresh);
      this.kick();
    });
  }

  /** Resolves once every spooled record has been applied (promote, shutdown). */
  drain(): Promise<void> {
    if (this.pending.length === 0 && !this.applying) return Promise.resolve();
    return new Promise((resolve) => this.idle.push(resolve));
  }

  /** Forget everything spooled (full resync: the store is being reset). */
  async reset(): Promise<void> {
    this.stopped = true;
    await this.applying;
    await this.serial(async () => {
      this.pending = [];
      this.pendingBytesCount = 0;
      await this.fh.truncate(0);
      await this.fh.datasync();
    });
    this.received = 0n;
    this.stopped = false;
  }

  /**
   * The node holds everything up to `lsn` without having received it here (a
   * primary stepping down, a snapshot just installed): nothing at or below it
   * is expected, and acks start from it.
   */
  advanceTo(lsn: bigint): void {
    if (lsn > this.received) this.received = lsn;
  }

  /** Stop applying (records not yet applied stay in the file for the next start) and close the file. */
  async close(): Promise<void> {
    this.stopped = true;
    await this.applying;
    await this.ops.catch(() => undefined);
    await this.fh.close();
    for (const f of this.idle.splice(0)) f();
  }

  private enqueue(items: readonly Spooled[]): void {
    for (const i of items) {
      this.pending.push(i);
      this.pendingBytesCount += (i.body?.length ?? 0) + 200;
      if (i.record.lsn > this.received) this.received = i.record.lsn;
    }
  }

  private kick(): void {
    if (this.stopped || this.applying || this.pending.length === 0) return;
    this.applying = this.run().finally(() => {
      this.applying = null;
      if (this.pending.length > 0 && !this.stopped) this.kick();
      else for (const f of this.idle.splice(0)) f();
    });
  }

  private async run(): Promise<void> {
    while (this.pending.length > 0) {
      if (this.stopped) return;
      const run = this.pending.slice(0, APPLY_BATCH);
      try {
        await this.apply(run);
        this.failure = null;
        // Closing: leave the file as it is; the next start skips what is applied.
        if (this.stopped) return;
      } catch (err) {
        // The records stay first in line: apply is idempotent, so retrying is safe.
        this.failure = err as Error;
        this.log.error({ err, lsn: run[0]!.record.lsn.toString() }, 'replication: applying spooled records failed; retrying');
        await new Promise((r) => setTimeout(r, 500));
        continue;
      }
      this.pending.splice(0, run.length);
      for (const next of run) this.pendingBytesCount -= (next.body?.length ?? 0) + 200;
    }
    // Everything in the file is applied: empty it (checked again inside the file lock).
    await this.serial(async () => {
      if (this.pending.length === 0) {
        await this.fh.truncate(0);
        await this.fh.datasync();
      }
    });
  }

  private serial<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.ops.then(fn, fn);
    this.ops = run.catch(() => undefined);
    return run;
  }
}
