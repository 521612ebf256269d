/**
 * The replication layer between two Replication components in one process,
 * over real TLS on loopback, with an in-memory journal in place of the
 * Maildir store (memstore.ts). The spawned two-node tests cover the store.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rm, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { Replication } from '../../src/replication/node-replication.js';
import { loadTls } from '../../src/net/tls.js';
import type { Directory } from '../../src/accounts/directory.js';
import { isRoostError } from '../../src/errors.js';
import { makeTempDir, testConfig } from '../helpers/node.js';
import { MemStore } from './memstore.js';
import type { JournalRecord } from '../../src/store/store.js';
import { freePort, waitUntil } from './pair.js';

const log = pino({ level: process.env.ROOST_TEST_LOG ?? 'silent' });
const directory = { accountById: async () => null } as unknown as Directory;

interface Side {
  dir: string;
  mem: MemStore;
  repl: Replication;
  portsOpen: boolean;
  opens: number;
}

const dirs: string[] = [];
const running: Replication[] = [];

async function side(role: 'primary' | 'replica', own: number, peer: number, over: Record<string, unknown> = {}, reuse?: { dir: string; mem: MemStore }): Promise<Side> {
  const dir = reuse?.dir ?? (await makeTempDir('roost-repl-mem-'));
  if (!reuse) dirs.push(dir);
  const config = testConfig(dir, {
    replication: { role, listen: `127.0.0.1:${own}`, peer: `127.0.0.1:${peer}`, secret: 'in-process-replication-secret-0123456789', ack: 'sync', sync_timeout_ms: 1500, on_sync_timeout: 'tempfail', ...over },
  });
  const mem = reuse?.mem ?? new MemStore();
  const s: Side = { dir, mem, repl: null as never, portsOpen: false, opens: 0 };
  s.repl = await Replication.create({
    config,
    log,
    store: mem.asStore(),
    directory,
    tls: await loadTls(config, log),
    ports: {
      open: async () => {
        s.portsOpen = true;
        s.opens++;
      },
      close: async () => {
        s.portsOpen = false;
      },
    },
  });
  await s.repl.start();
  if (s.repl.role === 'primary' && !s.portsOpen) await s.repl['deps'].ports.open();
  running.push(s.repl);
  return s;
}

async function stop(s: Side): Promise<void> {
  await s.repl.close();
  running.splice(running.indexOf(s.repl), 1);
}

afterAll(async () => {
  for (const r of running) await r.close();
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

describe('two components over TLS', () => {
  let pa: number;
  let pb: number;
  let a: Side;
  let b: Side;

  beforeAll(async () => {
    pa = await freePort();
    pb = await freePort();
    a = await side('primary', pa, pb);
    b = await side('replica', pb, pa);
    await waitUntil('replica connected', () => b.repl.status().connected);
  });

  it('streams deliveries with their bytes; concurrent sync waits share acks', async () => {
    const writes = Array.from({ length: 50 }, (_, i) => a.mem.write(`u${i % 3}`, Buffer.from(`message ${i}\r\n`)));
    await Promise.all(writes.map((r) => a.repl.gate.waitFor(r.lsn)));
    // Acks mean "spooled durably"; the store applies right behind.
    await waitUntil('applied', () => b.mem.applied === a.mem.lastLsn());
    for (const r of writes) expect(b.mem.bodies.get(r.lsn)?.toString()).toBe(a.mem.bodies.get(r.lsn)?.toString());
    await waitUntil('lag 0', () => a.repl.status().lag.records === 0 && b.repl.status().lag.records === 0);
    const sa = a.repl.status();
    expect(sa).toMatchObject({ role: 'primary', connected: true, sync: true, degraded: false });
    expect(b.repl.status()).toMatchObject({ role: 'replica', clusterId: sa.clusterId, epoch: 1 });
    expect(b.mem.writable).toBe(false);
    expect(b.portsOpen).toBe(false);
  });

  it('failover: promote bumps the epoch and opens ports; the old primary restarted steps down and follows', async () => {
    const before = a.mem.lastLsn();
    await stop(a);
    await waitUntil('replica notices', () => !b.repl.status().connected);
    const p = await b.repl.promote();
    expect(p).toMatchObject({ role: 'primary', epoch: 2, changed: true });
    expect(b.portsOpen).toBe(true);
    expect(b.mem.writable).toBe(true);
    const state = JSON.parse(await readFile(path.join(b.dir, 'replication.json'), 'utf8'));
    expect(state).toMatchObject({ role: 'primary', epoch: 2 });
    expect(state.history.at(-1)).toEqual({ epoch: 2, startLsn: String(before + 1n) });
    // New writes on B (async: no replica yet).
    const w = b.mem.write('u2', Buffer.from('after failover'));
    // Old primary comes back with its durable role "primary" at epoch 1.
    a = await side('primary', pa, pb, {}, { dir: a.dir, mem: a.mem });
    expect(a.repl.role).toBe('replica');
    expect(a.portsOpen).toBe(false);
    await waitUntil('old primary follows', () => a.repl.status().connected && a.mem.applied >= w.lsn);
    expect(a.mem.bodies.get(w.lsn)?.toString()).toBe('after failover');
    expect(a.repl.status().epoch).toBe(2);
    // Sync mode works again in the other direction.
    const w2 = b.mem.write('u2', Buffer.from('sync again'));
    await b.repl.gate.waitFor(w2.lsn);
    expect(BigInt(a.repl.status().receivedLsn)).toBe(w2.lsn);
    await waitUntil('applied', () => a.mem.applied === w2.lsn);
  });

  it('planned switchover: demote then promote, no fork, roles swap', async () => {
    const d = await b.repl.demote();
    expect(d).toMatchObject({ role: 'replica', changed: true });
    expect(b.portsOpen).toBe(false);
    const p = await a.repl.promote();
    expect(p).toMatchObject({ role: 'primary', epoch: 3 });
    await waitUntil('b follows a', () => b.repl.status().connected);
    const w = a.mem.write('u0', Buffer.from('switched'));
    await a.repl.gate.waitFor(w.lsn);
    await waitUntil('applied', () => b.mem.applied === w.lsn);
    expect(b.mem.bodies.get(w.lsn)?.toString()).toBe('switched');
    // Idempotent for cluster managers.
    expect(await a.repl.promote()).toMatchObject({ changed: false, role: 'primary' });
    expect(await b.repl.demote()).toMatchObject({ changed: false, role: 'replica' });
  });

  it('sync timeout: tempfail rejects with TEMP while the replica is gone', async () => {
    await stop(b);
    const w = a.mem.write('u0', Buffer.from('nobody acks'));
    const err = await a.repl.gate.waitFor(w.lsn).catch((e: unknown) => e);
    expect(isRoostError(err, 'TEMP')).toBe(true);
    b = await side('replica', pb, pa, {}, { dir: b.dir, mem: b.mem });
    await waitUntil('replica back and caught up', () => b.mem.applied === a.mem.lastLsn());
  });
});

describe('divergence and full resync', () => {
  it('an old primary with records the new primary lacks resets and replays the new line', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    let a = await side('primary', pa, pb, { sync_timeout_ms: 300 });
    let b = await side('replica', pb, pa, { sync_timeout_ms: 300 });
    await waitUntil('connected', () => b.repl.status().connected);
    // Not awaited through the gate: its 300 ms sync timeout (short, for the phases below) can pass on a loaded machine.
    for (let i = 0; i < 3; i++) a.mem.write('u', Buffer.from(`m${i}`));
    await waitUntil('applied', () => b.mem.applied === 3n);
    await stop(b);
    // Written on A only (flag changes: nothing to hand back), then A dies.
    a.mem.write('u', null, { n: 1 });
    a.mem.write('u', null, { n: 2 });
    await stop(a);
    b = await side('replica', pb, pa, { sync_timeout_ms: 300 }, { dir: b.dir, mem: b.mem });
    await b.repl.promote();
    b.mem.write('u', Buffer.from('new line 1'));
    b.mem.write('u', Buffer.from('new line 2'));
    a = await side('primary', pa, pb, { sync_timeout_ms: 300 }, { dir: a.dir, mem: a.mem });
    expect(a.repl.role).toBe('replica');
    await waitUntil('resynced', () => a.repl.status().connected && a.mem.applied === b.mem.lastLsn(), 10_000);
    expect(a.mem.records.map((r) => [r.lsn, r.epoch, r.kind])).toEqual(b.mem.records.map((r) => [r.lsn, r.epoch, r.kind]));
    expect(a.mem.bodies.get(5n)?.toString()).toBe('new line 2');
    expect(a.repl.status()).toMatchObject({ needsResync: false, epoch: 2, role: 'replica' });
    await stop(a);
    await stop(b);
  });

  it('without store reset the diverged node waits, read-only, for a manual re-seed', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    let a = await side('primary', pa, pb, { ack: 'async' });
    let b = await side('replica', pb, pa, { ack: 'async' });
    await waitUntil('connected', () => b.repl.status().connected);
    a.mem.write('u', null);
    await waitUntil('applied', () => b.mem.applied === 1n);
    await stop(b);
    a.mem.write('u', null);
    await stop(a);
    b = await side('replica', pb, pa, { ack: 'async' }, { dir: b.dir, mem: b.mem });
    await b.repl.promote();
    a.mem.canReset = false;
    a = await side('primary', pa, pb, { ack: 'async' }, { dir: a.dir, mem: a.mem });
    await waitUntil('marked', () => a.repl.status().needsResync === true && /re-seed/.test(a.repl.status().lastError ?? ''), 10_000);
    expect(a.repl.role).toBe('replica');
    expect(isRoostError(await a.repl.promote().catch((e: unknown) => e), 'UNAVAILABLE')).toBe(true);
    await stop(a);
    await stop(b);
  });
});

describe('promote when behind', () => {
  it('refuses while the replica knows it lacks acknowledged records; --force overrides', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await side('primary', pa, pb, { ack: 'async' });
    const b = await side('replica', pb, pa, { ack: 'async' });
    await waitUntil('connected', () => b.repl.status().connected);
    // Journal reads on the primary stall: records are acknowledged (async) and announced in
    // heartbeats before they can be shipped, so the replica knows it lacks them.
    a.mem.readDelayMs = 3000;
    const writes = Array.from({ length: 8 }, (_, i) => a.mem.write('u', Buffer.from(`m${i}`)));
    await Promise.all(writes.map((w) => a.repl.gate.waitFor(w.lsn)));
    await waitUntil('replica heard of the acknowledged records', () => BigInt(b.repl.status().committedLsn) === writes.at(-1)!.lsn, 5000);
    await stop(a);
    expect(BigInt(b.repl.status().receivedLsn)).toBeLessThan(writes.at(-1)!.lsn);
    const err = await b.repl.promote().catch((e: unknown) => e);
    expect(isRoostError(err, 'UNAVAILABLE')).toBe(true);
    expect((err as Error).message).toMatch(/behind/);
    expect(b.repl.role).toBe('replica');
    expect(await b.repl.promote({ force: true })).toMatchObject({ role: 'primary', changed: true });
    await stop(b);
  });
});

describe('refusals', () => {
  it('a replica with the wrong secret never gets data, and says why', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await side('primary', pa, pb, { sync_timeout_ms: 300 });
    const b = await side('replica', pb, pa, { secret: 'another-replication-secret-0123456789xyz' });
    await waitUntil('auth error reported', () => /authentication/.test(b.repl.status().lastError ?? ''), 5000);
    const w = a.mem.write('u', Buffer.from('secret stuff'));
    expect(isRoostError(await a.repl.gate.waitFor(w.lsn).catch((e: unknown) => e), 'TEMP')).toBe(true);
    expect(b.mem.applied).toBe(0n);
    expect(a.repl.status().connected).toBe(false);
    await stop(a);
    await stop(b);
  });

  it('a replica of another cluster is refused', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await side('primary', pa, pb, { sync_timeout_ms: 300 });
    const dir = await makeTempDir('roost-repl-mem-');
    dirs.push(dir);
    await writeFile(
      path.join(dir, 'replication.json'),
      JSON.stringify({ nodeId: 'n', clusterId: 'another-cluster', role: 'replica', epoch: 1, history: [{ epoch: 1, startLsn: '1' }], committedLsnSeen: '0', needsResync: false, handedBackThrough: '0' }),
    );
    const b = await side('replica', pb, pa, {}, { dir, mem: new MemStore() });
    await waitUntil('cluster error reported', () => /cluster/.test(b.repl.status().lastError ?? ''), 5000);
    a.mem.write('u', Buffer.from('x'));
    await new Promise((r) => setTimeout(r, 300));
    expect(b.mem.applied).toBe(0n);
    await stop(a);
    await stop(b);
  });

  it('a record the replica cannot read stops replication there, with its LSN and kind, instead of being skipped', async () => {
    const [pa, pb] = [await freePort(), await freePort()];
    const a = await side('primary', pa, pb, { ack: 'async' });
    const b = await side('replica', pb, pa, { ack: 'async' });
    await waitUntil('connected', () => b.repl.status().connected);
    a.mem.write('u', Buffer.from('readable'));
    await waitUntil('applied', () => b.mem.applied === 1n);
    // What a newer primary might send: a kind this release does not know (src/store/journal/codec.ts).
    a.mem.writeRaw({ lsn: 2n, epoch: a.mem.epoch, time: Date.now(), accountId: 'u', kind: 'from-the-future', data: {} } as unknown as JournalRecord);
    a.mem.write('u', Buffer.from('after it'));
    await waitUntil('stopped', () => /^replication stopped: journal record 2 \(from-the-future\): unknown record kind$/.test(b.repl.status().lastError ?? ''), 10_000);
    // The follower's loop has ended (no reconnect), and nothing after the record was applied.
    await (b.repl['follower'] as unknown as { loop: Promise<void> }).loop;
    expect(b.repl.status().connected).toBe(false);
    expect(b.mem.applied).toBe(1n);
    expect(b.mem.records.map((r) => r.lsn)).toEqual([1n]);
    await stop(a);
    await stop(b);
  });
});
