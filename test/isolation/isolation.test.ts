/**
 * Isolation: one node serves every session from one event
 * loop, so while one user runs the most expensive command we can build —
 * SEARCH BODY over a 40 MB text body, SEARCH with 4,000 NOT BODY keys over
 * 4 MB bodies, SORT and THREAD REFERENCES over 20,000 messages — another
 * user's greeting, NOOP, POP3 STAT and a QMQP delivery must still be
 * answered promptly, and the expensive command must still answer right.
 * Before the work was sliced (src/work/budget.ts) each of these commands
 * held every other client for seconds.
 *
 * The bound asserted here is deliberately generous (SLOW_MS, one second):
 * this runs beside other test files on a loaded two-core machine. The
 * 100 ms p99 target is measured by `npm run bench:isolation` on a quiet one.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { LIMITS } from '../../src/limits.js';
import { WorkBudget } from '../../src/work/budget.js';
import { login, RawImap } from '../imap/helpers/client.js';
import { startImapNode, message, type ImapTestNode } from '../imap/helpers/node.js';
import { RawClient } from '../helpers/pop3-client.js';
import { qmqpSend } from '../helpers/qmqp.js';

/** Generous bound for one quiet-client answer while the noisy command runs (see the file comment). */
const SLOW_MS = 1000;
const MANY = 20_000;
const KEYS = 4000;

const imapLimits = LIMITS.imap as { commandWorkUnits: number };

const line = 'the quick brown fox jumps over the lazy dog, again and again and again\r\n';
/**
 * A text message of about `bytes`, ending with `tail`; `middle` goes after
 * 15 MB (SEARCH reads the first LIMITS.store.maxSearchTextChars characters
 * of a body, 16 M).
 */
function bigText(bytes: number, tail: string, subject: string, middle = ''): Buffer {
  const head = `From: Big <big@example.net>\r\nTo: alice@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@example.net>\r\n\r\n`;
  const lines = Math.ceil(bytes / line.length);
  const before = Math.min(lines, Math.ceil(15e6 / line.length));
  return Buffer.from(head + line.repeat(before) + (middle ? `${middle}\r\n` : '') + line.repeat(lines - before) + tail + '\r\n');
}

interface Worst {
  greeting: number;
  noop: number;
  stat: number;
  qmqp: number;
  rounds: number;
}

describe('isolation: an expensive command does not stall other clients', () => {
  let n: ImapTestNode;
  let bob: Account;

  beforeAll(async () => {
    n = await startImapNode();
    bob = await n.t.addUser('bob@example.org', 'bob-pw');
    await n.t.addUser('carol@example.org', 'carol-pw');
    const u = n.t.ctx.store.user(n.account);
    for (const box of ['Big', 'Keys', 'Many']) await u.createMailbox(box);
    await n.deliver([bigText(40e6, '', 'big', 'a needle past 15 MB')], { mailbox: 'Big' });
    await n.deliver([bigText(4e6, 'w1234', 'has-key'), bigText(4e6, 'none of them', 'no-key')], { mailbox: 'Keys' });
    // 20,000 messages written as Maildir files and indexed in one go (delivering each would fsync each).
    // Message i answers message i-1 (one REFERENCES chain), and the subjects sort in a scrambled order.
    const cur = path.join(n.account.maildir, '.Many', 'cur');
    for (let i = 1; i <= MANY; i++) {
      const m = message(i, { subject: `S${String((i * 7919) % MANY).padStart(5, '0')}`, headers: i > 1 ? `References: <m${i - 1}@example.net>\r\n` : '' });
      fs.writeFileSync(path.join(cur, `${1_700_000_000 + i}.M${i}P1.test:2,`), m);
    }
    await n.t.ctx.store.reindex(n.account);
    // Structures are parsed on first access; do that here, not inside the measured SORT.
    const box = await u.openMailbox('Many');
    for (const m of box.snapshot().messages) await box.structure(m.uid);
    box.close();
  }, 600_000);

  afterAll(async () => {
    await n?.stop();
  });

  /** Run `text` as alice in `box` while bob and carol measure; returns the answer and the slowest quiet answers. */
  async function noisy(box: string, text: string): Promise<{ reply: Awaited<ReturnType<RawImap['cmd']>>; worst: Worst }> {
    const alice = await login(n.port, n.user, n.pass);
    await alice.cmd(`SELECT ${box}`, 30_000);
    const quiet = await login(n.port, 'bob@example.org', 'bob-pw');
    const pop = await RawClient.connect(n.t.ports.pop3!);
    await pop.line();
    await pop.login('carol@example.org', 'carol-pw');
    const worst: Worst = { greeting: 0, noop: 0, stat: 0, qmqp: 0, rounds: 0 };
    const timed = async (k: keyof Omit<Worst, 'rounds'>, f: () => Promise<unknown>): Promise<void> => {
      const t0 = performance.now();
      await f();
      worst[k] = Math.max(worst[k], performance.now() - t0);
    };
    let done = false;
    const command = alice.cmd(text, 300_000).finally(() => (done = true));
    // Bounded in rounds and, through the command's own timeout, in time.
    while (!done && worst.rounds < 10_000) {
      worst.rounds++;
      await timed('greeting', async () => {
        const c = await RawImap.connect(n.port);
        expect(await c.line(10_000)).toMatch(/^\* OK/);
        c.close();
      });
      await timed('noop', async () => expect((await quiet.cmd('NOOP', 10_000)).tagged).toMatch(/OK/));
      await timed('stat', async () => expect(await pop.cmd('STAT')).toMatch(/^\+OK/));
      await timed('qmqp', async () => expect((await qmqpSend(n.t.ports.qmqp!, message(worst.rounds), 'x@example.net', [bob.address])).code).toBe('K'));
    }
    const reply = await command;
    for (const c of [alice, quiet]) c.close();
    pop.destroy();
    return { reply, worst };
  }

  function expectPrompt(w: Worst): void {
    expect(w.rounds).toBeGreaterThan(0);
    for (const k of ['greeting', 'noop', 'stat', 'qmqp'] as const) expect(w[k], `${k} took ${w[k].toFixed(0)} ms`).toBeLessThan(SLOW_MS);
  }

  it('SEARCH BODY over a 40 MB text body', async () => {
    const { reply, worst } = await noisy('Big', 'SEARCH BODY "needle past 15"');
    expect(reply.untagged).toEqual(['* SEARCH 1']);
    expect(reply.tagged).toMatch(/OK/);
    expectPrompt(worst);
    const again = await noisy('Big', 'SEARCH TEXT "not in this message"');
    expect(again.reply.untagged).toEqual(['* SEARCH']);
    expectPrompt(again.worst);
  }, 600_000);

  it(`SEARCH with ${KEYS} NOT BODY keys over 4 MB bodies`, async () => {
    const keys = Array.from({ length: KEYS }, (_, i) => `NOT BODY w${String(i).padStart(4, '0')}`).join(' ');
    const { reply, worst } = await noisy('Keys', `SEARCH ${keys}`);
    // Message 1 holds w1234, message 2 none of the keys.
    expect(reply.untagged).toEqual(['* SEARCH 2']);
    expectPrompt(worst);
  }, 600_000);

  it(`SORT over ${MANY} messages`, async () => {
    const { reply, worst } = await noisy('Many', 'SORT (SUBJECT) UTF-8 ALL');
    const want = Array.from({ length: MANY }, (_, i) => i + 1).sort((a, b) => ((a * 7919) % MANY) - ((b * 7919) % MANY));
    expect(reply.untagged).toEqual([`* SORT ${want.join(' ')}`]);
    expectPrompt(worst);
  }, 600_000);

  it(`THREAD REFERENCES over a ${MANY}-message chain`, async () => {
    const { reply, worst } = await noisy('Many', 'THREAD REFERENCES UTF-8 ALL');
    expect(reply.untagged).toEqual([`* THREAD (${Array.from({ length: MANY }, (_, i) => i + 1).join(' ')})`]);
    expectPrompt(worst);
  }, 600_000);

  it('a command past LIMITS.imap.commandWorkUnits is answered NO [LIMIT], and the session goes on', async () => {
    const saved = imapLimits.commandWorkUnits;
    const c = await login(n.port, n.user, n.pass);
    try {
      await c.cmd('SELECT Many', 30_000);
      // SEARCH ALL costs one unit to prepare, one for the program, one per message (src/imap/search/evaluate.ts).
      imapLimits.commandWorkUnits = MANY + 2;
      const ok = await c.cmd('SEARCH ALL', 60_000);
      expect(ok.tagged).toMatch(/OK/);
      expect(ok.untagged[0]!.split(' ')).toHaveLength(MANY + 2);
      imapLimits.commandWorkUnits = MANY + 1;
      const refused = await c.cmd('SEARCH ALL', 60_000);
      expect(refused.untagged).toEqual([]);
      expect(refused.tagged).toMatch(/^a\d+ NO \[LIMIT\]/);
      // The expensive commands are refused the same way under a small budget: THREAD needs a unit per
      // message to search and another to load, SEARCH a unit per character of the two 4 MB bodies.
      imapLimits.commandWorkUnits = 30_000;
      expect((await c.cmd('THREAD REFERENCES UTF-8 ALL', 60_000)).tagged).toMatch(/NO \[LIMIT\]/);
      imapLimits.commandWorkUnits = 1_000_000;
      expect((await c.cmd('SELECT Keys', 30_000)).tagged).toMatch(/OK/);
      const keys = Array.from({ length: KEYS }, (_, i) => `NOT BODY w${String(i).padStart(4, '0')}`).join(' ');
      expect((await c.cmd(`SEARCH ${keys}`, 60_000)).tagged).toMatch(/NO \[LIMIT\]/);
      imapLimits.commandWorkUnits = saved;
      expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
      expect((await c.cmd('SEARCH BODY w1234', 60_000)).untagged).toEqual(['* SEARCH 1']);
    } finally {
      imapLimits.commandWorkUnits = saved;
      c.close();
    }
  }, 600_000);
});

describe('WorkBudget', () => {
  it('allows exactly its limit and refuses one unit more', () => {
    const b = new WorkBudget(10);
    b.charge(4);
    b.charge(6);
    expect(b.spent).toBe(10);
    expect(() => b.charge(1)).toThrow(expect.objectContaining({ code: 'LIMIT' }));
  });
});
