/**
 * The full-text databases a search opened are closed with the store: no
 * descriptor of data_dir/fts stays open after close() (issue 17 §4).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { account, deliver, message, open, tempDir } from './helpers.js';

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
});
