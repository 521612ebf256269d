/**
 * RETR when the message file changes under the reply (RFC 1939 §3, §7): a
 * file unlinked mid-reply (the store removes expunged files in the
 * background) is still sent whole from the open descriptor; a file that
 * another program truncates is never sent as a shorter message with a
 * terminating "." — a streamed reply ends the connection, a small one is
 * refused with -ERR before anything of it is written.
 */
import { readdir, truncate, unlink } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { RawClient } from '../helpers/pop3-client.js';
import { startNode, type Pop3TestNode } from './helpers.js';

const USER = 'bob@example.org';
const PASS = 'secret';
let node: Pop3TestNode;

beforeAll(async () => {
  node = await startNode({ allowPlaintext: 'loopback' });
  await node.addUser(USER, PASS);
});
afterAll(async () => {
  await node.close();
});

/** A message of about `size` bytes in 76-character CRLF lines, some starting with "." (stuffed on the wire). */
function bigMessage(size: number): string {
  const line = `${'x'.repeat(74)}\r\n.${'y'.repeat(73)}\r\n`;
  return `From: a@example.org\r\nSubject: big\r\n\r\n${line.repeat(Math.ceil(size / line.length))}`;
}

async function files(): Promise<string[]> {
  const dir = node.accounts.get(USER)!.maildir;
  const out: string[] = [];
  for (const sub of ['cur', 'new']) for (const f of await readdir(path.join(dir, sub))) out.push(path.join(dir, sub, f));
  return out;
}

/** A fresh maildrop holding exactly `message` (the others DELEted at QUIT); returns its file. */
async function only(message: string): Promise<string> {
  const c = await loggedIn();
  const count = Number(/^\+OK (\d+) /.exec(await c.cmd('STAT'))![1]);
  for (let i = 1; i <= count; i++) expect(await c.cmd(`DELE ${i}`)).toMatch(/^\+OK/);
  expect(await c.cmd('QUIT')).toMatch(/^\+OK/);
  await c.waitClosed();
  await node.deliver(USER, message);
  // The store unlinks expunged files in the background.
  const deadline = Date.now() + 20_000;
  let f = await files();
  while (f.length !== 1 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 20));
    f = await files();
  }
  expect(f).toHaveLength(1);
  return f[0]!;
}

async function loggedIn(): Promise<RawClient> {
  const c = await RawClient.connect(node.port);
  expect(await c.line()).toMatch(/^\+OK/);
  expect(await c.login(USER, PASS)).toMatch(/^\+OK Logged in/);
  return c;
}

/** Everything the server sends on `c` from now on. */
function record(c: RawClient): () => Buffer {
  const chunks: Buffer[] = [];
  c.socket.on('data', (b: Buffer) => chunks.push(b));
  return () => Buffer.concat(chunks);
}

async function until(cond: () => boolean, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end && !cond()) await new Promise((r) => setTimeout(r, 10));
  return cond();
}

describe('RETR while the file changes', () => {
  it('a file unlinked mid-RETR is sent whole, and the session stays in step', async () => {
    const msg = bigMessage(16 * 1024 * 1024);
    const file = await only(msg);
    const c = await loggedIn();
    const raw = record(c);
    c.send('RETR 1');
    expect(await until(() => raw().includes('+OK '), 20_000)).toBe(true);
    c.socket.pause();
    await unlink(file);
    c.socket.resume();
    expect(await c.line(30_000)).toMatch(/^\+OK \d+ octets$/);
    const lines = await c.multi(60_000);
    expect(lines.join('\r\n') + '\r\n').toBe(msg);
    expect(await c.cmd('NOOP')).toBe('+OK');
    c.destroy();
  });

  it('a file truncated mid-RETR: the connection ends without the terminating "."', async () => {
    const msg = bigMessage(40 * 1024 * 1024);
    const file = await only(msg);
    const c = await loggedIn();
    const raw = record(c);
    c.send('RETR 1');
    expect(await until(() => raw().includes('+OK '), 20_000)).toBe(true);
    c.socket.pause();
    // The server has read at most the socket buffers' worth of 40 MB; the rest is now gone.
    await truncate(file, 0);
    c.socket.resume();
    await c.waitClosed(60_000);
    const got = raw();
    expect(got.length).toBeGreaterThan(0);
    expect(got.length).toBeLessThan(msg.length);
    expect(got.includes('\r\n.\r\n')).toBe(false);
    // The server keeps serving.
    const d = await RawClient.connect(node.port);
    expect(await d.line()).toMatch(/^\+OK/);
    d.destroy();
  });

  it(`a small file (read whole, up to ${LIMITS.pop3.readWholeMaxBytes} bytes) found truncated: -ERR before any of it, the session goes on`, async () => {
    const msg = bigMessage(LIMITS.pop3.readWholeMaxBytes - 1024);
    expect(msg.length).toBeLessThanOrEqual(LIMITS.pop3.readWholeMaxBytes);
    const file = await only(msg);
    const c = await loggedIn();
    await truncate(file, 100);
    expect(await c.cmd('RETR 1')).toMatch(/^-ERR \[SYS\/TEMP\]/);
    expect(await c.cmd('NOOP')).toBe('+OK');
    c.destroy();
  });
});
