/**
 * "K means on the standby" from the standby's side: in sync mode the replica
 * is SIGKILLed at a random moment of a delivery stream (records are shipped
 * while the primary's own fsyncs still run, spooled with one fdatasync per
 * batch and acknowledged before they are applied). Then the primary is
 * SIGKILLed too, so the replica can learn nothing more from it; restarted,
 * the replica applies what its spool holds and is promoted — without
 * --force, since it knows of nothing acknowledged that it lacks — and every
 * message that got K is there byte for byte, with the UID, UIDVALIDITY,
 * modseq and base name (POP3 UIDL) the old primary gave it.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { roostProcess } from '../helpers/cli.js';
import { inspectStore } from './inspect.js';
import { Pair, deliverUntil, ports, replStatus, waitUntil } from './pair.js';

const USERS = ['alice@example.org', 'bob@example.org'];

let pair: Pair | null = null;
afterEach(async () => {
  await pair?.cleanup();
  pair = null;
});

describe('replica crash in sync mode', () => {
  for (let round = 0; round < 2; round++) {
    it(`round ${round + 1}: every K'd message survives SIGKILL of the replica, then of the primary, then promote`, async () => {
      pair = await Pair.create({ ack: 'sync', syncTimeoutMs: 1500, users: USERS });
      await pair.startBoth();
      await waitUntil('replica connected', async () => (await replStatus(pair!.b)).replication.connected);
      const qmqp = (await ports(pair.a)).qmqp!;
      let stop = false;
      const { acked, done: senders } = deliverUntil({ port: qmqp, users: USERS, tag: `rc${round}`, clients: 6, perClient: 5000, size: (i) => 600 + (i % 5) * 1500, stop: () => stop });
      await waitUntil('some deliveries acknowledged', () => acked.length >= 20);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 400)));
      await pair.kill(pair.b, 'SIGKILL');
      // Without the replica, sync mode answers Z after the timeout: nothing more is acknowledged.
      await new Promise((r) => setTimeout(r, 300));
      await pair.kill(pair.a, 'SIGKILL');
      stop = true;
      await senders;
      expect(acked.length).toBeGreaterThan(0);

      await pair.start(pair.b);
      const promoted = await roostProcess(['promote', '--config', pair.b.proc!.configFile]);
      expect(promoted.stderr).toBe('');
      expect(promoted.code).toBe(0);
      await pair.kill(pair.b, 'SIGTERM');

      const before = await inspectStore(pair.a.dataDir, USERS);
      const after = await inspectStore(pair.b.dataDir, USERS);
      for (const key of acked) {
        expect(before.get(key), `${key} on the old primary`).toBeDefined();
        expect(after.get(key), `${key} on the promoted replica`).toEqual(before.get(key));
      }
    }, 120_000);
  }
});
