/**
 * The shared SORT/THREAD columns (src/imap/search/sort-columns.ts) over a
 * real store: LIMITS.imap.sortColumnMessages-style bound at N and N+1
 * (here a cache built with a small bound), a set reused while nothing
 * changed, and extended (not rebuilt) when a message arrives.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImapNode, message, type ImapTestNode } from './helpers/node.js';
import { SortColumnCache } from '../../src/imap/search/sort-columns.js';
import { WorkBudget } from '../../src/work/budget.js';
import type { MailboxHandle } from '../../src/store/store.js';

let n: ImapTestNode;
let a: MailboxHandle;
let b: MailboxHandle;

beforeAll(async () => {
  n = await startImapNode();
  const user = n.t.ctx.store.user(n.account);
  await user.createMailbox('ColA');
  await user.createMailbox('ColB');
  for (let i = 0; i < 3; i++) await n.deliver([message(i, { subject: `a ${3 - i}` })], { mailbox: 'ColA' });
  for (let i = 0; i < 2; i++) await n.deliver([message(i, { subject: `b ${i}` })], { mailbox: 'ColB' });
  a = await user.openMailbox('ColA', { readOnly: true });
  b = await user.openMailbox('ColB', { readOnly: true });
});
afterAll(async () => {
  await a?.close();
  await b?.close();
  await n?.stop();
});

const columns = (cache: SortColumnCache, h: MailboxHandle) => cache.columns(n.account.id, h, h.snapshot().messages, new WorkBudget());

describe('sort columns', () => {
  it('keeps two mailboxes while their slots fit the bound exactly (N = 5)', async () => {
    const cache = new SortColumnCache(5);
    await columns(cache, a);
    await columns(cache, b);
    expect(cache.slots).toBe(5);
  });

  it('drops the least recently sorted mailbox one slot past the bound (N + 1: bound 4)', async () => {
    const cache = new SortColumnCache(4);
    await columns(cache, a);
    await columns(cache, b);
    expect(cache.slots).toBe(2);
  });

  it('reuses a set while nothing changed and extends it when a message arrives', async () => {
    const cache = new SortColumnCache(100);
    const first = await columns(cache, a);
    expect(await columns(cache, a)).toBe(first);
    const ranks = (await first.rank('SUBJECT')).rank;
    // Subjects "a 3", "a 2", "a 1" in UID order rank 2, 1, 0.
    expect(Array.from(ranks)).toEqual([2, 1, 0]);
    await n.deliver([message(9, { subject: 'a 0' })], { mailbox: 'ColA' });
    const next = await columns(cache, a);
    expect(next).not.toBe(first);
    expect(next.n).toBe(4);
    expect(Array.from((await next.rank('SUBJECT')).rank)).toEqual([3, 2, 1, 0]);
    // The old set, which a command may still hold, is unchanged.
    expect(first.n).toBe(3);
  });

  it('builds a set for ARRIVAL/SIZE from the records alone, and one with keys when a key is needed', async () => {
    const cache = new SortColumnCache(100);
    const bare = await cache.columns(n.account.id, b, b.snapshot().messages, new WorkBudget(), false);
    expect(bare.hasKeys).toBe(false);
    expect(() => bare.rank('SUBJECT')).toThrow();
    expect((await bare.rank('ARRIVAL')).rank.length).toBe(2);
    const keyed = await columns(cache, b);
    expect(keyed.hasKeys).toBe(true);
    expect(Array.from((await keyed.rank('SUBJECT')).rank)).toEqual([0, 1]);
    // Keys once read are kept for the next ARRIVAL sort.
    expect(await cache.columns(n.account.id, b, b.snapshot().messages, new WorkBudget(), false)).toBe(keyed);
  });
});
