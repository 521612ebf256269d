/**
 * kill -9 while a session's first open of an unindexed Maildir writes its
 * listed rows in slices (issue 16 §4, store/recovery.ts importAtFirstOpen).
 * A child process running the real store (its sources transpiled for plain
 * node, as in crash.test.ts) opens INBOX of a 20,000-file Maildir with bare
 * qmail names and SIGKILLs itself between two slices, once the index file
 * shows some rows written and the mark of an unfinished listing still set.
 * The next open must give every file the UID a first open that was never
 * interrupted gives (a second Maildir of the same files, opened in one go):
 * none lost, none renumbered, none twice.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { account, open, tempDir } from './helpers.js';
import { buildStoreChild } from '../helpers/store-child.js';

const FILES = 20_000;
const root = tempDir('roost-first-open-kill-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

// The child watches its own index file between the import's slices (they yield with
// setImmediate, so this loop runs between two of them) and kills itself mid-way.
const CHILD = `import Database from 'better-sqlite3';
import fs from 'node:fs';
import { openStore } from './store/open.js';
const [dataDir, mailDir, maildir, total] = process.argv.slice(2);
const acct = { id: 'a@example.org', address: 'a@example.org', login: 'a@example.org', maildir, quotaBytes: 0, quotaMessages: 0, maxMessageSize: 0, status: 'active' };
const store = await openStore({ dataDir, mailDir, hostname: 'kill.host' });
const file = store.indexFile(acct.id);
let ro = null;
const watch = () => {
  try {
    if (!ro && fs.existsSync(file)) ro = new Database(file, { readonly: true, fileMustExist: true });
    if (ro) {
      const mark = ro.prepare("SELECT count(*) FROM meta WHERE key = 'listing:INBOX'").pluck().get();
      const rows = ro.prepare('SELECT count(*) FROM messages').pluck().get();
      if (mark > 0 && rows > 0 && rows < Number(total)) {
        process.stdout.write('KILL ' + rows + '\\n');
        process.kill(process.pid, 'SIGKILL');
      }
    }
  } catch {
    // Schema not there yet: look again on the next turn.
    ro?.close();
    ro = null;
  }
  setImmediate(watch);
};
setImmediate(watch);
await store.user(acct).openMailbox('INBOX');
process.stdout.write('DONE\\n');
process.exit(0);
`;

/** FILES bare qmail names (no S=, no uidlist: UIDs come from the name order alone), hard links of one file. */
function populate(maildir: string): void {
  for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  const tpl = path.join(root, 'template');
  if (!fs.existsSync(tpl)) fs.writeFileSync(tpl, 'From: s@example.net\nSubject: restored\n\nBody\n');
  // Seconds out of order with the loop, so the UID order is the sort's, not the creation order.
  for (let i = 0; i < FILES; i++) fs.linkSync(tpl, path.join(maildir, i % 3 === 0 ? 'new' : 'cur', `${1_700_000_000 + ((i * 7919) % FILES)}.M${i}P1.old${i % 3 === 0 ? '' : ':2,S'}`));
}

describe('kill -9 while a first open writes its rows in slices', () => {
  it('leaves a store whose next open gives every file the UID an uninterrupted first open gives', async () => {
    const js = buildStoreChild(root, CHILD);
    const a = account(root, 'a');
    const b = account(root, 'b');
    populate(a.maildir);
    populate(b.maildir);
    const child = spawn(process.execPath, [path.join(js, 'child.js'), path.join(root, 'data'), path.join(root, 'mail'), a.maildir, String(FILES)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    const [, signal] = (await new Promise((r) => child.once('exit', (code, sig) => r([code, sig])))) as [number | null, string | null];
    expect(signal).toBe('SIGKILL');
    const killedAt = Number(/^KILL (\d+)$/m.exec(out)?.[1]);
    expect(killedAt).toBeGreaterThan(0);
    expect(killedAt).toBeLessThan(FILES);

    const store = await open(root);
    try {
      const uids = async (acc: typeof a): Promise<Map<string, number>> => {
        const box = await store.user(acc).openMailbox('INBOX');
        try {
          return new Map(box.snapshot().messages.map((m) => [m.basename, m.uid]));
        } finally {
          box.close();
        }
      };
      const resumed = await uids(a);
      const whole = await uids(b);
      expect(whole.size).toBe(FILES);
      expect(resumed.size).toBe(FILES);
      expect([...resumed].sort((x, y) => x[1] - y[1])).toEqual([...whole].sort((x, y) => x[1] - y[1]));
      // The mark is gone with the last slice: a third open has nothing to resume.
      const idx = (store as unknown as { indexFile(id: string): string }).indexFile(a.id);
      const Database = (await import('better-sqlite3')).default;
      const ro = new Database(idx, { readonly: true, fileMustExist: true });
      try {
        expect(ro.prepare("SELECT count(*) FROM meta WHERE key LIKE 'listing:%'").pluck().get()).toBe(0);
        expect(ro.prepare('SELECT count(*) FROM messages').pluck().get()).toBe(FILES);
      } finally {
        ro.close();
      }
    } finally {
      await store.close();
    }
  }, 300_000);
});
