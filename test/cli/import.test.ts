/** `roost import`: a Dovecot Maildir keeps its UIDs, UIDVALIDITY, file names (POP3 UIDLs) and flags. */
import { mkdir, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roost } from '../helpers/cli.js';
import { makeTempDir, startTestNode } from '../helpers/node.js';

let dir: string;
let cfg: string;
let src: string;

const A = '1276528487.M364837P9451.oldhost,S=38,W=40';
const B = '1276533073.M242911P3632.oldhost,S=38,W=40';
const body = (n: string): string => `Subject: ${n}\n\nmessage body here\n`.padEnd(38, '.');

beforeAll(async () => {
  dir = await makeTempDir();
  cfg = path.join(dir, 'roost.toml');
  await writeFile(cfg, 'data_dir = "./data"\n');
  src = path.join(dir, 'old', 'Maildir');
  for (const d of ['cur', 'new', 'tmp']) await mkdir(path.join(src, d), { recursive: true });
  await writeFile(path.join(src, 'cur', `${A}:2,S`), body('a'));
  await writeFile(path.join(src, 'cur', `${B}:2,FS`), body('b'));
  await writeFile(path.join(src, 'tmp', 'half-written'), 'junk');
  await writeFile(path.join(src, 'dovecot-uidlist'), `3 V1234567 N30 G0123456789abcdef0123456789abcdef\n25 :${A}:2,S\n27 :${B}:2,FS\n`);
  await utimes(path.join(src, 'cur', `${A}:2,S`), 1_276_528_487, 1_276_528_487);
  expect((await roost(['user', 'add', 'mig@example.org', '--config', cfg])).code).toBe(0);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('roost import', () => {
  it('copies the Maildir and indexes it with the old UIDs and names', async () => {
    const r = await roost(['import', 'mig@example.org', src, '--config', cfg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 messages/);
    const t = await startTestNode({}, { dataDir: path.join(dir, 'data') });
    try {
      const found = await t.ctx.directory.lookupRecipient('mig@example.org');
      if (found.kind !== 'found') throw new Error('account missing');
      const box = await t.ctx.store.user(found.account).openMailbox('INBOX', { readOnly: true });
      const snap = box.snapshot();
      expect(snap.uidvalidity).toBe(1234567);
      expect(snap.uidnext).toBeGreaterThanOrEqual(30);
      expect(snap.messages.map((m) => [m.uid, m.basename, m.flags])).toEqual([
        [25, A, ['\\Seen']],
        [27, B, ['\\Flagged', '\\Seen']],
      ]);
      expect(snap.messages[0]!.internalDate).toBe(1_276_528_487_000);
      box.close();
    } finally {
      await t.stop();
    }
  });

  it('refuses an account that already has mail, and a source that is not a Maildir', async () => {
    const again = await roost(['import', 'mig@example.org', src, '--config', cfg]);
    expect(again.code).toBe(1);
    expect(again.stderr).toMatch(/already holds messages/);
    expect((await roost(['import', 'mig@example.org', dir, '--config', cfg])).code).toBe(2);
    expect((await roost(['import', 'ghost@example.org', src, '--config', cfg])).code).toBe(1);
  });
});

describe('roost import of folders with any legal name', () => {
  let src2: string;
  beforeAll(async () => {
    src2 = path.join(dir, 'old2', 'Maildir');
    for (const f of ['', '.Percent 50%', '.Star*', '.&AMk-t&AOk-', '.Bad&Zm9v-', '.NoMaildir']) {
      for (const d of f === '.NoMaildir' ? ['x'] : ['cur', 'new', 'tmp']) await mkdir(path.join(src2, f, d), { recursive: true });
    }
    await writeFile(path.join(src2, '.Percent 50%', 'cur', `${A}:2,S`), body('p'));
    await writeFile(path.join(src2, '.Star*', 'cur', `${B}:2,`), body('s'));
    await writeFile(path.join(src2, '.Bad&Zm9v-', 'cur', `${B}:2,`), body('b'));
    for (const u of ['pct@example.org', 'pct2@example.org']) expect((await roost(['user', 'add', u, '--config', cfg])).code).toBe(0);
  });

  it('lists every folder it cannot carry on stderr, exits 1 with the count, and copies nothing', async () => {
    const r = await roost(['import', 'pct@example.org', src2, '--config', cfg]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain('cannot import folder ".Bad&Zm9v-"');
    expect(r.stderr).toContain('cannot import folder ".NoMaildir"');
    expect(r.stderr).toMatch(/2 folders cannot be imported/);
    expect(r.stderr).not.toContain('Percent');
  });

  it('with --skip-errors imports the rest, "%" and "*" folders included, and still lists what it left', async () => {
    const r = await roost(['import', 'pct2@example.org', src2, '--skip-errors', '--config', cfg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain('cannot import folder ".Bad&Zm9v-"');
    expect(r.stdout).toMatch(/4 mailboxes, 2 messages \(2 folders skipped/);
    const t = await startTestNode({}, { dataDir: path.join(dir, 'data') });
    try {
      const found = await t.ctx.directory.lookupRecipient('pct2@example.org');
      if (found.kind !== 'found') throw new Error('account missing');
      const user = t.ctx.store.user(found.account);
      expect((await user.status('Percent 50%')).messages).toBe(1);
      expect((await user.status('Star*')).messages).toBe(1);
      expect((await user.status('Été')).messages).toBe(0);
    } finally {
      await t.stop();
    }
  });
});

describe('roost import carries subscriptions', () => {
  it("keeps Courier's courierimapsubscribed: only the folders listed there are subscribed", async () => {
    const src3 = path.join(dir, 'old3', 'Maildir');
    for (const f of ['', '.Sent', '.Lists', '.Lists.roost']) for (const d of ['cur', 'new', 'tmp']) await mkdir(path.join(src3, f, d), { recursive: true });
    await writeFile(path.join(src3, 'courierimapsubscribed'), 'INBOX\nINBOX.Lists.roost\n');
    expect((await roost(['user', 'add', 'courier@example.org', '--config', cfg])).code).toBe(0);
    const r = await roost(['import', 'courier@example.org', src3, '--config', cfg]);
    expect(r.code, r.stderr).toBe(0);
    const t = await startTestNode({}, { dataDir: path.join(dir, 'data') });
    try {
      const found = await t.ctx.directory.lookupRecipient('courier@example.org');
      if (found.kind !== 'found') throw new Error('account missing');
      expect([...(await t.ctx.store.user(found.account).subscriptions())].sort()).toEqual(['INBOX', 'Lists.roost']);
    } finally {
      await t.stop();
    }
  });
});

describe('roost import --link (a big Maildir without copying every byte)', () => {
  it('hard-links the message files, copies the rest, keeps the mtime and leaves tmp/ and the old index behind', async () => {
    const src4 = path.join(dir, 'old4', 'Maildir');
    for (const f of ['', '.Work']) for (const d of ['cur', 'new', 'tmp']) await mkdir(path.join(src4, f, d), { recursive: true });
    await writeFile(path.join(src4, 'cur', `${A}:2,S`), body('a'));
    await writeFile(path.join(src4, '.Work', 'new', B), body('b'));
    await writeFile(path.join(src4, 'tmp', 'half-written'), 'junk');
    await writeFile(path.join(src4, 'dovecot.index.log'), 'old index');
    await writeFile(path.join(src4, 'dovecot-uidlist'), `3 V7654321 N9 G0123456789abcdef0123456789abcdef\n8 :${A}:2,S\n`);
    await utimes(path.join(src4, 'cur', `${A}:2,S`), 1_276_528_487, 1_276_528_487);
    expect((await roost(['user', 'add', 'link@example.org', '--config', cfg])).code).toBe(0);
    const r = await roost(['import', 'link@example.org', src4, '--link', '--config', cfg]);
    expect(r.code, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/2 mailboxes, 2 messages/);
    const t = await startTestNode({}, { dataDir: path.join(dir, 'data') });
    try {
      const found = await t.ctx.directory.lookupRecipient('link@example.org');
      if (found.kind !== 'found') throw new Error('account missing');
      const m = found.account.maildir;
      const { statSync, existsSync, readdirSync } = await import('node:fs');
      expect(statSync(path.join(m, 'cur', `${A}:2,S`)).ino).toBe(statSync(path.join(src4, 'cur', `${A}:2,S`)).ino);
      // The uidlist is a copy (Roost may rewrite its own files), not a link.
      expect(statSync(path.join(m, 'dovecot-uidlist')).ino).not.toBe(statSync(path.join(src4, 'dovecot-uidlist')).ino);
      expect(existsSync(path.join(m, 'dovecot.index.log'))).toBe(false);
      expect(readdirSync(path.join(m, 'tmp')).includes('half-written')).toBe(false);
      const box = await t.ctx.store.user(found.account).openMailbox('INBOX', { readOnly: true });
      expect(box.snapshot().uidvalidity).toBe(7654321);
      expect(box.snapshot().messages.map((x) => [x.uid, x.internalDate])).toEqual([[8, 1_276_528_487_000]]);
      box.close();
      expect((await t.ctx.store.user(found.account).status('Work')).messages).toBe(1);
    } finally {
      await t.stop();
    }
  });
});
