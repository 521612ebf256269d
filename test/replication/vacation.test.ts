/**
 * The once-per-sender vacation memory across a failover: two
 * spawned nodes, Postfix's smtp-sink as the smarthost, the text set with
 * `roost user vacation set` on the primary. A sender answered by the old
 * primary is not answered again by the promoted replica; a new sender is.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { roostProcess } from '../helpers/cli.js';
import { startSink, type Sink } from '../helpers/smtp-sink.js';
import { Pair, ports, qmqpSend, waitUntil, type PairNode } from './pair.js';

let pair: Pair | null = null;
let sink: Sink | null = null;
afterAll(async () => {
  await pair?.cleanup();
  await sink?.stop();
});

/** Senders a node's data_dir/vacation.sqlite remembers for the account. */
function remembered(n: PairNode, account: string): string[] {
  const db = new Database(path.join(n.dataDir, 'vacation.sqlite'), { readonly: true, fileMustExist: true });
  try {
    return (db.prepare('SELECT sender FROM sent WHERE account = ? ORDER BY sender').all(account) as { sender: string }[]).map((r) => r.sender);
  } finally {
    db.close();
  }
}

const message = (from: string, id: string) => Buffer.from(`From: ${from}\nTo: vac@example.org\nSubject: hello\nMessage-ID: <${id}@sender.example>\n\nhi\n`);

describe('vacation memory and failover', () => {
  it('a sender answered before the failover is not answered again after it', async () => {
    sink = await startSink();
    pair = await Pair.create({ ack: 'sync', syncTimeoutMs: 1500, onSyncTimeout: 'degrade', users: ['vac@example.org'] });
    const { a, b } = pair;
    for (const n of [a, b]) n.overrides = { ...n.overrides, outbound: { smarthosts: [`127.0.0.1:${sink.port}`], timeout_ms: 10_000 } };
    await pair.startBoth();
    const set = await roostProcess(['user', 'vacation', 'set', 'vac@example.org', '--config', path.join(a.dataDir, 'roost.toml')], { stdin: 'Away.\n' });
    expect(set.code, set.stderr).toBe(0);

    expect(await qmqpSend((await ports(a)).qmqp!, message('bob@sender.example', 'm1'), 'bob@sender.example', ['vac@example.org'])).toMatch(/^K/);
    expect((await sink.waitDumps(1, 20_000)).map((d) => d.rcptArgs)).toEqual([['<bob@sender.example>']]);
    await waitUntil('the replica remembers bob', () => remembered(b, 'vac@example.org').includes('bob@sender.example'), 20_000);

    await pair.kill(a, 'SIGKILL');
    const promoted = await roostProcess(['promote', '--config', path.join(b.dataDir, 'roost.toml')]);
    expect(promoted.code, promoted.stderr).toBe(0);
    const qb = (await ports(b)).qmqp!;
    expect(await qmqpSend(qb, message('bob@sender.example', 'm2'), 'bob@sender.example', ['vac@example.org'])).toMatch(/^K/);
    expect(await qmqpSend(qb, message('zoe@sender.example', 'm3'), 'zoe@sender.example', ['vac@example.org'])).toMatch(/^K/);
    await waitUntil('zoe answered and remembered', () => remembered(b, 'vac@example.org').includes('zoe@sender.example'), 20_000);
    const dumps = await sink.dumps();
    expect(dumps.map((d) => d.rcptArgs[0]).sort()).toEqual(['<bob@sender.example>', '<zoe@sender.example>']);
  }, 90_000);
});
