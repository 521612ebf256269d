/**
 * A live split brain: the link between two running nodes is cut both ways,
 * the replica is promoted while the old primary keeps accepting mail (async).
 * When the link heals, the node with the older epoch notices the newer
 * primary, stops taking writes (client ports refuse connections), becomes its
 * replica and hands its diverged deliveries back.
 */
import { afterAll, describe, expect, it } from 'vitest';
import net from 'node:net';
import { roostProcess } from '../helpers/cli.js';
import { FaultProxy } from './proxy.js';
import { Pair, ports, qmqpSend, replStatus, testMessage, waitUntil } from './pair.js';

const refused = (port: number): Promise<boolean> =>
  new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(false);
    });
    s.once('error', (e: NodeJS.ErrnoException) => resolve(e.code === 'ECONNREFUSED'));
  });

describe('split brain while both nodes run', () => {
  let pair: Pair;
  const proxies: FaultProxy[] = [];

  afterAll(async () => {
    for (const p of proxies) await p.close();
    await pair?.cleanup();
  });

  it('the older primary steps down when the link heals and hands its mail back', async () => {
    pair = await Pair.create({ ack: 'async' });
    const toA = new FaultProxy(pair.a.replPort);
    const toB = new FaultProxy(pair.b.replPort);
    proxies.push(toA, toB);
    (pair.b.overrides.replication as Record<string, unknown>).peer = `127.0.0.1:${await toA.listen()}`;
    (pair.a.overrides.replication as Record<string, unknown>).peer = `127.0.0.1:${await toB.listen()}`;
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair.b)).replication.connected);
    const pa = await ports(pair.a);
    for (let i = 0; i < 3; i++) expect((await qmqpSend(pa.qmqp!, testMessage(i, 'sb-before'), 's@x.net', ['alice@example.org']))[0]).toBe('K');
    await waitUntil('replicated', async () => (await replStatus(pair.b)).replication.appliedLsn === (await replStatus(pair.a)).replication.lastLsn);

    toA.drop();
    toB.drop();
    await waitUntil('link down', async () => !(await replStatus(pair.b)).replication.connected);
    expect((await roostProcess(['promote', '--config', pair.b.proc!.configFile])).code).toBe(0);
    const pb = await ports(pair.b);
    for (let i = 0; i < 2; i++) expect((await qmqpSend(pa.qmqp!, testMessage(i, 'sb-old'), 's@x.net', ['bob@example.org']))[0]).toBe('K');
    for (let i = 0; i < 2; i++) expect((await qmqpSend(pb.qmqp!, testMessage(i, 'sb-new'), 's@x.net', ['bob@example.org']))[0]).toBe('K');
    expect((await replStatus(pair.a)).replication).toMatchObject({ role: 'primary', epoch: 1 });
    expect((await replStatus(pair.b)).replication).toMatchObject({ role: 'primary', epoch: 2 });

    toA.resume();
    toB.resume();
    await waitUntil('old primary stepped down and handed back', async () => (await replStatus(pair.a)).role === 'replica' && /hand-back done/.test(pair.a.proc!.output()), 30_000);
    expect(await refused(pa.qmqp!)).toBe(true);
    expect(await refused(pa.imap!)).toBe(true);
    expect((await replStatus(pair.b)).replication).toMatchObject({ role: 'primary', epoch: 2 });
    const out = pair.b.proc!.output();
    expect(out).toMatch(/sb-old-0@test\.invalid/);
    expect(out).toMatch(/sb-old-1@test\.invalid/);
    expect(pair.a.proc!.output()).toMatch(/newer epoch/);
    // With a store that can reset itself the old primary is re-seeded over the link
    // (full resync: journal replay); otherwise it waits for the operator.
    const sa = (await replStatus(pair.a)).replication;
    if (!sa.needsResync) {
      await waitUntil('resynced', async () => {
        const [x, y] = [await replStatus(pair.a), await replStatus(pair.b)];
        return x.replication.connected && x.replication.appliedLsn === y.replication.lastLsn;
      }, 30_000);
      await waitUntil('resync logged', () => /full resync complete/.test(pair.a.proc!.output()), 10_000);
      const v = await roostProcess(['verify', '--config', pair.a.proc!.configFile, '--json']);
      expect(JSON.parse(v.stdout)).toMatchObject({ identical: true });
      expect(v.code).toBe(0);
    }
  }, 120_000);
});
