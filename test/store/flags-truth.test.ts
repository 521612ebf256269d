/**
 * The index is the truth for flags; Maildir names follow it.
 * A STORE on every message of a large mailbox, its inverse while the
 * renames of the first are still running, body FETCHes (implicit \Seen,
 * RFC 3501 §6.4.5) and a restart must leave the index, SEARCH and the file
 * names agreeing — a lagging file name is never read back as a flag change.
 * Changes other programs make by renaming (mutt marking a message seen,
 * maildir(5) info ":2,S") are still picked up.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { safeFileName } from '../../src/store/maildir/names.js';
import type { StoreImpl } from '../../src/store/store-impl.js';
import type { MailboxEvent } from '../../src/store/types.js';
import { makeTempDir, startTestNode, type TestNode } from '../helpers/node.js';
import { login, type RawImap } from '../imap/helpers/client.js';
import { account, deliver, files, message, open, tempDir, waitFor } from './helpers.js';

/** Messages in the large mailbox (ROOST_FLAGS_N to try 100,000). */
const N = Number(process.env.ROOST_FLAGS_N ?? 50_000);
const USER = 'alice@example.org';
const PASS = 'secret-pw';

/**
 * Fill cur/ with `n` messages the way another MDA would have left them,
 * fast: hard links to a few written files (ext4 allows 65,000 links per inode).
 */
function populate(maildir: string, n: number): void {
  for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  const body = 'From: s@example.net\r\nTo: alice@example.org\r\nSubject: bulk\r\n\r\nBody\r\n';
  const src = path.join(maildir, 'tmp', 'template');
  for (let i = 0; i < n; i++) {
    if (i % 10_000 === 0) {
      fs.rmSync(src, { force: true });
      fs.writeFileSync(src, body);
    }
    const base = `${1_700_000_000 + Math.floor(i / 1000)}.M${i}P1Q${i}.gen,S=${body.length},W=${body.length}`;
    fs.linkSync(src, path.join(maildir, 'cur', `${base}:2,`));
  }
  fs.rmSync(src, { force: true });
}

function searchCount(r: { untagged: string[] }): number {
  const line = r.untagged.find((l) => l.startsWith('* SEARCH'));
  if (line === undefined) throw new Error('no SEARCH response');
  return line.split(' ').length - 2;
}

function letterCounts(maildir: string): { flagged: number; seen: number; total: number } {
  const names = [...files(maildir, 'cur'), ...files(maildir, 'new')];
  const info = (n: string): string => (n.includes(':2,') ? n.slice(n.indexOf(':2,') + 3) : '');
  return { flagged: names.filter((n) => info(n).includes('F')).length, seen: names.filter((n) => info(n).includes('S')).length, total: names.length };
}

async function settle(t: TestNode): Promise<void> {
  await (t.ctx.store as StoreImpl).settle();
}

describe('flags: the index is the truth, file names follow', () => {
  const dirs: string[] = [];
  afterAll(() => {
    for (const d of dirs) fs.rmSync(d, { recursive: true, force: true });
  });

  it(`STORE +F, STORE -F, body FETCHes and a restart on ${N} messages: index, SEARCH and file names agree`, async () => {
    const dataDir = await makeTempDir();
    dirs.push(dataDir);
    let t = await startTestNode({}, { dataDir });
    let c: RawImap | null = null;
    try {
      const acct: Account = await t.addUser(USER, PASS);
      populate(acct.maildir, N);
      // First open indexes the Maildir (what a migration from another server does).
      (await t.ctx.store.user(acct).openMailbox('INBOX')).close();
      c = await login(t.ports.imap!, USER, PASS);
      expect((await c.cmd('SELECT INBOX', 60_000)).untagged).toContain(`* ${N} EXISTS`);
      expect((await c.cmd('STORE 1:* +FLAGS.SILENT (\\Flagged)', 60_000)).tagged).toMatch(/OK/);
      // The inverse while the renames of the first are under way.
      expect((await c.cmd('STORE 1:* -FLAGS.SILENT (\\Flagged)', 60_000)).tagged).toMatch(/OK/);
      expect(searchCount(await c.cmd('SEARCH FLAGGED', 60_000))).toBe(0);
      const mid = Math.floor(N / 2);
      for (const range of ['1:1000', `${mid + 1}:${mid + 1000}`, `${N - 999}:${N}`]) {
        const r = await c.cmd(`FETCH ${range} BODY[]`, 60_000);
        expect(r.tagged).toMatch(/OK/);
        expect(r.untagged.filter((l) => l.includes('Subject: bulk'))).toHaveLength(1000);
      }
      expect(searchCount(await c.cmd('SEARCH FLAGGED', 60_000))).toBe(0);
      expect(searchCount(await c.cmd('SEARCH SEEN', 60_000))).toBe(3000);
      await settle(t);
      expect(searchCount(await c.cmd('SEARCH FLAGGED', 60_000))).toBe(0);
      expect(searchCount(await c.cmd('SEARCH SEEN', 60_000))).toBe(3000);
      expect(letterCounts(acct.maildir)).toEqual({ flagged: 0, seen: 3000, total: N });
      c.close();
      c = null;
      await t.stop({ keep: true });

      t = await startTestNode({}, { dataDir });
      c = await login(t.ports.imap!, USER, PASS);
      expect((await c.cmd('SELECT INBOX', 60_000)).untagged).toContain(`* ${N} EXISTS`);
      await settle(t);
      expect(searchCount(await c.cmd('SEARCH FLAGGED', 60_000))).toBe(0);
      expect(searchCount(await c.cmd('SEARCH SEEN', 60_000))).toBe(3000);
      expect(letterCounts(acct.maildir)).toEqual({ flagged: 0, seen: 3000, total: N });
      // No flag change was taken from a file name: every flags record in the journal is a STORE.
      const recs = await t.ctx.store.readJournal(0n, 100_000);
      const fromNames = recs.filter((r) => r.kind === 'flags' && r.data.updates.some((u) => u.filenames));
      expect(fromNames).toEqual([]);
      c.close();
      c = null;
      await t.stop({ keep: true });
      const idx = new Database(path.join(dataDir, 'index', safeFileName(acct.id) + '.sqlite'), { readonly: true });
      try {
        const q = (sql: string): number => (idx.prepare(sql).get() as { n: number }).n;
        expect(q("SELECT count(*) AS n FROM messages WHERE flags LIKE '%\\Flagged%'")).toBe(0);
        expect(q("SELECT count(*) AS n FROM messages WHERE flags = '\\Seen'")).toBe(3000);
        expect(q('SELECT count(*) AS n FROM messages WHERE state <> 0 OR renaming IS NOT NULL')).toBe(0);
      } finally {
        idx.close();
      }
    } finally {
      c?.close();
      await t.stop({ keep: true });
    }
  }, 240_000);
});

describe('flags: changes made by other programs', () => {
  const root = tempDir();
  afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

  const nameOf = (a: Account, base: string): string => [...files(a.maildir, 'new').map((n) => `new/${n}`), ...files(a.maildir, 'cur').map((n) => `cur/${n}`)].find((n) => n.slice(4).startsWith(base))!;

  it("picks up mutt's rename (new/x → cur/x:2,S) as \\Seen, live and at the next open", async () => {
    const a = account(root, 'mutt');
    let store = await open(root, true);
    const saved = [];
    for (let i = 0; i < 3; i++) saved.push((await deliver(store, [a], message(`m${i}`)))[0]!);
    const box = await store.user(a).openMailbox('INBOX');
    const events: MailboxEvent[] = [];
    box.onChange((e) => events.push(e));
    // Our own rename first (STORE), then the other program's.
    await box.storeFlags([1], 'add', ['\\Flagged']);
    await store.settle();
    const from = nameOf(a, saved[1]!.basename);
    fs.renameSync(path.join(a.maildir, from), path.join(a.maildir, 'cur', `${saved[1]!.basename}:2,S`));
    await waitFor(() => events.some((e) => e.type === 'flags' && e.updates.some((u) => u.uid === 2)), 10_000);
    const flags = (): string[][] => box.snapshot().messages.map((m) => [...m.flags]);
    expect(flags()).toEqual([['\\Flagged'], ['\\Seen'], []]);
    box.close();
    await store.close();

    // While no server runs: mutt marks message 3 replied and seen.
    const third = nameOf(a, saved[2]!.basename);
    fs.renameSync(path.join(a.maildir, third), path.join(a.maildir, 'cur', `${saved[2]!.basename}:2,RS`));
    store = await open(root, true);
    const again = await store.user(a).openMailbox('INBOX');
    await waitFor(() => again.snapshot().messages[2]!.flags.length === 2, 10_000);
    expect(again.snapshot().messages.map((m) => [...m.flags])).toEqual([['\\Flagged'], ['\\Seen'], ['\\Answered', '\\Seen']]);
    again.close();
    await store.close();
  });

  it('does not mistake our own renames for another program: a STORE and its inverse on 3,000 watched messages', async () => {
    const a = account(root, 'own');
    populate(a.maildir, 3000);
    const store = await open(root, true);
    const box = await store.user(a).openMailbox('INBOX');
    // The first open's deliver records are journaled in the background (store/facts.ts): count from after them.
    await store.settle();
    const before = store.lastLsn();
    const uids = box.snapshot().messages.map((m) => m.uid);
    await box.storeFlags(uids, 'add', ['\\Flagged']);
    // Let some of the renames happen, then undo the flag while the rest are pending.
    await new Promise((r) => setTimeout(r, 60));
    await box.storeFlags(uids, 'remove', ['\\Flagged']);
    await box.storeFlags(uids.slice(0, 100), 'add', ['\\Seen']);
    await store.settle();
    // Give the watcher time to look at every event (debounced).
    await new Promise((r) => setTimeout(r, 300));
    const recs = (await store.readJournal(before, 10_000)).filter((r) => r.accountId === a.id);
    expect(recs.map((r) => r.kind)).toEqual(['flags', 'flags', 'flags']);
    expect(box.snapshot().messages.filter((m) => m.flags.length > 0).map((m) => m.uid)).toEqual(uids.slice(0, 100));
    const names = files(a.maildir, 'cur');
    expect(names.filter((n) => n.endsWith(':2,S'))).toHaveLength(100);
    expect(names.filter((n) => n.includes(':2,F'))).toHaveLength(0);
    box.close();
    await store.close();
  });

  it('a rename a crash interrupted (file already under the new name, not recorded) is ours, and finished at the next open', async () => {
    const a = account(root, 'crash');
    let store = await open(root);
    const [m] = await deliver(store, [a], message('one'));
    await deliver(store, [a], message('two'));
    await store.close();
    // The index says: no flags (a -FLAGS after a +FLAGS), rename pending; the
    // worker had renamed the file for the older +FLAGS when the process died.
    const file = path.join(root, 'data', 'index', safeFileName(a.id) + '.sqlite');
    const idx = new Database(file);
    const flaggedName = `cur/${m!.basename}:2,F`;
    fs.renameSync(path.join(a.maildir, 'new', m!.basename), path.join(a.maildir, flaggedName));
    idx.prepare('UPDATE messages SET state = 1, renaming = ? WHERE uid = 1').run(flaggedName);
    idx.close();
    store = await open(root, true);
    const box = await store.user(a).openMailbox('INBOX');
    // The directory changed since the index last looked: the watcher reconciles at open.
    await new Promise((r) => setTimeout(r, 300));
    await store.settle();
    expect(box.snapshot().messages.map((x) => [...x.flags])).toEqual([[], []]);
    expect((await box.readMessage(1)).toString()).toContain('Subject: one');
    // No flags: back in new/ (the name the index records for it), not the name the crash left.
    expect(files(a.maildir, 'cur').filter((n) => n.startsWith(m!.basename))).toEqual([]);
    expect(files(a.maildir, 'new').filter((n) => n.startsWith(m!.basename))).toEqual([m!.basename]);
    const recs = (await store.readJournal(0n, 100)).filter((r) => r.accountId === a.id && r.kind === 'flags');
    expect(recs).toEqual([]);
    box.close();
    await store.close();
  });
});
