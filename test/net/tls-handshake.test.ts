/**
 * net.tlsHandshakeTimeoutMs at N and N+1 (src/net/tls-handshake.ts) over
 * real sockets against a running node: a client that opens IMAPS or POP3S,
 * or says STARTTLS, and then never finishes the handshake is cut once the
 * limit has passed and not before; one that does finish gets the greeting.
 */
import net from 'node:net';
import tls from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { closedAfter, collect, TIMER_SLACK_MS } from '../helpers/timing.js';

const limits = LIMITS.net as { tlsHandshakeTimeoutMs: number };
const saved = limits.tlsHandshakeTimeoutMs;
const T = 800;
let t: TestNode;

beforeAll(async () => {
  limits.tlsHandshakeTimeoutMs = T;
  t = await startTestNode();
});
afterAll(async () => {
  limits.tlsHandshakeTimeoutMs = saved;
  await t?.stop();
});

async function tcp(port: number): Promise<net.Socket> {
  const s = net.connect({ port, host: '127.0.0.1' });
  await new Promise((r) => s.once('connect', r));
  s.on('error', () => undefined);
  return s;
}

describe('net.tlsHandshakeTimeoutMs', () => {
  for (const proto of ['imaps', 'pop3s'] as const) {
    it(`${proto}: silent after connect, cut at the limit and not before; a finished handshake is served`, async () => {
      const port = proto === 'imaps' ? t.ports.imaps! : t.ports.pop3s!;
      // Marks are taken before connecting: the server's clock starts at accept.
      const since = performance.now();
      const s = await tcp(port);
      expect(await closedAfter(s, since, T * 20)).toBeGreaterThanOrEqual(T - TIMER_SLACK_MS);
      // Half a handshake: the ClientHello's first bytes, then nothing.
      const since2 = performance.now();
      const h = await tcp(port);
      h.write(Buffer.from([0x16, 0x03, 0x01, 0x02, 0x00, 0x01]));
      expect(await closedAfter(h, since2, T * 20)).toBeGreaterThanOrEqual(T - TIMER_SLACK_MS);
      const ok = tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false });
      ok.on('error', () => undefined);
      const greeting = await collect(ok).until(/\r\n/);
      expect(greeting).toMatch(proto === 'imaps' ? /^\* OK/ : /^\+OK/);
      ok.destroy();
    });
  }

  it('IMAP STARTTLS: a client that gets OK and never starts the handshake is cut at the limit and not before', async () => {
    const s = await tcp(t.ports.imap!);
    const got = collect(s);
    await got.until(/^\* OK.*\r\n/);
    const since = performance.now(); // the server's clock starts when the command arrives, after this
    s.write('a1 STARTTLS\r\n');
    await got.until(/a1 OK[^\r]*\r\n/);
    expect(await closedAfter(s, since, T * 20)).toBeGreaterThanOrEqual(T - TIMER_SLACK_MS);
  });
});
