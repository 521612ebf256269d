/**
 * A lazy first open (issue 16 §4, store/facts.ts) answers as an eager index
 * would. One account's Maildir is written on disk with no index (Dovecot
 * names with S= and W=, S= only, bare qmail names; CRLF, bare-LF and mixed
 * line ends; multipart and single-part); another account gets the same
 * messages delivered through the store, in the same order, with the files'
 * mtimes as INTERNALDATE — the eager path, whose facts are read at delivery.
 * Over real IMAP and POP3 sockets: FETCH of a few messages right after the
 * first SELECT (facts read on demand, while the background fill runs), then,
 * once the fill is done, FETCH ENVELOPE BODYSTRUCTURE RFC822.SIZE
 * INTERNALDATE BODY.PEEK[] of every message, SEARCH and SORT by size and
 * date, POP3 STAT/LIST and UIDL — all equal to the eager account's (UIDL:
 * the file base names, as qmail-pop3d says).
 *
 * And the fill never stalls the process: while a 20,000-file Maildir's
 * facts are being filled, another user's NOOPs are answered.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';
import { RawClient } from '../helpers/pop3-client.js';
import { rng } from '../helpers/rng.js';

const N = 240;
let n: ImapTestNode;

interface Made {
  basename: string;
  bytes: Buffer;
  mtime: number;
}

/** N random messages written into `maildir` (names in Dovecot's order = UID order), returned in that order. */
function populate(maildir: string, seed: number): Made[] {
  const r = rng(seed);
  for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  const made: Made[] = [];
  for (let i = 0; i < N; i++) {
    const nl = r() < 0.4 ? '\n' : '\r\n';
    const lines = [`From: Sender ${i} <s${i}@example.net>`, 'To: lazy@example.org', `Subject: lazy ${i} ${r() < 0.3 ? 'rare' : 'common'}`, `Date: Tue, 24 Nov 2026 10:${String(i % 60).padStart(2, '0')}:00 +0000`, `Message-ID: <${i}@lazy>`];
    let text: string;
    if (r() < 0.3) {
      lines.push('MIME-Version: 1.0', 'Content-Type: multipart/mixed; boundary="b"');
      text = `${lines.join(nl)}${nl}${nl}--b${nl}Content-Type: text/plain${nl}${nl}part one ${i}${nl}--b${nl}Content-Type: text/html${nl}${nl}<p>${'y'.repeat(Math.floor(r() * 400))}</p>${nl}--b--${nl}`;
    } else {
      text = `${lines.join(nl)}${nl}${nl}`;
      const body = 1 + Math.floor(r() * 40);
      for (let k = 0; k < body; k++) text += `line ${k} ${'x'.repeat(Math.floor(r() * 70))}${r() < 0.1 ? '\n' : nl}`;
    }
    const bytes = Buffer.from(text);
    const vsize = Buffer.byteLength(text.replace(/\r?\n/g, '\r\n'));
    // Distinct seconds in index order: the name order is the UID order on both sides.
    const stem = `${1_700_000_000 + i}.M${Math.floor(r() * 1_000_000)}P${i}.host`;
    const shape = r();
    const basename = shape < 0.4 ? `${stem},S=${bytes.length},W=${vsize}` : shape < 0.7 ? `${stem},S=${bytes.length}` : stem;
    const rel = r() < 0.3 ? `new/${basename}` : `cur/${basename}:2,`;
    const file = path.join(maildir, rel);
    fs.writeFileSync(file, bytes);
    // INTERNALDATE is the file's mtime, unrelated to the name's time (a restored backup).
    const mtime = (1_600_000_000 + Math.floor(r() * 100_000_000)) * 1000;
    fs.utimesSync(file, mtime / 1000, mtime / 1000);
    made.push({ basename, bytes, mtime });
  }
  return made;
}

async function imap(user: Account, pass: string): Promise<RawImap> {
  const c = await RawImap.connect(n.port);
  await c.line();
  expect((await c.cmd(`LOGIN ${user.address} ${pass}`, 120_000)).tagged).toMatch(/^\S+ OK/);
  return c;
}

/** Untagged lines of a command, checked OK. */
async function lines(c: RawImap, command: string): Promise<string[]> {
  const r = await c.cmd(command, 120_000);
  expect(r.tagged).toMatch(/^\S+ OK/);
  return r.untagged;
}

async function pop3(user: Account, pass: string): Promise<{ stat: string; list: string[]; uidl: string[] }> {
  const c = await RawClient.connect(n.t.ports.pop3!);
  await c.line();
  const stat = await c.login(user.address, pass);
  c.send('LIST');
  await c.line();
  const list = await c.multi();
  c.send('UIDL');
  await c.line();
  const uidl = await c.multi();
  await c.cmd('QUIT');
  return { stat, list, uidl };
}

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  await n?.stop();
});

describe('lazy first open = eager index', () => {
  let lazy: Account;
  let eager: Account;
  let made: Made[];

  beforeAll(async () => {
    lazy = await n.t.addUser('lazy@example.org', 'lazy-pw');
    eager = await n.t.addUser('eager@example.org', 'eager-pw');
    made = populate(lazy.maildir, 16);
    for (const m of made) await n.deliver([m.bytes], { account: eager, internalDate: new Date(m.mtime) });
  }, 300_000);

  it('answers FETCH, SEARCH, SORT, POP3 LIST and UIDL as the eager index does, on demand and after the fill', async () => {
    const l = await imap(lazy, 'lazy-pw');
    const e = await imap(eager, 'eager-pw');
    expect(await lines(l, 'SELECT INBOX')).toContain(`* ${N} EXISTS`);
    expect(await lines(e, 'SELECT INBOX')).toContain(`* ${N} EXISTS`);
    // Right after the first SELECT: a few messages, their facts read on demand.
    const few = 'FETCH 3,77,150,239 (RFC822.SIZE INTERNALDATE)';
    expect(await lines(l, few)).toEqual(await lines(e, few));
    await n.t.ctx.store.settle();
    const all = 'FETCH 1:* (UID ENVELOPE BODYSTRUCTURE RFC822.SIZE INTERNALDATE BODY.PEEK[])';
    const got = await lines(l, all);
    expect(got).toHaveLength(N);
    expect(got).toEqual(await lines(e, all));
    const median = [...made.map((m) => Buffer.byteLength(m.bytes.toString('latin1').replace(/\r?\n/g, '\r\n')))].sort((a, b) => a - b)[N >> 1]!;
    for (const q of [
      `UID SEARCH LARGER ${median}`,
      `UID SEARCH SMALLER ${median}`,
      'UID SEARCH BEFORE 1-Jan-2021',
      'UID SEARCH SINCE 1-Jan-2023 SUBJECT rare',
      'UID SORT (SIZE) UTF-8 ALL',
      'UID SORT (REVERSE ARRIVAL) UTF-8 ALL',
    ]) {
      const want = await lines(e, q);
      expect(await lines(l, q), q).toEqual(want);
      expect(want[0]!.split(' ').length, q).toBeGreaterThan(3);
    }
    await l.cmd('LOGOUT');
    await e.cmd('LOGOUT');
    const lp = await pop3(lazy, 'lazy-pw');
    const ep = await pop3(eager, 'eager-pw');
    expect(lp.stat).toMatch(new RegExp(`^\\+OK Logged in, ${N} messages`));
    expect(lp.stat).toBe(ep.stat);
    expect(lp.list).toEqual(ep.list);
    expect(lp.uidl).toEqual(made.map((m, i) => `${i + 1} ${m.basename}`));
  }, 600_000);
});

describe('the fill of a big first open', () => {
  const FILES = 20_000;

  it(`leaves other users' NOOPs answered while ${FILES} files' facts are read`, async () => {
    const big = await n.t.addUser('big-lazy@example.org', 'big-pw');
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(big.maildir, sub), { recursive: true });
    const tpl = path.join(big.maildir, 'template');
    // Bare LF and no S= or W=: the fill reads each file for its sizes.
    fs.writeFileSync(tpl, 'From: s@example.net\nSubject: restored\n\nBody\n');
    for (let i = 0; i < FILES; i++) fs.linkSync(tpl, path.join(big.maildir, 'cur', `${1_700_000_000 + i}.M${i}P1.old:2,S`));
    fs.rmSync(tpl);
    const other = await imap(n.account, n.pass);
    await lines(other, 'SELECT INBOX');
    const b = await imap(big, 'big-pw');
    expect(await lines(b, 'SELECT INBOX')).toContain(`* ${FILES} EXISTS`);
    // Rows still to be filled, read from the index file as another process would.
    const idx = new Database(indexFileOf(big), { readonly: true, fileMustExist: true });
    const pending = (): number => (idx.prepare('SELECT count(*) FROM messages WHERE lazy <> 0').pluck().get() as number);
    try {
      expect(pending()).toBeGreaterThan(0);
      let during = 0;
      // Bounded: at most 2,000 NOOPs, each with a generous timeout; stops once the fill is done.
      for (let i = 0; i < 2000 && pending() > 0; i++) {
        const r = await other.cmd('NOOP', 60_000);
        expect(r.tagged).toMatch(/^\S+ OK/);
        if (pending() > 0) during++;
      }
      expect(during).toBeGreaterThan(0);
      await n.t.ctx.store.settle();
      expect(pending()).toBe(0);
    } finally {
      idx.close();
    }
    expect(await lines(b, `FETCH ${FILES} RFC822.SIZE`)).toEqual([`* ${FILES} FETCH (RFC822.SIZE 48)`]);
    await b.cmd('LOGOUT');
    await other.cmd('LOGOUT');
  }, 900_000);
});

/** The account's index file (data_dir/index/<id>.sqlite, store-impl.ts indexFile). */
function indexFileOf(a: Account): string {
  return (n.t.ctx.store as unknown as { indexFile(id: string): string }).indexFile(a.id);
}
