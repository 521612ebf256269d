/**
 * The following side: connects to `replication.peer`, authenticates, and
 * applies the primary's journal with the same LSNs, file names, UIDs,
 * UIDVALIDITY and modseqs (store.replication.apply is idempotent and durable
 * when it resolves), then acks. Acks are batched: one ack covers every record
 * applied since the last one, sent as soon as the receive queue runs dry, so a
 * burst of concurrent deliveries on the primary costs one round trip.
 *
 * The same connector, run by a primary, only probes: it learns whether the
 * peer is a primary of a newer epoch and, if so, the node steps down.
 */
import { connect, type TLSSocket } from 'node:tls';
import type { Logger } from '../log/logger.js';
import type { Store } from '../store/store.js';
import type { BodyWriter, ReceiveSpool, Spooled } from './spool.js';
import { LIMITS } from '../limits.js';
import { parseListen } from '../config/load.js';
import { HandshakeError, expect, offerHandshake } from './handshake.js';
import { Link, ProtocolError, fromWire, type EpochStart, type Message, type NodeState, type Purpose } from './protocol.js';
import type { JournalRecord } from '../store/store.js';
import { isRecordDecodeError } from '../store/journal/codec.js';

export interface FollowerHost {
  readonly store: Store;
  readonly log: Logger;
  readonly secret: string;
  readonly peer: string;
  nodeState(): NodeState;
  /** The authenticated primary's line: adopt its cluster id, epoch and history (durably). */
  adoptLine(clusterId: string, epoch: number, history: EpochStart[]): Promise<void>;
  /** The primary told us the highest LSN it acknowledged to a client. */
  sawCommitted(lsn: bigint, primaryLastLsn: bigint): void;
  /** A probe found a primary with a newer epoch. */
  peerHasHigherEpoch(peer: NodeState): void;
  /** Hand our diverged records back (catchup.ts). */
  sendHandback(link: Link, fork: bigint): Promise<void>;
  /** Full resync (catchup.ts): reset local data, then take the primary's snapshot (or its journal from LSN 1). */
  resync(link: Link, method: 'snapshot' | 'replay'): Promise<void>;
  linkChanged(state: { connected: boolean; error?: string }): void;
  /** Durable receive spool: records are acknowledged once spooled, applied behind it. */
  readonly spool: ReceiveSpool;
}

/**
 * Open a TLS 1.3 connection to "host:port". The peer's certificate is
 * self-signed and not checked: authenticity comes from the handshake, whose
 * proofs are bound to this TLS session (RFC 9266 tls-exporter), so a relay
 * presenting its own certificate learns and changes nothing.
 */
export function connectPeer(peer: string, timeoutMs: number): Promise<TLSSocket> {
  const addr = parseListen(peer);
  if (!addr) return Promise.reject(new Error('replication.peer is empty'));
  return new Promise((resolve, reject) => {
    const socket = connect({ host: addr.host, port: addr.port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${peer}: timed out`));
    }, timeoutMs);
    socket.once('secureConnect', () => {
      clearTimeout(timer);
      socket.setNoDelay(true);
      socket.setKeepAlive(true, 10_000);
      resolve(socket);
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

export class Follower {
  private running = false;
  private link: Link | null = null;
  private loop: Promise<void> | null = null;
  private sleeping: (() => void) | null = null;
  /** Highest LSN the primary reported having. */
  primaryLastLsn = 0n;
  lastRecordTime = 0;
  connectedSince: number | null = null;

  constructor(
    private readonly host: FollowerHost,
    private readonly purpose: Exclude<Purpose, 'verify'>,
  ) {}

  start(): void {
    if (this.running) return;
    this.running = true;
    this.loop = this.run();
  }

  async stop(): Promise<void> {
    this.running = false;
    this.link?.close();
    this.sleeping?.();
    await this.loop;
    this.loop = null;
  }

  /** One probe now (used before opening client ports at start). Resolves false when the peer could not be reached. */
  async probeOnce(timeoutMs: number): Promise<boolean> {
    try {
      await this.session(timeoutMs);
      return true;
    } catch (err) {
      this.host.log.debug({ err: (err as Error).message }, 'replication: probe failed');
      return false;
    }
  }

  private async run(): Promise<void> {
    let backoff: number = LIMITS.replication.reconnectMinMs;
    while (this.running) {
      const began = Date.now();
      try {
        await this.session(LIMITS.replication.handshakeTimeoutMs);
      } catch (err) {
        const e = err as Error;
        if (isRecordDecodeError(e)) {
          // Reconnecting would receive the same record again, and skipping it would leave this
          // copy silently different: stop here, applied up to the record before it.
          this.host.log.error(
            { err: e.message, lsn: e.lsn, kind: e.kind, peer: this.host.peer },
            'replication: a record from the primary cannot be read by this release; replication stopped (upgrade this node, then restart it)',
          );
          this.host.linkChanged({ connected: false, error: `replication stopped: ${e.message}` });
          this.running = false;
          break;
        }
        const level = e instanceof HandshakeError ? 'error' : 'debug';
        this.host.log[level]({ err: e.message, peer: this.host.peer }, `replication: ${this.purpose} link to peer ended`);
        this.host.linkChanged({ connected: false, error: e.message });
      }
      this.connectedSince = null;
      if (!this.running) break;
      if (Date.now() - began > 5000) backoff = LIMITS.replication.reconnectMinMs;
      const wait = this.purpose === 'probe' ? LIMITS.replication.heartbeatMs * 2 : backoff;
      await new Promise<void>((resolve) => {
        this.sleeping = resolve;
        setTimeout(resolve, wait).unref();
      });
      this.sleeping = null;
      backoff = Math.min(backoff * 2, LIMITS.replication.reconnectMaxMs);
    }
  }

  private async session(timeoutMs: number): Promise<void> {
    const socket = await connectPeer(this.host.peer, timeoutMs);
    const link = new Link(socket);
    this.link = link;
    try {
      const me = this.host.nodeState();
      const peer = await offerHandshake(link, me, this.host.secret, this.purpose);
      if (peer.role === 'primary' && peer.epoch > me.epoch && me.role === 'primary') {
        this.host.peerHasHigherEpoch(peer);
        return;
      }
      if (this.purpose === 'probe') {
        // Wait for the listener's verdict (close, or refuse on a split brain).
        await link.next(timeoutMs).catch((err: Error) => {
          if (err instanceof HandshakeError) throw err;
        });
        return;
      }
      await this.follow(link);
    } finally {
      link.close();
      if (this.link === link) this.link = null;
    }
  }

  private async follow(link: Link): Promise<void> {
    const log = this.host.log;
    let start = await expect(link, 'start');
    if (start.mode === 'handback') {
      await this.host.sendHandback(link, BigInt(start.fork));
      start = await expect(link, 'start', 10 * 60_000);
    }
    const peerEpoch = start.history.length > 0 ? start.history[start.history.length - 1]!.epoch : 0;
    if (start.mode === 'resync') {
      await this.host.resync(link, start.method ?? 'replay');
    } else if (start.mode !== 'stream') {
      throw new Error(`unexpected start mode ${start.mode}`);
    }
    await this.host.adoptLine(start.clusterId, peerEpoch, start.history);
    this.connectedSince = Date.now();
    this.host.linkChanged({ connected: true });
    log.info({ peer: this.host.peer, appliedLsn: this.host.store.replication.appliedLsn().toString() }, 'replication: following primary');
    await this.apply(link);
  }

  /**
   * Spool received records in batches (one fdatasync each) and ack the
   * highest LSN spooled; the spool applies them to the store behind the acks.
   * When the applier falls too far behind, acks wait for it, which makes the
   * primary stop sending (its in-flight bound) — back-pressure end to end.
   * A body that comes in chunks is written to its spool file as it arrives
   * and its record acked once that file is durable; while more than
   * LIMITS.replication.receiveQueueBytes wait here, the socket is not read.
   */
  private apply(link: Link): Promise<void> {
    const spool = this.host.spool;
    const queue: Message[] = [];
    let queued = 0;
    let paused = false;
    let busy = false;
    let lastHeard = Date.now();
    let done = false;
    /** The record whose body is coming in chunks, and its spool file. */
    let receiving: { record: JournalRecord; writer: BodyWriter } | null = null;
    let pumping: Promise<void> = Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      const finish = (err?: Error): void => {
        if (done) return;
        done = true;
        clearInterval(watchdog);
        link.close();
        // A body cut off mid-way was never acknowledged: remove it (the primary sends the record again).
        const settle = pumping.then(async () => {
          const partial = receiving;
          receiving = null;
          await partial?.writer.abort();
        });
        settle.then(
          () => (err ? reject(err) : resolve()),
          (e: Error) => reject(err ?? e),
        );
      };
      const ack = (): void => {
        link.send({ t: 'ack', lsn: spool.receivedLsn.toString() }).catch(() => undefined);
      };
      const take = (): Message => {
        const m = queue.shift()!;
        queued -= m.body.length;
        lastHeard = Date.now();
        if (paused && queued <= LIMITS.replication.receiveQueueBytes / 2) {
          paused = false;
          link.socket.resume();
        }
        return m;
      };
      const pump = async (): Promise<void> => {
        if (busy) return;
        busy = true;
        try {
          while (queue.length > 0 && !done) {
            let batch: Spooled[] = [];
            while (queue.length > 0 && !done) {
              const { frame, body } = take();
              if (receiving) {
                if (frame.t === 'chunk') {
                  await receiving.writer.write(body);
                  continue;
                }
                if (frame.t !== 'chunk-end') throw new ProtocolError(`expected a chunk, got ${frame.t}`);
                batch.push({ record: receiving.record, body: await receiving.writer.finish(frame.bytes) });
                receiving = null;
              } else if (frame.t === 'rec') {
                const record = fromWire(frame.r);
                this.lastRecordTime = record.time;
                if (frame.chunked) {
                  // What came before is acknowledged now, not after the large body.
                  if (batch.length > 0) await spool.append(batch);
                  if (batch.length > 0) ack();
                  batch = [];
                  receiving = { record, writer: await spool.bodyWriter(record.lsn) };
                } else {
                  batch.push({ record, body: frame.r.kind === 'deliver' ? body : null });
                }
              } else if (frame.t === 'refuse') {
                throw new HandshakeError(frame.code, `primary: ${frame.message}`);
              } else if (frame.t === 'chunk' || frame.t === 'chunk-end') {
                throw new ProtocolError(`${frame.t} outside a chunked record`);
              }
            }
            if (batch.length === 0) continue;
            await spool.append(batch);
            if (spool.pendingBytes > LIMITS.replication.maxInFlightBytes) await spool.drain();
            ack();
          }
        } catch (err) {
          finish(err as Error);
        } finally {
          busy = false;
        }
      };
      const watchdog = setInterval(() => {
        if (link.closed) finish();
        else if (paused || busy) {
          // Not reading on purpose (writing a body, waiting for the applier): tell the primary we are here.
          lastHeard = Date.now();
          ack();
        } else if (Date.now() - lastHeard > 4 * LIMITS.replication.heartbeatMs) {
          log().warn('replication: primary silent; reconnecting');
          finish();
        }
      }, LIMITS.replication.heartbeatMs);
      const log = (): Logger => this.host.log;
      link.onMessage((m) => {
        lastHeard = Date.now();
        if (m.frame.t === 'hb') {
          // Heartbeats bypass the apply queue: the replica must learn at once how far the
          // primary has acknowledged (promote's "behind" check), and answering doubles as keepalive.
          this.primaryLastLsn = BigInt(m.frame.lastLsn);
          this.host.sawCommitted(BigInt(m.frame.committedLsn), this.primaryLastLsn);
          ack();
          return;
        }
        queue.push(m);
        queued += m.body.length;
        if (!paused && queued > LIMITS.replication.receiveQueueBytes) {
          paused = true;
          link.socket.pause();
        }
        if (!busy) pumping = pump();
      });
      link.socket.once('close', () => {
        // Finish after whatever was received has been applied.
        const wait = (): void => {
          if (done || (!busy && queue.length === 0)) finish();
          else setTimeout(wait, 5);
        };
        wait();
      });
    });
  }
}
