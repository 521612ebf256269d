/**
 * Large message bodies over the replication link (protocol
 * version 3): two spawned nodes, a 120 MB message streamed in over QMQP in
 * sync mode. The primary ships it in chunk frames read from the file, the
 * replica writes them to its spool directory and acknowledges only once the
 * body is durable (the K comes after that). Both nodes' resident memory is
 * sampled from /proc while it happens and must grow by far less than the
 * message. A link cut mid-body leaves no partial file and the record is sent
 * again; a replica seeded by a snapshot gets large files the same way, and
 * a split brain's hand-back sends a large body in chunks too (one frame of
 * it would exceed LIMITS.replication.maxFrameBody and be refused).
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { readFile, readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { roostProcess } from '../helpers/cli.js';
import { FaultProxy } from './proxy.js';
import { Pair, ports, qmqpSend, replStatus, testMessage, waitUntil, type PairNode } from './pair.js';

const MB = 1024 * 1024;
/**
 * 120 MB: both nodes' RSS grows by about 40 MB whatever the size (measured
 * 24–34 MB at 20 MB, 40 MB at 60 MB, 41–43 MB at 150 MB: buffers of the link,
 * TLS and the spool, and a lazily collected heap), so a message this large
 * tells a bounded path from one that holds the message (which would grow by
 * more than the message itself).
 */
const SIZE = 120 * MB;
const QMQP = { qmqp: { max_message_size: 190 * MB } };
const LINE = Buffer.from(`${'0123456789abcdefghijklmnopqrstuvwxyz'.repeat(2)}\r\n`);
const PIECE = Buffer.concat(Array.from({ length: Math.floor(65536 / LINE.length) }, () => LINE));

let pair: Pair | null = null;
let proxy: FaultProxy | null = null;
afterEach(async () => {
  await proxy?.close();
  await pair?.cleanup();
  proxy = null;
  pair = null;
});

function header(tag: string): Buffer {
  return Buffer.from(`From: a@example.org\r\nTo: alice@example.org\r\nSubject: ${tag}\r\nMessage-ID: <${tag}@test.invalid>\r\n\r\n`);
}
const pieces = (size: number): number => Math.floor(size / PIECE.length);

/** One QMQP delivery of a message of about `size` bytes, generated piece by piece with back-pressure (never whole here either). */
async function qmqpLarge(port: number, tag: string, size: number, rcpt = 'alice@example.org'): Promise<{ reply: string; length: number }> {
  const head = header(tag);
  const n = pieces(size);
  const len = head.length + n * PIECE.length;
  const tail = Buffer.from(`,0:,${Buffer.byteLength(rcpt)}:${rcpt},`);
  const inner = `${len}:`.length + len + tail.length;
  const s = net.connect(port, '127.0.0.1');
  await new Promise<void>((resolve, reject) => s.once('connect', resolve).once('error', reject));
  const reply = new Promise<string>((resolve, reject) => {
    let got = '';
    s.on('data', (d: Buffer) => (got += d.toString('latin1')));
    s.on('close', () => resolve(got));
    s.on('error', reject);
  });
  const write = async (b: Buffer): Promise<void> => {
    if (!s.write(b)) await new Promise<void>((resolve) => s.once('drain', resolve));
  };
  await write(Buffer.from(`${inner}:${len}:`));
  await write(head);
  for (let i = 0; i < n; i++) await write(PIECE);
  await write(Buffer.concat([tail, Buffer.from(',')]));
  const text = await reply;
  return { reply: /^\d+:(.*),$/s.exec(text)?.[1] ?? text, length: len };
}

/** Every message file under the node's Maildirs (cur/ and new/), by base name, with a hash of its bytes read in chunks. */
async function messageFiles(n: PairNode): Promise<Map<string, { sha256: string; size: number }>> {
  const out = new Map<string, { sha256: string; size: number }>();
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\/(cur|new)$/.test(dir)) {
        const hash = createHash('sha256');
        let size = 0;
        for await (const c of createReadStream(p)) {
          hash.update(c as Buffer);
          size += (c as Buffer).length;
        }
        out.set(e.name.split(':')[0]!, { sha256: hash.digest('hex'), size });
      }
    }
  };
  await walk(path.join(n.dataDir, 'mail'));
  return out;
}

/** Files in the Maildirs' tmp/ folders and in the replica's spool directory (both must end empty). */
async function strayFiles(n: PairNode): Promise<string[]> {
  const out: string[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true }).catch(() => [])) {
      const p = path.join(dir, e.name);
      if (e.isDirectory()) await walk(p);
      else if (dir.endsWith('/tmp')) out.push(p);
    }
  };
  await walk(path.join(n.dataDir, 'mail'));
  for (const f of await readdir(path.join(n.dataDir, 'replication-spool.d')).catch(() => [])) out.push(`replication-spool.d/${f}`);
  return out;
}

async function rss(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8');
  return Number(/^VmRSS:\s+(\d+) kB/m.exec(status)![1]) * 1024;
}

/** Sample both nodes' RSS every 20 ms until stop(); the growth over the first sample of each. */
function sampleRss(pids: number[]): { stop: () => Promise<number[]> } {
  const base: number[] = [];
  const peak: number[] = [];
  let running = true;
  const loop = (async () => {
    for (let i = 0; running && i < 100_000; i++) {
      for (const [k, pid] of pids.entries()) {
        const v = await rss(pid).catch(() => 0);
        if (base[k] === undefined) base[k] = v;
        peak[k] = Math.max(peak[k] ?? 0, v);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  })();
  return {
    stop: async () => {
      running = false;
      await loop;
      return pids.map((_, k) => peak[k]! - base[k]!);
    },
  };
}

async function connectedPair(opts: { syncTimeoutMs?: number; viaProxy?: boolean } = {}): Promise<{ a: PairNode; b: PairNode }> {
  const p = await Pair.create({ ack: 'sync', syncTimeoutMs: opts.syncTimeoutMs ?? 60_000 });
  pair = p;
  for (const n of [p.a, p.b]) Object.assign(n.overrides, QMQP);
  if (opts.viaProxy) {
    proxy = new FaultProxy(p.a.replPort);
    await proxy.listen();
    (p.b.overrides.replication as Record<string, unknown>).peer = `127.0.0.1:${proxy.port}`;
  }
  await p.startBoth();
  await waitUntil('replica connected', async () => (await replStatus(p.b)).replication.connected, 30_000);
  return { a: p.a, b: p.b };
}

describe('large bodies over the replication link', () => {
  it('a 120 MB message delivered in sync mode replicates byte-identically; neither node holds it in memory', async () => {
    const { a, b } = await connectedPair();
    const q = (await ports(a)).qmqp!;
    // A small one first: it rides inline in its record.
    expect((await qmqpSend(q, testMessage(0, 'small'), 's@example.net', ['alice@example.org']))[0]).toBe('K');
    const sampler = sampleRss([a.proc!.pid, b.proc!.pid]);
    const sent = await qmqpLarge(q, 'large-60mb', SIZE);
    const [growA, growB] = await sampler.stop();
    console.log(`RSS growth during the large delivery: primary ${(growA! / MB).toFixed(1)} MB, replica ${(growB! / MB).toFixed(1)} MB`);
    // Sync mode: the K came once the replica had the body durably.
    expect(sent.reply[0]).toBe('K');
    expect(sent.length).toBeGreaterThan(SIZE - MB);
    const sa = (await replStatus(a)).replication;
    expect(BigInt((await replStatus(b)).replication.receivedLsn)).toBeGreaterThanOrEqual(BigInt(sa.lastLsn));
    await waitUntil('replica applied everything', async () => (await replStatus(b)).replication.appliedLsn === sa.lastLsn, 60_000);
    const [fa, fb] = [await messageFiles(a), await messageFiles(b)];
    expect(fa.size).toBe(2);
    expect([...fb.entries()].sort()).toEqual([...fa.entries()].sort());
    // Stored as the store keeps it (line ends may be normalised): the one large file, the same bytes on both nodes.
    expect([...fa.values()].filter((f) => f.size > SIZE - 2 * MB)).toHaveLength(1);
    expect(await strayFiles(b)).toEqual([]);
    // `roost verify` hashes each file as it reads it, and agrees.
    const v = await roostProcess(['verify', '--config', a.proc!.configFile, '--json']);
    expect(JSON.parse(v.stdout)).toMatchObject({ identical: true });
    // Half the message: a path that held it whole would grow by more than all of it.
    expect(growA).toBeLessThan(SIZE / 2);
    expect(growB).toBeLessThan(SIZE / 2);
  }, 180_000);

  it('a link cut mid-body leaves no partial file; the record is sent again and the replica ends identical', async () => {
    const { a, b } = await connectedPair({ viaProxy: true });
    const q = (await ports(a)).qmqp!;
    const delivery = qmqpLarge(q, 'cut-60mb', 60 * MB);
    // Cut once the replica has part of the body in its spool directory.
    await waitUntil('body arriving on the replica', async () => (await readdir(path.join(b.dataDir, 'replication-spool.d'))).length > 0, 60_000);
    proxy!.drop();
    await waitUntil('partial body removed', async () => (await readdir(path.join(b.dataDir, 'replication-spool.d'))).length === 0, 30_000);
    expect(BigInt((await replStatus(b)).replication.receivedLsn)).toBeLessThan(BigInt((await replStatus(a)).replication.lastLsn));
    proxy!.resume();
    expect((await delivery).reply[0]).toBe('K');
    const last = (await replStatus(a)).replication.lastLsn;
    await waitUntil('replica applied everything', async () => (await replStatus(b)).replication.appliedLsn === last, 60_000);
    const [fa, fb] = [await messageFiles(a), await messageFiles(b)];
    expect([...fb.entries()].sort()).toEqual([...fa.entries()].sort());
    expect([...fb.values()].filter((f) => f.size > 58 * MB)).toHaveLength(1);
    expect(await strayFiles(b)).toEqual([]);
  }, 240_000);

  it('a replica seeded by a snapshot gets large files in chunks and ends identical', async () => {
    const p = await Pair.create({ ack: 'async' });
    pair = p;
    for (const n of [p.a, p.b]) Object.assign(n.overrides, QMQP);
    await p.start(p.a);
    const q = (await ports(p.a)).qmqp!;
    const big = await qmqpLarge(q, 'snap-big', 3 * LIMITS.replication.bodyChunkBytes + 12345);
    const edge = await qmqpLarge(q, 'snap-edge', LIMITS.replication.bodyChunkBytes + PIECE.length, 'bob@example.org');
    expect([big.reply[0], edge.reply[0]]).toEqual(['K', 'K']);
    expect((await qmqpSend(q, testMessage(1, 'snap-small'), 's@example.net', ['alice@example.org']))[0]).toBe('K');
    await p.start(p.b);
    const last = (await replStatus(p.a)).replication.lastLsn;
    await waitUntil('replica seeded and caught up', async () => {
      const s = (await replStatus(p.b)).replication;
      return s.connected && s.appliedLsn === last;
    }, 60_000);
    expect(p.b.proc!.output()).toMatch(/snapshot installed/);
    const [fa, fb] = [await messageFiles(p.a), await messageFiles(p.b)];
    expect(fa.size).toBe(3);
    expect([...fb.entries()].sort()).toEqual([...fa.entries()].sort());
    expect(await strayFiles(p.b)).toEqual([]);
  }, 180_000);

  it('a large delivery on a cut-off old primary is handed back in chunks and arrives whole on the new primary', async () => {
    const p = await Pair.create({ ack: 'async' });
    pair = p;
    for (const n of [p.a, p.b]) Object.assign(n.overrides, QMQP);
    const toA = new FaultProxy(p.a.replPort);
    const toB = new FaultProxy(p.b.replPort);
    proxy = toA;
    (p.b.overrides.replication as Record<string, unknown>).peer = `127.0.0.1:${await toA.listen()}`;
    (p.a.overrides.replication as Record<string, unknown>).peer = `127.0.0.1:${await toB.listen()}`;
    try {
      await p.startBoth();
      await waitUntil('replica connected', async () => (await replStatus(p.b)).replication.connected, 30_000);
      toA.drop();
      toB.drop();
      await waitUntil('link down', async () => !(await replStatus(p.b)).replication.connected);
      expect((await roostProcess(['promote', '--config', p.b.proc!.configFile])).code).toBe(0);
      // The old primary still takes mail: a body of several chunks the new one lacks.
      const old = await qmqpLarge((await ports(p.a)).qmqp!, 'handback-big', 8 * MB, 'bob@example.org');
      expect(old.reply[0]).toBe('K');
      const [big] = [...(await messageFiles(p.a)).values()].filter((f) => f.size > 7 * MB);
      expect(big).toBeDefined();
      toA.resume();
      toB.resume();
      await waitUntil('handed back', async () => [...(await messageFiles(p.b)).values()].some((f) => f.sha256 === big!.sha256), 60_000);
      expect(p.b.proc!.output()).toMatch(/handback-big@test\.invalid/);
      expect(await strayFiles(p.b)).toEqual([]);
    } finally {
      await toB.close();
    }
  }, 180_000);
});
