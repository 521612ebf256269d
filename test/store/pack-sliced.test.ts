/**
 * The packed message list of a big mailbox is written in slices when its
 * last session leaves (store/account.ts packSliced, issue 16 §4): the event
 * loop turns while it is built (a timer set before it fires before it ends),
 * the copy stored equals the list, a restart's SELECT is answered from it
 * with the same messages, and a change while it is being built leaves no
 * stale copy behind (the list stays marked for packing).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { PACK_MIN } from '../../src/store/account.js';
import { unpack } from '../../src/store/index/list-image.js';
import { internFlags } from '../../src/store/message-list.js';
import { everyStep, open, openedBigInbox, tempDir } from './helpers.js';

const FILES = PACK_MIN + 1000;
const root = tempDir('roost-pack-sliced-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

/** Account `name` with a big INBOX, opened, the facts fill finished (nothing changes the list while a test packs it). */
const bigInbox = (name: string) => openedBigInbox(root, name, FILES, 'packed', (i) => (i % 2 ? 'S' : ''));

describe('packing a big list when its last session leaves', () => {
  it('lets the event loop turn, stores the list as it is, and a restart reads the same messages', async () => {
    const { a, store: first, st, box, mb, c } = await bigInbox('a');
    let store = first;
    const listed = box.snapshot().messages.map((m) => [m.uid, m.basename, m.flags.join(' ')]);
    expect(listed.length).toBe(FILES);
    box.close();
    c.dirty = true;
    let turned = false;
    setImmediate(() => (turned = true));
    await everyStep(() => st.packSliced(mb.id));
    expect(turned).toBe(true);
    expect(c.dirty).toBe(false);
    const packed = st.db().snapshot(st.db().mailbox('INBOX')!);
    expect(packed).not.toBeNull();
    expect(unpack(packed!, internFlags)).toEqual([...c.all()]);
    await store.close();

    store = await open(root);
    const again = await store.user(a).openMailbox('INBOX');
    expect(again.snapshot().messages.map((m) => [m.uid, m.basename, m.flags.join(' ')])).toEqual(listed);
    again.close();
    await store.close();
  }, 300_000);

  it('stores no stale copy when a fill batch changes facts while it is packed', async () => {
    const { store, st, box, mb, c } = await bigInbox('b');
    // UID 1 provisional again, as if its fill batch had not run yet.
    st.db().db.prepare('UPDATE messages SET lazy = 1 WHERE mailbox = ? AND uid = 1').run(mb.id);
    st.db().dropSnapshot(mb.id);
    c.dirty = true;
    await everyStep(async () => {
      const packing = st.packSliced(mb.id);
      // Between two slices of the pack (it is at its first pause now): the batch, which
      // changes facts in place under the same modseq and drops any packed copy.
      st.setFacts(mb, [[1, 7, 7, 1_000]]);
      await packing;
    });
    expect(st.db().snapshot(st.db().mailbox('INBOX')!)).toBeNull();
    expect(c.dirty).toBe(true);
    // Packed again later, it holds the facts read.
    await st.packSliced(mb.id);
    const packed = st.db().snapshot(st.db().mailbox('INBOX')!);
    expect(unpack(packed!, internFlags)[0]!.size).toBe(7);
    box.close();
    await store.close();
  }, 300_000);
});
