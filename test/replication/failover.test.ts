/**
 * Failover between two spawned nodes: SIGKILL the primary at random moments
 * during a QMQP delivery stream (sync mode), `roost promote` the replica, and
 * check that every message that got K is on the new primary byte for byte
 * with the same UID, UIDVALIDITY, modseq and Maildir base name (POP3 UIDL) as
 * on the old primary; IMAP on the new primary shows the same UIDVALIDITY.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { ImapFlow } from 'imapflow';
import { roostProcess } from '../helpers/cli.js';
import { inspectStore } from './inspect.js';
import { Pair, deliverUntil, ports, replStatus, waitUntil } from './pair.js';

const USERS = ['alice@example.org', 'bob@example.org'];
const ROUNDS = 3;

let pair: Pair | null = null;
afterEach(async () => {
  await pair?.cleanup();
  pair = null;
});

describe('failover under load', () => {
  for (let round = 0; round < ROUNDS; round++) {
    it(`round ${round + 1}: every K'd message survives SIGKILL + promote unchanged`, async () => {
      pair = await Pair.create({ ack: 'sync', syncTimeoutMs: 3000, users: USERS });
      await pair.startBoth();
      await waitUntil('replica connected', async () => (await replStatus(pair!.b)).replication.connected);
      const qmqp = (await ports(pair.a)).qmqp!;
      const { acked, done: senders } = deliverUntil({ port: qmqp, users: USERS, tag: `fo${round}`, clients: 4, perClient: 10_000, size: (i) => 600 + (i % 7) * 900 });
      await waitUntil('some deliveries acknowledged', () => acked.length >= 5);
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * 500)));
      await pair.kill(pair.a, 'SIGKILL');
      await senders;
      expect(acked.length).toBeGreaterThan(0);

      const promoted = await roostProcess(['promote', '--config', pair.b.proc!.configFile]);
      expect(promoted.stderr).toBe('');
      expect(promoted.code).toBe(0);
      expect(promoted.stdout).toMatch(/promoted: primary at epoch 2/);
      const bPorts = await ports(pair.b);
      expect(bPorts.qmqp).toBeGreaterThan(0);
      // IMAP answers on the promoted node with the same UIDVALIDITY.
      const client = new ImapFlow({ host: '127.0.0.1', port: bPorts.imap!, secure: false, auth: { user: USERS[0]!, pass: `pw-${USERS[0]}` }, tls: { rejectUnauthorized: false }, logger: false });
      await client.connect();
      const box = await client.mailboxOpen('INBOX');
      await client.logout();
      // How fast the promoted node answers is measured by bench:replication (failover row), not judged here.
      const s = (await replStatus(pair.b)).replication;
      expect(s).toMatchObject({ role: 'primary', epoch: 2 });

      await pair.kill(pair.b, 'SIGTERM');
      const before = await inspectStore(pair.a.dataDir, USERS);
      const after = await inspectStore(pair.b.dataDir, USERS);
      for (const key of acked) {
        const was = before.get(key);
        const now = after.get(key);
        expect(was, `${key} on the old primary`).toBeDefined();
        expect(now, `${key} on the promoted replica`).toEqual(was);
      }
      const inbox = [...after.values()].find((m) => m.account === USERS[0] && m.mailbox === 'INBOX');
      if (inbox) expect(BigInt(box.uidValidity)).toBe(BigInt(inbox.uidvalidity));
    }, 120_000);
  }
});
