/**
 * LMTP on a replicated pair (two spawned nodes, ack = "sync"): the replica
 * has no LMTP port, every 250 means the replica has the message, and after
 * SIGKILL of the primary and `roost promote` the new primary has every
 * message that got 250 and opens its LMTP port (where, with no replica
 * left to acknowledge, it answers 451).
 */
import { afterAll, describe, expect, it } from 'vitest';
import { roostProcess } from '../helpers/cli.js';
import { lmtpSend } from '../helpers/lmtp.js';
import { inspectStore } from '../replication/inspect.js';
import { Pair, ports, replStatus, waitUntil } from '../replication/pair.js';

const USERS = ['alice@example.org', 'bob@example.org'];
let pair: Pair | null = null;
afterAll(async () => {
  await pair?.cleanup();
});

describe('LMTP and replication', () => {
  it('250 = on the replica too: all of them survive SIGKILL of the primary and promote; LMTP opens on the promoted node, which answers 451 without a replica', { timeout: 120_000 }, async () => {
    pair = await Pair.create({ ack: 'sync', users: USERS });
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair!.b)).replication.connected);
    // A replica does not listen on client ports: no LMTP port in its node.json.
    expect((await ports(pair.b)).lmtp).toBeUndefined();
    const lmtp = (await ports(pair.a)).lmtp!;
    const expected: [string, string][] = [];
    for (let i = 0; i < 10; i++) {
      const rcpts = i % 2 ? USERS : [USERS[0]!];
      const r = await lmtpSend(lmtp, `Message-Id: <rep-${i}@lmtp.test>\nSubject: replicated ${i}\n\nbody ${i}\n`, 's@example.net', rcpts);
      expect(r.data.map((x) => x.code)).toEqual(rcpts.map(() => 250));
      for (const u of rcpts) expected.push([u, `rep-${i}@lmtp.test`]);
    }
    await pair.kill(pair.a, 'SIGKILL');
    const promoted = await roostProcess(['promote', '--config', pair.b.proc!.configFile]);
    expect(promoted.code).toBe(0);
    const bLmtp = (await ports(pair.b)).lmtp;
    expect(bLmtp).toBeGreaterThan(0);
    // It serves; with ack = "sync" and its peer dead, nothing can be replica-acknowledged, so the
    // answer is a temporary 451 (on_sync_timeout = "tempfail"), never a 250.
    const after = await lmtpSend(bLmtp!, 'Subject: after promote\n\nx\n', '', [USERS[1]!]);
    expect(after.data.map((x) => `${x.code} ${x.text.slice(0, 5)}`)).toEqual(['451 4.3.0']);
    await pair.kill(pair.b, 'SIGTERM');
    const seen = await inspectStore(pair.b.dataDir, USERS);
    const keys = [...seen.keys()];
    for (const [u, id] of expected) expect(keys.some((k) => k.startsWith(`${u} `) && k.includes(id)), `${u} ${id}`).toBe(true);
  });
});
