/**
 * LMTP timers of src/limits.ts at N and N+1 over real sockets against a
 * real node (shortened for the test): the linger after 221 for a client
 * that never closes, and the shutdown grace of a transaction still in DATA.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { closedAfter, collect, holdingConnect, serverClosedAfter, TIMER_SLACK_MS } from '../helpers/timing.js';

const limits = LIMITS.lmtp as { closeLingerMs: number; shutdownGraceMs: number };
const saved = { ...limits };
const LINGER = 700;
const GRACE = 900;

let t: TestNode;

beforeAll(async () => {
  limits.closeLingerMs = LINGER;
  limits.shutdownGraceMs = GRACE;
  t = await startTestNode({ lmtp: { read_timeout_ms: 60_000 } });
  await t.addUser('alice@example.org', 'pw');
});
afterAll(async () => {
  Object.assign(limits, saved);
  await t?.stop();
});

describe('LMTP timers at N and N+1', () => {
  it('lmtp.closeLingerMs: after 221 a client that never closes holds the socket that long, then the server closes it', async () => {
    const s = await holdingConnect(t.ports.lmtp!);
    const got = collect(s);
    await got.until(/^220 /m);
    s.write('LHLO test.example\r\n');
    await got.until(/^250 /m);
    s.write('QUIT\r\n');
    const since = performance.now();
    await got.until(/^221 /m);
    expect(await serverClosedAfter(t.ports.lmtp!, s, since, LINGER * 20)).toBeGreaterThanOrEqual(LINGER - TIMER_SLACK_MS);
    s.destroy();
  });

  it('lmtp.shutdownGraceMs: stop() waits that long for a transaction in DATA, then cuts it (the DATA is never answered)', async () => {
    const n = await startTestNode({ lmtp: { read_timeout_ms: 60_000 } });
    try {
      await n.addUser('sam@example.org', 'pw');
      const s = net.connect({ port: n.ports.lmtp!, host: '127.0.0.1' });
      await new Promise((r) => s.once('connect', r));
      const got = collect(s);
      await got.until(/^220 /m);
      s.write('LHLO test.example\r\nMAIL FROM:<>\r\nRCPT TO:<sam@example.org>\r\nDATA\r\n');
      await got.until(/^354 /m);
      s.write('Subject: never finished\r\n\r\nhalf a message\r\n');
      const answered = got.text();
      const since = performance.now();
      const closed = closedAfter(s, since, GRACE * 20);
      await n.stop();
      expect(await closed).toBeGreaterThanOrEqual(GRACE - TIMER_SLACK_MS);
      expect(got.text()).toBe(answered);
    } finally {
      await n.stop();
    }
  });
});
