/**
 * The full-text index is kept current without a search asking: a store opened with indexText indexes a mailbox that received mail,
 * and one a session opened with no index rows, in the background once it is
 * quiet. The queue of waiting mailboxes is bounded (LIMITS.store.ftsMaxQueued:
 * N wait, the N+1st pushes out the oldest).
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { INLINE_MAX } from '../../src/store/fts/fulltext.js';
import { openStore } from '../../src/store/open.js';
import type { StoreImpl } from '../../src/store/store-impl.js';
import { TextIndexer } from '../../src/store/text-indexer.js';
import { account, deliver, message, tempDir, waitFor } from './helpers.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

async function openIndexing(root: string): Promise<StoreImpl> {
  return (await openStore({ dataDir: path.join(root, 'data'), mailDir: path.join(root, 'mail'), hostname: 'test.host', indexText: true })) as StoreImpl;
}

/** Rows in an account's full-text index (0 while the file does not exist yet). */
function indexedDocs(root: string, accountId: string): number {
  const file = path.join(root, 'data', 'fts', `${encodeURIComponent(accountId)}.sqlite`);
  if (!fs.existsSync(file)) return 0;
  const db = new Database(file, { readonly: true });
  try {
    return (db.prepare('SELECT count(*) AS c FROM docs').get() as { c: number }).c;
  } catch {
    return 0; // schema not created yet
  } finally {
    db.close();
  }
}

describe('background full-text indexing', () => {
  it('indexes delivered mail with no search, more than a search would index inline', { timeout: 120_000 }, async () => {
    const root = tempDir();
    roots.push(root);
    const store = await openIndexing(root);
    const alice = account(root, 'alice');
    const n = INLINE_MAX + 20;
    for (let i = 0; i < n; i++) await deliver(store, [alice], message(`m${i}`, i === 7 ? 'a quixotically rare line\n' : `ordinary text ${i}\n`));
    await waitFor(() => indexedDocs(root, alice.id) === n, 100_000);
    // The search finds the index complete: its one candidate is the one message with the word.
    const box = await store.user(alice).openMailbox('INBOX', { readOnly: true });
    const hits = await box.textCandidates('BODY', 'quixotically');
    expect(hits === null ? null : [...hits]).toEqual([8]);
    box.close();
    await store.close();
  });

  it('indexes a mailbox a session opens whose index file is gone (data_dir restored without fts/)', { timeout: 120_000 }, async () => {
    const root = tempDir();
    roots.push(root);
    const bob = account(root, 'bob');
    let store = await openIndexing(root);
    for (let i = 0; i < 30; i++) await deliver(store, [bob], message(`m${i}`, `walrus ${i}\n`));
    await waitFor(() => indexedDocs(root, bob.id) === 30, 100_000);
    await store.close();
    fs.rmSync(path.join(root, 'data', 'fts'), { recursive: true, force: true });
    store = await openIndexing(root);
    expect(indexedDocs(root, bob.id)).toBe(0);
    const box = await store.user(bob).openMailbox('INBOX', { readOnly: true });
    await waitFor(() => indexedDocs(root, bob.id) === 30, 100_000);
    box.close();
    await store.close();
  });

  it(`keeps at most ${LIMITS.store.ftsMaxQueued} mailboxes waiting: the one more pushes out the oldest`, { timeout: 60_000 }, async () => {
    const ran = new Set<string>();
    const ix = new TextIndexer(() => undefined);
    const N = LIMITS.store.ftsMaxQueued;
    let all!: () => void;
    const finished = new Promise<void>((r) => (all = r));
    const run = (key: string) => () => {
      ran.add(key);
      if (ran.size === N) all();
      return Promise.resolve();
    };
    for (let i = 0; i < N; i++) ix.note(`k${i}`, run(`k${i}`));
    expect(ix.queued).toBe(N);
    ix.note('one-more', run('one-more'));
    expect(ix.queued).toBe(N);
    await finished;
    expect(ran.has('k0')).toBe(false);
    expect(ran.has('k1')).toBe(true);
    expect(ran.has('one-more')).toBe(true);
    ix.stop();
    await ix.idle();
  });
});

describe('background full-text indexing of new mail only', () => {
  it('a delivery indexes the delivered message, not the rest of the mailbox; opening it indexes the rest', { timeout: 120_000 }, async () => {
    const root = tempDir();
    roots.push(root);
    const carol = account(root, 'carol');
    // Delivered with no background indexing: the index knows none of these 30.
    let store = (await openStore({ dataDir: path.join(root, 'data'), mailDir: path.join(root, 'mail'), hostname: 'test.host' })) as StoreImpl;
    for (let i = 0; i < 30; i++) await deliver(store, [carol], message(`old${i}`, `heron ${i}\n`));
    await store.close();
    store = await openIndexing(root);
    await deliver(store, [carol], message('new', 'a new heron\n'));
    await waitFor(() => indexedDocs(root, carol.id) > 0, 100_000);
    // Comparing the whole mailbox with the index would have indexed all 31 in one batch.
    expect(indexedDocs(root, carol.id)).toBe(1);
    const box = await store.user(carol).openMailbox('INBOX', { readOnly: true });
    await waitFor(() => indexedDocs(root, carol.id) === 31, 100_000);
    box.close();
    await store.close();
  });

  it(`remembers at most ${LIMITS.store.ftsMaxNotedUids} new UIDs per mailbox: one more compares the whole mailbox`, { timeout: 60_000 }, async () => {
    const got = new Map<string, readonly number[] | null>();
    const ix = new TextIndexer(() => undefined);
    const N = LIMITS.store.ftsMaxNotedUids;
    let all!: () => void;
    const finished = new Promise<void>((r) => (all = r));
    const run = (key: string) => (uids: readonly number[] | null) => {
      got.set(key, uids);
      if (got.size === 4) all();
      return Promise.resolve();
    };
    const uids = (from: number, n: number): number[] => Array.from({ length: n }, (_, i) => from + i);
    ix.note('at-limit', run('at-limit'), uids(1, N - 1));
    ix.note('at-limit', run('at-limit'), [N]);
    ix.note('past-limit', run('past-limit'), uids(1, N));
    ix.note('past-limit', run('past-limit'), [N + 1]);
    // Opened (null) after new mail: the whole mailbox, whatever came before or after.
    ix.note('opened', run('opened'), [1, 2]);
    ix.note('opened', run('opened'), null);
    ix.note('opened', run('opened'), [3]);
    ix.note('new-only', run('new-only'), [7, 9]);
    await finished;
    expect(got.get('at-limit')).toEqual(uids(1, N));
    expect(got.get('past-limit')).toBeNull();
    expect(got.get('opened')).toBeNull();
    expect(got.get('new-only')).toEqual([7, 9]);
    ix.stop();
    await ix.idle();
  });
});
