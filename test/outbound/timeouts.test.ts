/**
 * The SMTP client's waits (RFC 5321 §4.5.3.2, src/outbound/smtp.ts) at N
 * and N+1: a real TCP peer that speaks SMTP and stalls at one step (says
 * nothing, or stops reading), and one that never accepts the connection.
 * Each wait's limit is shortened in turn (the others stay at their minutes);
 * the session must give up on that step, not before the limit, with the
 * limit's figure in the reason, and the recipients are a temporary failure.
 */
import net from 'node:net';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { sendMail, type OutboundMessage, type SmtpOptions } from '../../src/outbound/smtp.js';
import { TIMER_SLACK_MS, unacceptingListener } from '../helpers/timing.js';

type Step = 'greeting' | 'MAIL' | 'RCPT' | 'DATA' | 'body' | 'dot' | 'QUIT';
const OPTS: SmtpOptions = { helo: 'roost.test', starttls: 'off', tlsVerify: false, timeoutMs: 0 };
const limits = LIMITS.outbound as Record<string, number>;
const saved = { ...limits };
const T = 700;

const stops: (() => void | Promise<void>)[] = [];
afterEach(async () => {
  Object.assign(limits, saved);
  for (const s of stops.splice(0)) await s();
});

/** An SMTP server (no PIPELINING, no STARTTLS) that answers every step but `stall`, where it goes silent (or, for 'body', stops reading). */
async function stallingPeer(stall: Step): Promise<{ port: number; saw: string[]; closed: Promise<void> }> {
  const saw: string[] = [];
  let closedResolve!: () => void;
  const closed = new Promise<void>((r) => (closedResolve = r));
  const open = new Set<net.Socket>();
  const server = net.createServer((s) => {
    open.add(s);
    s.on('error', () => undefined);
    s.on('close', () => closedResolve());
    let buf = '';
    let data = false;
    const say = (step: Step, line: string): void => {
      if (step !== stall) s.write(line);
    };
    say('greeting', '220 peer.test ESMTP\r\n');
    s.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      for (;;) {
        if (data) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) return;
          buf = buf.slice(end + 5);
          data = false;
          saw.push('.');
          say('dot', '250 2.0.0 queued\r\n');
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) return;
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 2);
        const verb = line.split(/[ :]/)[0]!.toUpperCase();
        saw.push(verb);
        if (verb === 'EHLO') s.write('250-peer.test\r\n250 8BITMIME\r\n');
        else if (verb === 'MAIL') say('MAIL', '250 2.1.0 ok\r\n');
        else if (verb === 'RCPT') say('RCPT', '250 2.1.5 ok\r\n');
        else if (verb === 'DATA') {
          if (stall === 'DATA') return;
          s.write('354 go ahead\r\n');
          data = true;
          if (stall === 'body') return void s.pause(); // and never read again
        } else if (verb === 'QUIT') say('QUIT', '221 2.0.0 bye\r\n');
        else s.write('502 5.5.1 no\r\n');
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  stops.push(
    () =>
      new Promise<void>((r) => {
        server.close(() => r());
        for (const s of open) s.destroy(); // a paused socket never reads the client's close
      }),
  );
  return { port: (server.address() as net.AddressInfo).port, saw, closed };
}

function message(bytes: Buffer): OutboundMessage {
  return { sender: 'alice@local.test', size: bytes.length, eightBit: false, open: () => Readable.from(chunks(bytes)) };
}
function* chunks(b: Buffer): Generator<Buffer> {
  for (let i = 0; i < b.length; i += 64 * 1024) yield b.subarray(i, i + 64 * 1024);
}
const SMALL = Buffer.from('Subject: t\n\nbody\n');

/** One session to the peer with `key` set to T; the outcome and its duration. */
async function sendWith(key: string, port: number, body = SMALL): Promise<{ status: string; reply: string; ms: number }> {
  limits[key] = T;
  const since = performance.now();
  const r = await sendMail('127.0.0.1', port, message(body), ['bob@remote.test'], OPTS);
  const ms = performance.now() - since;
  return { status: r.recipients[0]!.status, reply: r.recipients[0]!.reply, ms };
}

describe('SMTP client waits at N and N+1 (RFC 5321 §4.5.3.2)', () => {
  const cases: [key: string, step: Step, reason: RegExp][] = [
    ['outbound.greetingTimeoutMs', 'greeting', new RegExp(`no reply to the greeting within ${T} ms`)],
    ['outbound.mailTimeoutMs', 'MAIL', new RegExp(`no reply to MAIL within ${T} ms`)],
    ['outbound.rcptTimeoutMs', 'RCPT', new RegExp(`no reply to RCPT within ${T} ms`)],
    ['outbound.dataInitTimeoutMs', 'DATA', new RegExp(`no reply to DATA within ${T} ms`)],
    ['outbound.dataTermTimeoutMs', 'dot', new RegExp(`no reply to the end of data within ${T} ms`)],
  ];
  for (const [key, step, reason] of cases) {
    it(`${key}: a peer silent at ${step} is waited for ${T} ms, then the recipients are a temporary failure`, { timeout: 60_000 }, async () => {
      const peer = await stallingPeer(step);
      const r = await sendWith(key.split('.')[1]!, peer.port);
      expect(r.status).toBe('temporary');
      expect(r.reply).toMatch(reason);
      expect(r.ms).toBeGreaterThanOrEqual(T - TIMER_SLACK_MS);
    });
  }

  it(`outbound.dataBlockTimeoutMs: a peer that stops reading the body is given ${T} ms per block, then the session fails`, { timeout: 60_000 }, async () => {
    const peer = await stallingPeer('body');
    // Far more than loopback's socket buffers hold, so a block waits for the peer to read.
    const big = Buffer.alloc(48 * 1024 * 1024, 'x\n');
    const r = await sendWith('dataBlockTimeoutMs', peer.port, big);
    expect(r.status).toBe('temporary');
    expect(r.reply).toMatch(new RegExp(`peer did not read for ${T} ms`));
    expect(r.ms).toBeGreaterThanOrEqual(T - TIMER_SLACK_MS);
  });

  it(`outbound.quitTimeoutMs: the outcome is kept; a peer silent at QUIT is waited for ${T} ms, then the connection is closed`, { timeout: 60_000 }, async () => {
    const peer = await stallingPeer('QUIT');
    const r = await sendWith('quitTimeoutMs', peer.port);
    expect(r.status).toBe('accepted');
    expect(peer.saw.at(-1)).toBe('QUIT');
    expect(r.ms).toBeGreaterThanOrEqual(T - TIMER_SLACK_MS);
    await peer.closed; // we closed it
  });

  it(`outbound.connectTimeoutMs: a host that never completes the TCP handshake is given ${T} ms`, { timeout: 60_000 }, async () => {
    const peer = await unacceptingListener();
    stops.push(() => peer.stop());
    const r = await sendWith('connectTimeoutMs', peer.port);
    expect(r.status).toBe('temporary');
    expect(r.reply).toMatch(new RegExp(`connect to 127\\.0\\.0\\.1:${peer.port} timed out`));
    expect(r.ms).toBeGreaterThanOrEqual(T - TIMER_SLACK_MS);
  });
});
