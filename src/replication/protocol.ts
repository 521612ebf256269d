/**
 * The replication wire protocol spoken over TLS between the two
 * nodes of a pair. The replica (or a primary probing its peer for a higher
 * epoch) connects to `replication.peer`; the other side listens on
 * `replication.listen`.
 *
 * Framing: every frame is
 *
 *     u32 BE header length | u32 BE body length | header (UTF-8 JSON) | body
 *
 * The header is one of the `Frame` objects below (discriminated by `t`); the
 * body carries raw message bytes (a delivered message, or a message handed
 * back after a split brain) and is empty otherwise. Bigints
 * (LSNs, modseqs) travel as decimal strings.
 *
 * Bodies in chunks (version 3). A frame body is at most
 * LIMITS.replication.maxFrameBody. A message body larger than
 * LIMITS.replication.bodyChunkBytes is not put in its frame: the frame
 * (`rec`, `handback`, `snap-file`, `snap-dir`) says `chunked`, and the bytes
 * follow as `chunk` frames of at most bodyChunkBytes each, ended by
 * `chunk-end {bytes}` with the total. The sender reads the file a chunk at a
 * time and writes each with back-pressure; the receiver writes each chunk to
 * a file as it comes (the replica fdatasyncs it before it acknowledges the
 * record), so neither side holds a whole large message.
 *
 * Handshake (version 2). Both sides prove they know `replication.secret`
 * and that they see the same TLS session: each MACs the session's
 * tls-exporter value (RFC 9266 §2 over RFC 8446 §7.5, RFC 5705; TLS 1.3
 * only) with both nonces and the purpose. A relay that terminates TLS towards
 * both nodes holds two sessions with two different exporter values, so the
 * proofs fail even when it forwards every byte; once they pass, TLS itself
 * keeps the link confidential and unaltered end to end. Certificates are
 * self-signed and not checked: authenticity comes from the secret.
 *
 *   C → S  hello      {v, nonceC, purpose}                   nothing about the node
 *   S → C  challenge  {v, nonceS}                            no MAC: the listener gives nothing testable
 *   C → S  auth       {mac = HMAC(secret, "C" | purpose | nonceC | nonceS | exporter), unbound}
 *   S → C  proof      {mac = HMAC(secret, "S" | …same…)}      or refuse {AUTH | CHANNEL}
 *   C → S  state      {node state}                           only after the listener proved the secret
 *   S → C  state      {node state}                           or refuse {CLUSTER}
 *   S → C  start      {mode, from}  (follow)                 or refuse {ROLE | EPOCH …}
 *
 * The party that speaks first proves first, so the listener — the side any
 * host can reach — never sends a MAC, nor its state, to a peer that has not
 * proved the secret. The connecting side does send its MAC before the
 * listener proves anything; whoever receives it (an impostor at the peer's
 * address) can test guesses of the secret against it offline, which is why
 * the secret must be long and random (config: replication.secret). `unbound`
 * is the same MAC without the exporter value: it lets the listener tell "the
 * secret differs" from "a TLS-terminating relay sits between us" and reveals
 * nothing the bound MAC does not. Frames read before the peer has proved the
 * secret are capped (LIMITS.replication.maxHandshakeFrame/maxHandshakeBytes).
 *
 * Then, for a streaming replica:
 *
 *   S → C  rec        {record} + body of a 'deliver'
 *   S → C  hb         {lastLsn, committedLsn}   keepalive; committedLsn = highest LSN acknowledged to a client
 *   C → S  ack        {lsn}                     batched: highest LSN applied and fsync'd
 *
 * Epochs follow DRBD's generation identifiers (DRBD User's Guide, "Generation Identifiers"): each
 * node carries `history`, the (epoch, startLsn) pairs of the primaries its data
 * descends from. A node that learns of a higher epoch stops writing and
 * follows; records it holds beyond the fork point are handed back
 * (`handback`) to be delivered again on the primary, then it is re-seeded by a
 * full resync: it resets its store (`resync-ready`) and the primary replays
 * its journal from LSN 1.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import type { Duplex } from 'node:stream';
import { TLSSocket } from 'node:tls';
import type { JournalRecord, SnapshotFile } from '../store/store.js';
import type { WireRecord } from '../store/journal/codec.js';
import type { Account } from '../accounts/directory.js';
import { LIMITS } from '../limits.js';

/**
 * 3: bodies larger than a chunk travel as chunk frames and frames are capped
 * at LIMITS.replication.maxFrameBody (2 sent each body whole, in one frame of
 * up to 256 MB). 2: the handshake is bound to the TLS session and nothing is
 * told before the peer proved the secret (1 sent state and MACs in hello).
 */
export const PROTOCOL_VERSION = 3;

export type Role = 'primary' | 'replica';

/**
 * Why a node connects: to stream from a primary, to compare epochs with a
 * peer primary, to fetch a manifest for `roost verify`, or to hand one
 * account to the primary of another pair (`roost account move`, move.ts).
 */
export type Purpose = 'follow' | 'probe' | 'verify' | 'move';
export const PURPOSES: readonly Purpose[] = ['follow', 'probe', 'verify', 'move'];

/** One step of a node's ancestry: epoch `epoch` started writing at LSN `startLsn`. */
export interface EpochStart {
  epoch: number;
  startLsn: string;
}

/** What each side tells the other once both have proved the secret. */
export interface NodeState {
  nodeId: string;
  /** Null for a node that never joined a cluster (fresh data dir). */
  clusterId: string | null;
  role: Role;
  epoch: number;
  /** Highest LSN in this node's journal. */
  lastLsn: string;
  /** Epoch of the record at lastLsn (0 when the journal is empty). */
  lastEpoch: number;
  history: EpochStart[];
  /** The node's data left the primary's line and waits for a full resync. */
  needsResync?: boolean;
}

/** Records travel in the journal's own encoding, versioned and checked on arrival (src/store/journal/codec.ts). */
export { fromWire, toWire, type WireRecord } from '../store/journal/codec.js';

export type Frame =
  | { t: 'hello'; v: number; nonce: string; purpose: Purpose }
  | { t: 'challenge'; v: number; nonce: string }
  | { t: 'auth'; mac: string; unbound: string }
  | { t: 'proof'; mac: string }
  | ({ t: 'state' } & NodeState)
  | { t: 'refuse'; code: RefuseCode; message: string }
  | { t: 'start'; mode: 'stream'; from: string; history: EpochStart[]; clusterId: string }
  | { t: 'start'; mode: 'handback'; fork: string; history: EpochStart[]; clusterId: string }
  /** Full resync by `method`: a snapshot of every account (snap-* frames), or the journal replayed from LSN 1. */
  | { t: 'start'; mode: 'resync'; history: EpochStart[]; clusterId: string; method?: 'snapshot' | 'replay' }
  /** `chunked`: the body follows as chunk frames. `file`: only in the replica's spool file, the body's file in the spool directory. */
  | { t: 'rec'; r: WireRecord; chunked?: boolean; file?: { name: string; size: number } }
  /** A piece of the body of the chunked frame before it (body: at most LIMITS.replication.bodyChunkBytes). */
  | { t: 'chunk' }
  /** The chunked body is complete: `bytes` in all. */
  | { t: 'chunk-end'; bytes: number }
  | { t: 'hb'; lastLsn: string; committedLsn: string; time: number }
  | { t: 'ack'; lsn: string }
  /** A message the follower accepted that the primary lacks (split brain); body = bytes. */
  | { t: 'handback'; id: number; accountId: string; mailbox: string; basename: string; sender: string; internalDate: number; flags: string[]; messageId: string | null; chunked?: boolean }
  | { t: 'handback-ok'; id: number; outcome: 'delivered' | 'present' | 'failed'; detail?: string }
  | { t: 'handback-done' }
  /** Full resync: the follower has reset its store; the primary replays its journal from LSN 1. */
  | { t: 'resync-ready' }
  /** Snapshot (catchup.ts): counts for progress, then the embedded directory (body: JSON), then per account its index image and files. */
  | { t: 'snap-begin'; accounts: number; lsn: string }
  | { t: 'snap-dir'; chunked?: boolean }
  /** One account: its index image follows in `imageBytes` worth of snap-image frames (body: a piece), then its files. */
  | { t: 'snap-account'; accountId: string; account: Account; appliedLsn: string; files: number; imageBytes: number }
  | { t: 'snap-image' }
  | { t: 'snap-file'; accountId: string; file: SnapshotFile; lost?: boolean; chunked?: boolean }
  /** End of a chunk of frames: the follower installs it and answers snap-ack with the same seq (flow control). */
  | { t: 'snap-flush'; seq: number }
  | { t: 'snap-ack'; seq: number }
  /** Every account sent: the stream continues with the records after `from`. */
  | { t: 'snap-end'; from: string }
  /** `roost verify`: one mailbox of the peer's manifest per frame, then the end marker. */
  | { t: 'manifest'; entry: MailboxManifest }
  | { t: 'manifest-end'; lastLsn: string }
  /** `roost account move` (move.ts): the account the source sends; answered move-ready or refuse {EXISTS | ROLE}. */
  | { t: 'move-begin'; account: Account }
  | { t: 'move-ready' }
  /**
   * One round: `files` snap-file frames (only messages not sent before), then snap-flush. The final round
   * first sends its index image of `imageBytes` as snap-image pieces: whole, or, with `deltaBytes`, as an
   * image delta (snap-frames.ts) against the base image the last catch-up round sent (its `imageBytes` > 0),
   * whose result must have the SHA-256 `imageSha256`.
   */
  | { t: 'move-round'; final: boolean; files: number; imageBytes: number; deltaBytes?: number; imageSha256?: string }
  /** The destination installed the final round; its manifest of the account follows (manifest frames, manifest-end). */
  | { t: 'move-done'; messages: number; bytes: number; installMs?: number; installPhases?: Record<string, number> }
  /** The source's verdict on that manifest: commit (the copy serves; answered move-committed) or abort (the copy is removed). */
  | { t: 'move-commit' }
  | { t: 'move-committed' }
  | { t: 'move-abort'; reason: string };

/** What `roost verify` compares for one mailbox. */
export interface MailboxManifest {
  accountId: string;
  mailbox: string;
  uidvalidity: number;
  uidnext: number;
  /** uid, basename, flags (sorted, joined by spaces), modseq, SHA-256 of the file. */
  messages: [number, string, string, string, string][];
}

/** AUTH: the secret differs; CHANNEL: the secret is right but the TLS sessions differ (a relay terminates TLS); PROTOCOL: malformed or oversized frames. */
export type RefuseCode = 'VERSION' | 'AUTH' | 'CHANNEL' | 'CLUSTER' | 'ROLE' | 'EPOCH' | 'BUSY' | 'RESYNC' | 'PROTOCOL' | 'INTERNAL' | 'EXISTS' | 'NOTFOUND';

export interface Message {
  frame: Frame;
  body: Buffer;
}

/** Frames whose body may follow as chunk frames. */
export type ChunkableFrame = Extract<Frame, { t: 'rec' | 'handback' | 'snap-file' | 'snap-dir' }>;

/** A body to send: bytes in memory, or pieces read from a file as they are sent. */
export type BodySource = Buffer | AsyncIterable<Buffer>;

export function encodeFrame(frame: Frame, body?: Buffer): Buffer[] {
  const header = Buffer.from(JSON.stringify(frame), 'utf8');
  const lengths = Buffer.alloc(8);
  lengths.writeUInt32BE(header.length, 0);
  lengths.writeUInt32BE(body?.length ?? 0, 4);
  return body && body.length > 0 ? [lengths, header, body] : [lengths, header];
}

export class ProtocolError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ProtocolError';
  }
}

/**
 * Incremental decoder: feed chunks, take whole messages. Bounded by the
 * header and body limits, so a confused or hostile peer cannot make us buffer
 * without end; in handshake mode (until lift()) every frame and the bytes in
 * all are capped far lower, because the peer has not proved anything yet.
 */
export class FrameDecoder {
  private chunks: Buffer[] = [];
  private buffered = 0;
  private received = 0;

  /** `maxBody`: the frame body cap once lifted (the replica's spool file has its own). */
  constructor(
    private handshake = false,
    private readonly maxBody: number = LIMITS.replication.maxFrameBody,
  ) {}

  /** The peer proved the secret: the full frame limits apply from now on. */
  lift(): void {
    this.handshake = false;
  }

  push(chunk: Buffer): Message[] {
    this.chunks.push(chunk);
    this.buffered += chunk.length;
    const { maxHandshakeBytes, maxHandshakeFrame, maxFrameHeader } = LIMITS.replication;
    if (this.handshake && (this.received += chunk.length) > maxHandshakeBytes) {
      throw new ProtocolError(`more than ${maxHandshakeBytes} bytes before authentication`);
    }
    const out: Message[] = [];
    for (;;) {
      if (this.buffered < 8) break;
      const head = this.peek(8);
      const hlen = head.readUInt32BE(0);
      const blen = head.readUInt32BE(4);
      if (this.handshake && 8 + hlen + blen > maxHandshakeFrame) {
        throw new ProtocolError(`frame of ${8 + hlen + blen} bytes before authentication (limit ${maxHandshakeFrame})`);
      }
      if (hlen === 0 || hlen > maxFrameHeader) throw new ProtocolError(`frame header of ${hlen} bytes`);
      if (blen > this.maxBody) throw new ProtocolError(`frame body of ${blen} bytes (limit ${this.maxBody})`);
      if (this.buffered < 8 + hlen + blen) break;
      const all = this.take(8 + hlen + blen);
      let frame: Frame;
      try {
        frame = JSON.parse(all.subarray(8, 8 + hlen).toString('utf8')) as Frame;
      } catch {
        throw new ProtocolError('frame header is not JSON');
      }
      if (typeof frame !== 'object' || frame === null || typeof frame.t !== 'string') throw new ProtocolError('frame without type');
      out.push({ frame, body: all.subarray(8 + hlen) });
    }
    return out;
  }

  private peek(n: number): Buffer {
    if (this.chunks[0]!.length < n) this.chunks = [Buffer.concat(this.chunks)];
    return this.chunks[0]!.subarray(0, n);
  }

  private take(n: number): Buffer {
    const all = this.chunks.length === 1 ? this.chunks[0]! : Buffer.concat(this.chunks);
    this.chunks = all.length > n ? [all.subarray(n)] : [];
    this.buffered -= n;
    return Buffer.from(all.subarray(0, n));
  }
}

/**
 * A framed connection: `next()` pulls one message (with a timeout), `send()`
 * writes one and honours back-pressure.
 */
export class Link {
  /** Handshake limits until authenticated() (the peer proved the secret). */
  private readonly decoder = new FrameDecoder(true);
  private readonly queue: Message[] = [];
  /** A refuse frame was sent: the socket ends on its own (refuse()). */
  private ending = false;
  private waiter: { resolve: (m: Message) => void; reject: (e: Error) => void } | null = null;
  private failure: Error | null = null;
  private readonly listeners = new Set<(m: Message) => void>();

  constructor(readonly socket: Duplex) {
    socket.on('data', (chunk: Buffer) => {
      if (this.ending) return;
      let messages: Message[];
      try {
        messages = this.decoder.push(chunk);
      } catch (err) {
        this.fail(err as Error);
        // Tell the peer why, and read nothing more from it (memory stays flat whatever it sends).
        this.refuse('PROTOCOL', (err as Error).message, { stopReading: true });
        return;
      }
      for (const m of messages) this.deliver(m);
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new ProtocolError('connection closed')));
  }

  get closed(): Error | null {
    return this.failure;
  }

  /** The peer proved the secret over this TLS session: lift the handshake limits. */
  authenticated(): void {
    this.decoder.lift();
  }

  /** Switch from pull to push: every later message goes to `listener`. */
  onMessage(listener: (m: Message) => void): void {
    this.listeners.add(listener);
    while (this.queue.length > 0) listener(this.queue.shift()!);
  }

  next(timeoutMs: number): Promise<Message> {
    const queued = this.queue.shift();
    if (queued) return Promise.resolve(queued);
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = null;
        reject(new ProtocolError(`no frame from peer within ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiter = {
        resolve: (m) => {
          clearTimeout(timer);
          resolve(m);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e);
        },
      };
    });
  }

  /** Write a frame; resolves once the socket accepted it (waits for 'drain' when its buffer is full). */
  async send(frame: Frame, body?: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    let ok = true;
    for (const part of encodeFrame(frame, body)) ok = this.socket.write(part);
    if (!ok) await this.drained();
  }

  /**
   * Resolves once every frame written so far has been handed on by the
   * socket (writes complete in order: an empty one's callback runs after
   * theirs), so a long synchronous stretch that follows no longer holds
   * them back in this process.
   */
  flushed(): Promise<void> {
    if (this.failure) return Promise.reject(this.failure);
    return new Promise((resolve, reject) => this.socket.write(Buffer.alloc(0), (err) => (err ? reject(err) : resolve())));
  }

  /**
   * Send `frame` with `body`: inline when it is a buffer of at most
   * LIMITS.replication.bodyChunkBytes, else as `chunked` followed by chunk
   * frames (each written with back-pressure, so a file source is read no
   * faster than the peer takes it) and chunk-end. A source that fails
   * leaves the peer mid-body: the caller must close the link.
   */
  async sendBody(frame: ChunkableFrame, body: BodySource | undefined): Promise<void> {
    const max = LIMITS.replication.bodyChunkBytes;
    if (body === undefined || (Buffer.isBuffer(body) && body.length <= max)) return this.send(frame, body);
    await this.send({ ...frame, chunked: true });
    let bytes = 0;
    for await (const piece of Buffer.isBuffer(body) ? [body] : body) {
      for (let off = 0; off < piece.length; off += max) {
        const part = piece.subarray(off, off + max);
        await this.send({ t: 'chunk' }, part);
        bytes += part.length;
      }
    }
    await this.send({ t: 'chunk-end', bytes });
  }

  private drained(): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (): void => {
        this.socket.off('drain', done);
        this.socket.off('close', closed);
        resolve();
      };
      const closed = (): void => {
        this.socket.off('drain', done);
        reject(this.failure ?? new ProtocolError('connection closed'));
      };
      this.socket.once('drain', done);
      this.socket.once('close', closed);
    });
  }

  /** Destroy the socket — unless a refuse frame is on its way out (refuse() ends the socket itself). */
  close(): void {
    if (!this.ending) this.socket.destroy();
  }

  /**
   * Send `refuse` and end the socket, so the frame reaches the peer before
   * the connection closes (its `roost status` says why). The socket is
   * destroyed after LIMITS.replication.refuseLingerMs whatever the peer does;
   * with `stopReading` nothing more is read from it meanwhile.
   */
  refuse(code: RefuseCode, message: string, opts: { stopReading?: boolean } = {}): void {
    if (this.ending) return;
    this.ending = true;
    if (opts.stopReading) this.socket.pause();
    if (this.socket.writable) {
      for (const part of encodeFrame({ t: 'refuse', code, message })) this.socket.write(part);
      this.socket.end();
    }
    setTimeout(() => this.socket.destroy(), LIMITS.replication.refuseLingerMs).unref();
    this.fail(new ProtocolError(`refused: ${message}`));
  }

  private deliver(m: Message): void {
    if (this.listeners.size > 0) {
      for (const l of this.listeners) l(m);
    } else if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(m);
    } else {
      this.queue.push(m);
    }
  }

  private fail(err: Error): void {
    if (this.failure) return;
    this.failure = err;
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }
}

/**
 * Pull the body of `first` (a frame that may be `chunked`) from `link` into
 * `sink`, a piece at a time; resolves with the byte count. A chunked body
 * must end with chunk-end naming the bytes received.
 */
export async function receiveBody(link: Link, first: Message, sink: (piece: Buffer) => Promise<void>, timeoutMs: number): Promise<number> {
  if (!(first.frame as { chunked?: boolean }).chunked) {
    if (first.body.length > 0) await sink(first.body);
    return first.body.length;
  }
  let bytes = 0;
  for (;;) {
    const { frame, body } = await link.next(timeoutMs);
    if (frame.t === 'chunk') {
      bytes += body.length;
      await sink(body);
    } else if (frame.t === 'chunk-end') {
      if (frame.bytes !== bytes) throw new ProtocolError(`chunked body of ${bytes} bytes, its end says ${String(frame.bytes)}`);
      return bytes;
    } else if (frame.t === 'refuse') {
      throw new ProtocolError(`peer refused: ${frame.message}`);
    } else {
      throw new ProtocolError(`expected a chunk, got ${frame.t}`);
    }
  }
}

// --- Authentication (HMAC-SHA256 proofs bound to the TLS session) ---

export function newNonce(): string {
  return randomBytes(32).toString('hex');
}

export function isNonce(v: unknown): v is string {
  return typeof v === 'string' && /^[0-9a-f]{64}$/.test(v);
}

/** What both proofs cover: the purpose, both nonces, and the TLS session's exporter value. */
export interface Transcript {
  purpose: Purpose;
  nonceC: string;
  nonceS: string;
  /** channelBinding() of this side's TLS session. */
  binding: Buffer;
}

/**
 * The tls-exporter channel binding of RFC 9266 §2: 32 bytes exported with
 * the label "EXPORTER-Channel-Binding" and no context (RFC 5705 §4, RFC 8446
 * §7.5). Both ends of one TLS 1.3 session compute the same value; the two
 * sessions of a relay that terminates TLS towards each node do not.
 */
export function channelBinding(socket: Duplex): Buffer {
  if (!(socket instanceof TLSSocket)) throw new ProtocolError('replication links run over TLS');
  // TLS 1.3 makes an empty context the same as none (RFC 8446 §7.5), which RFC 9266 asks for.
  return socket.exportKeyingMaterial(32, 'EXPORTER-Channel-Binding', Buffer.alloc(0));
}

/**
 * A side's proof: "C" for the connecting side, "S" for the listener. `bound`
 * false leaves the exporter value out (auth.unbound, for the diagnosis only).
 */
export function proofMac(secret: string, side: 'C' | 'S', t: Transcript, bound = true): string {
  const channel = bound ? ['tls-exporter', t.binding.toString('hex')] : ['unbound', ''];
  return createHmac('sha256', secret)
    .update(['roost-repl-v2', side, t.purpose, t.nonceC, t.nonceS, ...channel].join('|'))
    .digest('hex');
}

/** Constant-time comparison of two hex MACs. */
export function macEqual(a: unknown, b: string): boolean {
  if (typeof a !== 'string') return false;
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === 32 && y.length === 32 && timingSafeEqual(x, y);
}

/**
 * Where a follower's data leaves the primary's line (DRBD generation
 * identifiers, DRBD User's Guide). Both histories list (epoch, startLsn) in
 * order; they agree on a common prefix, and the first entry where they differ
 * starts a generation one side lacks. Records of the follower at or after that
 * LSN are not on the primary. Returns null when the follower's journal is a
 * prefix of the primary's (plain catch-up).
 */
export function forkPoint(primary: readonly EpochStart[], follower: readonly EpochStart[], followerLastLsn: bigint): bigint | null {
  let i = 0;
  while (i < primary.length && i < follower.length && primary[i]!.epoch === follower[i]!.epoch && primary[i]!.startLsn === follower[i]!.startLsn) i++;
  const candidates: bigint[] = [];
  if (i < primary.length) candidates.push(BigInt(primary[i]!.startLsn));
  if (i < follower.length) candidates.push(BigInt(follower[i]!.startLsn));
  if (candidates.length === 0) return null;
  const fork = candidates.reduce((a, b) => (b < a ? b : a));
  return followerLastLsn >= fork ? fork : null;
}

/** The body bytes a record brings (its message size for a 'deliver', else 0). */
export function recordBytes(r: JournalRecord): number {
  return r.kind === 'deliver' ? r.data.size : 0;
}

/** A body too large for one frame: streamed from its file in chunks when its turn comes, never read ahead or whole. */
export function streamed(r: JournalRecord): boolean {
  return recordBytes(r) > LIMITS.replication.bodyChunkBytes;
}
