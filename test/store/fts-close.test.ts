/**
 * The full-text databases a search opened are closed with the store, with
 * an account that leaves the store's LRU of open indexes, and with the node:
 * no descriptor of data_dir/fts stays open after them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { account, deliver, message, open, tempDir } from './helpers.js';
import { login } from '../imap/helpers/client.js';
import { message as imapMessage, startImapNode } from '../imap/helpers/node.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Paths this process holds open under dir (Linux /proc). */
function openUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(path.join('/proc/self/fd', fd));
      if (target.startsWith(dir)) out.push(target);
    } catch {
      // closed between readdir and readlink
    }
  }
  return out;
}

describe.skipIf(!fs.existsSync('/proc/self/fd'))('full-text index handles', () => {
  it('are open while searched and closed by store.close()', async () => {
    const store = await open(root);
    const alice = account(root, 'alice');
    for (let i = 0; i < 3; i++) await deliver(store, [alice], message(`note ${i}`, `the walrus number ${i}\n`));
    const box = await store.user(alice).openMailbox('INBOX');
    const hits = await box.textCandidates('BODY', 'walrus');
    expect(hits === null ? null : [...hits].sort()).toEqual([1, 2, 3]);
    const fts = path.join(root, 'data', 'fts');
    expect(openUnder(fts).length).toBeGreaterThan(0);
    box.close();
    await store.close();
    expect(openUnder(fts)).toEqual([]);
  });

  it("are closed with an account's index when the account leaves the LRU of open indexes", async () => {
    const dir = tempDir();
    try {
      const store = await open(dir, false, 1);
      const fts = path.join(dir, 'data', 'fts');
      const searched = async (name: string): Promise<void> => {
        const acct = account(dir, name);
        await deliver(store, [acct], message(`note ${name}`, `the walrus of ${name}\n`));
        const box = await store.user(acct).openMailbox('INBOX');
        expect(await box.textCandidates('BODY', 'walrus')).toEqual(new Set([1]));
        box.close();
      };
      await searched('alice');
      const alices = openUnder(fts).filter((f) => f.includes('alice'));
      expect(alices.length).toBeGreaterThan(0);
      await searched('bob');
      // bob's index pushed alice's out (maxOpenIndexes 1): her FTS database went with it, bob's stays.
      expect(openUnder(fts).filter((f) => f.includes('alice'))).toEqual([]);
      expect(openUnder(fts).filter((f) => f.includes('bob')).length).toBeGreaterThan(0);
      await store.close();
      expect(openUnder(fts)).toEqual([]);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it('are closed when the node stops after an IMAP SEARCH BODY', async () => {
    const n = await startImapNode();
    const fts = path.join(n.t.config.paths.dataDir, 'fts');
    let stopped = false;
    try {
      await n.deliver([imapMessage(1, { body: 'the walrus said' }), imapMessage(2)]);
      const c = await login(n.port, n.user, n.pass);
      expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/OK/);
      const r = await c.cmd('SEARCH BODY walrus');
      expect(r.untagged).toContain('* SEARCH 1');
      expect(openUnder(fts).length).toBeGreaterThan(0);
      await c.cmd('LOGOUT');
      await n.t.stop({ keep: true });
      stopped = true;
      expect(openUnder(fts)).toEqual([]);
    } finally {
      if (!stopped) await n.stop();
      fs.rmSync(n.t.dataDir, { recursive: true, force: true });
    }
  });
});
