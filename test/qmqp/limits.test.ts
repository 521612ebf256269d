/**
 * QMQP limits of src/limits.ts at N and N+1 over real sockets against a
 * real node: packet length, reply text, session time, the linger after the
 * answer, and the shutdown grace of a session still receiving. The limits
 * are lowered for this node so the test is small and quick; the server
 * module reads qmqp.closeLingerMs when it is loaded, so it is lowered
 * before the node module is imported.
 */
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { netstring, parseReply, qmqpPacket, qmqpRaw, qmqpSend } from '../helpers/qmqp.js';
import { closedAfter, collect, holdingConnect, serverClosedAfter, TIMER_SLACK_MS } from '../helpers/timing.js';

const limits = LIMITS.qmqp as { maxPacketLength: number; maxReplyText: number; maxSessionMs: number; closeLingerMs: number; shutdownGraceMs: number };
const saved = { ...limits };
const LINGER = 700;
limits.closeLingerMs = LINGER;
const { startTestNode } = await import('../helpers/node.js');
type TestNode = Awaited<ReturnType<typeof startTestNode>>;

let t: TestNode;
let port: number;

beforeAll(async () => {
  t = await startTestNode({ qmqp: { read_timeout_ms: 60_000 } });
  await t.addUser('alice@example.org', 'pw');
  port = t.ports.qmqp!;
});
afterAll(async () => {
  Object.assign(limits, saved);
  await t?.stop();
});

/** A packet whose outer netstring body is exactly `length` bytes (the message is padded to fit). */
function packetOfLength(length: number): Buffer {
  const rcpt = netstring('alice@example.org');
  const sender = netstring('');
  const fixed = rcpt.length + sender.length;
  // The message netstring is `${n}:` + n bytes + ','; find n with that plus `fixed` = length.
  for (let n = 0; n < length; n++) {
    if (`${n}:`.length + n + 1 + fixed === length) {
      const p = qmqpPacket(Buffer.alloc(n, 'm'), '', ['alice@example.org']);
      expect(p.length).toBe(`${length}:`.length + length + 1);
      return p;
    }
  }
  throw new Error(`no packet of length ${length}`);
}

describe('QMQP limits at N and N+1', () => {
  it('qmqp.maxPacketLength: a packet of N bytes is delivered (K), N+1 is refused (D #5.5.2) from its length prefix alone', async () => {
    const N = 600;
    limits.maxPacketLength = N;
    try {
      expect(parseReply((await qmqpRaw(port, [packetOfLength(N)])).reply)?.code).toBe('K');
      expect(parseReply((await qmqpRaw(port, [packetOfLength(N + 1)])).reply)).toEqual({ code: 'D', text: `netstring format error: netstring longer than ${N} bytes (#5.5.2)` });
      // The prefix alone: nothing after it is waited for.
      expect(parseReply((await qmqpRaw(port, [Buffer.from(`${N + 1}:`)])).reply)?.code).toBe('D');
    } finally {
      limits.maxPacketLength = saved.maxPacketLength;
    }
    expect((await qmqpSend(port, 'Subject: after\n\nx\n', '', ['alice@example.org'])).code).toBe('K');
  });

  it('qmqp.maxReplyText: a reply text of N characters is sent whole, one of N+1 is cut to N', async () => {
    // The D for a packet without recipients is a fixed text; its length is N.
    const whole = parseReply((await qmqpRaw(port, [netstring(Buffer.concat([netstring('x\n'), netstring('')]))])).reply)!;
    expect(whole.code).toBe('D');
    const N = whole.text.length;
    limits.maxReplyText = N;
    try {
      const atN = parseReply((await qmqpRaw(port, [netstring(Buffer.concat([netstring('x\n'), netstring('')]))])).reply)!;
      expect(atN).toEqual(whole);
      limits.maxReplyText = N - 1;
      const cut = parseReply((await qmqpRaw(port, [netstring(Buffer.concat([netstring('x\n'), netstring('')]))])).reply)!;
      expect(cut).toEqual({ code: 'D', text: whole.text.slice(0, N - 1) });
    } finally {
      limits.maxReplyText = saved.maxReplyText;
    }
  });

  it('qmqp.maxSessionMs: a client that keeps sending is not cut before the session limit, and is cut at it (no answer, nothing stored)', async () => {
    const SESSION = 1200;
    limits.maxSessionMs = SESSION;
    try {
      const s = net.connect({ port, host: '127.0.0.1' });
      const since = performance.now();
      await new Promise((r) => s.once('connect', r));
      const got = collect(s);
      const closed = closedAfter(s, since, SESSION * 20);
      // Never idle (read_timeout_ms is 60 s): one byte of a long message every 20 ms.
      s.write('100000:100000:');
      const tick = setInterval(() => s.writable && s.write('y'), 20);
      const elapsed = await closed;
      clearInterval(tick);
      expect(elapsed).toBeGreaterThanOrEqual(SESSION - TIMER_SLACK_MS);
      expect(got.text()).toBe('');
    } finally {
      limits.maxSessionMs = saved.maxSessionMs;
    }
  });

  it('qmqp.closeLingerMs: after the answer a client that never closes holds the socket that long, then the server closes it', async () => {
    const s = await holdingConnect(port);
    const got = collect(s);
    s.write(qmqpPacket('Subject: linger\n\nx\n', '', ['alice@example.org']));
    const since = performance.now();
    expect(await got.until(/^\d+:K/)).toMatch(/K/);
    expect(await serverClosedAfter(port, s, since, LINGER * 20)).toBeGreaterThanOrEqual(LINGER - TIMER_SLACK_MS);
    s.destroy();
  });
});

describe('QMQP shutdown grace', () => {
  it('qmqp.shutdownGraceMs: stop() waits that long for a session still receiving, then cuts it', async () => {
    const GRACE = 900;
    limits.shutdownGraceMs = GRACE;
    const n = await startTestNode({ qmqp: { read_timeout_ms: 60_000 } });
    try {
      await n.addUser('sam@example.org', 'pw');
      const s = net.connect({ port: n.ports.qmqp!, host: '127.0.0.1' });
      await new Promise((r) => s.once('connect', r));
      const got = collect(s);
      const packet = qmqpPacket('Subject: never finished\n\nx\n', '', ['sam@example.org']);
      s.write(packet.subarray(0, 20));
      // A delivery on another connection is answered: the half-sent one is being served.
      expect((await qmqpSend(n.ports.qmqp!, 'x\n', '', ['sam@example.org'])).code).toBe('K');
      const since = performance.now();
      const closed = closedAfter(s, since, GRACE * 20);
      await n.stop();
      expect(await closed).toBeGreaterThanOrEqual(GRACE - TIMER_SLACK_MS);
      expect(got.text()).toBe('');
    } finally {
      limits.shutdownGraceMs = saved.shutdownGraceMs;
      await n.stop();
    }
  });
});
