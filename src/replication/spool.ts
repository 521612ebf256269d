/**
 * The replica's receive spool. DRBD protocol C (drbd.conf(5)) counts a
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
 *
 * Large bodies (those the primary sends in chunks) are not put in the spool
 * file: each is written, chunk by chunk as it arrives, to its own file in
 * data_dir/replication-spool.d, fdatasync'd with its directory, and the
 * spool frame names that file (`rec.file`). The store links it into the
 * Maildir when it applies the record; the file is removed once applied. A
 * body cut off mid-way (link lost, crash) is removed: it was never
 * acknowledged, and the primary sends the record again.
 */
import { promises as fs } from 'node:fs';
import type { FileHandle } from 'node:fs/promises';
import path from 'node:path';
import type { Logger } from '../log/logger.js';
import type { JournalRecord, ReplicaBody } from '../store/store.js';
import { LIMITS } from '../limits.js';
import { FrameDecoder, ProtocolError, encodeFrame, fromWire, toWire, type Frame } from './protocol.js';

export const SPOOL_FILE = 'replication-spool';
/** Directory (in data_dir) of the bodies received in chunks. */
export const SPOOL_BODIES = 'replication-spool.d';
const APPLY_BATCH = LIMITS.tuning.replicaApplyBatch;

export interface Spooled {
  record: JournalRecord;
  body: ReplicaBody | null;
}

function bodyBytes(body: ReplicaBody | null): number {
  if (!body) return 0;
  return Buffer.isBuffer(body) ? body.length : body.size;
}

/** fsync a directory, so a file created in it survives a crash. */
async function syncDir(dir: string): Promise<void> {
  const fh = await fs.open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

/** One body being received in chunks into the spool directory. */
export class BodyWriter {
  private bytes = 0;
  private closed = false;

  constructor(
    private readonly fh: FileHandle,
    readonly file: string,
  ) {}

  async write(piece: Buffer): Promise<void> {
    for (let off = 0; off < piece.length; ) off += (await this.fh.write(piece, off, piece.length - off)).bytesWritten;
    this.bytes += piece.length;
  }

  /** The whole body is here (`expected` bytes, from chunk-end): make it durable. */
  async finish(expected: number): Promise<{ file: string; size: number }> {
    if (expected !== this.bytes) throw new ProtocolError(`chunked body of ${this.bytes} bytes, its end says ${String(expected)}`);
    await this.fh.datasync();
    this.closed = true;
    await this.fh.close();
    await syncDir(path.dirname(this.file));
    return { file: this.file, size: this.bytes };
  }

  /** Cut off mid-way: remove what was written. */
  async abort(): Promise<void> {
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => undefined);
    }
    await fs.rm(this.file, { force: true });
  }
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
  private bodySeq = 0;

  private constructor(
    private readonly fh: FileHandle,
    private readonly bodyDir: string,
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
    const bodyDir = path.join(dataDir, SPOOL_BODIES);
    await fs.mkdir(bodyDir, { recursive: true, mode: 0o700 });
    const fh = await fs.open(file, 'a+', 0o600);
    const spool = new ReceiveSpool(fh, bodyDir, apply, appliedLsn, log);
    const data = await fs.readFile(file);
    if (data.length > 0) {
      // Not the link's cap: a spool from before protocol version 3 holds large bodies inline.
      const decoder = new FrameDecoder(false, LIMITS.replication.maxSpoolFrameBody);
      const items: Spooled[] = [];
      try {
        // Fed one frame at a time: a damaged frame throws, and the records before it (acknowledged) must be kept.
        for (let off = 0; off < data.length; ) {
          const end = off + 8 <= data.length ? Math.min(data.length, off + 8 + data.readUInt32BE(off) + data.readUInt32BE(off + 4)) : data.length;
          for (const { frame, body } of decoder.push(data.subarray(off, end))) if (frame.t === 'rec') items.push(spool.itemOf(frame, body));
          off = end;
        }
      } catch (err) {
        if (!(err instanceof ProtocolError)) throw err;
        log.warn({ err: err.message }, 'replication: spool ends in a damaged frame (never acknowledged); ignoring the rest');
      }
      const applied = appliedLsn();
      spool.enqueue(items.filter((i) => i.record.lsn > applied));
      if (spool.pending.length > 0) log.info({ records: spool.pending.length, from: spool.pending[0]!.record.lsn.toString() }, 'replication: applying spooled records left from before the restart');
    }
    // Bodies no pending record names: applied before the file was removed, or cut off mid-way.
    const kept = new Set(spool.pending.flatMap((i) => (i.body && !Buffer.isBuffer(i.body) ? [path.basename(i.body.file)] : [])));
    for (const name of await fs.readdir(bodyDir)) if (!kept.has(name)) await fs.rm(path.join(bodyDir, name), { force: true });
    spool.kick();
    return spool;
  }

  private itemOf(frame: Extract<Frame, { t: 'rec' }>, body: Buffer): Spooled {
    const record = fromWire(frame.r);
    if (frame.file) return { record, body: { file: path.join(this.bodyDir, path.basename(frame.file.name)), size: frame.file.size } };
    return { record, body: frame.r.kind === 'deliver' ? body : null };
  }

  /** A new file for a body received in chunks (append() takes it as the record's body once finished). */
  async bodyWriter(lsn: bigint): Promise<BodyWriter> {
    const file = path.join(this.bodyDir, `${lsn}.${process.pid}.${++this.bodySeq}`);
    return new BodyWriter(await fs.open(file, 'w', 0o600), file);
  }

  /** Remove a body file the caller no longer needs (a snapshot file once installed). */
  async removeBody(body: ReplicaBody): Promise<void> {
    if (!Buffer.isBuffer(body)) await fs.rm(body.file, { force: true });
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
      const buffers = fresh.flatMap((i) =>
        i.body && !Buffer.isBuffer(i.body)
          ? encodeFrame({ t: 'rec', r: toWire(i.record), file: { name: path.basename(i.body.file), size: i.body.size } })
          : encodeFrame({ t: 'rec', r: toWire(i.record) }, i.body ?? undefined),
      );
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
      for (const name of await fs.readdir(this.bodyDir)) await fs.rm(path.join(this.bodyDir, name), { force: true });
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
      this.pendingBytesCount += bodyBytes(i.body) + 200;
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
      for (const next of run) {
        this.pendingBytesCount -= bodyBytes(next.body) + 200;
        // Applied (durable): the store linked or copied the body into place.
        if (next.body) await this.removeBody(next.body);
      }
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
