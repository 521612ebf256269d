/**
 * The first open of a 20,000-file Maildir with no index (issue 16 §4) is
 * built in slices (store/recovery.ts importAtFirstOpen), so it never holds
 * the process: over real IMAP sockets, another user's NOOPs are answered
 * while the index file still shows the mark of an unfinished listing (rows
 * written, more to come). Then the account's SELECT answers match a
 * restart's, and its messages have the UIDs of the name order.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';
import { startTestNode, type TestNode } from '../helpers/node.js';

const FILES = 20_000;
let n: ImapTestNode;
/** The node started again on the same data (the restart at the end). */
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

async function connect(port = n.port): Promise<RawImap> {
  const c = await RawImap.connect(port);
  await c.line();
  return c;
}

async function lines(c: RawImap, command: string): Promise<string[]> {
  const r = await c.cmd(command, 120_000);
  expect(r.tagged).toMatch(/^\S+ OK/);
  return r.untagged;
}

/** The account's index file (data_dir/index/<id>.sqlite, store-impl.ts indexFile). */
function indexFileOf(a: Account): string {
  return (n.t.ctx.store as unknown as { indexFile(id: string): string }).indexFile(a.id);
}

describe('a first open of a big unindexed Maildir', () => {
  it(`leaves other users' NOOPs answered while ${FILES} rows are written`, async () => {
    const big = await n.t.addUser('big-first@example.org', 'big-pw');
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(big.maildir, sub), { recursive: true });
    const tpl = path.join(big.maildir, 'template');
    fs.writeFileSync(tpl, 'From: s@example.net\nSubject: restored\n\nBody\n');
    for (let i = 0; i < FILES; i++) fs.linkSync(tpl, path.join(big.maildir, 'cur', `${1_700_000_000 + i}.M${i}P1.old:2,${i % 2 ? 'S' : ''}`));
    fs.rmSync(tpl);
    const other = await connect();
    await lines(other, `LOGIN ${n.account.address} ${n.pass}`);
    await lines(other, 'SELECT INBOX');

    const b = await connect();
    // LOGIN is the account's first index use: the first open runs inside it.
    let loggedIn = false;
    const login = b.cmd(`LOGIN ${big.address} big-pw`, 300_000).finally(() => (loggedIn = true));
    const file = indexFileOf(big);
    let idx: Database.Database | null = null;
    /** Whether the index shows rows written and the listing unfinished (db.setListing). */
    const midway = (): boolean => {
      try {
        if (!idx && fs.existsSync(file)) idx = new Database(file, { readonly: true, fileMustExist: true });
        if (!idx) return false;
        const mark = idx.prepare("SELECT count(*) FROM meta WHERE key = 'listing:INBOX'").pluck().get() as number;
        return mark > 0 && (idx.prepare('SELECT count(*) FROM messages').pluck().get() as number) > 0;
      } catch {
        // The schema is not there yet.
        return false;
      }
    };
    let during = 0;
    try {
      // Bounded: at most 5,000 NOOPs, each with a generous timeout; stops once LOGIN is answered.
      for (let i = 0; i < 5000 && !loggedIn; i++) {
        const r = await other.cmd('NOOP', 60_000);
        expect(r.tagged).toMatch(/^\S+ OK/);
        if (midway()) during++;
      }
    } finally {
      (idx as Database.Database | null)?.close();
    }
    expect((await login).tagged).toMatch(/^\S+ OK/);
    expect(during).toBeGreaterThan(0);

    const before = await lines(b, 'SELECT INBOX');
    expect(before).toContain(`* ${FILES} EXISTS`);
    // UIDs in the name order: the last name has UID FILES.
    expect(await lines(b, `FETCH ${FILES} UID`)).toEqual([`* ${FILES} FETCH (UID ${FILES})`]);
    expect(await lines(b, 'FETCH 1 UID')).toEqual(['* 1 FETCH (UID 1)']);
    await b.cmd('LOGOUT');
    await other.cmd('LOGOUT');

    // The same answers from the index alone, after a restart.
    await n.t.stop({ keep: true });
    again = await startTestNode({}, { dataDir: n.t.dataDir });
    const c = await connect(again.ports.imap!);
    await lines(c, `LOGIN ${big.address} big-pw`);
    const after = await lines(c, 'SELECT INBOX');
    const stable = (ls: string[]): string[] => ls.filter((l) => !/RECENT|\[CLOSED\]/.test(l));
    expect(stable(after)).toEqual(stable(before));
    await c.cmd('LOGOUT');
  }, 900_000);
});
