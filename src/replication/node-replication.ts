/**
 * The replication component of a node: durable role and epoch, the ack gate,
 * the listener for peers, the follower (on a replica) or prober (on a
 * primary), and the role changes — promote, demote, and stepping down when a
 * peer of a newer epoch shows up (fencing by epoch, as DRBD's generation
 * identifiers). Role changes are
 * serialised: one at a time, each durable before the ports change.
 *
 * A replica keeps the QMQP, IMAP and POP3 ports closed (connections refused),
 * because qmail-qmqpc tries the next server only when connect() fails.
 */
import type { Directory } from '../accounts/directory.js';
import type { Config } from '../config/schema.js';
import { ConfigError, secretWeakness } from '../config/load.js';
import { RoostError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { JournalInfo, Store } from '../store/store.js';
import type { SecureContextOptions } from 'node:tls';
import { EpochStore } from './epoch.js';
import { AckGate } from './gate.js';
import { HandshakeError, offerHandshake } from './handshake.js';
import { metrics, setStatusSource } from './metrics.js';
import { PrimaryListener, type ShipSession } from './primary.js';
import { Follower, connectPeer } from './replica.js';
import { Link, type EpochStart, type NodeState, type Role } from './protocol.js';
import { ReceiveSpool } from './spool.js';
import { acceptResync, receiveHandback, sendHandback, serveResync, type SnapshotProgress } from './catchup.js';
import { compareManifests, manifest, receiveManifest, sendManifest, type VerifyReport } from './verify.js';
import type { MailboxManifest } from './protocol.js';
import { receiveMove, type MoveProgress } from './move.js';
import { runMove, runPurge, type MoveCommandResult } from './move-command.js';
import { LIMITS } from '../limits.js';

/** How the component opens and closes the client-facing listeners (src/node.ts provides them). */
export interface ClientPorts {
  open(): Promise<void>;
  close(): Promise<void>;
}

export interface ReplicationDeps {
  config: Config;
  log: Logger;
  store: Store;
  directory: Directory;
  tls: SecureContextOptions;
  ports: ClientPorts;
}

export interface ReplicationStatus {
  enabled: boolean;
  role: Role;
  epoch: number;
  nodeId: string;
  clusterId: string | null;
  peer: string;
  ack: 'sync' | 'async';
  onSyncTimeout: 'tempfail' | 'degrade';
  lastLsn: string;
  appliedLsn: string;
  /** Replica: highest LSN durably spooled (acknowledged); it is applied right behind. */
  receivedLsn: string;
  ackedLsn: string;
  committedLsn: string;
  connected: boolean;
  connectedSince: string | null;
  lag: { records: number; bytes: number | null; seconds: number };
  sync: boolean;
  degraded: boolean;
  degradedSince: string | null;
  needsResync: boolean;
  /** A full resync in progress: the journal head it is replaying up to. */
  resync: { targetLsn: string; appliedLsn: string; since: string } | null;
  /** A snapshot being sent to the follower (primary) or installed (replica). */
  snapshot: { role: 'sending' | 'receiving'; accounts: number; accountsDone: number; files: number; bytes: number; lsn: string; since: string } | null;
  /** The journal's bounded history (replication.journal_max_bytes). */
  journal: JournalInfo;
  /** Primary: the replica's last acknowledged LSN is no longer in the journal, so it gets a full resync when it connects. */
  replicaNeedsResync: boolean;
  lastError: string | null;
  /** The last peer this node's listener refused at the handshake (wrong secret, a TLS-terminating relay, silence, oversized frames…), and why. */
  lastRefusal: { peer: string; reason: string; at: string } | null;
}

const START_PROBE_MS = LIMITS.tuning.startProbeMs;

export class Replication {
  readonly gate: AckGate;
  private readonly log: Logger;
  private listener: PrimaryListener | null = null;
  private follower: Follower | null = null;
  private prober: Follower | null = null;
  private serial: Promise<unknown> = Promise.resolve();
  private highestSeenEpoch = 0;
  private committedSeen = 0n;
  private committedPersistedAt = 0;
  private linkError: string | null = null;
  private lastRefusal: ReplicationStatus['lastRefusal'] = null;
  private followerConnected = false;
  private closed = false;
  private readonly introduced = new Set<string>();
  private spool: ReceiveSpool | null = null;
  private resyncing: { target: bigint; since: number; timer: NodeJS.Timeout } | null = null;
  /** A snapshot being sent (primary) or installed (replica). */
  private snapshotProgress: (SnapshotProgress & { role: 'sending' | 'receiving'; since: number }) | null = null;

  /** The node's role as its one owner (./epoch.ts) holds it; the gate, the store and the node read this. */
  private readonly isPrimary = (): boolean => this.epochs.state.role === 'primary';

  private constructor(
    private readonly deps: ReplicationDeps,
    private readonly epochs: EpochStore,
  ) {
    const r = deps.config.replication;
    this.log = deps.log.child({ component: 'replication' });
    this.committedSeen = BigInt(epochs.state.committedLsnSeen);
    this.gate = new AckGate({
      enabled: this.enabled,
      ack: r.ack as 'sync' | 'async',
      syncTimeoutMs: r.sync_timeout_ms,
      onSyncTimeout: r.on_sync_timeout as 'tempfail' | 'degrade',
      lastLsn: () => deps.store.lastLsn(),
      isPrimary: this.isPrimary,
      log: this.log,
    });
  }

  static async create(deps: ReplicationDeps): Promise<Replication> {
    const r = deps.config.replication;
    // buildConfig checked the secret's strength; a config built some other way must not slip through.
    const weak = r.peer === '' ? null : secretWeakness(r.secret);
    if (weak) throw new ConfigError(r.secret_file ? 'replication.secret_file' : 'replication.secret', weak);
    const epochs = await EpochStore.open(deps.config.paths.dataDir, r.role as Role, deps.store.lastLsn());
    const replication = new Replication(deps, epochs);
    setStatusSource(() => replication.status());
    return replication;
  }

  get enabled(): boolean {
    return this.deps.config.replication.peer !== '';
  }

  get role(): Role {
    return this.epochs.state.role;
  }

  get port(): number | null {
    return this.listener?.address ?? null;
  }

  /**
   * Bring the node up in its durable role; a primary first checks that no
   * newer primary exists. Client ports stay closed here: src/node.ts opens
   * them afterwards when the role is primary.
   */
  async start(): Promise<void> {
    const { store } = this.deps;
    if (this.epochs.state.seeding) {
      // A snapshot was being installed when the node stopped: what is here is partial.
      this.log.warn('replication: a full resync was interrupted; asking the primary for a new one');
      await this.epochs.update({ needsResync: true });
    } else if (this.epochs.state.needsResync && store.lastLsn() === 0n) {
      // Re-seeded by the operator (data directory emptied, contrib/README.md): start over as a fresh follower.
      this.log.warn('replication: empty store after a divergence; following from LSN 0');
      await this.epochs.update({ needsResync: false, handedBackThrough: '0', history: [], role: 'replica' });
    }
    this.spool = await ReceiveSpool.open(
      this.deps.config.paths.dataDir,
      async (items) => {
        // An 'account' record ends a run: records after it may be for the account it adds.
        for (let i = 0; i < items.length; ) {
          let j = i;
          while (j < items.length - 1 && items[j]!.record.kind !== 'account') j++;
          const run = items.slice(i, j + 1);
          for (const id of new Set(run.map((r) => r.record.accountId))) await this.introduceAccount(id);
          await store.replication.applyBatch(run);
          metrics.recordsApplied.inc(run.length);
          i = j + 1;
        }
      },
      () => store.replication.appliedLsn(),
      this.log,
    );
    const crashed = this.epochs.state.running;
    await this.epochs.update({ running: true });
    this.applyRole(this.role);
    if (this.enabled) {
      this.listener = new PrimaryListener(this.listenerHost(), this.deps.config.replication.listen, this.deps.tls);
      await this.listener.start();
    }
    this.log.info({ role: this.role, epoch: this.epochs.state.epoch, lastLsn: store.lastLsn().toString(), peer: this.deps.config.replication.peer }, 'replication: starting');
    if (this.role === 'primary') {
      if (this.enabled) {
        const probe = new Follower(this.followerHost(), 'probe');
        await probe.probeOnce(START_PROBE_MS);
        await this.serial;
      }
      // The node opens the client ports after this returns when the role is still primary.
      if (this.role === 'primary') {
        if (crashed && this.enabled && store.lastLsn() > 0n) {
          await this.epochs.newGeneration(store.lastLsn());
          this.log.warn({ startLsn: (store.lastLsn() + 1n).toString() }, 'replication: restarted after a crash; new generation in the epoch history');
        }
        this.startProber();
      }
    } else {
      this.startFollower();
    }
  }

  /** `roost promote`: replica → primary. Idempotent on a primary. */
  promote(opts: { force?: boolean } = {}): Promise<{ role: Role; epoch: number; changed: boolean }> {
    return this.exclusive(async () => {
      if (this.role === 'primary') return { role: this.role, epoch: this.epochs.state.epoch, changed: false };
      const { store } = this.deps;
      const received = this.spool?.receivedLsn ?? store.replication.appliedLsn();
      if (!opts.force) {
        if (this.epochs.state.needsResync) throw new RoostError('UNAVAILABLE', 'this node diverged and waits for a full resync; use --force to promote anyway');
        if (received < this.committedSeen) {
          throw new RoostError('UNAVAILABLE', `this node is behind: received LSN ${received}, the primary had acknowledged ${this.committedSeen}; use --force to promote anyway`);
        }
      }
      await this.follower?.stop();
      this.follower = null;
      // Everything acknowledged to the old primary is applied before this node takes writes.
      await this.spool?.drain();
      const epoch = await this.epochs.promote(store.lastLsn(), this.highestSeenEpoch);
      this.applyRole('primary');
      this.gate.resetAcked(0n);
      await this.deps.ports.open();
      this.startProber();
      this.log.warn({ epoch, lastLsn: store.lastLsn().toString(), force: !!opts.force }, 'replication: PROMOTED to primary');
      return { role: this.role, epoch, changed: true };
    });
  }

  /** `roost demote`: primary → replica, after in-flight work and (bounded) after the replica caught up. */
  demote(): Promise<{ role: Role; epoch: number; changed: boolean }> {
    return this.exclusive(async () => {
      if (this.role === 'replica') return { role: this.role, epoch: this.epochs.state.epoch, changed: false };
      await this.stepDown('demote requested');
      return { role: this.role, epoch: this.epochs.state.epoch, changed: true };
    });
  }

  status(): ReplicationStatus {
    const { store, config } = this.deps;
    const s = this.epochs.state;
    const primary = s.role === 'primary';
    const session: ShipSession | null = this.listener?.follower ?? null;
    const applied = store.replication.appliedLsn();
    let lag: ReplicationStatus['lag'] = { records: 0, bytes: 0, seconds: 0 };
    let connected = false;
    let since: number | null = null;
    if (primary && session) {
      lag = session.lag();
      connected = true;
      since = session.since;
    } else if (primary) {
      lag = { records: Number(store.lastLsn() - this.gate.ackedLsn), bytes: null, seconds: 0 };
    } else if (this.follower) {
      const behind = this.follower.primaryLastLsn > applied ? Number(this.follower.primaryLastLsn - applied) : 0;
      connected = this.followerConnected;
      since = this.follower.connectedSince;
      // Bytes: received and spooled but not yet applied (what is still unknown beyond the spool is not counted).
      lag = {
        records: behind,
        bytes: this.spool?.pendingBytes ?? null,
        seconds: behind > 0 && this.follower.lastRecordTime > 0 ? Math.max(0, (Date.now() - this.follower.lastRecordTime) / 1000) : 0,
      };
    }
    const degradedSince = this.gate.degradedSinceMs;
    const journal = store.replication.journalInfo();
    return {
      enabled: this.enabled,
      role: s.role,
      epoch: s.epoch,
      nodeId: s.nodeId,
      clusterId: s.clusterId,
      peer: config.replication.peer,
      ack: this.gate.mode,
      onSyncTimeout: config.replication.on_sync_timeout as 'tempfail' | 'degrade',
      lastLsn: store.lastLsn().toString(),
      appliedLsn: applied.toString(),
      receivedLsn: (this.spool?.receivedLsn ?? applied).toString(),
      ackedLsn: this.gate.ackedLsn.toString(),
      committedLsn: (primary ? this.gate.committedLsn : this.committedSeen).toString(),
      connected,
      connectedSince: since ? new Date(since).toISOString() : null,
      lag,
      sync: this.enabled && this.gate.mode === 'sync' && !this.gate.degraded && connected,
      degraded: this.gate.degraded,
      degradedSince: degradedSince ? new Date(degradedSince).toISOString() : null,
      needsResync: s.needsResync,
      resync: this.resyncing ? { targetLsn: this.resyncing.target.toString(), appliedLsn: applied.toString(), since: new Date(this.resyncing.since).toISOString() } : null,
      snapshot: this.snapshotProgress ? { ...this.snapshotProgress, since: new Date(this.snapshotProgress.since).toISOString() } : null,
      journal,
      replicaNeedsResync: primary && this.enabled && journal !== null && BigInt(journal.firstLsn) > this.gate.ackedLsn + 1n,
      lastError: this.spool?.error ? `applying: ${this.spool.error.message}` : this.linkError,
      lastRefusal: this.lastRefusal,
    };
  }

  /** Ready for its role: a primary always (ports are the node's business); a replica when following and not diverged. */
  ready(): boolean {
    if (!this.enabled || this.role === 'primary') return true;
    return this.followerConnected && !this.epochs.state.needsResync;
  }

  /** `roost verify`: compare this node's mailboxes with the peer's. */
  /** `onProgress` hears the local mailboxes and messages described so far. */
  async verify(onProgress?: (p: { mailboxes: number; messages: number }) => void): Promise<VerifyReport & { peerLastLsn: string; lastLsn: string }> {
    if (!this.enabled) throw new RoostError('UNAVAILABLE', 'replication is not configured (replication.peer is empty)');
    const { store, directory } = this.deps;
    const socket = await connectPeer(this.deps.config.replication.peer, 10_000);
    const link = new Link(socket);
    try {
      await offerHandshake(link, this.nodeState(), this.deps.config.replication.secret, 'verify');
      let mailboxes = 0;
      let messages = 0;
      const counted = (m: MailboxManifest): void => {
        mailboxes++;
        messages += m.messages.length;
        onProgress?.({ mailboxes, messages });
      };
      const [peer, local] = await Promise.all([receiveManifest(link), collect(manifest(store, directory), counted)]);
      return { ...compareManifests(local, peer.entries), peerLastLsn: peer.lastLsn.toString(), lastLsn: store.lastLsn().toString() };
    } catch (err) {
      if (err instanceof HandshakeError) throw new RoostError('UNAVAILABLE', err.message);
      throw err;
    } finally {
      link.close();
    }
  }

  /** `roost account move` (move-command.ts): the account serves on here until the destination's copy is verified identical. */
  moveAccount(address: string, to: string, opts: { mailHost?: string; updateLdap?: boolean }, onProgress?: (p: MoveProgress) => void): Promise<MoveCommandResult> {
    if (this.role !== 'primary') return Promise.reject(new RoostError('NOTPRIMARY', 'accounts are moved from the primary'));
    return runMove({ ...this.deps, log: this.log, nodeState: () => this.nodeState() }, address, to, opts, onProgress);
  }

  /** `roost account purge`: remove the copy of an account that was moved away. */
  purgeAccount(address: string): Promise<{ accountId: string; movedTo: string }> {
    return runPurge(this.deps, address);
  }

  async close(): Promise<void> {
    this.closed = true;
    setStatusSource(null);
    await this.serial.catch(() => undefined);
    await this.prober?.stop();
    await this.follower?.stop();
    await this.listener?.close();
    await this.spool?.close();
    if (this.resyncing) clearInterval(this.resyncing.timer);
    this.gate.close();
    await this.epochs.update({ running: false }).catch((err: unknown) => this.log.error({ err }, 'replication: recording the clean stop failed'));
  }

  nodeState(): NodeState {
    const s = this.epochs.state;
    return {
      nodeId: s.nodeId,
      clusterId: s.clusterId,
      role: s.role,
      epoch: s.epoch,
      lastLsn: this.localLastLsn().toString(),
      lastEpoch: s.epoch,
      history: s.history,
      needsResync: s.needsResync,
    };
  }

  // --- internals ---

  /** The journal head, counting records received into the spool but not yet applied. */
  private localLastLsn(): bigint {
    const own = this.deps.store.lastLsn();
    const received = this.spool?.receivedLsn ?? 0n;
    return received > own ? received : own;
  }

  private exclusive<T>(fn: () => Promise<T>): Promise<T> {
    const run = this.serial.then(fn, fn);
    this.serial = run.catch(() => undefined);
    return run;
  }

  private applyRole(role: Role): void {
    const { store } = this.deps;
    store.replication.setEpoch(this.epochs.state.epoch);
    // The store reads the role from its owner, the epoch state, as the gate does (no copy).
    store.replication.followRole(this.isPrimary);
    if (role !== 'primary') this.gate.steppedDown();
    metrics.primary.set(role === 'primary' ? 1 : 0);
    metrics.epoch.set(this.epochs.state.epoch);
  }

  /** Primary → replica (operator demote or a newer epoch seen). Caller holds the serial lock. */
  private async stepDown(reason: string): Promise<void> {
    this.log.warn({ reason, epoch: this.epochs.state.epoch }, 'replication: stepping down to replica; closing client ports after in-flight work');
    await this.prober?.stop();
    this.prober = null;
    // Close first: in-flight deliveries finish (their acks included) before writes are refused.
    await this.deps.ports.close();
    await this.waitForFollowerCatchUp();
    await this.epochs.update({ role: 'replica' });
    this.applyRole('replica');
    // What it wrote as primary it holds: promote's "behind" check and the acks start from there.
    this.spool?.advanceTo(this.deps.store.replication.appliedLsn());
    this.listener?.dropFollower();
    if (!this.closed) this.startFollower();
  }

  /** On a planned demote, give a connected replica a bounded moment to take the last records. */
  private async waitForFollowerCatchUp(): Promise<void> {
    const deadline = Date.now() + this.deps.config.replication.sync_timeout_ms;
    while (this.listener?.follower && this.gate.ackedLsn < this.deps.store.lastLsn() && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** Run a snapshot transfer, showing its progress in status() (replication.snapshot) while it runs. */
  private async reportingSnapshot<T>(role: 'sending' | 'receiving', run: (progress: (p: SnapshotProgress) => void) => Promise<T>): Promise<T> {
    const since = Date.now();
    try {
      return await run((p) => (this.snapshotProgress = { ...p, role, since }));
    } finally {
      this.snapshotProgress = null;
    }
  }

  /** Log full-resync progress every few seconds until the replica has applied what the primary had. */
  private trackResync(): void {
    if (this.resyncing) clearInterval(this.resyncing.timer);
    const since = Date.now();
    const timer = setInterval(() => {
      const target = this.follower?.primaryLastLsn ?? 0n;
      const applied = this.deps.store.replication.appliedLsn();
      if (this.resyncing) this.resyncing.target = target;
      if (target > 0n && applied >= target) {
        this.log.warn({ appliedLsn: applied.toString(), seconds: (Date.now() - since) / 1000 }, 'replication: full resync complete');
        clearInterval(timer);
        this.resyncing = null;
        return;
      }
      this.log.info({ appliedLsn: applied.toString(), targetLsn: target.toString() }, 'replication: full resync in progress');
    }, 2000);
    timer.unref();
    this.resyncing = { target: 0n, since, timer };
  }

  private startFollower(): void {
    if (!this.enabled || this.follower) return;
    this.follower = new Follower(this.followerHost(), 'follow');
    this.follower.start();
  }

  private startProber(): void {
    if (!this.enabled || this.prober) return;
    this.prober = new Follower(this.followerHost(), 'probe');
    this.prober.start();
  }

  /**
   * Make the store resolve `accountId` through this node's own directory (its
   * own Maildir path) before records for it are applied; without this the
   * store would fall back to the path recorded by the primary.
   */
  private async introduceAccount(accountId: string): Promise<void> {
    if (this.introduced.has(accountId)) return;
    const account = await this.deps.directory.accountById(accountId);
    if (account) this.deps.store.user(account);
    this.introduced.add(accountId);
  }

  private peerHasHigherEpoch(peer: NodeState): void {
    this.highestSeenEpoch = Math.max(this.highestSeenEpoch, peer.epoch);
    if (this.role !== 'primary') return;
    this.log.error(
      { ourEpoch: this.epochs.state.epoch, peerEpoch: peer.epoch, peerNode: peer.nodeId },
      'replication: peer is primary at a newer epoch — this node stops taking writes and follows it',
    );
    void this.exclusive(async () => {
      if (this.role === 'primary' && peer.epoch > this.epochs.state.epoch) await this.stepDown(`peer primary at epoch ${peer.epoch}`);
    });
  }

  private listenerHost(): ConstructorParameters<typeof PrimaryListener>[0] {
    const { store, directory } = this.deps;
    const log = this.log;
    return {
      store,
      gate: this.gate,
      log,
      secret: this.deps.config.replication.secret,
      nodeState: () => this.nodeState(),
      peerHasHigherEpoch: (peer) => this.peerHasHigherEpoch(peer),
      followerChanged: (session) => {
        metrics.connected.set(session ? 1 : 0);
        if (session && this.prober) {
          // A follower is attached, so the peer is a replica: no need to probe it.
          const prober = this.prober;
          this.prober = null;
          void prober.stop();
        }
        else if (this.role === 'primary' && !this.closed) this.startProber();
      },
      receiveHandback: async (link, fork, peer) => {
        await receiveHandback({ store, directory, log }, link, fork, peer);
      },
      serveResync: (link) => this.reportingSnapshot('sending', (progress) => serveResync({ store, directory }, link, log, progress)),
      sendManifest: (link) => sendManifest(store, directory, link),
      receiveMove: async (link, peer) => {
        // The follower has no record of the account: it is re-seeded as soon as the account is installed.
        await receiveMove({ store, directory, log }, link, peer.nodeId, () => this.listener?.resyncFollower());
      },
      refused: (peer, reason) => {
        this.lastRefusal = { peer, reason, at: new Date().toISOString() };
      },
    };
  }

  private followerHost(): ConstructorParameters<typeof Follower>[0] {
    const { store, config } = this.deps;
    return {
      store,
      log: this.log,
      secret: config.replication.secret,
      peer: config.replication.peer,
      nodeState: () => this.nodeState(),
      adoptLine: async (clusterId: string, epoch: number, history: EpochStart[]) => {
        this.highestSeenEpoch = Math.max(this.highestSeenEpoch, epoch);
        const s = this.epochs.state;
        if (s.clusterId === clusterId && s.epoch >= epoch && JSON.stringify(s.history) === JSON.stringify(history)) return;
        await this.epochs.update({ clusterId, epoch: Math.max(s.epoch, epoch), history });
        metrics.epoch.set(this.epochs.state.epoch);
      },
      sawCommitted: (lsn) => {
        if (lsn <= this.committedSeen) return;
        this.committedSeen = lsn;
        // Persist at most once a second: promote's "behind" check survives a restart, without an fsync per heartbeat.
        if (Date.now() - this.committedPersistedAt > 1000) {
          this.committedPersistedAt = Date.now();
          void this.epochs.update({ committedLsnSeen: lsn.toString() }).catch((err: unknown) => this.log.error({ err }, 'replication: persisting state failed'));
        }
      },
      peerHasHigherEpoch: (peer) => this.peerHasHigherEpoch(peer),
      sendHandback: async (link, fork) => {
        // Diverged from here on, whatever the hand-back's outcome: promote refuses until a resync.
        if (!this.epochs.state.needsResync) await this.epochs.update({ needsResync: true });
        const r = await sendHandback(store, link, fork, BigInt(this.epochs.state.handedBackThrough), this.log);
        await this.epochs.update({ handedBackThrough: r.through.toString() });
        this.log.warn({ ...r, through: r.through.toString() }, 'replication: hand-back done; this node now needs a full resync');
      },
      resync: async (link, method) => {
        // Durable before anything is removed: a crash half-way leaves the node asking for a full resync again.
        await this.epochs.update({ needsResync: true, seeding: true });
        this.introduced.clear();
        const follower = {
          store,
          spool: this.spool!,
          directory: this.deps.directory,
          log: this.log,
          localAccount: (id: string) => this.deps.directory.accountById(id),
        };
        await this.reportingSnapshot('receiving', (progress) => acceptResync({ ...follower, progress }, link, method));
        // The primary's history is adopted right after, before any record is applied.
        await this.epochs.update({ needsResync: false, seeding: false, handedBackThrough: '0', history: [] });
        this.trackResync();
      },
      spool: this.spool!,
      linkChanged: ({ connected, error }) => {
        this.followerConnected = connected && this.role === 'replica';
        metrics.connected.set(this.followerConnected ? 1 : 0);
        if (error) this.linkError = error;
        else if (connected) this.linkError = null;
      },
    };
  }
}

async function collect<T>(it: AsyncIterable<T>, each: (x: T) => void): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) {
    out.push(x);
    each(x);
  }
  return out;
}

export type { MailboxManifest };
