/**
 * The list of a big mailbox that is not in memory (the first SELECT after a
 * restart) is read in slices (store/account.ts loadCache, issue 16 §4): the
 * event loop turns while it is read — from its packed copy or, with none,
 * from its rows — the list is the one a one-piece read gives, and a change
 * made in place meanwhile (facts read, which no modseq shows) is not lost
 * to a list read before it. A list dropped from memory to keep the cached
 * total bounded is packed in slices after it is dropped, not inside the
 * call that dropped it.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { PACK_MIN } from '../../src/store/account.js';
import { unpack } from '../../src/store/index/list-image.js';
import { internFlags } from '../../src/store/message-list.js';
import { everyStep, open, openedBigInbox, tempDir } from './helpers.js';
import type { Account } from '../../src/accounts/directory.js';

const FILES = PACK_MIN + 1000;
const root = tempDir('roost-load-sliced-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

type Listed = [number, number, string, string, string, string][];
const listOf = (msgs: readonly { uid: number; size: number; modseq: bigint; flags: readonly string[]; basename: string }[], disk: (uid: number) => string): Listed =>
  msgs.map((m) => [m.uid, m.size, m.modseq.toString(), m.flags.join(' '), m.basename, disk(m.uid)]);

/** A mailbox of FILES messages with every fact read, then a restart: the list only in the index. */
async function indexed(name: string): Promise<{ a: Account; listed: Listed }> {
  const { a, store, box, c } = await openedBigInbox(root, name, FILES, 'sliced', (i) => (i % 3 ? 'S' : ''));
  const listed = listOf(box.snapshot().messages, (uid) => c.get(uid)!.diskName);
  expect(listed.length).toBe(FILES);
  box.close();
  await store.close();
  return { a, listed };
}

describe('reading a big mailbox list at its first open in the process', () => {
  it('turns the event loop and gives the same list, from the packed copy and from the rows', async () => {
    const { a, listed } = await indexed('a');
    for (const from of ['packed', 'rows']) {
      const store = await open(root);
      const st = store.state(a);
      const user = store.user(a);
      await user.checkMailbox('INBOX');
      const mb = st.db().mailbox('INBOX')!;
      if (from === 'rows') st.db().dropSnapshot(mb.id);
      expect(st.db().snapshot(mb) !== null).toBe(from === 'packed');
      expect(st.caches.has(mb.id)).toBe(false);
      let turned = false;
      setImmediate(() => (turned = true));
      const box = await everyStep(() => user.openMailbox('INBOX'));
      expect(turned).toBe(true);
      const c = st.caches.get(mb.id)!;
      expect(listOf(box.snapshot().messages, (uid) => c.get(uid)!.diskName)).toEqual(listed);
      box.close();
      await store.close();
    }
  }, 300_000);

  it('does not keep a list read before a fact changed in place', async () => {
    const { a } = await indexed('b');
    const store = await open(root);
    const st = store.state(a);
    const user = store.user(a);
    await user.checkMailbox('INBOX');
    const mb = st.db().mailbox('INBOX')!;
    const box = await everyStep(async () => {
      // UID 1 provisional again, as if its fill batch had not run yet.
      st.db().db.prepare('UPDATE messages SET lazy = 1 WHERE mailbox = ? AND uid = 1').run(mb.id);
      const opening = user.openMailbox('INBOX');
      const loads = (st as unknown as { loads: Map<number, unknown> }).loads;
      for (let i = 0; i < 10_000 && !loads.has(mb.id); i++) await new Promise((r) => setImmediate(r));
      // Between two slices of the read: the batch's facts for UID 1 (in place, under the same modseq).
      expect(loads.has(mb.id)).toBe(true);
      st.setFacts(mb, [[1, 7, 7, 1_000]]);
      return opening;
    });
    expect(box.snapshot().messages[0]!.size).toBe(7);
    box.close();
    await store.close();
  }, 300_000);

  it('packs a list dropped from memory in slices, after the drop', async () => {
    const { a } = await indexed('c');
    const store = await open(root);
    const st = store.state(a);
    const box = await store.user(a).openMailbox('INBOX');
    const mb = st.db().mailbox('INBOX')!;
    const list = [...st.caches.get(mb.id)!.all()];
    box.close();
    // Let the last session's pack end, then make the list one the index has no copy of.
    for (let i = 0; i < 1000 && st.db().snapshot(mb) === null; i++) await new Promise((r) => setTimeout(r, 10));
    st.db().dropSnapshot(mb.id);
    st.caches.get(mb.id)!.dirty = true;
    const tuning = LIMITS.tuning as { cachedMessages: number };
    const was = tuning.cachedMessages;
    tuning.cachedMessages = FILES;
    try {
      await everyStep(async () => {
        // Another big mailbox's use puts the total past the bound: this one, closed, is dropped.
        store.usedCache(st, mb.id + 1000, FILES);
        expect(st.caches.has(mb.id)).toBe(false);
        expect(st.db().snapshot(mb)).toBeNull();
        for (let i = 0; i < 10_000 && st.db().snapshot(mb) === null; i++) await new Promise((r) => setImmediate(r));
      });
    } finally {
      tuning.cachedMessages = was;
    }
    const packed = st.db().snapshot(st.db().mailbox('INBOX')!);
    expect(packed).not.toBeNull();
    expect(unpack(packed!, internFlags)).toEqual(list);
    await store.close();
  }, 300_000);
});
