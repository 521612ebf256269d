/**
 * The shared SORT/THREAD columns (src/imap/search/sort-columns.ts) over a
 * real store: the LIMITS.imap.sortColumnBytes-style bound at N and N+1
 * bytes (here a cache built with a bound of two mailboxes' exact size), a
 * set still being built is never dropped, a set reused while nothing
 * changed and extended (not rebuilt) when a message arrives, and the image
 * kept in the index (sort-column-image.ts) gives back the same set — and
 * none at all when it is damaged.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startImapNode, message, type ImapTestNode } from './helpers/node.js';
import { LIMITS } from '../../src/limits.js';
import { SortColumnCache, sortColumns, type ColumnSet } from '../../src/imap/search/sort-columns.js';
import { login } from './helpers/client.js';
import { decodeColumns, encodeColumns } from '../../src/imap/search/sort-column-image.js';
import { STRING_KEYS } from '../../src/imap/search/sort-column-set.js';
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

/** Everything a SORT or THREAD reads from a set, as plain values. */
async function contents(set: ColumnSet) {
  const ranks: Record<string, number[]> = {};
  for (const k of [...STRING_KEYS, 'ARRIVAL', 'DATE', 'SIZE'] as const) {
    const r = await set.rank(k);
    ranks[k] = [...r.rank, r.distinct];
  }
  const ids = set.threadIds();
  return {
    uids: [...set.uids],
    isReply: [...set.isReply],
    emptySubject: set.emptySubject,
    ranks,
    ids: { own: [...ids.own], refStart: [...ids.refStart], refs: [...ids.refs], distinct: ids.distinct },
    dicts: set.dictionaries(),
  };
}

describe('sort columns', () => {
  it('the default bound is a byte count in src/limits.ts', () => {
    expect(LIMITS.imap.sortColumnBytes).toBe(256 * 1024 * 1024);
  });

  it('keeps two mailboxes while their bytes fit the bound exactly (N), drops the older at one byte less (N + 1 over it)', async () => {
    // The first builds write the images; every cache below then starts from them (same sets, same sizes).
    await columns(new SortColumnCache(), a);
    await columns(new SortColumnCache(), b);
    const sizing = new SortColumnCache();
    const bytes = (await columns(sizing, a)).bytes + (await columns(sizing, b)).bytes;
    expect(sizing.bytes).toBe(bytes);
    const fits = new SortColumnCache(bytes);
    await columns(fits, a);
    await columns(fits, b);
    expect(fits.size).toBe(2);
    expect(fits.bytes).toBe(bytes);
    const over = new SortColumnCache(bytes - 1);
    const first = await columns(over, a);
    const second = await columns(over, b);
    expect(over.size).toBe(1);
    expect(over.bytes).toBe(second.bytes);
    // The one kept is the one sorted last: ColB's set is reused, ColA's is made again (from its image).
    expect(await columns(over, b)).toBe(second);
    expect(await columns(over, a)).not.toBe(first);
  });

  it('never drops a set still being built, even past the bound', async () => {
    let open!: () => void;
    const gate = new Promise<void>((r) => (open = r));
    let reads = 0;
    // The real handle; its key reads wait until the test opens the gate, so ColA is mid-build for certain.
    const slow = new Proxy(a, {
      get(target, prop, receiver) {
        if (prop === 'sortKeys' || prop === 'sortColumns') {
          return async (...args: unknown[]) => {
            reads++;
            await gate;
            return (Reflect.get(target, prop, receiver) as (...x: unknown[]) => unknown).apply(target, args);
          };
        }
        const v = Reflect.get(target, prop, receiver) as unknown;
        return typeof v === 'function' ? (v as (...x: unknown[]) => unknown).bind(target) : v;
      },
    }) as MailboxHandle;
    const cache = new SortColumnCache(1);
    const building = cache.columns(n.account.id, slow, a.snapshot().messages, new WorkBudget());
    // ColB is built and its own eviction runs while ColA's build waits: ColA's entry must stay.
    await columns(cache, b);
    expect(reads).toBeGreaterThan(0);
    expect(cache.size).toBe(2);
    open();
    const set = await building;
    // Once built it is the set in use and kept; the other goes (bound 1 byte).
    expect(cache.size).toBe(1);
    expect(await cache.columns(n.account.id, slow, a.snapshot().messages, new WorkBudget())).toBe(set);
  });

  it('reuses a set while nothing changed and extends it when a message arrives', async () => {
    const cache = new SortColumnCache();
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
    expect(Array.from((await first.rank('SUBJECT')).rank)).toEqual([2, 1, 0]);
  });

  it('builds a set for ARRIVAL/SIZE from the records alone, and one with keys when a key is needed', async () => {
    const cache = new SortColumnCache();
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

  it('a new cache (a restarted process) takes the set from the image without reading a key row', async () => {
    const built = await columns(new SortColumnCache(), b);
    const cache = new SortColumnCache();
    const loaded = await columns(cache, b);
    expect(cache.stats).toEqual({ rowsRead: 0, imagesLoaded: 1, imagesSaved: 0 });
    expect(await contents(loaded)).toEqual(await contents(built));
  });

  it('an image gives back the set it was made from; a damaged or cut-short one gives none', async () => {
    await n.deliver([message(20, { subject: 'Re: [x] Grüße', headers: 'Message-ID: <g1@x.example>\r\nReferences: <a@x> <b@x>\r\n' })], { mailbox: 'ColB' });
    await n.deliver([message(21, { subject: '', headers: 'In-Reply-To: <g1@x.example>\r\n' })], { mailbox: 'ColB' });
    const set = await columns(new SortColumnCache(), b);
    const image = encodeColumns(set);
    const back = decodeColumns(image)!;
    expect(await contents(back)).toEqual(await contents(set));
    expect(back.emptySubject).toBe(0);
    expect(decodeColumns(image.subarray(0, image.length - 1))).toBeNull();
    const bad = Buffer.from(image);
    // The first SUBJECT code (after the header and four float64 columns) pointing past its dictionary.
    bad.writeInt32LE(1_000_000, 112 + 4 * 8 * set.n);
    expect(decodeColumns(bad)).toBeNull();
    expect(decodeColumns(Buffer.alloc(8))).toBeNull();
  });
});

describe('background build of the columns (SortColumnCache.background, LIMITS.tuning.sortBuildChunk)', () => {
  /** A new mailbox of `count` messages with distinct subjects, opened read-only. */
  async function mailboxOf(name: string, count: number): Promise<MailboxHandle> {
    const user = n.t.ctx.store.user(n.account);
    await user.createMailbox(name);
    for (let i = 0; i < count; i++) await n.deliver([message(i, { subject: `${name} ${count - i}` })], { mailbox: name });
    return user.openMailbox(name, { readOnly: true });
  }

  /**
   * `body` on mailboxOf(name, count) while a background build of its columns,
   * two rows a turn, has done its first turn (and no more); the mailbox is closed after.
   */
  async function duringBuild(name: string, count: number, body: (h: MailboxHandle, cache: SortColumnCache, bg: Promise<void>) => Promise<void>): Promise<void> {
    const h = await mailboxOf(name, count);
    try {
      const cache = new SortColumnCache();
      const bg = cache.background(n.account.id, h, 2);
      // Until the first turn has read its rows (a turn this small never yields to the event loop: microtasks, bounded).
      for (let i = 0; i < 100_000 && cache.stats.rowsRead === 0; i++) await Promise.resolve();
      expect(cache.stats.rowsRead).toBe(2);
      await body(h, cache, bg);
    } finally {
      await h.close();
    }
  }

  it('the default first turn is a tuning value in src/limits.ts', () => {
    expect(LIMITS.tuning.sortBuildChunk).toBeGreaterThan(0);
  });

  it('N messages with a first turn of N: one turn, one image; N + 1: a second turn for the last message, a second image', async () => {
    const N = 3;
    const exact = await mailboxOf('BgN', N);
    const over = await mailboxOf('BgN1', N + 1);
    try {
      const one = new SortColumnCache();
      await one.background(n.account.id, exact, N);
      expect(one.stats).toEqual({ rowsRead: N, imagesLoaded: 0, imagesSaved: 1 });
      const two = new SortColumnCache();
      await two.background(n.account.id, over, N);
      expect(two.stats).toEqual({ rowsRead: N + 1, imagesLoaded: 0, imagesSaved: 2 });
      // The SORT that comes next reads nothing: the set is complete, and equals one built by a SORT alone.
      const set = await columns(two, over);
      expect(two.stats.rowsRead).toBe(N + 1);
      expect(await contents(set)).toEqual(await contents(await cache0(over)));
    } finally {
      await exact.close();
      await over.close();
    }
  });

  it('a restarted process goes on from the last image: only the messages it lacks are read', async () => {
    const h = await mailboxOf('BgResume', 4);
    try {
      await new SortColumnCache().background(n.account.id, h, 2);
      await n.deliver([message(50, { subject: 'late' }), message(51, { subject: 'later' })], { mailbox: 'BgResume' });
      const again = new SortColumnCache();
      await again.background(n.account.id, h, 2);
      expect(again.stats).toEqual({ rowsRead: 2, imagesLoaded: 1, imagesSaved: 1 });
      expect((await columns(again, h)).n).toBe(6);
    } finally {
      await h.close();
    }
  });

  it('a SORT arriving during the build waits for one turn, then merges the rest itself; no key row is read twice', async () => {
    await duringBuild('BgRace', 7, async (h, cache, bg) => {
      const set = await columns(cache, h);
      await bg;
      expect(set.n).toBe(7);
      expect(cache.stats.rowsRead).toBe(7);
      expect(await contents(set)).toEqual(await contents(await cache0(h)));
    });
  });

  it('a SORT on ARRIVAL or SIZE during the build does not wait for it: a set from the records, no key row read', async () => {
    await duringBuild('BgArrival', 7, async (h, cache, bg) => {
      const bare = await cache.columns(n.account.id, h, h.snapshot().messages, new WorkBudget(), false);
      expect(bare.hasKeys).toBe(false);
      expect(bare.n).toBe(7);
      await bg;
      expect(cache.stats.rowsRead).toBe(7);
    });
  });
});

describe('the process cache follows SELECT and delivery (select.ts)', () => {
  /** Until the process cache has read `n` key rows in all (bounded: 60 s). */
  async function rowsReadReach(n: number): Promise<void> {
    const deadline = Date.now() + 60_000;
    while (sortColumns.stats.rowsRead < n && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    expect(sortColumns.stats.rowsRead).toBe(n);
  }

  it('SELECT builds the columns and mail delivered meanwhile is merged in the background: the next SORT reads no key row', async () => {
    const user = n.t.ctx.store.user(n.account);
    await user.createMailbox('Follow');
    for (let i = 0; i < 3; i++) await n.deliver([message(i, { subject: `f ${3 - i}` })], { mailbox: 'Follow' });
    const start = sortColumns.stats.rowsRead;
    const c = await login(n.port, n.user, n.pass);
    try {
      expect((await c.cmd('SELECT Follow')).tagged).toMatch(/ OK /);
      await rowsReadReach(start + 3);
      await n.deliver([message(7, { subject: 'f 0' })], { mailbox: 'Follow' });
      await n.deliver([message(8, { subject: 'f 00' })], { mailbox: 'Follow' });
      await rowsReadReach(start + 5);
      // The session learns of the two first (RFC 3501 §7.3.1 EXISTS), then sorts all five.
      expect((await c.cmd('NOOP')).untagged).toContain('* 5 EXISTS');
      const r = await c.cmd('SORT (SUBJECT) UTF-8 ALL');
      expect(r.tagged).toMatch(/ OK /);
      expect(r.untagged).toContain('* SORT 4 5 3 2 1');
      expect(sortColumns.stats.rowsRead).toBe(start + 5);
    } finally {
      c.close();
    }
  });
});

/** The set a SORT builds alone, from the key rows, in a cache of its own (no image). */
const cache0 = (h: MailboxHandle) => new SortColumnCache().columns('', h, h.snapshot().messages, new WorkBudget());
