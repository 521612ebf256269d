/**
 * Faults: a client that drops mid-APPEND leaves nothing in the Maildir; one
 * that drops mid-FETCH of a large message does not hurt the server or other
 * sessions; a slow reader of a big FETCH is served with bounded memory (the
 * server waits for 'drain').
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  await n?.stop();
});

async function filesIn(mailbox: string): Promise<number> {
  let total = 0;
  for (const sub of ['new', 'cur', 'tmp']) {
    try {
      total += (await readdir(path.join(n.account.maildir, `.${mailbox}`, sub))).length;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return total;
}

const until = async (cond: () => Promise<boolean>, ms = 3000): Promise<boolean> => {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 20));
  }
  return cond();
};

describe('faults', () => {
  it('client drops mid-APPEND: nothing reaches the mailbox, the spool is cleaned', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('CREATE Drops');
    c.write('p1 APPEND Drops {100000}\r\n');
    expect(await c.line()).toMatch(/^\+ /);
    c.write(Buffer.alloc(40_000, 0x61));
    await new Promise((r) => setTimeout(r, 100));
    c.close();
    const d = await login(n.port, n.user, n.pass);
    expect(await until(async () => (await d.cmd('STATUS Drops (MESSAGES)')).untagged[0] === '* STATUS Drops (MESSAGES 0)')).toBe(true);
    expect(await filesIn('Drops')).toBe(0);
    d.close();
  });

  it('client drops mid-literal of a non-synchronising APPEND: nothing stored', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('CREATE Drops2');
    c.write(`p1 APPEND Drops2 {50000+}\r\n${'x'.repeat(20_000)}`);
    await new Promise((r) => setTimeout(r, 100));
    c.close();
    await new Promise((r) => setTimeout(r, 100));
    const d = await login(n.port, n.user, n.pass);
    expect((await d.cmd('STATUS Drops2 (MESSAGES)')).untagged[0]).toBe('* STATUS Drops2 (MESSAGES 0)');
    expect(await filesIn('Drops2')).toBe(0);
    d.close();
  });

  it('drop mid-FETCH of a large body; the server keeps serving', async () => {
    const big = message(1, { body: 'y'.repeat(8 * 1024 * 1024) });
    await n.deliver([big], { mailbox: undefined });
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    // Stop reading, ask for the body, then vanish.
    c.socket.pause();
    c.write('f1 FETCH 1:* BODY.PEEK[]\r\n');
    await new Promise((r) => setTimeout(r, 200));
    c.close();
    const d = await login(n.port, n.user, n.pass);
    await d.cmd('SELECT INBOX');
    const r = await d.cmd('FETCH 1 RFC822.SIZE');
    expect(r.untagged[0]).toMatch(/RFC822\.SIZE \d{7,}/);
    d.close();
  });

  it('a slow reader of a big FETCH: the server waits for drain and the bytes arrive intact', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    const sizeLine = (await c.cmd('FETCH 1 RFC822.SIZE')).untagged[0]!;
    const size = Number(/RFC822\.SIZE (\d+)/.exec(sizeLine)![1]);
    const rss0 = process.memoryUsage().rss;
    c.socket.pause();
    c.write('f2 FETCH 1 BODY.PEEK[]\r\n');
    await new Promise((r) => setTimeout(r, 300));
    // The server cannot have pushed 8 MB into a paused socket: it is waiting for 'drain'.
    const grown = process.memoryUsage().rss - rss0;
    expect(grown).toBeLessThan(size);
    c.socket.resume();
    const r = await c.until('f2', 20_000);
    expect(r.tagged).toMatch(/^f2 OK/);
    expect(r.untagged[0]!.length).toBeGreaterThan(size);
    c.close();
  });

  it('a client that sends garbage bytes gets BAD and the connection survives', async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    c.write(Buffer.from([0x00, 0xff, 0x41, 0x0d, 0x0a]));
    expect(await c.line()).toMatch(/BAD/);
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
    c.close();
  });
});
