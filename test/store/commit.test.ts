import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import type { MailboxEvent } from '../../src/store/store.js';
import { account, deliver, message, open, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('group commit', () => {
  it('batches concurrent deliveries, keeps UIDs ascending in events and LSN order in the journal', async () => {
    const store = await open(root);
    const a = account(root, 'busy');
    await deliver(store, [a], message('warm'));
    const box = await store.user(a).openMailbox('INBOX');
    const appended: number[] = [];
    box.onChange((e: MailboxEvent) => {
      if (e.type === 'append') for (const m of e.messages) appended.push(m.uid);
    });
    const seenLsn: bigint[] = [];
    store.onJournal((recs) => {
      for (const r of recs) seenLsn.push(r.lsn);
    });
    const before = { ...store.committer.stats };
    const saved = (await Promise.all(Array.from({ length: 64 }, (_, i) => deliver(store, [a], message(`c${i}`))))).flat();
    const batches = store.committer.stats.batches - before.batches;
    expect(store.committer.stats.jobs - before.jobs).toBe(64);
    expect(batches).toBeLessThan(64);
    expect(appended).toEqual([...appended].sort((x, y) => x - y));
    expect(appended).toHaveLength(64);
    expect(new Set(saved.map((s) => s.uid)).size).toBe(64);
    expect(seenLsn).toEqual([...seenLsn].sort((x, y) => (x < y ? -1 : 1)));
    expect(box.snapshot().messages.map((m) => m.uid)).toEqual([1, ...appended]);
    // LSNs reported to callers are the journal's.
    const recs = await store.readJournal(0n, 1000);
    for (const s of saved) expect(recs.find((r) => r.lsn === s.lsn)).toMatchObject({ kind: 'deliver', data: { uid: s.uid } });
    box.close();
    await store.close();
  });

  it('keeps the number of open index databases bounded', async () => {
    const max = 4;
    expect(LIMITS.store.maxOpenIndexes).toBeGreaterThan(max);
    const store = await open(root, false, max);
    const held = await store.user(account(root, 'held')).openMailbox('INBOX');
    for (let i = 0; i < max + 6; i++) {
      await store.user(account(root, `u${i}`)).listMailboxes();
      expect(store.openIndexCount()).toBeLessThanOrEqual(max);
    }
    // An account with an open mailbox keeps its index and cache.
    expect(held.snapshot().messages).toEqual([]);
    held.close();
    // An evicted account reopens transparently.
    const first = await store.user(account(root, 'u0')).status('INBOX');
    expect(first.messages).toBe(0);
    await store.close();
  });
});
