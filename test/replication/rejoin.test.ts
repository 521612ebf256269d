/**
 * Split brain and rejoin: in async mode with the replication link cut, the
 * primary keeps acknowledging mail the replica never sees. The primary dies,
 * the replica is promoted and takes new mail. When the old primary comes back
 * it meets the newer epoch, stops taking writes, becomes a replica, and hands
 * back what it had accepted — delivered again on the new primary, logged with
 * the message ids, not duplicated on a second attempt. After a full resync
 * (the store resets itself, or the operator re-seeds it as contrib/README.md
 * says when it cannot) it follows from LSN 0 and `roost verify` reports
 * identical stores.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { roostProcess } from '../helpers/cli.js';
import { FaultProxy } from './proxy.js';
import { Pair, control, inboxEnvelopes, ports, qmqpSend, replStatus, testMessage, waitUntil } from './pair.js';

const USERS = ['alice@example.org', 'bob@example.org'];

async function messageIds(port: number, user: string): Promise<string[]> {
  return (await inboxEnvelopes(port, user)).map((e) => e.messageId);
}

describe('old primary rejoins after a split brain', () => {
  let pair: Pair;
  let proxy: FaultProxy;

  afterAll(async () => {
    await proxy?.close();
    await pair?.cleanup();
  });

  it('hands back unreplicated deliveries, then converges after a re-seed', async () => {
    pair = await Pair.create({ ack: 'async', users: USERS });
    proxy = new FaultProxy(pair.a.replPort);
    await proxy.listen();
    (pair.b.overrides.replication as Record<string, unknown>).peer = `127.0.0.1:${proxy.port}`;
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair.b)).replication.connected);
    const qa = (await ports(pair.a)).qmqp!;
    for (let i = 0; i < 5; i++) expect((await qmqpSend(qa, testMessage(i, 'before'), 's@example.net', [USERS[0]!]))[0]).toBe('K');
    await waitUntil('replicated', async () => (await replStatus(pair.b)).replication.appliedLsn === (await replStatus(pair.a)).replication.lastLsn);

    // Cut the link; the primary (async) keeps acknowledging.
    proxy.drop();
    await waitUntil('link down', async () => !(await replStatus(pair.b)).replication.connected);
    for (let i = 0; i < 6; i++) expect((await qmqpSend(qa, testMessage(i, 'cut'), 's@example.net', [USERS[i % 2]!]))[0]).toBe('K');

    // The primary dies; the replica is promoted (it knows of nothing it lacks) and takes new mail.
    await pair.kill(pair.a, 'SIGKILL');
    const promoted = await roostProcess(['promote', '--config', pair.b.proc!.configFile]);
    expect(promoted.code).toBe(0);
    const pb = await ports(pair.b);
    for (let i = 0; i < 3; i++) expect((await qmqpSend(pb.qmqp!, testMessage(i, 'after'), 's@example.net', [USERS[0]!]))[0]).toBe('K');

    // The old primary restarts with its durable role "primary" at epoch 1.
    const a = await pair.start(pair.a);
    await waitUntil('old primary stepped down and handed back', () => /hand-back done/.test(a.output()), 20_000);
    const sa = await replStatus(pair.a);
    expect(sa.role).toBe('replica');
    expect(sa.ports.qmqp).toBeUndefined();
    expect(sa.ports.imap).toBeUndefined();
    expect(a.output()).toMatch(/cut-0@test\.invalid/);

    const expected = {
      [USERS[0]!]: ['before-0', 'before-1', 'before-2', 'before-3', 'before-4', 'cut-0', 'cut-2', 'cut-4', 'after-0', 'after-1', 'after-2'],
      [USERS[1]!]: ['cut-1', 'cut-3', 'cut-5'],
    };
    for (const u of USERS) {
      const ids = await messageIds(pb.imap!, u);
      expect(ids.map((x) => x.replace(/^<|@test\.invalid>$/g, '')).sort()).toEqual([...expected[u]!].sort());
    }
    expect(pair.b.proc!.output()).toMatch(/handed-back message delivered again[^\n]*cut-1@test\.invalid|cut-1@test\.invalid[^\n]*handed-back message delivered again/);

    // A second meeting does not hand anything back twice.
    await pair.kill(pair.a, 'SIGTERM');
    await pair.start(pair.a);
    await new Promise((r) => setTimeout(r, 1500));
    for (const u of USERS) expect((await messageIds(pb.imap!, u)).length).toBe(expected[u]!.length);
    if ((await replStatus(pair.a)).replication.needsResync) {
      // This store cannot reset itself (ReplicationSupport.reset absent): read-only until re-seeded.
      const refused = await control(pair.a, 'promote');
      expect(refused.ok).toBe(false);
      expect(refused.error!.message).toMatch(/resync/);
      // Re-seed: stop, empty the store (keep config, accounts, TLS, replication.json), start.
      await pair.kill(pair.a, 'SIGTERM');
      for (const f of ['journal.sqlite', 'journal.sqlite-wal', 'journal.sqlite-shm', 'index', 'mail', 'spool', 'replication-spool']) {
        await rm(path.join(pair.a.dataDir, f), { recursive: true, force: true });
      }
      await pair.start(pair.a);
    }
    await waitUntil('re-seeded node caught up', async () => {
      const [x, y] = [await replStatus(pair.a), await replStatus(pair.b)];
      return x.replication.connected && x.replication.appliedLsn === y.replication.lastLsn;
    }, 20_000);
    proxy.resume();
    for (const n of [pair.a, pair.b]) {
      const v = await roostProcess(['verify', '--config', n.proc!.configFile]);
      expect(v.stdout + v.stderr).toMatch(/^identical/m);
      expect(v.code).toBe(0);
    }
  }, 120_000);
});
