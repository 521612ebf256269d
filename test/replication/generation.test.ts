/**
 * Records are shipped while the primary's own fsyncs still run, so after a
 * power loss the replica may hold records the primary lost — and the
 * primary would hand those LSNs out again. This test makes that state by
 * hand (the primary SIGKILLed, then its last journal records, their message
 * files and its indexes removed, as a power loss would leave them), restarts
 * it, and checks that the crash restart started a new generation: the
 * replica is found diverged at it, hands its extra messages back (delivered
 * again on the primary, none lost, none twice), is re-seeded, and `roost
 * verify` ends identical — instead of a silent divergence at reused LSNs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import Database from 'better-sqlite3';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { roostProcess } from '../helpers/cli.js';
import { Pair, inboxEnvelopes, ports, qmqpSend, replStatus, testMessage, waitUntil } from './pair.js';

const USER = 'alice@example.org';

async function subjects(port: number): Promise<string[]> {
  return (await inboxEnvelopes(port, USER)).map((e) => e.subject).sort();
}

/** What a power loss can leave: the journal without its last `n` deliveries, their files gone, indexes gone. */
async function loseTail(dataDir: string, n: number): Promise<string[]> {
  const db = new Database(path.join(dataDir, 'journal.sqlite'));
  const lost = db.prepare("SELECT lsn, data FROM records WHERE kind = 'deliver' ORDER BY lsn DESC LIMIT ?").all(n) as { lsn: number; data: string }[];
  const from = lost.reduce((m, r) => (r.lsn < m ? r.lsn : m), lost[0]!.lsn);
  db.prepare('DELETE FROM records WHERE lsn >= ?').run(from);
  db.prepare("UPDATE sqlite_sequence SET seq = ? WHERE name = 'records'").run(from - 1);
  db.close();
  for (const r of lost) {
    const d = JSON.parse(r.data) as { maildir: string; filename: string };
    await rm(path.join(d.maildir, d.filename), { force: true });
  }
  await rm(path.join(dataDir, 'index'), { recursive: true, force: true });
  return lost.map((r) => r.data);
}

describe('crash restart of a primary starts a new generation', () => {
  let pair: Pair;
  afterAll(async () => {
    await pair?.cleanup();
  });

  it('a replica holding records the primary lost is detected, hands them back and is re-seeded', async () => {
    pair = await Pair.create({ ack: 'async', users: [USER] });
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair.b)).replication.connected);
    const qa = (await ports(pair.a)).qmqp!;
    for (let i = 0; i < 10; i++) expect((await qmqpSend(qa, testMessage(i, 'gen'), 's@example.net', [USER]))[0]).toBe('K');
    await waitUntil('replicated', async () => (await replStatus(pair.b)).replication.appliedLsn === (await replStatus(pair.a)).replication.lastLsn);

    await pair.kill(pair.a, 'SIGKILL');
    await pair.kill(pair.b, 'SIGTERM');
    const lost = await loseTail(pair.a.dataDir, 4);
    expect(lost).toHaveLength(4);

    // The primary comes back first and takes new mail at the LSNs it lost.
    const a = await pair.start(pair.a);
    await waitUntil('new generation logged', () => /new generation in the epoch history/.test(a.output()), 10_000);
    const pa = await ports(pair.a);
    for (let i = 0; i < 3; i++) expect((await qmqpSend(pa.qmqp!, testMessage(i, 'fresh'), 's@example.net', [USER]))[0]).toBe('K');

    const b = await pair.start(pair.b);
    await waitUntil('replica handed back', () => /hand-back done/.test(b.output()), 20_000);
    await waitUntil('re-seeded', async () => {
      const [x, y] = [await replStatus(pair.b), await replStatus(pair.a)];
      return x.replication.connected && !x.replication.needsResync && x.replication.snapshot === null && x.replication.appliedLsn === y.replication.lastLsn;
    }, 30_000);

    const expected = [...Array.from({ length: 10 }, (_v, i) => `gen ${i}`), ...Array.from({ length: 3 }, (_v, i) => `fresh ${i}`)].sort();
    expect(await subjects(pa.imap!)).toEqual(expected);
    expect(a.output()).toMatch(/handed-back message delivered again/);
    for (const n of [pair.a, pair.b]) {
      const v = await roostProcess(['verify', '--config', n.proc!.configFile]);
      expect(v.stdout + v.stderr).toMatch(/^identical/m);
      expect(v.code).toBe(0);
    }
  }, 120_000);
});
