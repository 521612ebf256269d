/**
 * IndexDb.lazyMailboxes (src/store/index/db.ts): the mailboxes that still
 * have provisional rows (a lazy first open, store/facts.ts), found with one
 * probe of the partial index per mailbox. It runs at every account open, so
 * inside the first SELECT after a restart: it must name exactly the
 * mailboxes with a provisional row, whatever their other rows.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { IndexDb } from '../../src/store/index/db.js';

let dir = '';
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = '';
});

function listed(db: IndexDb, mailbox: number, from: number, count: number): void {
  for (let uid = from; uid < from + count; uid++) db.insertListed(mailbox, uid, `${uid}.M1P1.host`, `cur/${uid}.M1P1.host:2,S`, '\\Seen', 0, 0, 0);
}

describe('lazyMailboxes', () => {
  it('names each mailbox with a provisional row once, in id order, and none once every row is filled', () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-lazy-mailboxes-'));
    const db = new IndexDb(path.join(dir, 'index.sqlite'));
    try {
      const inbox = db.insertMailbox('INBOX', 1, null, true);
      const a = db.insertMailbox('A', 2, null, true);
      const empty = db.insertMailbox('Empty', 3, null, true);
      db.db.transaction(() => {
        listed(db, inbox, 1, 300);
        listed(db, a, 1, 2);
      })();
      expect(db.lazyMailboxes()).toEqual([inbox, a]);
      // All but the last row of INBOX filled: one provisional row is enough.
      for (let uid = 1; uid < 300; uid++) expect(db.setFacts(inbox, uid, 10, 11, 1000)).toBe(true);
      expect(db.lazyMailboxes()).toEqual([inbox, a]);
      expect(db.setFacts(inbox, 300, 10, 11, 1000)).toBe(true);
      expect(db.lazyMailboxes()).toEqual([a]);
      expect(db.setFacts(a, 1, 10, 11, 1000)).toBe(true);
      expect(db.setFacts(a, 2, 10, 11, 1000)).toBe(true);
      expect(db.lazyMailboxes()).toEqual([]);
      expect(empty).toBeGreaterThan(0);
    } finally {
      db.close();
    }
  });
});
