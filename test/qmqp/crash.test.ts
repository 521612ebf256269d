/**
 * Crash safety of QMQP "K": a node in its own process takes a stream
 * of deliveries and is killed with SIGKILL at a random moment, several times.
 * After each restart every message that got K must be there, intact, once;
 * nothing half-written may be visible; tmp/ is cleaned; the index (read
 * through the store API) agrees with the Maildir files.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { expectMaildirMatchesIndex, RECEIVED_RE, splitReceived } from '../helpers/maildir.js';
import { dataDirWithUser, startTestNode } from '../helpers/node.js';
import { qmqpSend } from '../helpers/qmqp.js';
import { spawnNode } from '../helpers/spawn.js';
import { deterministicMessage } from '../helpers/messages.js';

const ROUNDS = 5;
const CLIENTS = 4;
/** Each round runs this long at most before the kill (random point inside it). */
const ROUND_MS = [300, 1500] as const;

/** The deterministic message of an id (test/helpers/messages.ts). */
function messageFor(id: string): Buffer {
  return deterministicMessage(id, { domain: 'crash.test', subject: 'crash test', eol: '\n' });
}

const idOf = (body: Buffer): string | null => /^Message-Id: <([^@>]+)@crash\.test>/.exec(body.toString('latin1'))?.[1] ?? null;

let dataDir: string;
let account: Account;

beforeAll(async () => {
  ({ dataDir, account } = await dataDirWithUser('roost-crash-', 'crash@example.org'));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('SIGKILL during deliveries', () => {
  it(`keeps every K'd message, once and intact, over ${ROUNDS} kill/restart rounds`, { timeout: 120_000 }, async () => {
    const acked = new Set<string>();
    let attempted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const node = await spawnNode(dataDir, { log: { level: 'warn' } });
      let dead = false;
      let n = 0;
      const worker = async (w: number): Promise<void> => {
        while (!dead) {
          const id = `r${round}-w${w}-${n++}`;
          attempted++;
          try {
            const r = await qmqpSend(node.ports.qmqp!, messageFor(id), 'sender@crash.test', ['crash@example.org']);
            if (r.code === 'K') acked.add(id);
            else if (!dead) throw new Error(`unexpected ${r.code}${r.text} before the kill`);
          } catch (err) {
            if (!dead) throw err;
          }
        }
      };
      const workers = Array.from({ length: CLIENTS }, (_, w) => worker(w));
      const delay = ROUND_MS[0] + Math.floor(Math.random() * (ROUND_MS[1] - ROUND_MS[0]));
      await new Promise((r) => setTimeout(r, delay));
      dead = true;
      node.kill('SIGKILL');
      const code = await node.exited;
      await Promise.all(workers);
      expect(code).toBe('SIGKILL');
    }
    expect(acked.size).toBeGreaterThan(ROUNDS);

    // Read back through the store, as a client would see it after the last restart.
    const t = await startTestNode({}, { dataDir });
    try {
      const box = await t.ctx.store.user(account).openMailbox('INBOX', { readOnly: true });
      const snap = box.snapshot();
      const seen = new Map<string, number>();
      for (const m of snap.messages) {
        const stored = await box.readMessage(m.uid);
        expect(stored.length).toBe(m.size);
        const { received, body } = splitReceived(stored);
        expect(received).toMatch(RECEIVED_RE);
        const id = idOf(body);
        expect(id, 'every visible message is one we sent').not.toBeNull();
        // Complete, byte for byte: nothing half-written is visible, acked or not.
        expect(body.equals(messageFor(id!)), `message ${id} intact`).toBe(true);
        seen.set(id!, (seen.get(id!) ?? 0) + 1);
      }
      box.close();
      for (const [id, count] of seen) expect(count, `message ${id} appears once`).toBe(1);
      const missing = [...acked].filter((id) => !seen.has(id));
      expect(missing, "every K'd message is present").toEqual([]);

      // The index agrees with the Maildir: same files, and tmp/ holds no leftovers.
      await expectMaildirMatchesIndex(account, snap.messages.map((m) => m.basename));
      expect(attempted).toBeGreaterThan(acked.size);
    } finally {
      await t.stop();
    }
  });
});
