/**
 * The first SELECT of a big indexed mailbox after a restart reads its list
 * in slices (store/account.ts loadCache, issue 16 §4), so it never holds
 * the process: over real IMAP sockets, another user's NOOPs are answered
 * while the list is still being read, and the SELECT's answers are the ones
 * the node gave before the restart.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import type { StoreImpl } from '../../src/store/store-impl.js';
import { RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';
import { startTestNode, type TestNode } from '../helpers/node.js';

const FILES = 30_000;
let n: ImapTestNode;
/** The node started again on the same data. */
let again: TestNode | null = null;

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  if (again) {
    await again.stop();
    await fs.promises.rm(again.dataDir, { recursive: true, force: true });
  } else await n?.stop();
});

async function connect(port: number): Promise<RawImap> {
  const c = await RawImap.connect(port);
  await c.line();
  return c;
}

async function lines(c: RawImap, command: string): Promise<string[]> {
  const r = await c.cmd(command, 120_000);
  expect(r.tagged).toMatch(/^\S+ OK/);
  return r.untagged;
}

describe('the first SELECT of a big mailbox after a restart', () => {
  it(`leaves other users' NOOPs answered while a ${FILES}-message list is read`, async () => {
    const big: Account = await n.t.addUser('big-select@example.org', 'big-pw');
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(big.maildir, sub), { recursive: true });
    const tpl = path.join(big.maildir, 'template');
    fs.writeFileSync(tpl, 'From: s@example.net\nSubject: kept\n\nBody\n');
    for (let i = 0; i < FILES; i++) fs.linkSync(tpl, path.join(big.maildir, 'cur', `${1_700_000_000 + i}.M${i}P1.old,S=40:2,${i % 2 ? 'S' : ''}`));
    fs.rmSync(tpl);
    const b = await connect(n.port);
    await lines(b, `LOGIN ${big.address} big-pw`);
    const before = await lines(b, 'SELECT INBOX');
    expect(before).toContain(`* ${FILES} EXISTS`);
    // Every fact read (the background pass), so the restart finds nothing left to do.
    await (n.t.ctx.store as unknown as StoreImpl).settle();
    await b.cmd('LOGOUT');

    await n.t.stop({ keep: true });
    again = await startTestNode({}, { dataDir: n.t.dataDir });
    const port = again.ports.imap!;
    const other = await connect(port);
    await lines(other, `LOGIN ${n.account.address} ${n.pass}`);
    await lines(other, 'SELECT INBOX');
    const c = await connect(port);
    await lines(c, `LOGIN ${big.address} big-pw`);
    const st = (again.ctx.store as unknown as StoreImpl).state(big);
    const mb = st.db().mailbox('INBOX')!;
    expect(st.caches.has(mb.id)).toBe(false);
    const loads = (st as unknown as { loads: Map<number, unknown> }).loads;

    let selected = false;
    const select = c.cmd('SELECT INBOX', 120_000).finally(() => (selected = true));
    let during = 0;
    // Bounded: at most 5,000 NOOPs, each with a generous timeout; stops once SELECT is answered.
    for (let i = 0; i < 5000 && !selected; i++) {
      const r = await other.cmd('NOOP', 60_000);
      expect(r.tagged).toMatch(/^\S+ OK/);
      if (loads.has(mb.id)) during++;
    }
    const after = await select;
    expect(after.tagged).toMatch(/^\S+ OK/);
    expect(during).toBeGreaterThan(0);
    const stable = (ls: string[]): string[] => ls.filter((l) => !/RECENT|\[CLOSED\]/.test(l));
    expect(stable(after.untagged)).toEqual(stable(before));
    expect(await lines(c, `FETCH ${FILES} UID`)).toEqual([`* ${FILES} FETCH (UID ${FILES})`]);
    await c.cmd('LOGOUT');
    await other.cmd('LOGOUT');
  }, 900_000);
});
