/**
 * Crash safety of APPEND's tagged OK (RFC 3501 §6.3.11): a node
 * in its own process takes APPENDs with synchronizing literals from several
 * clients and is killed with SIGKILL at a random moment, several times.
 * After each restart every message whose APPEND got OK [APPENDUID] is there
 * under that UID, byte for byte; nothing half-written is visible; tmp/ is
 * empty and the index agrees with the Maildir.
 */
import { rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { expectMaildirMatchesIndex } from '../helpers/maildir.js';
import { dataDirWithUser, startTestNode } from '../helpers/node.js';
import { spawnNode } from '../helpers/spawn.js';
import { login, type RawImap } from './helpers/client.js';
import { deterministicMessage } from '../helpers/messages.js';

const ROUNDS = 4;
const CLIENTS = 3;
/** Each round waits for this many more OKs (or the deadline), then kills at a random point up to KILL_JITTER_MS later. */
const ACKS_PER_ROUND = 8;
const ROUND_DEADLINE_MS = 60_000;
const KILL_JITTER_MS = 40;
/** Bound on APPENDs per client per round, whatever the speed of the machine. */
const MAX_PER_CLIENT = 2000;
const USER = 'append-crash@example.org';
const PASS = 'append-crash-pw';

/** The deterministic message of an id (test/helpers/messages.ts). */
function messageFor(id: string): Buffer {
  return deterministicMessage(id, { domain: 'append.test', subject: 'append crash test', eol: '\r\n' });
}

const idOf = (body: Buffer): string | null => /^Message-Id: <([^@>]+)@append\.test>/.exec(body.toString('latin1'))?.[1] ?? null;

/** One APPEND with a synchronizing literal; the UID from APPENDUID (RFC 4315 §3). */
async function append(c: RawImap, tag: string, body: Buffer): Promise<number> {
  c.write(`${tag} APPEND INBOX {${body.length}}\r\n`);
  const cont = await c.line(10_000);
  if (!cont.startsWith('+ ')) throw new Error(`no continuation: ${cont}`);
  c.write(Buffer.concat([body, Buffer.from('\r\n')]));
  const r = await c.until(tag, 10_000);
  const m = /^\S+ OK \[APPENDUID \d+ (\d+)\]/.exec(r.tagged);
  if (!m) throw new Error(`APPEND answered ${r.tagged}`);
  return Number(m[1]);
}

let dataDir: string;
let account: Account;

beforeAll(async () => {
  ({ dataDir, account } = await dataDirWithUser('roost-append-crash-', USER, PASS));
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('SIGKILL during APPENDs', () => {
  it(`keeps every OK'd APPEND under its UID, byte for byte, over ${ROUNDS} kill/restart rounds`, { timeout: 180_000 }, async () => {
    const acked = new Map<number, string>();
    let attempted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      const node = await spawnNode(dataDir, { log: { level: 'warn' } });
      let dead = false;
      const worker = async (w: number): Promise<void> => {
        let c: RawImap;
        try {
          c = await login(node.ports.imap!, USER, PASS);
        } catch (err) {
          if (!dead) throw err;
          return;
        }
        for (let n = 0; n < MAX_PER_CLIENT && !dead; n++) {
          const id = `r${round}-w${w}-${n}`;
          attempted++;
          try {
            const uid = await append(c, `a${n}`, messageFor(id));
            expect(acked.has(uid), `UID ${uid} given twice`).toBe(false);
            acked.set(uid, id);
          } catch (err) {
            if (!dead) throw err;
          }
        }
        c.close();
      };
      const start = acked.size;
      const workers = Array.from({ length: CLIENTS }, (_, w) => worker(w));
      const deadline = Date.now() + ROUND_DEADLINE_MS;
      while (acked.size < start + ACKS_PER_ROUND && Date.now() < deadline) await new Promise((r) => setTimeout(r, 5));
      await new Promise((r) => setTimeout(r, Math.floor(Math.random() * KILL_JITTER_MS)));
      dead = true;
      node.kill('SIGKILL');
      const code = await node.exited;
      await Promise.all(workers);
      expect(code).toBe('SIGKILL');
      expect(acked.size).toBeGreaterThanOrEqual(start + ACKS_PER_ROUND);
    }

    const t = await startTestNode({}, { dataDir });
    try {
      const box = await t.ctx.store.user(account).openMailbox('INBOX', { readOnly: true });
      const snap = box.snapshot();
      const idAt = new Map<number, string>();
      const seen = new Map<string, number>();
      for (const m of snap.messages) {
        const stored = await box.readMessage(m.uid);
        expect(stored.length).toBe(m.size);
        const id = idOf(stored);
        expect(id, 'every visible message is one we sent').not.toBeNull();
        // Complete, byte for byte, acknowledged or not: nothing half-written is visible.
        expect(stored.equals(messageFor(id!)), `message ${id} intact`).toBe(true);
        seen.set(id!, (seen.get(id!) ?? 0) + 1);
        idAt.set(m.uid, id!);
      }
      box.close();
      for (const [id, count] of seen) expect(count, `message ${id} appears once`).toBe(1);
      // Every OK'd APPEND is there under the UID its APPENDUID named.
      const wrong = [...acked].filter(([uid, id]) => idAt.get(uid) !== id);
      expect(wrong, "every OK'd APPEND is present").toEqual([]);
      await expectMaildirMatchesIndex(account, snap.messages.map((m) => m.basename));
      expect(attempted).toBeGreaterThanOrEqual(acked.size);
    } finally {
      await t.stop();
    }
  });
});
