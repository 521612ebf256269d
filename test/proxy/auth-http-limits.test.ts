/**
 * auth_http limits at N and N+1 (src/proxy/auth-http.ts, pairs.ts): the
 * header count and the request deadline of the service nginx asks, against
 * a running node over raw HTTP/1.0 as nginx speaks it; and the /health
 * answer of a pair's node (its deadline and its size), asked by the
 * node's PrimaryFinder of real HTTP peers. The service reads
 * proxyAuth.requestTimeoutMs when the node starts, so it is lowered first.
 */
import http from 'node:http';
import net from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { PrimaryFinder } from '../../src/proxy/pairs.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { closedAfter, collect, silentListener, TIMER_SLACK_MS } from '../helpers/timing.js';

const limits = LIMITS.proxyAuth as { requestTimeoutMs: number; healthTimeoutMs: number; primaryCacheMs: number };
const saved = { ...limits };
const REQUEST_TIMEOUT = 1000;
let t: TestNode;
let port: number;

beforeAll(async () => {
  limits.requestTimeoutMs = REQUEST_TIMEOUT;
  t = await startTestNode({ proxy: { trusted: ['127.0.0.1'], auth_listen: '127.0.0.1:0' } });
  limits.requestTimeoutMs = saved.requestTimeoutMs;
  await t.addUser('alice@example.org', 'right');
  port = t.node.ports().proxyAuth!;
});
afterAll(async () => {
  Object.assign(limits, saved);
  await t?.stop();
});

/** nginx's request with `fillers` extra headers before Client-IP, which comes last; the answer's Auth-Status. */
async function askWithHeaders(fillers: number): Promise<{ status: string; headers: number }> {
  const lines = ['Host: localhost', 'Auth-Method: plain', 'Auth-User: alice@example.org', 'Auth-Pass: right', 'Auth-Protocol: imap', 'Auth-Login-Attempt: 1'];
  for (let i = 0; i < fillers; i++) lines.push(`X-Fill-${i}: ${i}`);
  lines.push('Client-IP: 192.0.2.77');
  const s = net.connect({ port, host: '127.0.0.1' });
  const got = collect(s);
  s.write(`GET /auth HTTP/1.0\r\n${lines.join('\r\n')}\r\n\r\n`);
  const text = await got.until(/\r\n\r\n/);
  s.destroy();
  return { status: /^Auth-Status: (.*)$/im.exec(text)?.[1] ?? '', headers: lines.length };
}

describe('auth_http service limits at N and N+1', () => {
  it('proxyAuth.maxHeaders: a request of N headers is read whole; at N+1 the ones past N are not read (here Client-IP, so the attempt is undecided)', async () => {
    const N = LIMITS.proxyAuth.maxHeaders;
    const atN = await askWithHeaders(N - 7);
    expect(atN.headers).toBe(N);
    expect(atN.status).toBe('OK');
    const over = await askWithHeaders(N - 6);
    expect(over.headers).toBe(N + 1);
    expect(over.status).toBe('Temporary server problem, try again later');
  });

  it('proxyAuth.requestTimeoutMs: a request not complete by then is answered 408 and closed, not before', { timeout: 120_000 }, async () => {
    const s = net.connect({ port, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    const got = collect(s);
    const since = performance.now();
    s.write('GET /auth HTTP/1.0\r\nAuth-Method: plain\r\n'); // and nothing more
    // node:http looks at its deadlines every 30 s (connectionsCheckingInterval), so the cut comes between N and N + 30 s.
    const elapsed = await closedAfter(s, since, 90_000);
    expect(elapsed).toBeGreaterThanOrEqual(REQUEST_TIMEOUT - TIMER_SLACK_MS);
    expect(got.text()).toMatch(/^HTTP\/1\.1 408 /);
  });
});

/** A pair node's admin listener that answers GET /health with `body`. */
async function healthServer(body: string): Promise<{ port: number; close(): Promise<void> }> {
  const server = http.createServer((_req, res) => res.writeHead(200, { 'Content-Type': 'application/json', Connection: 'close' }).end(body));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as net.AddressInfo).port, close: () => new Promise((r) => server.close(() => r())) };
}

/** A /health answer of exactly `bytes` bytes from a ready primary. */
function healthOf(bytes: number): string {
  const bare = JSON.stringify({ role: 'primary', ready: true, ports: { imap: 1143 }, pad: '' });
  const body = JSON.stringify({ role: 'primary', ready: true, ports: { imap: 1143 }, pad: 'p'.repeat(bytes - bare.length) });
  expect(Buffer.byteLength(body)).toBe(bytes);
  return body;
}

describe('a pair node\'s /health answer at N and N+1', () => {
  const log = pino({ level: 'silent' });

  it('proxyAuth.maxHealthBytes: an answer of N bytes is read, N+1 is not (no primary for the pair)', async () => {
    const N = LIMITS.proxyAuth.maxHealthBytes;
    for (const [bytes, want] of [
      [N, { host: '127.0.0.1', imap: 1143 }],
      [N + 1, null],
    ] as const) {
      const h = await healthServer(healthOf(bytes));
      try {
        const got = await new PrimaryFinder(log).primary('mx2.example.org', [{ host: '127.0.0.1', port: h.port }]);
        if (want === null) expect(got).toBeNull();
        else expect(got).toMatchObject(want);
      } finally {
        await h.close();
      }
    }
  });

  it('proxyAuth.healthTimeoutMs: a node that accepts and never answers is waited for that long, then the pair has no primary', async () => {
    const HEALTH = 600;
    limits.healthTimeoutMs = HEALTH;
    const silent = await silentListener();
    const good = await healthServer(healthOf(200));
    try {
      const since = performance.now();
      // One node answers, the other is silent: the finder waits for the silent one, then counts one ready primary.
      const got = await new PrimaryFinder(log).primary('mx2.example.org', [
        { host: '127.0.0.1', port: silent.port },
        { host: '127.0.0.1', port: good.port },
      ]);
      expect(performance.now() - since).toBeGreaterThanOrEqual(HEALTH - TIMER_SLACK_MS);
      expect(got).toMatchObject({ host: '127.0.0.1', imap: 1143 });
      expect(silent.accepted.length).toBe(1);
      const alone = performance.now();
      expect(await new PrimaryFinder(log).primary('mx3.example.org', [{ host: '127.0.0.1', port: silent.port }])).toBeNull();
      expect(performance.now() - alone).toBeGreaterThanOrEqual(HEALTH - TIMER_SLACK_MS);
    } finally {
      limits.healthTimeoutMs = saved.healthTimeoutMs;
      await silent.close();
      await good.close();
    }
  });
});
