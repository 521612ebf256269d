/**
 * Side files through the journal (store/side-files.ts), between two real
 * stores in one process: a primary whose Maildir came with Dovecot's
 * dovecot-keywords and recorded POP3 UIDLs journals both at its first open,
 * a replica applying its records writes them, a record of a kind the
 * replica does not know (what an older release meets from a newer primary)
 * is journaled and passed over without stopping the stream, and a replica
 * that lost the files after its index had them (a crash between the two)
 * writes them again at its next open.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import type { RecordOf } from '../../src/store/types.js';
import type { StoreImpl } from '../../src/store/store-impl.js';
import { IndexDb } from '../../src/store/index/db.js';
import { applyPop3UidlsIndex, POP3_META, pop3UidlsDrafts } from '../../src/store/side-files.js';
import { formatRecordedUidls, parseRecordedUidls } from '../../src/store/maildir/pop3-uidls.js';
import { account, deliver, message, open, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** A store over root/<name> and account <name> with an empty Maildir (cur/, new/); the store is closed after `body`. */
async function withMaildir(name: string, body: (store: StoreImpl, a: Account, dir: string) => Promise<void>): Promise<void> {
  const dir = path.join(root, name);
  const store = await open(dir);
  try {
    const a = account(dir, name);
    fs.mkdirSync(path.join(a.maildir, 'cur'), { recursive: true });
    fs.mkdirSync(path.join(a.maildir, 'new'), { recursive: true });
    await body(store, a, dir);
  } finally {
    await store.close();
  }
}

async function readAll(s: AsyncIterable<unknown>): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('side files on a replica', () => {
  it('keywords and recorded UIDLs are applied, lost files come back at the next open', async () => {
    const primary = await open(path.join(root, 'p'));
    const pa = account(path.join(root, 'p'), 'side');
    fs.mkdirSync(path.join(pa.maildir, 'cur'), { recursive: true });
    fs.mkdirSync(path.join(pa.maildir, 'new'), { recursive: true });
    fs.writeFileSync(path.join(pa.maildir, 'cur', '1700000001.M1P1.old:2,Sa'), message('imported'));
    fs.writeFileSync(path.join(pa.maildir, 'dovecot-keywords'), '0 $Forwarded\n1 $Junk\n');
    fs.writeFileSync(path.join(pa.maildir, 'roost-pop3-uidls'), 'V1\n1 old-uidl-1\n');
    primary.user(pa);
    await deliver(primary, [pa], message('one'));
    await deliver(primary, [pa], message('two'));
    await primary.settle();
    const recs = await primary.readJournal(0n, 1000);
    // The folder and its side files at first open; the found message's deliver record follows in the
    // background (store/facts.ts), so it may come before or after the two deliveries, but once each.
    expect(recs.map((r) => r.kind)).toEqual(['mailbox-create', 'keywords', 'pop3-uidls', 'deliver', 'deliver', 'deliver']);
    expect(new Set(recs.filter((r) => r.kind === 'deliver').map((r) => (r.data as { uid: number }).uid)).size).toBe(3);

    fs.mkdirSync(path.join(root, 'r'), { recursive: true });
    let replica = await open(path.join(root, 'r'));
    replica.replication.setWritable(false);
    const ra = account(path.join(root, 'r'), 'side');
    replica.user(ra);
    for (const r of recs) {
      const body = r.kind === 'deliver' ? await primary.replication.openDelivered(r).then(readAll, () => null) : null;
      await replica.replication.apply(r, body);
    }
    await replica.settle();
    expect(replica.replication.appliedLsn()).toBe(primary.lastLsn());
    expect((await replica.user(ra).status('INBOX')).messages).toBe(3);
    expect((await replica.readJournal(0n, 1000)).map((r) => r.kind)).toEqual(recs.map((r) => r.kind));
    const side = ['dovecot-keywords', 'roost-pop3-uidls'];
    for (const f of side) expect(fs.readFileSync(path.join(ra.maildir, f), 'utf8'), f).toBe(fs.readFileSync(path.join(pa.maildir, f), 'utf8'));

    // The files go (a crash after the index commit, before the file's rename); the next open writes them.
    await replica.close();
    for (const f of side) fs.rmSync(path.join(ra.maildir, f));
    replica = await open(path.join(root, 'r'));
    replica.replication.setWritable(false);
    expect((await replica.user(ra).status('INBOX')).messages).toBe(3);
    for (const f of side) expect(fs.readFileSync(path.join(ra.maildir, f), 'utf8'), f).toBe(fs.readFileSync(path.join(pa.maildir, f), 'utf8'));
    await replica.close();
    await primary.close();
  });
});

describe("a 'pop3-uidls' series", () => {
  it('counts only when complete: a series cut short leaves the last complete list in place', () => {
    const root = tempDir();
    try {
      const db = new IndexDb(path.join(root, 'index.sqlite'));
      const piece = (uidls: [number, string][], reset: boolean, last: boolean) =>
        ({ lsn: 1n, epoch: 1, time: 0, kind: 'pop3-uidls', accountId: 'a', data: { maildir: '/m', uidvalidity: 7, reset, last, uidls } }) as RecordOf<'pop3-uidls'>;
      expect(applyPop3UidlsIndex(db, piece([[1, 'u1']], true, true))).toBe(true);
      expect(db.meta(POP3_META)).toBe('V7\n1 u1\n');
      // A new series whose last piece never comes (a crash, a reconnect): the complete list stays.
      expect(applyPop3UidlsIndex(db, piece([[1, 'x1']], true, false))).toBe(false);
      expect(applyPop3UidlsIndex(db, piece([[2, 'x2']], false, false))).toBe(false);
      expect(db.meta(POP3_META)).toBe('V7\n1 u1\n');
      // The series sent again in full replaces it.
      applyPop3UidlsIndex(db, piece([[1, 'y1']], true, false));
      expect(applyPop3UidlsIndex(db, piece([[2, 'y2']], false, true))).toBe(true);
      expect(db.meta(POP3_META)).toBe('V7\n1 y1\n2 y2\n');
      db.close();
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it("the records' pieces, applied, give the file's own text (UID order, whatever order the file had)", async () => {
    await withMaildir('order', async (store, a, dir) => {
      // Out of order on disk, as an operator may have edited it.
      const text = 'V9\n30 u30\n2 u2\n11 u11\n1 u1\n';
      fs.writeFileSync(path.join(a.maildir, 'roost-pop3-uidls'), text);
      await store.user(a).status('INBOX');
      const st = store.state(a);
      const db = new IndexDb(path.join(dir, 'scratch.sqlite'));
      // Journaled at the first open: nothing more to send for the same file, read or given.
      expect(pop3UidlsDrafts(st)).toEqual([]);
      expect(pop3UidlsDrafts(st, text)).toEqual([]);
      const sorted = formatRecordedUidls(parseRecordedUidls(text)!);
      expect(sorted).toBe('V9\n1 u1\n2 u2\n11 u11\n30 u30\n');
      // A changed file: its pieces, applied on a replica, make the sorted text.
      const changed = 'V9\n30 u30\n2 u2-new\n1 u1\n';
      const drafts = pop3UidlsDrafts(st, changed);
      expect(drafts.length).toBe(1);
      for (const d of drafts) applyPop3UidlsIndex(db, { lsn: 1n, epoch: 1, time: 0, ...d } as RecordOf<'pop3-uidls'>);
      expect(db.meta(POP3_META)).toBe(formatRecordedUidls(parseRecordedUidls(changed)!));
      expect(db.meta(POP3_META)).toBe('V9\n1 u1\n2 u2-new\n30 u30\n');
      db.close();
    });
  });
});

describe('recorded UIDLs at POP3 login', () => {
  it('answers the file as it is now: rewritten (same size), removed, written again', async () => {
    await withMaildir('login', async (store, a) => {
      const file = path.join(a.maildir, 'roost-pop3-uidls');
      fs.writeFileSync(file, 'V5\n1 aaaa\n');
      const u = store.user(a);
      const at = async (): Promise<[number, string][] | null> => {
        const r = await u.recordedUidls();
        return r && [...r.byUid];
      };
      expect(await at()).toEqual([[1, 'aaaa']]);
      expect(await at()).toEqual([[1, 'aaaa']]);
      // Rewritten in place with the same size: the next login sees the new UIDL.
      fs.writeFileSync(file, 'V5\n1 bbbb\n');
      expect(await at()).toEqual([[1, 'bbbb']]);
      fs.rmSync(file);
      expect(await at()).toBeNull();
      fs.writeFileSync(file, 'V5\n1 cccc\n2 dddd\n');
      expect(await at()).toEqual([[1, 'cccc'], [2, 'dddd']]);
      // Each change went to the journal (what a replica answers after promotion).
      await store.settle();
      const kinds = (await store.readJournal(0n, 1000)).filter((r) => r.kind === 'pop3-uidls').map((r) => r.data);
      expect(kinds.at(-2)).toEqual({ maildir: a.maildir, removed: true });
      expect(kinds.at(-1)).toMatchObject({ uidvalidity: 5, uidls: [[1, 'cccc'], [2, 'dddd']] });
    });
  });
});
