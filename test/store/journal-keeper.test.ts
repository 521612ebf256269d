/**
 * The bounded journal (replication.journal_max_bytes, src/store/journal/keeper.ts):
 * pruning keeps the journal near its bound, never drops records an account's
 * index still needs for crash replay, respects pins (a snapshot's stream
 * start), and leaves QRESYNC's expunge history complete, if coarser.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openStore } from '../../src/store/open.js';
import type { StoreImpl } from '../../src/store/store-impl.js';
import { LIMITS } from '../../src/limits.js';
import { account, deliver, message, tempDir } from './helpers.js';

const MAX = 64 * 1024;
const roots: string[] = [];
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

async function openBounded(root: string, journalMaxBytes?: number): Promise<StoreImpl> {
  return (await openStore({ dataDir: path.join(root, 'data'), mailDir: path.join(root, 'mail'), hostname: 'test.host', journalMaxBytes, log: () => undefined })) as StoreImpl;
}

async function deliverN(store: StoreImpl, to: ReturnType<typeof account>, n: number): Promise<void> {
  for (let i = 0; i < n; i += 10) await Promise.all(Array.from({ length: Math.min(10, n - i) }, (_v, k) => deliver(store, [to], message(`m${i + k}`, `body ${i + k}\n`))));
}

describe('journal keeper', () => {
  it('prunes past the bound, keeps the head, and QRESYNC history stays complete', async () => {
    const root = tempDir();
    roots.push(root);
    const store = await openBounded(root, MAX);
    const alice = account(root, 'alice');
    const box0 = await store.user(alice).openMailbox('INBOX');
    const modseq0 = box0.snapshot().highestModseq;
    box0.close();
    await deliverN(store, alice, 40);
    const box = await store.user(alice).openMailbox('INBOX');
    await box.storeFlags([3, 4, 5], 'add', ['\\Deleted']);
    expect(await box.expunge()).toEqual([3, 4, 5]);
    await deliverN(store, alice, 400);
    await store.keeper!.check();
    const s = store.keeper!.status();
    expect(s.pruned).toBeGreaterThan(0);
    expect(s.firstLsn).toBeGreaterThan(100n);
    expect(s.usedBytes).toBeLessThanOrEqual(MAX);
    expect(s.lastLsn).toBe(store.lastLsn());
    // The expunge of 3:5 is gone from the journal; the answer still names it, and no live UID.
    const gone = box.expungedSince(modseq0);
    expect(gone).toEqual([[3, 5]]);
    // A modseq after the pruned history is answered from the journal as before.
    const m1 = box.snapshot().highestModseq;
    await box.storeFlags([10], 'add', ['\\Deleted']);
    await box.expunge();
    expect(box.expungedSince(m1)).toEqual([[10, 10]]);
    box.close();
    await store.close();

    // A restart after pruning: every message is there with its UID.
    const again = await openBounded(root, MAX);
    const b2 = await again.user(alice).openMailbox('INBOX');
    const uids = b2.snapshot().messages.map((m) => m.uid);
    expect(uids.length).toBe(440 - 4);
    expect(uids.slice(0, 5)).toEqual([1, 2, 6, 7, 8]);
    const bodies = new Set<string>();
    for (const uid of uids) bodies.add(/body (\d+)/.exec((await b2.readMessage(uid)).toString())![1]!);
    // 40 + 400 deliveries numbered 0..39 and 0..399; three of the first 40 and one later one expunged.
    expect(bodies.size).toBe(400);
    b2.close();
    await again.close();
  });

  it('never prunes what a pinned snapshot stream or a stale index still needs', async () => {
    const root = tempDir();
    roots.push(root);
    const bob = account(root, 'bob');
    // Written without a bound; then bob's index is lost (a crash that left it behind the journal).
    const first = await openBounded(root);
    await deliverN(first, bob, 300);
    const lastBefore = first.lastLsn();
    await first.close();
    for (const n of fs.readdirSync(path.join(root, 'data', 'index'))) fs.rmSync(path.join(root, 'data', 'index', n));

    const store = await openBounded(root, MAX);
    const unpin = store.keeper!.pin(50n);
    await store.keeper!.check();
    // The pin holds everything above LSN 50; the lost index was rebuilt from the journal first.
    expect(store.keeper!.status().firstLsn).toBeLessThanOrEqual(51n);
    expect(store.keeper!.status().firstLsn).toBeGreaterThan(1n);
    unpin();
    await store.keeper!.check();
    expect(store.keeper!.status().firstLsn).toBeGreaterThan(51n);
    expect(store.lastLsn()).toBe(lastBefore);
    const box = await store.user(bob).openMailbox('INBOX');
    const msgs = box.snapshot().messages;
    expect(msgs.map((m) => m.uid)).toEqual(Array.from({ length: 300 }, (_v, i) => i + 1));
    box.close();
    // New records continue after the head, not after what is left.
    await deliverN(store, bob, 1);
    expect(store.lastLsn()).toBe(lastBefore + 1n);
    await store.close();
  });
});

describe('bodies kept for shipping', () => {
  it('are kept only while someone ships, within LIMITS.replication.shipCacheBytes, and never above shipCacheMaxMessage', async () => {
    const root = tempDir();
    roots.push(root);
    const store = await openBounded(root);
    const carol = account(root, 'carol');
    const body = (n: number, size: number): Buffer => Buffer.concat([message(`big${n}`), Buffer.alloc(size - message(`big${n}`).length, 'x')]);
    // Nobody listens: nothing is kept.
    const [first] = await deliver(store, [carol], body(0, 1000));
    expect(store.takeRecentBody(first!.lsn)).toBeUndefined();

    const off = store.onCommit(() => undefined);
    const max = LIMITS.replication.shipCacheMaxMessage;
    const [atMax] = await deliver(store, [carol], body(1, max));
    const [overMax] = await deliver(store, [carol], body(2, max + 1));
    expect(store.takeRecentBody(atMax!.lsn)?.length).toBe(max);
    expect(store.takeRecentBody(atMax!.lsn)).toBeUndefined(); // once
    expect(store.takeRecentBody(overMax!.lsn)).toBeUndefined();

    // More than the bound: the oldest go first, the newest stay, and what is kept is the stored bytes.
    const n = Math.ceil(LIMITS.replication.shipCacheBytes / max) + 4;
    const saved = [];
    for (let i = 0; i < n; i++) saved.push((await deliver(store, [carol], body(10 + i, max)))[0]!);
    expect(store.takeRecentBody(saved[0]!.lsn)).toBeUndefined();
    const last = saved[saved.length - 1]!;
    const kept = store.takeRecentBody(last.lsn)!;
    const box = await store.user(carol).openMailbox('INBOX');
    expect(kept.equals(await box.readMessage(last.uid))).toBe(true);
    box.close();
    off();
    await store.close();
  });
});
