/**
 * Link faults between two spawned nodes, through a TCP proxy on the
 * replica's side: stalls and drops, the sync timeout under both
 * `on_sync_timeout` policies, reconnection and catch-up, and a wrong secret.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { roostProcess } from '../helpers/cli.js';
import { FaultProxy } from './proxy.js';
import { pop3Dele } from '../helpers/pop3-client.js';
import { Pair, ports, qmqpSend, replStatus, testMessage, waitUntil } from './pair.js';

let pair: Pair | null = null;
let proxy: FaultProxy | null = null;
afterEach(async () => {
  await proxy?.close();
  await pair?.cleanup();
  proxy = null;
  pair = null;
});

async function proxiedPair(onSyncTimeout: 'tempfail' | 'degrade'): Promise<{ pair: Pair; proxy: FaultProxy }> {
  const p = await Pair.create({ ack: 'sync', syncTimeoutMs: 700, onSyncTimeout });
  const x = new FaultProxy(p.a.replPort);
  await x.listen();
  (p.b.overrides.replication as Record<string, unknown>).peer = `127.0.0.1:${x.port}`;
  await p.startBoth();
  await waitUntil('replica connected', async () => (await replStatus(p.b)).replication.connected);
  return { pair: p, proxy: x };
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('link faults', () => {
  it('tempfail: a stalled replica makes deliveries answer Z after sync_timeout_ms; nothing is lost; recovery after resume', async () => {
    ({ pair, proxy } = await proxiedPair('tempfail'));
    const q = (await ports(pair.a)).qmqp!;
    expect((await qmqpSend(q, testMessage(0, 'ok'), 's@x.net', ['alice@example.org']))[0]).toBe('K');
    proxy.stall();
    const t0 = Date.now();
    const v = await qmqpSend(q, testMessage(1, 'stalled'), 's@x.net', ['alice@example.org']);
    expect(v[0]).toBe('Z');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(650);
    const s = (await replStatus(pair.a)).replication;
    expect(s.degraded).toBe(false);
    expect(s.lag.records).toBeGreaterThan(0);
    proxy.resume();
    await waitUntil('caught up', async () => (await replStatus(pair!.a)).replication.lag.records === 0, 10_000);
    expect((await qmqpSend(q, testMessage(2, 'resumed'), 's@x.net', ['alice@example.org']))[0]).toBe('K');
    // The Z'd message was written and replicated, never half-there (a retry by the sender may duplicate it, as with DRBD).
    const verify = await roostProcess(['verify', '--config', pair.a.proc!.configFile]);
    expect(verify.code).toBe(0);
  }, 60_000);

  it('degrade: after one timeout deliveries continue asynchronously, loudly, until the replica catches up', async () => {
    ({ pair, proxy } = await proxiedPair('degrade'));
    const p = await ports(pair.a);
    proxy.stall();
    expect((await qmqpSend(p.qmqp!, testMessage(0, 'first'), 's@x.net', ['alice@example.org']))[0]).toBe('K');
    const st = await replStatus(pair.a);
    expect(st.replication).toMatchObject({ degraded: true, sync: false });
    expect(st.replication.degradedSince).not.toBeNull();
    expect(await metric(p.admin!, 'roost_replication_degraded')).toBe(1);
    const health = await (await fetch(`http://127.0.0.1:${p.admin}/health`)).json();
    expect(health).toMatchObject({ replication: { degraded: true } });
    // No more waiting while degraded: none of the next deliveries waits for the replica's ack
    // (each would count a sync timeout), told by the counter, not by the clock.
    const timeouts = await metric(p.admin!, 'roost_replication_sync_timeouts_total');
    for (let i = 1; i <= 5; i++) expect((await qmqpSend(p.qmqp!, testMessage(i, 'more'), 's@x.net', ['bob@example.org']))[0]).toBe('K');
    expect(await metric(p.admin!, 'roost_replication_sync_timeouts_total')).toBe(timeouts);
    expect(pair.a.proc!.output()).toMatch(/DEGRADED/);
    // Drop and restore the link: the replica reconnects, catches up, sync comes back.
    proxy.drop();
    await new Promise((r) => setTimeout(r, 300));
    proxy.resume();
    await waitUntil('sync restored', async () => {
      const s = (await replStatus(pair!.a)).replication;
      return !s.degraded && s.connected && s.lag.records === 0;
    }, 15_000);
    expect(await metric(p.admin!, 'roost_replication_degraded')).toBe(0);
    expect(pair.a.proc!.output()).toMatch(/caught up, sync mode restored/);
    expect((await roostProcess(['verify', '--config', pair.a.proc!.configFile])).code).toBe(0);
  }, 60_000);

  it('drops in the middle of a delivery stream: the replica reconnects and ends identical', async () => {
    ({ pair, proxy } = await proxiedPair('degrade'));
    const q = (await ports(pair.a)).qmqp!;
    const stream = (async () => {
      for (let i = 0; i < 40; i++) expect((await qmqpSend(q, testMessage(i, 'drop'), 's@x.net', [i % 2 ? 'alice@example.org' : 'bob@example.org']))[0]).toBe('K');
    })();
    for (let k = 0; k < 3; k++) {
      await new Promise((r) => setTimeout(r, 150));
      proxy.drop();
      await new Promise((r) => setTimeout(r, 100));
      proxy.resume();
    }
    await stream;
    await waitUntil('caught up', async () => {
      const [a, b] = [await replStatus(pair!.a), await replStatus(pair!.b)];
      return b.replication.connected && b.replication.appliedLsn === a.replication.lastLsn;
    }, 15_000);
    expect((await roostProcess(['verify', '--config', pair.a.proc!.configFile])).code).toBe(0);
  }, 60_000);

  it('a reordered byte stream is caught by TLS: the link is dropped and re-established, nothing garbled is applied', async () => {
    ({ pair, proxy } = await proxiedPair('degrade'));
    const q = (await ports(pair.a)).qmqp!;
    const acked: string[] = [];
    const before = (await replStatus(pair.b)).replication.connectedSince as string;
    let faultsDone = false;
    let sent = 0;
    // Deliveries keep the link busy until every reorder has happened (bounded).
    const stream = (async () => {
      for (let i = 0; i < 2000 && (!faultsDone || i < 20); i++) {
        const rcpt = i % 2 ? 'alice@example.org' : 'bob@example.org';
        sent++;
        if ((await qmqpSend(q, testMessage(i, 'reorder'), 's@x.net', [rcpt]))[0] === 'K') acked.push(`${rcpt} ${i}`);
      }
    })();
    let reconnects = 0;
    for (let k = 0; k < 3; k++) {
      const since = (await replStatus(pair.b)).replication.connectedSince as string;
      const swapped = proxy.swapped;
      proxy.reorder();
      await waitUntil('chunks swapped', () => proxy!.swapped > swapped, 10_000);
      await waitUntil('link re-established', async () => {
        const s = (await replStatus(pair!.b)).replication;
        return s.connected && s.connectedSince !== since;
      }, 10_000);
      reconnects++;
    }
    faultsDone = true;
    await stream;
    expect(reconnects).toBe(3);
    await waitUntil('caught up', async () => {
      const [a, b] = [await replStatus(pair!.a), await replStatus(pair!.b)];
      return b.replication.connected && b.replication.appliedLsn === a.replication.lastLsn;
    }, 20_000);
    // The replica had to reconnect (TLS refused the reordered records).
    expect((await replStatus(pair.b)).replication.connectedSince).not.toBe(before);
    expect(acked).toHaveLength(sent);
    const v = await roostProcess(['verify', '--config', pair.a.proc!.configFile, '--json']);
    expect(JSON.parse(v.stdout)).toMatchObject({ identical: true, messages: sent });
  }, 60_000);

  it('catch-up after downtime, across deliveries whose files were deleted before they could be shipped', async () => {
    pair = await Pair.create({ ack: 'async' });
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair!.b)).replication.connected);
    await pair.kill(pair.b, 'SIGKILL');
    const p = await ports(pair.a);
    for (let i = 0; i < 12; i++) expect((await qmqpSend(p.qmqp!, testMessage(i, 'down'), 's@x.net', ['bob@example.org']))[0]).toBe('K');
    // Delete some of them (POP3 DELE + QUIT) before the replica is back.
    expect(await pop3Dele(p.pop3!, 'bob@example.org', 'pw-bob@example.org', [1, 2, 5])).toMatch(/^\+OK/);
    await pair.start(pair.b);
    await waitUntil('caught up', async () => {
      const [a, b] = [await replStatus(pair!.a), await replStatus(pair!.b)];
      return b.replication.connected && b.replication.appliedLsn === a.replication.lastLsn;
    }, 20_000);
    const v = await roostProcess(['verify', '--config', pair.a.proc!.configFile, '--json']);
    expect(JSON.parse(v.stdout)).toMatchObject({ identical: true, messages: 9 });
    expect(v.code).toBe(0);
  }, 60_000);

  it('a replica with the wrong secret is refused and gets nothing; both sides log it', async () => {
    pair = await Pair.create({ ack: 'sync', syncTimeoutMs: 500, secretB: 'not-the-replication-secret-0123456789abc' });
    await pair.startBoth();
    await waitUntil('refusal visible', async () => /authentication/.test((await replStatus(pair!.b)).replication.lastError ?? ''));
    const q = (await ports(pair.a)).qmqp!;
    expect((await qmqpSend(q, testMessage(0, 'x'), 's@x.net', ['alice@example.org']))[0]).toBe('Z');
    // The refuse frame reached the replica before the socket closed: its status names the key.
    const b = (await replStatus(pair.b)).replication;
    expect(b).toMatchObject({ connected: false, appliedLsn: '0', clusterId: null });
    expect(b.lastError).toBe('peer refused: authentication failed: replication.secret differs between the nodes');
    const a = (await replStatus(pair.a)).replication;
    expect(a.connected).toBe(false);
    expect(a.lastRefusal).toMatchObject({ reason: 'authentication failed: replication.secret differs between the nodes' });
    expect(pair.b.proc!.output()).toMatch(/secret differs/);
    expect(pair.a.proc!.output()).toMatch(/secret differs/);
  }, 60_000);
});
