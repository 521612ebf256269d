/**
 * Two spawned nodes in sync mode: QMQP deliveries while IMAP (imapflow) and
 * POP3 sessions on the primary change flags and expunge; afterwards
 * `roost verify` (the real CLI) reports identical stores and the lag is 0.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { roostProcess } from '../helpers/cli.js';
import { pop3Dele } from '../helpers/pop3-client.js';
import { Pair, ports, qmqpSend, replStatus, testMessage, waitUntil } from './pair.js';

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, 'm').exec(text);
  return m ? Number(m[1]) : NaN;
}

describe('sync-mode streaming between two real nodes', () => {
  let pair: Pair;

  beforeAll(async () => {
    pair = await Pair.create({ ack: 'sync', syncTimeoutMs: 5000 });
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair.b)).replication.connected);
  }, 60_000);

  afterAll(async () => {
    await pair?.cleanup();
  });

  it('deliveries, IMAP flag changes/expunges and POP3 deletions end identical on both nodes', async () => {
    const p = await ports(pair.a);
    // Caught up first: from here on every record is live, shipped as committed, none read back from the journal.
    await waitUntil('replica caught up', async () => {
      const [a, b] = [await replStatus(pair.a), await replStatus(pair.b)];
      return a.replication.lag.records === 0 && b.replication.appliedLsn === a.replication.lastLsn;
    });
    const readBackBefore = await metric(p.admin!, 'roost_replication_records_read_back_total');
    const shippedBefore = await metric(p.admin!, 'roost_replication_records_shipped_total');
    // Some mail first, so the sessions have something to change.
    for (let i = 0; i < 6; i++) {
      expect((await qmqpSend(p.qmqp!, testMessage(i, 'pre'), 's@example.net', ['alice@example.org', 'bob@example.org']))[0]).toBe('K');
    }
    const deliveries = (async () => {
      const verdicts: string[] = [];
      for (let round = 0; round < 5; round++) {
        const batch = await Promise.all(
          Array.from({ length: 6 }, (_, j) => qmqpSend(p.qmqp!, testMessage(round * 6 + j, 'stream'), 's@example.net', [j % 2 ? 'alice@example.org' : 'bob@example.org'])),
        );
        for (const v of batch) verdicts.push(v[0]!);
      }
      return verdicts;
    })();
    const imap = (async () => {
      const client = new ImapFlow({ host: '127.0.0.1', port: p.imap!, secure: false, auth: { user: 'alice@example.org', pass: 'pw-alice@example.org' }, tls: { rejectUnauthorized: false }, logger: false });
      await client.connect();
      const lock = await client.getMailboxLock('INBOX');
      try {
        await client.messageFlagsAdd('1:3', ['\\Seen', '$Label1']);
        await client.messageFlagsAdd('2', ['\\Deleted']);
        await client.messageFlagsRemove('3', ['\\Seen']);
        await client.messageDelete('4');
      } finally {
        lock.release();
      }
      await client.logout();
    })();
    const pop3 = pop3Dele(p.pop3!, 'bob@example.org', 'pw-bob@example.org', [1, 2]);
    const [verdicts] = await Promise.all([deliveries, imap, pop3]);
    expect(verdicts.every((v) => v === 'K')).toBe(true);

    await waitUntil('lag 0 on both sides', async () => {
      const [a, b] = [await replStatus(pair.a), await replStatus(pair.b)];
      return a.replication.lag.records === 0 && b.replication.appliedLsn === a.replication.lastLsn;
    });
    const a = (await replStatus(pair.a)).replication;
    expect(a).toMatchObject({ role: 'primary', connected: true, sync: true, degraded: false });
    expect(a.lag).toMatchObject({ records: 0, bytes: 0 });
    expect(await metric(p.admin!, 'roost_replication_records_shipped_total')).toBeGreaterThanOrEqual(shippedBefore + 42);
    expect(await metric(p.admin!, 'roost_replication_records_read_back_total')).toBe(readBackBefore);

    const v = await roostProcess(['verify', '--config', pair.a.proc!.configFile, '--json']);
    const report = JSON.parse(v.stdout);
    expect(report.differences).toEqual([]);
    expect(v.code).toBe(0);
    expect(report.identical).toBe(true);
    // 12 + 30 delivered; POP3 deleted 2; IMAP expunged 4 (and 2 when EXPUNGE rather than UID EXPUNGE was used).
    expect(report.messages).toBeGreaterThanOrEqual(42 - 4);
    expect(report.messages).toBeLessThanOrEqual(42 - 3);
    // And from the replica's side too.
    expect((await roostProcess(['verify', '--config', pair.b.proc!.configFile])).code).toBe(0);
  }, 90_000);

  it('the replica keeps client ports closed and reports its role', async () => {
    const b = await replStatus(pair.b);
    expect(b.role).toBe('replica');
    expect(b.ports.qmqp).toBeUndefined();
    const s = await roostProcess(['status', '--json', '--config', pair.b.proc!.configFile]);
    expect(s.code).toBe(0);
    expect(JSON.parse(s.stdout).replication).toMatchObject({ role: 'replica', epoch: 1, connected: true });
  });
});
