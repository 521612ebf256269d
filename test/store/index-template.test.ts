/**
 * A new account's index file is copied from data_dir/index.template.sqlite in
 * the thread pool (no SQLite file creation on the event loop at first login),
 * and a copy made that way is a complete index of the current version.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { INDEX_VERSION } from '../../src/store/index/schema.js';
import { account, deliver, message, open, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('index file from the template', () => {
  it('first use copies the template; concurrent first sessions of one account agree', async () => {
    const store = await open(root);
    const carol = account(root, 'carol');
    const user = store.user(carol);
    await Promise.all([user.ensureSpecialMailboxes(), store.user(carol).openMailbox('INBOX').then((b) => b.close())]);
    expect(fs.existsSync(path.join(root, 'data', 'index.template.sqlite'))).toBe(true);
    const names = (await user.listMailboxes()).map((m) => m.name).sort();
    expect(names).toEqual(['Archive', 'Drafts', 'INBOX', 'Junk', 'Sent', 'Trash']);
    await deliver(store, [carol], message('after the copy'));
    const box = await user.openMailbox('INBOX');
    expect(box.snapshot().messages.length).toBe(1);
    box.close();
    await store.close();
    const file = store.indexFile(carol.id);
    const db = new Database(file, { readonly: true });
    try {
      expect(db.pragma('user_version', { simple: true })).toBe(INDEX_VERSION);
      expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    } finally {
      db.close();
    }
    // No temporary copies left beside the index.
    expect(fs.readdirSync(path.dirname(file)).filter((n) => n.endsWith('.new'))).toEqual([]);
  });
});
