/**
 * MailboxView over a real store (temp dir): sequence sets, UID sets with `*`,
 * queued changes handed out only when allowed, EXISTS never shrinking, and
 * the map shared with the store's snapshot once nothing is held back.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { openSqliteDirectory } from '../../src/accounts/sqlite.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { MailboxView, SequenceError } from '../../src/imap/mailbox-view.js';
import { message } from './helpers/node.js';

let dir: string;
let store: Store;
let account: Account;

async function deliver(count: number, start: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const d = await store.createDraft();
    await d.write(Buffer.from(message(start + i)));
    await d.finish();
    await store.deliver([account], d, { sender: '' });
  }
}

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'roost-view-'));
  const directory = openSqliteDirectory(dir, path.join(dir, 'mail'));
  account = await directory.addUser({ address: 'v@example.org', password: 'pw' });
  await directory.close();
  store = await openStore({ dataDir: dir, mailDir: path.join(dir, 'mail'), hostname: 'test' });
  await deliver(5, 1);
});
afterAll(async () => {
  await store?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('MailboxView', () => {
  it('resolves sequence and UID sets', async () => {
    const h = await store.user(account).openMailbox('INBOX', { origin: 'v1' });
    const { view } = MailboxView.open(h, 'v1');
    expect(view.exists).toBe(5);
    expect(view.resolveSeqs([{ from: 2, to: 3 }, { from: '*', to: '*' }, { from: 3, to: 2 }])).toEqual([2, 3, 5]);
    expect(() => view.resolveSeqs([{ from: 1, to: 6 }])).toThrow(SequenceError);
    expect(view.resolveUids([{ from: 4, to: 100 }])).toEqual([4, 5]);
    expect(view.resolveUids([{ from: 100, to: '*' }])).toEqual([5]);
    view.close();
  });

  it('holds expunges back until allowed, never shrinks EXISTS, then shares the snapshot again', async () => {
    const user = store.user(account);
    const mine = await user.openMailbox('INBOX', { origin: 'v2' });
    const { view } = MailboxView.open(mine, 'v2');
    let woken = 0;
    view.onUpdate = () => woken++;
    const other = await user.openMailbox('INBOX', { origin: 'other' });
    await other.storeFlags([2], 'add', ['\\Deleted']);
    await other.expunge();
    await deliver(1, 10);
    expect(woken).toBeGreaterThanOrEqual(3);
    // During FETCH/STORE/SEARCH: EXISTS (growing) and flags may go, EXPUNGE may not.
    const held = view.flush({ allowExpunge: false });
    expect(held.filter((u) => u.kind === 'expunge')).toEqual([]);
    expect(held.find((u) => u.kind === 'exists')).toEqual({ kind: 'exists', count: 6 });
    expect(view.exists).toBe(6);
    expect(view.isExpunged(2)).toBe(true);
    expect(view.records([1, 2, 3]).missing).toEqual([2]);
    const later = view.flush({ allowExpunge: true });
    expect(later.filter((u) => u.kind === 'expunge').map((u) => (u.kind === 'expunge' ? u.seq : 0))).toEqual([2]);
    expect(view.exists).toBe(5);
    expect(view.uidAt(2)).toBe(3);
    // Nothing held back any more: the map is the store's own snapshot array.
    expect((view as unknown as { shared: unknown }).shared).toBe(mine.snapshot().messages);
    other.close();
    view.close();
  });

  it('ignores its own flag changes and reports others with modseq', async () => {
    const user = store.user(account);
    const mine = await user.openMailbox('INBOX', { origin: 'v3' });
    const { view } = MailboxView.open(mine, 'v3');
    await mine.storeFlags([1], 'add', ['\\Flagged']);
    expect(view.flush({ allowExpunge: true })).toEqual([]);
    const other = await user.openMailbox('INBOX', { origin: 'x' });
    await other.storeFlags([1], 'add', ['\\Answered']);
    const u = view.flush({ allowExpunge: true });
    expect(u).toHaveLength(1);
    const change = u[0]!.kind === 'flags' ? u[0]!.batches[0]![0]! : null;
    expect(change).toMatchObject({ uid: 1, flags: ['\\Answered', '\\Flagged'] });
    expect(change!.modseq > 0n).toBe(true);
    expect(view.flagSeq(1)).toBe(1);
    expect(view.modseq).toBe(change!.modseq);
    other.close();
    view.close();
  });

  it('learns keywords once (system flags never count), and finds records in a later snapshot', async () => {
    const user = store.user(account);
    const mine = await user.openMailbox('INBOX', { origin: 'v4' });
    const { view } = MailboxView.open(mine, 'v4');
    expect(view.learnKeywords(['\\Seen', '\\Flagged'])).toBe(false);
    expect(view.learnKeywords(['$B', '\\Seen'])).toBe(true);
    expect(view.learnKeywords(['$B'])).toBe(false);
    expect(view.learnKeywords(['$A', '$B'])).toBe(true);
    expect(view.announcedKeywords).toEqual(['$A', '$B']);
    await mine.storeFlags([3], 'add', ['$C']);
    const now = mine.snapshot();
    expect(view.recordOf(3, now)?.flags).toContain('$C');
    expect(view.recordOf(999, now)).toBeUndefined();
    view.close();
  });
});
