/**
 * Autologout timers (RFC 3501 §5.4): a connection that has not logged in is
 * closed after LIMITS.imap.notAuthTimeoutMs of silence, a logged-in one
 * after idleTimeoutMs (at least 30 minutes by the RFC; shortened here), each
 * command restarting the clock; the longer timer applies from the moment
 * LOGIN succeeds, and an autologout expunges nothing (only CLOSE/EXPUNGE do).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { closedAfter, collect, goneAfter, holdingConnect, TIMER_SLACK_MS } from '../helpers/timing.js';
import { login, RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

const limits = LIMITS.imap as { notAuthTimeoutMs: number; idleTimeoutMs: number; idleKeepaliveMs: number; closeLingerMs: number };
const saved = { ...limits };
const NOT_AUTH = 1000;
const IDLE = 2500;
const KEEPALIVE = 700;
const LINGER = 800;
let n: ImapTestNode;

beforeAll(async () => {
  limits.notAuthTimeoutMs = NOT_AUTH;
  limits.idleTimeoutMs = IDLE;
  limits.idleKeepaliveMs = KEEPALIVE;
  limits.closeLingerMs = LINGER;
  n = await startImapNode();
});
afterAll(async () => {
  Object.assign(limits, saved);
  await n?.stop();
});

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('autologout', () => {
  it('before login: silence up to the limit is kept, each command restarts it, past it comes BYE and close', async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    await sleep(NOT_AUTH * 0.4);
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
    await sleep(NOT_AUTH * 0.4);
    expect((await c.cmd('CAPABILITY')).tagged).toMatch(/OK/);
    expect(await c.waitFor(/^\* BYE Autologout/, NOT_AUTH * 4)).toMatch(/BYE/);
    expect(await c.waitClosed()).toBe(true);
  });

  it('after login the longer timer applies at once, and an autologout leaves \\Deleted messages in place', async () => {
    await n.deliver([message(1), message(2)]);
    const c = await login(n.port, n.user, n.pass);
    // Right after LOGIN, silent for longer than the not-logged-in limit: still connected.
    await sleep(NOT_AUTH * 1.5);
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/OK/);
    expect((await c.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)')).tagged).toMatch(/OK/);
    await sleep(IDLE * 0.4);
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
    expect(await c.waitFor(/^\* BYE Autologout/, IDLE * 4)).toMatch(/BYE/);
    expect(await c.waitClosed()).toBe(true);

    const d = await login(n.port, n.user, n.pass);
    const sel = await d.cmd('EXAMINE INBOX');
    expect(sel.untagged).toContain('* 2 EXISTS');
    await d.cmd('LOGOUT');
  });

  it('a client that stops reading a long answer is idle too: autologout closes it, the answer is never finished', { timeout: 60_000 }, async () => {
    // Larger than loopback's socket buffers and the server's output buffer together, so the server blocks on drain.
    const big = `Subject: big\r\n\r\n${`${'x'.repeat(998)}\r\n`.repeat(24_000)}`;
    const [uid] = await n.deliver([big]);
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/OK/);
    // From here the test reads the raw stream itself (the answer is 24 MB): only its end and the close matter.
    c.socket.removeAllListeners('data');
    let tail = '';
    let closed = false;
    c.socket.on('data', (chunk: Buffer) => {
      tail = (tail + chunk.toString('latin1')).slice(-200);
    });
    c.socket.on('close', () => (closed = true));
    c.socket.pause();
    c.write(`f1 UID FETCH ${uid} BODY.PEEK[]\r\n`);
    await sleep(IDLE * 3);
    c.socket.resume();
    for (let i = 0; i < 1000 && !closed; i++) await sleep(20);
    expect(closed).toBe(true);
    expect(tail).not.toMatch(/f1 OK/);
  });
});

describe('imap timers at N and N+1 (shortened for the test node)', () => {
  it('imap.idleTimeoutMs: a logged-in client silent for less is kept; at the limit it gets BYE and the close', async () => {
    const c = await login(n.port, n.user, n.pass);
    const since = performance.now();
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
    const bye = c.waitFor(/^\* BYE Autologout/, IDLE * 8);
    const closed = closedAfter(c.socket, since, IDLE * 8);
    expect(await bye).toMatch(/BYE/);
    expect(await closed).toBeGreaterThanOrEqual(IDLE - TIMER_SLACK_MS);
  });

  it('imap.idleKeepaliveMs: no keep-alive before the interval, then "* OK Still here" once per interval during IDLE', async () => {
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/OK/);
    const since = performance.now();
    c.write('i1 IDLE\r\n');
    expect(await c.line()).toBe('+ idling');
    expect(await c.line(KEEPALIVE * 8)).toBe('* OK Still here');
    const first = performance.now() - since;
    expect(first).toBeGreaterThanOrEqual(KEEPALIVE - TIMER_SLACK_MS);
    expect(await c.line(KEEPALIVE * 8)).toBe('* OK Still here');
    expect(performance.now() - since).toBeGreaterThanOrEqual(2 * KEEPALIVE - TIMER_SLACK_MS);
    c.write('DONE\r\n');
    expect((await c.until('i1')).tagged).toMatch(/^i1 OK/);
    await c.cmd('LOGOUT');
  });

  it('imap.closeLingerMs: after LOGOUT a client that never closes its side holds the socket that long, then it is destroyed', async () => {
    const s = await holdingConnect(n.port);
    const got = collect(s);
    await got.until(/^\* OK/);
    s.write(`a1 LOGIN "${n.user}" "${n.pass}"\r\n`);
    await got.until(/a1 OK/);
    const since = performance.now();
    s.write('a2 LOGOUT\r\n');
    await got.until(/a2 OK/);
    // The server has ended its side (FIN); our bytes are still taken until the linger ends and the socket is destroyed.
    await new Promise<void>((resolve) => (s.readableEnded ? resolve() : s.once('end', () => resolve())));
    expect(await goneAfter(s, since, { timeoutMs: LINGER * 20 })).toBeGreaterThanOrEqual(LINGER - TIMER_SLACK_MS);
  });
});
