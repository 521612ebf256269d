/**
 * Store.onAccountJournal: one account's committed records only, in LSN
 * order, for watchers of many mailboxes (IMAP NOTIFY) that hold no
 * MailboxHandle; unsubscribing stops them.
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import type { JournalRecord } from '../../src/store/store.js';
import { account, deliver, message, open, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('onAccountJournal', () => {
  it("hands each listener its own account's records, in order, and nothing after unsubscribe", async () => {
    const store = await open(root);
    const a = account(root, 'watched');
    const b = account(root, 'other');
    await deliver(store, [a, b], message('warm'));
    const seen: JournalRecord[] = [];
    const stop = store.onAccountJournal(a.id, (recs) => seen.push(...recs));
    await store.user(a).createMailbox('Lists');
    await deliver(store, [a, b], message('both'));
    await deliver(store, [b], message('b only'));
    await store.user(a).setSubscribed('Lists', true);
    expect(seen.every((r) => r.accountId === a.id)).toBe(true);
    expect(seen.map((r) => r.kind)).toEqual(['mailbox-create', 'deliver', 'subscribe']);
    expect(seen.map((r) => r.lsn)).toEqual([...seen.map((r) => r.lsn)].sort((x, y) => (x < y ? -1 : 1)));
    stop();
    await deliver(store, [a], message('after'));
    expect(seen).toHaveLength(3);
    await store.close();
  });
});
