/**
 * The replication listener facing peers that have proved nothing: one
 * spawned node, reached by raw TLS clients written here. Before the peer
 * proved replication.secret it gets a nonce and nothing else, its frames are
 * capped (LIMITS.replication.maxHandshakeFrame, a 200 MB length prefix is
 * cut off with memory flat), it is dropped at the handshake deadline, and
 * at most LIMITS.replication.maxConnections are open at once (N and N+1).
 * An old-protocol node (versions 1 and 2) is refused with a reason naming
 * both versions; after authentication a frame body past
 * LIMITS.replication.maxFrameBody is refused (N and N+1).
 */
import { readFile } from 'node:fs/promises';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { FrameDecoder, PROTOCOL_VERSION, channelBinding, encodeFrame, newNonce, proofMac, type Frame, type Transcript } from '../../src/replication/protocol.js';
import { serverClosedAfter, TIMER_SLACK_MS } from '../helpers/timing.js';
import { Pair, SECRET, replStatus, waitUntil } from './pair.js';

let pair: Pair;
beforeAll(async () => {
  // Node a alone: its peer (b) is never started, so every inbound connection is ours.
  pair = await Pair.create();
  await pair.start(pair.a);
}, 60_000);
afterAll(async () => {
  await pair?.cleanup();
});

/** A raw TLS client of the listener: frames it received, whether and when it closed. */
class RawPeer {
  readonly frames: Frame[] = [];
  bytes = 0;
  closedAt: number | null = null;
  readonly openedAt = Date.now();
  private readonly decoder = new FrameDecoder();
  readonly closed: Promise<void>;

  private constructor(readonly socket: tls.TLSSocket) {
    this.decoder.lift();
    socket.on('data', (c: Buffer) => {
      this.bytes += c.length;
      for (const m of this.decoder.push(c)) this.frames.push(m.frame);
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) => {
      socket.once('close', () => {
        this.closedAt = Date.now();
        resolve();
      });
    });
  }

  /** Resolves once TLS is up; rejects when the listener closes the connection first. */
  static open(port: number): Promise<RawPeer> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: 'TLSv1.3' });
      const peer = new RawPeer(socket);
      socket.once('secureConnect', () => resolve(peer));
      void peer.closed.then(() => reject(new Error('closed before TLS was up')));
    });
  }

  /**
   * open(), retried while the listener is still at its connection limit:
   * slots held by an earlier test's sockets are released when the node sees
   * their close, which may come after this test starts.
   */
  static async openWhenFree(port: number): Promise<RawPeer> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await RawPeer.open(port);
      } catch (err) {
        if (attempt >= 100) throw err;
        await new Promise((r) => setTimeout(r, 50));
      }
    }
  }

  send(frame: Frame, body?: Buffer): void {
    for (const part of encodeFrame(frame, body)) this.socket.write(part);
  }

  /** Prove replication.secret as a follower would (hello, auth bound to this TLS session) and wait for the listener's proof. */
  async authenticate(): Promise<void> {
    const nonceC = newNonce();
    this.send({ t: 'hello', v: PROTOCOL_VERSION, nonce: nonceC, purpose: 'follow' });
    const ch = (await this.frame('challenge')) as Extract<Frame, { t: 'challenge' }>;
    const t: Transcript = { purpose: 'follow', nonceC, nonceS: ch.nonce, binding: channelBinding(this.socket) };
    this.send({ t: 'auth', mac: proofMac(SECRET, 'C', t), unbound: proofMac(SECRET, 'C', t, false) });
    await this.frame('proof');
  }

  async frame(t: Frame['t']): Promise<Frame> {
    await waitUntil(`a ${t} frame`, () => this.frames.some((f) => f.t === t) || this.closedAt !== null, 15_000);
    const f = this.frames.find((x) => x.t === t);
    if (!f) throw new Error(`closed without ${t}; got ${JSON.stringify(this.frames)}`);
    return f;
  }
}

async function memory(pid: number): Promise<{ rss: number; peak: number }> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  const kb = (k: string): number => Number(new RegExp(`^${k}:\\s+(\\d+) kB`, 'm').exec(status)![1]) * 1024;
  return { rss: kb('VmRSS'), peak: kb('VmHWM') };
}

describe('the replication listener before the peer proved the secret', () => {
  // First, while no earlier connection may still hold a slot.
  it(`serves ${LIMITS.replication.maxConnections} connections at once and closes one more at once`, async () => {
    const n = LIMITS.replication.maxConnections;
    const open: RawPeer[] = [];
    try {
      for (let i = 0; i < n; i++) open.push(await RawPeer.open(pair.a.replPort));
      // The Nth is served: it gets a challenge.
      open[n - 1]!.send({ t: 'hello', v: PROTOCOL_VERSION, nonce: newNonce(), purpose: 'verify' });
      expect((await open[n - 1]!.frame('challenge')).t).toBe('challenge');
      // The N+1th is closed before TLS is up.
      await expect(RawPeer.open(pair.a.replPort)).rejects.toThrow(/closed before TLS/);
      // One slot freed, a new peer gets in again.
      open.shift()!.socket.destroy();
      let again: RawPeer | null = null;
      for (let attempt = 0; attempt < 50 && !again; attempt++) {
        again = await RawPeer.open(pair.a.replPort).catch(() => null);
        if (!again) await new Promise((r) => setTimeout(r, 50));
      }
      expect(again).not.toBeNull();
      open.push(again!);
    } finally {
      for (const p of open) p.socket.destroy();
    }
  }, 60_000);

  it('sends a nonce and nothing about the node; a bad proof is refused with the reason before the close', async () => {
    const p = await RawPeer.openWhenFree(pair.a.replPort);
    p.send({ t: 'hello', v: PROTOCOL_VERSION, nonce: newNonce(), purpose: 'follow' });
    const ch = await p.frame('challenge');
    expect(Object.keys(ch).sort()).toEqual(['nonce', 't', 'v']);
    p.send({ t: 'auth', mac: '00'.repeat(32), unbound: '00'.repeat(32) });
    expect(await p.frame('refuse')).toEqual({ t: 'refuse', code: 'AUTH', message: 'authentication failed: replication.secret differs between the nodes' });
    await p.closed;
    expect(p.frames.map((f) => f.t)).toEqual(['challenge', 'refuse']);
  }, 30_000);

  it.each([1, 2])('refuses a node of the old protocol (version %i) naming both versions', async (v) => {
    const p = await RawPeer.openWhenFree(pair.a.replPort);
    p.send({ t: 'hello', v, nonce: newNonce(), purpose: 'follow' });
    const r = (await p.frame('refuse')) as Extract<Frame, { t: 'refuse' }>;
    expect(r.code).toBe('VERSION');
    expect(r.message).toMatch(new RegExp(`version ${v} not supported: this node speaks version 3`));
    await p.closed;
    await waitUntil('refusal recorded', async () => /version .* not supported/.test((await replStatus(pair.a)).replication.lastRefusal?.reason ?? ''));
  }, 30_000);

  it('cuts off peers announcing a 200 MB frame at the length prefix; memory stays flat', async () => {
    const before = await memory(pair.a.proc!.pid);
    const attack = async (): Promise<{ peer: RawPeer; sent: number }> => {
      const p = await RawPeer.openWhenFree(pair.a.replPort);
      const head = Buffer.alloc(8);
      head.writeUInt32BE(64, 0);
      head.writeUInt32BE(200 * 1024 * 1024, 4);
      p.socket.write(head);
      // Then keep sending the "body" as fast as the listener takes it, for at most 256 MB.
      const chunk = Buffer.alloc(64 * 1024, 0x78);
      let sent = 0;
      while (p.closedAt === null && sent < 256 * 1024 * 1024) {
        sent += chunk.length;
        if (!p.socket.write(chunk)) await Promise.race([new Promise((r) => p.socket.once('drain', r)), p.closed]);
      }
      await p.closed;
      return { peer: p, sent };
    };
    const results = await Promise.all([attack(), attack(), attack()]);
    const after = await memory(pair.a.proc!.pid);
    for (const { peer, sent } of results) {
      const r = (await peer.frame('refuse')) as Extract<Frame, { t: 'refuse' }>;
      expect(r).toMatchObject({ code: 'PROTOCOL' });
      expect(r.message).toMatch(/before authentication \(limit 4096\)/);
      // Closed long before the announced 200 MB were taken.
      expect(sent).toBeLessThan(200 * 1024 * 1024);
    }
    expect(after.peak - Math.max(before.peak, before.rss)).toBeLessThan(100 * 1024 * 1024);
    expect((await replStatus(pair.a)).replication.lastRefusal.reason).toMatch(/before authentication/);
  }, 60_000);

  it(`after authentication takes a frame body of maxFrameBody (${LIMITS.replication.maxFrameBody}) bytes and refuses an oversized chunk frame at its length prefix`, async () => {
    const max = LIMITS.replication.maxFrameBody;
    // N: the frame is read whole and parsed (the listener then says it wanted the state frame).
    const ok = await RawPeer.openWhenFree(pair.a.replPort);
    await ok.authenticate();
    ok.send({ t: 'chunk' }, Buffer.alloc(max, 0x61));
    await ok.closed;
    await waitUntil('N-byte frame taken', async () => /expected state, got chunk/.test((await replStatus(pair.a)).replication.lastRefusal?.reason ?? ''));
    expect(ok.frames.some((f) => f.t === 'refuse')).toBe(false);
    // N+1: refused with the reason as soon as the lengths arrive; the body it goes on sending is not waited for.
    const big = await RawPeer.openWhenFree(pair.a.replPort);
    await big.authenticate();
    const header = Buffer.from(JSON.stringify({ t: 'chunk' }));
    const lengths = Buffer.alloc(8);
    lengths.writeUInt32BE(header.length, 0);
    lengths.writeUInt32BE(max + 1, 4);
    big.socket.write(Buffer.concat([lengths, header]));
    const piece = Buffer.alloc(64 * 1024, 0x62);
    let sent = 0;
    while (big.closedAt === null && sent < 64 * 1024 * 1024) {
      sent += piece.length;
      if (!big.socket.write(piece)) await Promise.race([new Promise((r) => big.socket.once('drain', r)), big.closed]);
    }
    await big.closed;
    const r = (await big.frame('refuse')) as Extract<Frame, { t: 'refuse' }>;
    expect(r).toEqual({ t: 'refuse', code: 'PROTOCOL', message: `frame body of ${max + 1} bytes (limit ${max})` });
    expect(sent).toBeLessThan(64 * 1024 * 1024);
    expect((await replStatus(pair.a)).replication.lastRefusal.reason).toBe(`frame body of ${max + 1} bytes (limit ${max})`);
  }, 60_000);

  it('replication.refuseLingerMs: a refused peer that never closes is cut that long after the refusal, not before', async () => {
    const p = await RawPeer.openWhenFree(pair.a.replPort);
    p.send({ t: 'hello', v: PROTOCOL_VERSION, nonce: newNonce(), purpose: 'follow' });
    await p.frame('challenge');
    // From here we read nothing more: the listener's end of the stream stays unread, so our side never ends.
    p.socket.pause();
    const since = performance.now();
    p.send({ t: 'auth', mac: '00'.repeat(32), unbound: '00'.repeat(32) });
    const N = LIMITS.replication.refuseLingerMs;
    expect(await serverClosedAfter(pair.a.replPort, p.socket, since, N * 20)).toBeGreaterThanOrEqual(N - TIMER_SLACK_MS);
    p.socket.destroy();
    expect((await replStatus(pair.a)).replication.lastRefusal.reason).toMatch(/authentication failed/);
  }, 60_000);

  it('drops a peer that says nothing once the handshake deadline has passed', async () => {
    const p = await RawPeer.openWhenFree(pair.a.replPort);
    await p.closed;
    expect(p.bytes).toBe(0);
    // Timers never fire early by more than a millisecond: the drop came at the deadline, not before.
    expect(p.closedAt! - p.openedAt).toBeGreaterThanOrEqual(LIMITS.replication.handshakeDeadlineMs - 50);
    await waitUntil('refusal recorded', async () => /no completed handshake within/.test((await replStatus(pair.a)).replication.lastRefusal?.reason ?? ''));
  }, 60_000);

});
