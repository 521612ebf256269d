/**
 * Maildir++ quota across switchovers: a node keeps counting deliveries and
 * expunges into its `maildirsize` while it is the replica, so when it is
 * primary again the usage it enforces (and reports over IMAP QUOTA) is the
 * mailbox's real one, not what it had when it stepped down. On the way it
 * checks a planned switchover back and forth: the demoted primary counts
 * what it wrote as applied (status lag 0, and `roost promote` does not call
 * it behind once the other side has acknowledged writes of its own).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { roostProcess } from '../helpers/cli.js';
import { login } from '../imap/helpers/client.js';
import { pop3Dele } from '../helpers/pop3-client.js';
import { Pair, ports, qmqpSend, replStatus, testMessage, waitUntil, type PairNode } from './pair.js';

const USER = 'quota@example.org';

async function quotaOf(n: PairNode): Promise<string> {
  const c = await login((await ports(n)).imap!, USER, 'pw-quota');
  const r = await c.cmd('GETQUOTAROOT INBOX');
  await c.cmd('LOGOUT');
  return r.untagged.find((l) => l.startsWith('* QUOTA '))!;
}

async function deliver(n: PairNode, count: number, tag: string): Promise<void> {
  const q = (await ports(n)).qmqp!;
  for (let i = 0; i < count; i++) expect((await qmqpSend(q, testMessage(i, tag, 3000 + i * 500), 's@example.net', [USER]))[0]).toBe('K');
}

async function caughtUp(primary: PairNode, replica: PairNode): Promise<void> {
  await waitUntil('replica caught up', async () => {
    const [p, r] = [await replStatus(primary), await replStatus(replica)];
    return r.replication.connected && r.replication.appliedLsn === p.replication.lastLsn;
  });
}

async function switchTo(from: PairNode, to: PairNode): Promise<void> {
  await caughtUp(from, to);
  expect((await roostProcess(['demote', '--config', from.proc!.configFile])).code).toBe(0);
  expect((await roostProcess(['promote', '--config', to.proc!.configFile])).code).toBe(0);
  await caughtUp(to, from);
}

describe('quota usage across switchovers', () => {
  let pair: Pair;
  afterAll(async () => {
    await pair?.cleanup();
  });

  it('the node that was replica enforces and reports the usage the other node left', async () => {
    pair = await Pair.create({ ack: 'sync' });
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair.b)).replication.connected);
    expect((await roostProcess(['user', 'add', USER, '--quota', '1M', '--password-stdin', '--config', pair.a.proc!.configFile], { stdin: 'pw-quota\n' })).code).toBe(0);
    await deliver(pair.a, 3, 'on-a');
    const onA = await quotaOf(pair.a);
    expect(onA).toMatch(/^\* QUOTA "" \(STORAGE \d+ 1024\)$/);

    await switchTo(pair.a, pair.b);
    await deliver(pair.b, 4, 'on-b');
    const kib = (l: string): number => Number(/STORAGE (\d+)/.exec(l)![1]);
    const beforeDele = kib(await quotaOf(pair.b));
    expect(await pop3Dele((await ports(pair.b)).pop3!, USER, 'pw-quota', [1])).toMatch(/^\+OK/);
    // The expunged file's bytes leave the quota when the background unlink runs (paced: file-work.ts).
    await waitUntil('the expunge unlinked on B', async () => kib(await quotaOf(pair.b)) < beforeDele);
    const onB = await quotaOf(pair.b);
    expect(kib(onB)).toBeGreaterThan(kib(onA));

    // Back to A, whose maildirsize was written while it was primary.
    await switchTo(pair.b, pair.a);
    await waitUntil('A reports the usage B left', async () => (await quotaOf(pair.a)) === onB);
    expect(await quotaOf(pair.a)).toBe(onB);
  }, 90_000);
});
