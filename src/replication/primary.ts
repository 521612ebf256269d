/**
 * The listening side of replication: accepts authenticated peers on
 * `replication.listen` (TLS with the node's certificate) and serves them by
 * purpose — a follower gets the journal streamed from its last LSN (after a
 * hand-back and/or full resync when its data left our line), a probing peer
 * primary gets an epoch comparison, `roost verify` gets a manifest.
 */
import { createServer, type Server, type TLSSocket } from 'node:tls';
import type { SecureContextOptions } from 'node:tls';
import type { Readable } from 'node:stream';
import type { JournalRecord, Store } from '../store/store.js';
import type { Logger } from '../log/logger.js';
import { LIMITS } from '../limits.js';
import { closeServer, listenOn } from '../net/listen.js';
import { acceptHandshake, HandshakeError, refuse, type PeerHello } from './handshake.js';
import { Link, forkPoint, recordBytes, streamed, toWire, type BodySource, type NodeState } from './protocol.js';
import type { AckGate } from './gate.js';
import { isRoostError } from '../errors.js';
import { metrics } from './metrics.js';
import { resyncMethod, type ResyncStart } from './catchup.js';

/** What the listener needs from the replication component. */
export interface PrimaryHost {
  readonly store: Store;
  readonly gate: AckGate;
  readonly log: Logger;
  readonly secret: string;
  nodeState(): NodeState;
  /** A peer with a higher epoch showed up (probe or follow): step down. */
  peerHasHigherEpoch(peer: NodeState): void;
  /** Follower sessions come and go (status, metrics). */
  followerChanged(session: ShipSession | null): void;
  /** Serve the hand-back of a diverged follower (catchup.ts). */
  receiveHandback(link: Link, fork: bigint, peer: PeerHello): Promise<void>;
  /** Full resync of the follower (catchup.ts): where to stream from, and the journal pin to drop once there. */
  serveResync(link: Link, peer: PeerHello): Promise<ResyncStart>;
  /** Send this node's manifest (verify.ts). */
  sendManifest(link: Link): Promise<void>;
  /** Take an account another pair's primary moves here (move.ts). */
  receiveMove(link: Link, peer: PeerHello): Promise<void>;
  /** A peer failed the handshake or was refused there (status: lastRefusal). */
  refused(peer: string, reason: string): void;
}

export class PrimaryListener {
  private server: Server | null = null;
  private port: number | null = null;
  private readonly sockets = new Set<TLSSocket>();
  private session: ShipSession | null = null;
  private followerNeedsResync = false;
  private dropLoggedAt = 0;

  constructor(
    private readonly host: PrimaryHost,
    private readonly listen: string,
    private readonly tls: SecureContextOptions,
  ) {}

  get address(): number | null {
    return this.port;
  }

  get follower(): ShipSession | null {
    return this.session;
  }

  async start(): Promise<void> {
    // TLS 1.3 only: its exporter (RFC 8446 §7.5) is bound to the whole handshake, which the
    // channel binding of the replication handshake relies on (RFC 9266 §2).
    const options = { ...this.tls, minVersion: 'TLSv1.3' as const, handshakeTimeout: LIMITS.replication.handshakeDeadlineMs };
    const server = createServer(options, (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      this.serve(new Link(socket), socket).catch((err) => this.host.log.debug({ err }, 'replication: peer session ended'));
    });
    // Counted from TCP accept, so peers stuck in the TLS handshake count too; Node closes the excess at once.
    server.maxConnections = LIMITS.replication.maxConnections;
    server.on('drop', (d) => {
      if (Date.now() - this.dropLoggedAt < 10_000) return;
      this.dropLoggedAt = Date.now();
      this.host.log.warn({ peer: `${d?.remoteAddress}:${d?.remotePort}`, limit: LIMITS.replication.maxConnections }, 'replication: connection limit reached; closing new connections');
    });
    server.on('tlsClientError', (err) => this.host.log.warn({ err: err.message }, 'replication: TLS handshake with peer failed'));
    this.server = server;
    this.port = await listenOn(server, this.listen, 'replication.listen');
  }

  /** Drop the follower session (role change). */
  dropFollower(): void {
    this.session?.stop();
  }

  /**
   * An account was installed here outside the journal (a move from another
   * pair): the follower has no record of it, so its next connection gets a
   * full resync, and the current one is dropped to make that now. The
   * request is the store's (AccountMoves.followerResyncPending, durable with
   * the move's confirmation), so a restart before the follower reconnects
   * still re-seeds it.
   */
  resyncFollower(): void {
    this.followerNeedsResync = true;
    this.dropFollower();
  }

  async close(): Promise<void> {
    this.session?.stop();
    for (const s of this.sockets) s.destroy();
    if (this.server) await closeServer(this.server);
  }

  private async serve(link: Link, socket: TLSSocket): Promise<void> {
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    const log = this.host.log.child({ peer: remote });
    let peer: PeerHello;
    let expired = false;
    const deadline = setTimeout(() => {
      expired = true;
      socket.destroy();
    }, LIMITS.replication.handshakeDeadlineMs);
    try {
      peer = await acceptHandshake(link, this.host.nodeState(), this.host.secret);
    } catch (err) {
      const reason = expired ? `no completed handshake within ${LIMITS.replication.handshakeDeadlineMs} ms` : (err as Error).message;
      log.warn({ err: reason }, 'replication: peer refused at handshake');
      this.host.refused(remote, reason);
      link.close();
      return;
    } finally {
      clearTimeout(deadline);
    }
    const me = this.host.nodeState();
    if (peer.purpose === 'verify') {
      await this.host.sendManifest(link);
      link.socket.end();
      return;
    }
    // Before the epoch fencing below: a moving node belongs to another pair, whose epochs are its own.
    if (peer.purpose === 'move') {
      if (me.role !== 'primary') {
        await refuse(link, 'ROLE', 'this node is a replica; move the account to its pair\'s primary').catch(() => undefined);
        return;
      }
      try {
        await this.host.receiveMove(link, peer);
        link.socket.end();
      } catch (err) {
        log.warn({ err: (err as Error).message }, 'account move: refused or failed');
        link.close();
      }
      return;
    }
    if (peer.epoch > me.epoch && (peer.role === 'primary' || me.role === 'replica')) {
      // Fencing by epoch (as DRBD's generation identifiers): the newer generation wins.
      link.close();
      this.host.peerHasHigherEpoch(peer);
      return;
    }
    if (peer.purpose === 'probe') {
      if (peer.role === 'primary' && me.role === 'primary' && peer.epoch === me.epoch) {
        log.error({ epoch: me.epoch }, 'replication: SPLIT BRAIN — peer is primary at the same epoch; refusing');
        await refuse(link, 'EPOCH', `both nodes are primary at epoch ${me.epoch}`).catch(() => undefined);
      }
      link.socket.end();
      return;
    }
    if (me.role !== 'primary') {
      await refuse(link, 'ROLE', 'this node is a replica').catch(() => undefined);
      return;
    }
    await this.follow(link, peer, log);
  }

  private async follow(link: Link, peer: PeerHello, log: Logger): Promise<void> {
    const me = this.host.nodeState();
    const clusterId = me.clusterId!;
    const peerLast = BigInt(peer.lastLsn);
    let fork = forkPoint(me.history, peer.history, peerLast);
    // A follower ahead of us on our own line means our journal lost records: treat as diverged after our head.
    if (fork === null && peerLast > this.host.store.lastLsn()) fork = this.host.store.lastLsn() + 1n;
    let from = peerLast;
    let resync: ResyncStart | null = null;
    const method = resyncMethod(this.host.store);
    if (fork !== null) {
      log.warn({ fork: fork.toString(), peerLastLsn: peer.lastLsn, peerEpoch: peer.epoch }, 'replication: follower diverged from this line; taking its records back, then full resync');
      await link.send({ t: 'start', mode: 'handback', fork: fork.toString(), history: me.history, clusterId });
      await this.host.receiveHandback(link, fork, peer);
      await link.send({ t: 'start', mode: 'resync', history: me.history, clusterId, method });
      resync = await this.host.serveResync(link, peer);
    } else if (await this.needsFullResync(peer, peerLast, method)) {
      log.warn({ peerLastLsn: peer.lastLsn, journalFirstLsn: this.host.store.replication.journalInfo().firstLsn }, 'replication: follower needs a full resync');
      await link.send({ t: 'start', mode: 'resync', history: me.history, clusterId, method });
      resync = await this.host.serveResync(link, peer);
    } else {
      await link.send({ t: 'start', mode: 'stream', from: peerLast.toString(), history: me.history, clusterId });
    }
    if (resync) from = resync.from;
    this.session?.stop();
    // After a snapshot the journal stays pinned until the backlog it accumulated meanwhile is shipped.
    const session = new ShipSession(link, this.host, from, log, resync ? { until: this.host.store.lastLsn(), release: resync.release } : null);
    this.session = session;
    this.host.followerChanged(session);
    try {
      await session.run();
    } finally {
      if (this.session === session) {
        this.session = null;
        this.host.followerChanged(null);
      }
    }
  }

  /**
   * A follower on our line still gets a full resync when it asks for one,
   * when the journal no longer holds what comes after its last LSN, or when
   * it is new and snapshots exist (cheaper than replaying all history,
   * expunged mail included).
   */
  private async needsFullResync(peer: PeerHello, peerLast: bigint, method: 'snapshot' | 'replay'): Promise<boolean> {
    const moves = this.host.store.replication.moves;
    if (this.followerNeedsResync || moves?.followerResyncPending()) {
      // Taken as the resync starts: one cut short leaves the follower reset (LSN 0), which asks for another.
      this.followerNeedsResync = false;
      moves?.followerResynced();
      return true;
    }
    if (peer.needsResync || !(await this.journalServes(peerLast))) return true;
    return method === 'snapshot' && peerLast === 0n && this.host.store.lastLsn() > 0n;
  }

  /** Can the journal still serve every record after `lsn`? */
  private async journalServes(lsn: bigint): Promise<boolean> {
    if (lsn >= this.host.store.lastLsn()) return true;
    const first = await this.host.store.readJournal(lsn, 1);
    return first.length === 1 && first[0]!.lsn === lsn + 1n;
  }
}

export const READ_AHEAD = LIMITS.tuning.shipReadAheadMessages;

/**
 * Records [next, end) to read now, when `cur` is about to be sent and `held`
 * body bytes are already read and not yet sent: the current one always, then
 * while READ_AHEAD and LIMITS.replication.readAheadBytes (counting `held`) allow.
 */
export function readAheadEnd(sizes: readonly number[], next: number, cur: number, held: number): number {
  let end = next;
  let bytes = held;
  while (end < sizes.length && end < cur + READ_AHEAD) {
    if (end > cur && bytes + sizes[end]! > LIMITS.replication.readAheadBytes) break;
    bytes += sizes[end]!;
    end++;
  }
  return end;
}

/** Streams journal records to one follower and turns its acks into gate releases. */
export class ShipSession {
  private sent: bigint;
  private acked: bigint;
  private stopped = false;
  private wake: (() => void) | null = null;
  private inFlight: { lsn: bigint; bytes: number; time: number }[] = [];
  private inFlightBytes = 0;
  private lastHeard = Date.now();
  private visible = 0n;
  /**
   * Records as the store announced them (onCommit, then onJournal), in LSN
   * order, contiguous, above what was last fetched: shipped from here, so a
   * live record is not read back from the journal database it was just
   * written to. At most LIMITS.replication.readBatch are held; the rest, and
   * anything before a gap (a follower catching up, another process's
   * records), is read from the journal.
   */
  private announced: JournalRecord[] = [];
  /** Highest LSN fetched for shipping, from the journal or from `announced`. */
  private fetched: bigint;
  readonly since = Date.now();

  constructor(
    private readonly link: Link,
    private readonly host: PrimaryHost,
    from: bigint,
    private readonly log: Logger,
    private pinned: { until: bigint; release: () => void } | null = null,
  ) {
    this.sent = from;
    this.acked = from;
    this.fetched = from;
  }

  /** Keep announced records that continue what is fetched or held (a repeat, or one after a gap, is not kept). */
  private hold(records: readonly JournalRecord[]): void {
    for (const r of records) {
      const tail = this.announced[this.announced.length - 1];
      const next = (tail ? tail.lsn : this.fetched) + 1n;
      if (r.lsn < next) continue;
      if (r.lsn > next || this.announced.length >= LIMITS.replication.readBatch) return;
      this.announced.push(r);
    }
  }

  /** The next records to ship after `sent`: held ones when they follow on, else read from the journal. */
  private async nextBatch(): Promise<readonly JournalRecord[]> {
    let drop = 0;
    while (drop < this.announced.length && this.announced[drop]!.lsn <= this.sent) drop++;
    if (drop > 0) this.announced.splice(0, drop);
    const first = this.announced[0];
    let records: readonly JournalRecord[];
    if (first && first.lsn === this.sent + 1n) {
      records = this.announced.splice(0, LIMITS.replication.readBatch);
    } else {
      // Up to the first held record (or what is visible): the held ones follow from memory.
      const upTo = first ? first.lsn - 1n : this.visible;
      records = await this.host.store.readJournal(this.sent, Math.min(LIMITS.replication.readBatch, Number(upTo - this.sent)));
      metrics.recordsReadBack.inc(records.length);
    }
    const last = records[records.length - 1];
    if (last && last.lsn > this.fetched) this.fetched = last.lsn;
    return records;
  }

  private unpinWhenShipped(force = false): void {
    if (this.pinned && (force || this.sent >= this.pinned.until)) {
      this.pinned.release();
      this.pinned = null;
    }
  }

  get ackedLsn(): bigint {
    return this.acked;
  }

  /** Lag as the primary sees it: records and bytes not yet acknowledged, age of the oldest. */
  lag(): { records: number; bytes: number; seconds: number } {
    const records = Number(this.host.store.lastLsn() - this.acked);
    const oldest = this.inFlight[0];
    return {
      records: Math.max(0, records),
      bytes: this.inFlightBytes,
      seconds: oldest ? Math.max(0, (Date.now() - oldest.time) / 1000) : 0,
    };
  }

  stop(): void {
    this.stopped = true;
    this.link.close();
    this.wake?.();
  }

  async run(): Promise<void> {
    const { store, gate } = this.host;
    gate.resetAcked(this.acked);
    this.link.onMessage(({ frame }) => {
      this.lastHeard = Date.now();
      if (frame.t === 'ack') this.onAck(BigInt(frame.lsn));
    });
    // Ship only what the store has announced: a record is journaled before its file is
    // renamed into place, and announced after — by onCommit as soon as the files are in
    // place (the local fsyncs still running), else by onJournal once durable.
    this.visible = store.lastLsn();
    const announced = (records: readonly JournalRecord[]): void => {
      const last = records[records.length - 1];
      if (last && last.lsn > this.visible) this.visible = last.lsn;
      this.hold(records);
      this.wake?.();
    };
    const unsubscribeJournal = store.onJournal(announced);
    const unsubscribeCommit = store.onCommit?.(announced) ?? (() => undefined);
    const unsubscribe = (): void => {
      unsubscribeJournal();
      unsubscribeCommit();
    };
    const heartbeat = setInterval(() => {
      if (Date.now() - this.lastHeard > 4 * LIMITS.replication.heartbeatMs) {
        this.log.warn('replication: follower silent; dropping link');
        this.stop();
        return;
      }
      this.link
        .send({ t: 'hb', lastLsn: store.lastLsn().toString(), committedLsn: gate.committedLsn.toString(), time: Date.now() })
        .catch(() => this.stop());
    }, LIMITS.replication.heartbeatMs);
    this.log.info({ from: this.sent.toString() }, 'replication: follower streaming');
    try {
      while (!this.stopped && !this.link.closed) {
        if (this.sent < this.visible && this.inFlightBytes < LIMITS.replication.maxInFlightBytes) {
          const records = await this.nextBatch();
          if (records.length === 0 || records[0]!.lsn !== this.sent + 1n) {
            this.log.error({ after: this.sent.toString() }, 'replication: journal no longer holds the records the follower needs; it must resync');
            break;
          }
          // Bodies are read a few records ahead, so one batch of deliveries costs one round of file reads.
          // Ahead by count and by bytes (the record's size): a large body is read only when its turn comes,
          // so bodies held here stay near LIMITS.replication.readAheadBytes plus the one being sent.
          const bodies: (Promise<Buffer> | undefined)[] = [];
          const sizes: number[] = [];
          const recSizes = records.map((r) => (streamed(r) ? 0 : recordBytes(r)));
          let aheadBytes = 0;
          let next = 0;
          const fetch = (i: number): void => {
            const r = records[i];
            if (!r || r.kind !== 'deliver' || streamed(r)) return;
            const p = this.delivered(r);
            p.catch(() => undefined); // awaited below; a failure must not go unhandled meanwhile
            bodies[i] = p;
            sizes[i] = recordBytes(r);
            aheadBytes += sizes[i]!;
          };
          const fill = (cur: number): void => {
            const upTo = readAheadEnd(recSizes, next, cur, aheadBytes);
            while (next < upTo) fetch(next++);
          };
          for (let i = 0; i < records.length; i++) {
            if (this.stopped) break;
            fill(i);
            const body = await bodies[i];
            bodies[i] = undefined;
            aheadBytes -= sizes[i] ?? 0;
            await this.ship(records[i]!, body ?? (streamed(records[i]!) ? await this.deliveredStream(records[i]!) : undefined));
          }
          continue;
        }
        await new Promise<void>((resolve) => {
          this.wake = resolve;
          setTimeout(resolve, LIMITS.replication.heartbeatMs).unref();
        });
        this.wake = null;
      }
    } finally {
      this.unpinWhenShipped(true);
      clearInterval(heartbeat);
      unsubscribe();
      this.link.close();
      this.log.info({ acked: this.acked.toString() }, 'replication: follower link closed');
    }
  }

  private async ship(r: JournalRecord, body: BodySource | undefined): Promise<void> {
    try {
      await this.link.sendBody({ t: 'rec', r: toWire(r) }, body);
    } catch (err) {
      // A file stream not read to its end still holds its descriptor.
      if (body && !Buffer.isBuffer(body)) (body as Partial<Readable>).destroy?.();
      throw err;
    }
    const bytes = (Buffer.isBuffer(body) ? body.length : recordBytes(r)) + 200;
    this.inFlight.push({ lsn: r.lsn, bytes, time: r.time });
    this.inFlightBytes += bytes;
    this.sent = r.lsn;
    this.unpinWhenShipped();
    metrics.recordsShipped.inc();
  }

  /**
   * The bytes of a 'deliver' record. A file still being placed (a batch that
   * was in flight when this session started, or another process's) shows up
   * within moments; one at or below the store's placedLsn(), or that stays
   * missing, was expunged — or moved, and the move has its own
   * 'deliver' record with the bytes — before it could be shipped. It goes out
   * empty: the replica, like the primary's own crash replay, indexes no message
   * for it, which is what the later expunge would have left.
   */
  private delivered(r: JournalRecord): Promise<Buffer> {
    return this.whilePlaced(r, () => this.host.store.replication.readDelivered(r), Buffer.alloc(0));
  }

  /** The file of a large 'deliver', opened now and read in chunks as the link takes them (empty when gone, as delivered()). */
  private deliveredStream(r: JournalRecord): Promise<BodySource> {
    return this.whilePlaced<BodySource>(r, () => this.host.store.replication.openDelivered(r), Buffer.alloc(0));
  }

  private async whilePlaced<T>(r: JournalRecord, read: () => Promise<T>, gone: T): Promise<T> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await read();
      } catch (err) {
        if (!isRoostError(err, 'NOTFOUND')) throw err;
        const placed = this.host.store.placedLsn?.();
        if (attempt >= 20 || this.stopped || (placed !== undefined && r.lsn <= placed)) {
          this.log.warn({ lsn: r.lsn.toString(), accountId: r.accountId }, 'replication: delivered message gone before it could be shipped; sending it empty');
          return gone;
        }
        await new Promise((res) => setTimeout(res, 50));
      }
    }
  }

  private onAck(lsn: bigint): void {
    if (lsn <= this.acked) return;
    this.acked = lsn;
    while (this.inFlight.length > 0 && this.inFlight[0]!.lsn <= lsn) this.inFlightBytes -= this.inFlight.shift()!.bytes;
    this.host.gate.onAck(lsn);
    this.wake?.();
  }
}

export { HandshakeError };
