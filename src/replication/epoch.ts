/**
 * The node's durable replication identity: role, epoch, cluster id and the
 * epoch history (DRBD generation identifiers, DRBD User's Guide). It lives
 * in `data_dir/replication.json` and every change is written to a temporary
 * file, fsync'd, renamed over the old one and the directory fsync'd before
 * the caller acts on it — a promote that crashes half-way is either fully
 * promoted or not at all.
 */
import { randomBytes } from 'node:crypto';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import type { EpochStart, Role } from './protocol.js';

export interface ReplicationState {
  /** Random id of this data directory (logs, split-brain messages). */
  nodeId: string;
  /** Shared by both nodes of a pair; null until the node first joins or is first primary. */
  clusterId: string | null;
  role: Role;
  epoch: number;
  history: EpochStart[];
  /** Highest LSN the primary said it had acknowledged to clients (replica side; promote refuses below it). */
  committedLsnSeen: string;
  /** The data here diverged from the primary's line and must be re-seeded. */
  needsResync: boolean;
  /** Own journal records up to this LSN were already handed back to a newer primary. */
  handedBackThrough: string;
  /** A snapshot from the primary is being installed (full resync): the data here is partial until it ends. */
  seeding: boolean;
  /** Set while the node runs, cleared at a clean stop: found set at start, the last stop was a crash. */
  running: boolean;
}

export const STATE_FILE = 'replication.json';

export class EpochStore {
  private constructor(
    private readonly file: string,
    private current: ReplicationState,
  ) {}

  /**
   * Load the state, or create it from the configured initial role on first
   * start (the node's own state wins after first start).
   */
  static async open(dataDir: string, initialRole: Role, lastLsn: bigint): Promise<EpochStore> {
    const file = path.join(dataDir, STATE_FILE);
    let state: ReplicationState;
    try {
      const defaults: Partial<ReplicationState> = { handedBackThrough: '0', needsResync: false, seeding: false, running: false };
      state = { ...defaults, ...(JSON.parse(await fs.readFile(file, 'utf8')) as ReplicationState) };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      const primary = initialRole === 'primary';
      state = {
        nodeId: randomBytes(8).toString('hex'),
        clusterId: primary ? randomBytes(16).toString('hex') : null,
        role: initialRole,
        epoch: primary ? 1 : 0,
        history: primary ? [{ epoch: 1, startLsn: (lastLsn + 1n).toString() }] : [],
        committedLsnSeen: '0',
        needsResync: false,
        handedBackThrough: '0',
        seeding: false,
        running: false,
      };
      const store = new EpochStore(file, state);
      await store.write(state);
      return store;
    }
    return new EpochStore(file, state);
  }

  get state(): Readonly<ReplicationState> {
    return this.current;
  }

  /** Writes run one at a time: they share the temp file, and each builds on the last. */
  private queue: Promise<void> = Promise.resolve();

  /** Apply `change` and make it durable before resolving. */
  update(change: Partial<ReplicationState>): Promise<void> {
    const run = this.queue.then(async () => {
      const next = { ...this.current, ...change };
      await this.write(next);
      this.current = next;
    });
    // A failed write must not wedge later updates; the caller still sees the error.
    this.queue = run.catch(() => undefined);
    return run;
  }

  /**
   * Become primary: epoch = max(own, highest seen) + 1, recorded with the LSN
   * it starts writing at. Durable before the ports open.
   */
  async promote(lastLsn: bigint, highestSeenEpoch: number): Promise<number> {
    const epoch = Math.max(this.current.epoch, highestSeenEpoch) + 1;
    await this.update({
      role: 'primary',
      epoch,
      clusterId: this.current.clusterId ?? randomBytes(16).toString('hex'),
      history: [...this.current.history, { epoch, startLsn: (lastLsn + 1n).toString() }],
    });
    return epoch;
  }

  /**
   * A primary restarting after a crash starts a new generation at the LSN it
   * writes next (same epoch). Records are shipped while their local fsyncs
   * still run, so after a power loss a replica may hold records this node
   * lost — and this node would hand the same LSNs out again. The generation
   * boundary makes forkPoint() see that (DRBD does the same with a new
   * current UUID after an unclean primary shutdown, DRBD User's Guide); a
   * replica that holds nothing past it just follows on.
   */
  async newGeneration(lastLsn: bigint): Promise<void> {
    const startLsn = (lastLsn + 1n).toString();
    const last = this.current.history[this.current.history.length - 1];
    if (last && last.startLsn === startLsn) return;
    await this.update({ history: [...this.current.history, { epoch: this.current.epoch, startLsn }] });
  }

  private async write(state: ReplicationState): Promise<void> {
    const dir = path.dirname(this.file);
    await fs.mkdir(dir, { recursive: true });
    const tmp = `${this.file}.tmp`;
    const fh = await fs.open(tmp, 'w', 0o600);
    try {
      await fh.writeFile(JSON.stringify(state, null, 2) + '\n');
      await fh.sync();
    } finally {
      await fh.close();
    }
    await fs.rename(tmp, this.file);
    const dh = await fs.open(dir, 'r');
    try {
      await dh.sync();
    } finally {
      await dh.close();
    }
  }
}
