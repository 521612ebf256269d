/**
 * Indexing an existing Maildir at first open commits its messages in
 * batches (LIMITS.store.importBatch = 5,000) without holding their bytes:
 * at the batch size and one past it every file gets its UID in name order,
 * exactly once, and its flags from the name (maildir(5) info ":2,S").
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { account, files, open, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

function populate(maildir: string, n: number): string[] {
  for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  const body = 'From: s@example.net\nSubject: imported\n\nBody\n';
  const src = path.join(maildir, 'tmp', 'template');
  fs.writeFileSync(src, body);
  const bases: string[] = [];
  for (let i = 0; i < n; i++) {
    const base = `${1_700_000_000 + i}.M${i}P7.other`;
    bases.push(base);
    // Every seventh one seen by another program.
    fs.linkSync(src, path.join(maildir, 'cur', `${base}:2,${i % 7 === 0 ? 'S' : ''}`));
  }
  fs.rmSync(src);
  return bases;
}

describe('Maildir import in batches', () => {
  for (const n of [5000, 5001]) {
    it(`${n} files: UIDs 1..${n} in name order, flags from the names, each once`, async () => {
      const a = account(root, `imp${n}`);
      const bases = populate(a.maildir, n);
      const store = await open(root);
      const box = await store.user(a).openMailbox('INBOX');
      // UIDs, names and flags come from the listing; sizes once the facts are read (store/facts.ts).
      expect(box.snapshot().messages.map((m) => m.uid)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      await box.ensureFacts();
      const msgs = box.snapshot().messages;
      expect(msgs.map((m) => m.uid)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(msgs.map((m) => m.basename)).toEqual(bases);
      expect(msgs.filter((m) => m.flags.includes('\\Seen')).length).toBe(Math.ceil(n / 7));
      expect(msgs[n - 1]!.size).toBe(Buffer.byteLength('From: s@example.net\nSubject: imported\n\nBody\n'));
      expect((await box.readMessage(n)).toString()).toContain('Subject: imported');
      expect((await store.user(a).status('INBOX')).uidnext).toBe(n + 1);
      expect(files(a.maildir, 'cur')).toHaveLength(n);
      box.close();
      await store.close();
    });
  }
});
