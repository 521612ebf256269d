/**
 * The node's login throttle (src/net/auth-guard.ts, shared by IMAP and
 * POP3) at N and N+1 over real IMAP connections, from distinct loopback
 * addresses (127.0.0.x) to stand for distinct clients. LIMITS.auth is
 * lowered before the node starts: the guard reads it when it is made.
 * One LOGIN per connection, so auth.maxFailuresPerConnection never closes one.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sharedAuthGuard } from '../../src/net/auth-guard.js';
import { LIMITS } from '../../src/limits.js';
import { rawConnect } from '../helpers/raw-conn.js';
import { TIMER_SLACK_MS } from '../helpers/timing.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

const limits = LIMITS.auth as { failureDelayBaseMs: number; failureDelayMaxMs: number; perAddressFailures: number; perUserFailures: number; throttleWindowMs: number };
const saved = { ...limits };
const BASE = 10;
const MAX = 40;
const PER_ADDRESS = 4;
const PER_USER = 10;
const WINDOW = 4000;
let n: ImapTestNode;

beforeAll(async () => {
  Object.assign(limits, { failureDelayBaseMs: BASE, failureDelayMaxMs: MAX, perAddressFailures: PER_ADDRESS, perUserFailures: PER_USER, throttleWindowMs: WINDOW });
  n = await startImapNode();
});
afterAll(async () => {
  Object.assign(limits, saved);
  await n?.stop();
});

/** One LOGIN on a fresh connection from `from`; the tagged answer and how long it took (ms). */
async function loginFrom(from: string, user: string, pass: string): Promise<{ answer: string; ms: number }> {
  const c = await rawConnect(n.port, from);
  try {
    await c.until(/^\* OK.*\r\n/);
    const t0 = performance.now();
    c.s.write(`a1 LOGIN "${user}" "${pass}"\r\n`);
    const text = await c.until(/a1 (OK|NO|BAD)[^\r\n]*\r\n/);
    const ms = performance.now() - t0;
    const answer = /a1 (OK|NO|BAD)[^\r\n]*/.exec(text)?.[0];
    if (!answer) throw new Error(`no answer to LOGIN: ${JSON.stringify(text)}`);
    return { answer, ms };
  } finally {
    c.s.destroy();
  }
}

const FAILED = /^a1 NO \[AUTHENTICATIONFAILED\]/;
const THROTTLED = /^a1 NO \[UNAVAILABLE\] Too many failed logins/;

describe('login throttle at N and N+1', () => {
  it('auth.perAddressFailures: N failed logins from one address are checked; then that address is throttled, even with a right password; another address is not', async () => {
    for (let i = 0; i < PER_ADDRESS; i++) expect((await loginFrom('127.0.0.2', `guess${i}@example.org`, 'x')).answer).toMatch(FAILED);
    const throttled = await loginFrom('127.0.0.2', n.user, n.pass);
    expect(throttled.answer).toMatch(THROTTLED);
    expect(throttled.ms).toBeGreaterThanOrEqual(MAX - TIMER_SLACK_MS);
    expect((await loginFrom('127.0.0.3', n.user, n.pass)).answer).toMatch(/^a1 OK/);
  });

  it('auth.failureDelayMaxMs: the delay after a failure doubles up to the cap and stays there; a throttled login waits the cap', async () => {
    // One name, each failure from its own address (the address threshold stays out of the way).
    const ms: number[] = [];
    for (let i = 0; i < 6; i++) {
      const r = await loginFrom(`127.0.1.${i + 1}`, 'bob@example.org', 'wrong');
      expect(r.answer).toMatch(FAILED);
      ms.push(r.ms);
    }
    // 10, 20, 40 (= the cap: N), then 40 again where doubling would give 80, 160 (N+1 and on).
    [10, 20, 40, 40, 40, 40].forEach((d, i) => expect(ms[i]).toBeGreaterThanOrEqual(d - TIMER_SLACK_MS));
    const guard = sharedAuthGuard(n.t.ctx.directory, n.t.ctx.config.auth, n.t.ctx.log);
    expect([3, 4, 5, 30].map((k) => guard.failureDelayMs(k))).toEqual([MAX, MAX, MAX, MAX]);
    expect(guard.failureDelayMs(2)).toBe(2 * BASE);
  });

  it('auth.throttleWindowMs: a throttled address stays throttled within the window and is let in once its failures are older than the window', async () => {
    const from = '127.0.0.20';
    const since = performance.now(); // before the first failure is recorded
    for (let i = 0; i < PER_ADDRESS; i++) expect((await loginFrom(from, `window${i}@example.org`, 'x')).answer).toMatch(FAILED);
    expect((await loginFrom(from, n.user, n.pass)).answer).toMatch(THROTTLED);
    let answer = '';
    for (let tries = 0; tries < 2000 && performance.now() - since < WINDOW * 10; tries++) {
      answer = (await loginFrom(from, n.user, n.pass)).answer;
      if (!THROTTLED.test(answer)) break;
    }
    expect(answer).toMatch(/^a1 OK/);
    expect(performance.now() - since).toBeGreaterThanOrEqual(WINDOW - TIMER_SLACK_MS);
  });
});
