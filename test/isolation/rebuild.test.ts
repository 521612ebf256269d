/**
 * Isolation during an index rebuild (issue 15 §1): `roost import` and
 * `roost reindex` in a running node rebuild the account's index in the
 * node's one event loop. Before the rebuild was sliced
 * (importMaildirSliced in src/store/recovery.ts) a 20,000-message folder held
 * every other client for the whole rebuild.
 *
 * While alice's folder is rebuilt, bob's IMAP NOOP and carol's POP3 STAT
 * must be answered. Judged by events, not by the clock: an answer counts
 * when it arrives while the rebuild's progress counter is past its start
 * and short of its end (the counter moves once per import batch, so with
 * the old one-go rebuild no answer could ever land between two of its
 * values). The largest gap between answers is printed, not asserted (this
 * runs beside other test files on a loaded machine). Alice herself gets a
 * temporary failure until her index is whole, then her mail.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { login, RawImap } from '../imap/helpers/client.js';
import { message, startImapNode, type ImapTestNode } from '../imap/helpers/node.js';
import { qmqpSend } from '../helpers/qmqp.js';
import { RawClient } from '../helpers/pop3-client.js';

const MANY = 20_000;
/** Rounds each quiet client runs at most (the loops also end with the rebuild). */
const MAX_ROUNDS = 200_000;

/** `n` tiny messages as Maildir files in alice's INBOX (names carry S= and W=, so indexing stats each once). */
function writeFolder(maildir: string, n: number): void {
  const body = Buffer.from('Subject: x\n\nx\n');
  const cur = path.join(maildir, 'cur');
  fs.mkdirSync(cur, { recursive: true });
  for (let i = 0; i < n; i++) fs.writeFileSync(path.join(cur, `${1_600_000_000 + i}.M${i}P1.old,S=14,W=16:2,S`), body);
}

interface Observed {
  noopDuring: number;
  statDuring: number;
  maxGapMs: number;
  progress: number[];
  aliceDuring: string | null;
  /** QMQP's answer to a delivery to alice while her index is half built. */
  qmqpDuring: string | null;
  /** SELECT INBOX in a session alice opened before the rebuild, answered during it. */
  selectDuring: string | null;
}

describe('isolation: rebuilding a big folder does not stall other users', () => {
  let n: ImapTestNode;

  beforeAll(async () => {
    n = await startImapNode();
    await n.t.addUser('bob@example.org', 'bob-pw');
    await n.t.addUser('carol@example.org', 'carol-pw');
    writeFolder(n.account.maildir, MANY);
  }, 300_000);

  afterAll(async () => {
    await n?.stop();
  });

  /** Rebuild alice's index the way the control socket's `reindex` does, while bob and carol ask. */
  /** `early`: alice logs in before it starts (not before her first index: that login would build it). */
  async function rebuildWhileAsking(early: boolean): Promise<{ result: { messages: number }; seen: Observed }> {
    const bob = await login(n.port, 'bob@example.org', 'bob-pw');
    const before = early ? await login(n.port, n.user, n.pass) : null;
    const carol = await RawClient.connect(n.t.ports.pop3!);
    await carol.line();
    expect(await carol.login('carol@example.org', 'carol-pw')).toMatch(/^\+OK/);
    const seen: Observed = { noopDuring: 0, statDuring: 0, maxGapMs: 0, progress: [], aliceDuring: null, qmqpDuring: null, selectDuring: null };
    let progress = 0;
    let done = false;
    let last = performance.now();
    const answered = (): void => {
      const now = performance.now();
      seen.maxGapMs = Math.max(seen.maxGapMs, now - last);
      last = now;
    };
    const during = (): boolean => !done && progress > 0 && progress < MANY;
    const rebuild = n.t.ctx.store
      .reindex(n.account, {
        onProgress: (m) => {
          progress = m;
          seen.progress.push(m);
        },
      })
      .finally(() => (done = true));
    const noops = (async () => {
      for (let i = 0; i < MAX_ROUNDS && !done; i++) {
        expect((await bob.cmd('NOOP', 60_000)).tagged).toMatch(/OK/);
        answered();
        if (during()) seen.noopDuring++;
      }
    })();
    const stats = (async () => {
      for (let i = 0; i < MAX_ROUNDS && !done; i++) {
        expect(await carol.cmd('STAT')).toMatch(/^\+OK 0 0/);
        answered();
        if (during()) seen.statDuring++;
      }
    })();
    // Alice's own login while her index is half built (once the rebuild has shown progress).
    const alice = (async () => {
      for (let i = 0; i < MAX_ROUNDS && !done && !during(); i++) await new Promise((r) => setImmediate(r));
      if (!during()) return;
      const c = await RawImap.connect(n.port);
      try {
        await c.line(60_000);
        const r = await c.cmd(`LOGIN "${n.user}" "${n.pass}"`, 60_000);
        // An answer that came back before the end was given while the index was half built.
        if (!done) seen.aliceDuring = r.tagged;
      } finally {
        c.close();
      }
      const q = await qmqpSend(n.t.ports.qmqp!, message(1), 'x@example.net', [n.user]);
      if (!done) seen.qmqpDuring = q.code;
      const sel = await before?.cmd('SELECT INBOX', 60_000);
      if (sel && !done) seen.selectDuring = sel.tagged;
    })();
    const result = await rebuild;
    await Promise.all([noops, stats, alice]);
    bob.close();
    before?.close();
    carol.destroy();
    return { result, seen };
  }

  async function aliceAfter(): Promise<string> {
    const c = await login(n.port, n.user, n.pass);
    try {
      return (await c.cmd('STATUS INBOX (MESSAGES UIDNEXT)', 60_000)).untagged.join('\n');
    } finally {
      c.close();
    }
  }

  function expectAnsweredDuring(seen: Observed): void {
    // The counter moved in batches between the start and the end: there was a "during".
    expect(seen.progress.length).toBeGreaterThanOrEqual(Math.ceil(MANY / LIMITS.store.importBatch));
    expect(seen.progress.at(-1)).toBe(MANY);
    expect(seen.noopDuring, 'IMAP NOOP answers during the rebuild').toBeGreaterThan(0);
    expect(seen.statDuring, 'POP3 STAT answers during the rebuild').toBeGreaterThan(0);
    if (seen.aliceDuring !== null) expect(seen.aliceDuring).toMatch(/^a\d+ NO \[UNAVAILABLE\]/);
    // Deferred (the relay retries), not delivered into a half-built index.
    if (seen.qmqpDuring !== null) expect(seen.qmqpDuring).toBe('Z');
    // Not a partial mailbox for a session that was already logged in.
    if (seen.selectDuring !== null) expect(seen.selectDuring).toMatch(/^a\d+ NO \[UNAVAILABLE\]/);
    expect(seen.aliceDuring !== null || seen.qmqpDuring !== null, 'alice asked while her index was half built').toBe(true);
    console.info(`rebuild of ${MANY}: ${seen.noopDuring} NOOP and ${seen.statDuring} STAT answers during it, largest gap ${seen.maxGapMs.toFixed(0)} ms; alice ${seen.aliceDuring}, QMQP ${seen.qmqpDuring}, SELECT ${seen.selectDuring}`);
  }

  it(`the first index of a ${MANY}-message Maildir (roost import in the node)`, async () => {
    const { result, seen } = await rebuildWhileAsking(false);
    expect(result.messages).toBe(MANY);
    expectAnsweredDuring(seen);
    expect(await aliceAfter()).toContain(`* STATUS INBOX (MESSAGES ${MANY} UIDNEXT ${MANY + 1})`);
  }, 600_000);

  it(`a reindex of the same ${MANY} messages (roost reindex in the node)`, async () => {
    const { result, seen } = await rebuildWhileAsking(true);
    expect(result.messages).toBe(MANY);
    expectAnsweredDuring(seen);
    expect(seen.selectDuring, 'the early session asked during the rebuild').not.toBeNull();
    // UIDs kept from the old index.
    expect(await aliceAfter()).toContain(`* STATUS INBOX (MESSAGES ${MANY} UIDNEXT ${MANY + 1})`);
  }, 600_000);
});
