/**
 * The SORT and THREAD columns of recently sorted mailboxes (sort-column-set.ts),
 * shared by every session of the process, kept in the index as an image
 * (sort-column-image.ts) so a restarted node has them at once.
 *
 * A message's keys never change under its (mailbox, UIDVALIDITY, UID) — they
 * are stored at delivery (store/mime/sort.ts sortKeys, the sort_keys rows) —
 * so a set, in memory or in the index, is never stale, only incomplete:
 * messages delivered since it was made are read from their rows and merged
 * into a new set; expunged ones are simply never looked up. A set is
 * immutable, so a command works on one set from start to end while a later
 * command may already use a newer one. The image is written again once a
 * set has grown by a step (saveStep), so after a restart at most that many
 * rows are read.
 *
 * Building is work for the mailbox, not for one command: it runs in slices
 * under a budget of its own, so one client's NO [LIMIT] cannot leave a
 * half-built set for the others, and it is charged to the command that
 * triggered it afterwards. Memory is bounded by bytes
 * (LIMITS.imap.sortColumnBytes); a set still being built is never dropped.
 */
import { LIMITS } from '../../limits.js';
import type { MailboxHandle } from '../../store/store.js';
import type { MessageRecord } from '../../store/types.js';
import { WorkBudget } from '../../work/budget.js';
import { decodeColumns, encodeColumns } from './sort-column-image.js';
import { merge, rowOf, type ColumnSet, type Row } from './sort-column-set.js';

export type { ColumnSet, Rank, ThreadIds } from './sort-column-set.js';

/** Messages whose keys are read from the index in one query. */
const PAGE = 1024;

/** Messages a set may grow by before its image is written again: a page, or 1/32 of the set. */
export const saveStep = (n: number): number => Math.max(PAGE, n >> 5);

/** Column values of `recs` (ascending) from the index; those expunged meanwhile are left out. */
async function readRows(handle: MailboxHandle, recs: readonly MessageRecord[], work: WorkBudget, withKeys: boolean): Promise<Row[]> {
  if (!withKeys) return recs.map((rec) => rowOf(rec, null));
  const out: Row[] = [];
  for (let i = 0; i < recs.length; i += PAGE) {
    const batch = recs.slice(i, i + PAGE);
    const stored = await handle.sortKeys(batch.map((r) => r.uid));
    for (const rec of batch) {
      let keys = stored.get(rec.uid);
      // No structure stored yet: parsed from the file (and stored with its keys).
      if (!keys) {
        const tree = await handle.structure(rec.uid).catch((err: unknown) => {
          if ((err as { code?: string }).code === 'NOTFOUND') return null;
          throw err;
        });
        if (!tree) continue;
        keys = tree.sort;
      }
      out.push(rowOf(rec, keys));
    }
    await work.step(batch.length);
  }
  return out;
}

interface Entry {
  set: ColumnSet | null;
  /** The build under way (builds of one mailbox run one after another). */
  busy: Promise<unknown>;
  /** Builds started and not finished: while any is, the entry is not dropped. */
  building: number;
  /** Slots of the set last written to (or read from) the index; 0: none. */
  saved: number;
  /**
   * The message list (a snapshot's frozen array) the set was last found to
   * hold all of. Weak: it is compared by identity only, and a strong hold
   * kept every message record of a mailbox nobody had open any more (30 MB
   * at 100,000 messages) until the set was evicted — after a reindex, a
   * second copy beside the rebuilt cache (bench/reindex-memory.js).
   */
  covered: WeakRef<readonly MessageRecord[]> | null;
}

/** What the cache did, for tests and the bench: rows read from the index, images read and written. */
export interface ColumnStats {
  rowsRead: number;
  imagesLoaded: number;
  imagesSaved: number;
}

/**
 * Column sets of recently sorted mailboxes, least recently used first,
 * holding at most `maxBytes` in all (the set in use, and any being built,
 * are kept even past it).
 */
export class SortColumnCache {
  private readonly boxes = new Map<string, Entry>();
  /** Mailboxes with a follow() merge pending. */
  private readonly following = new Set<string>();
  /** Mailboxes with a background build under way. */
  private readonly inBackground = new Set<string>();
  readonly stats: ColumnStats = { rowsRead: 0, imagesLoaded: 0, imagesSaved: 0 };

  constructor(private readonly maxBytes: number = LIMITS.imap.sortColumnBytes) {}

  /** Forget every set in memory (as a restart does): the next SORT of each mailbox reads its image. */
  clear(): void {
    this.boxes.clear();
  }

  /** Bytes held by all kept sets. */
  get bytes(): number {
    let n = 0;
    for (const e of this.boxes.values()) n += e.set?.bytes ?? 0;
    return n;
  }

  /** Mailboxes with an entry (a set, or one being built). */
  get size(): number {
    return this.boxes.size;
  }

  /**
   * The column set of a mailbox holding every message of `recs` (ascending;
   * the mailbox's current messages) that still exists, with the stored keys
   * when `withKeys` (else perhaps without: ARRIVAL and SIZE need none).
   * `accountId` '': the owner is unknown, so the set is built for this
   * command alone.
   */
  async columns(
    accountId: string,
    handle: MailboxHandle,
    recs: readonly MessageRecord[],
    budget: WorkBudget,
    withKeys = true,
  ): Promise<ColumnSet> {
    if (accountId === '') return (await this.extend(null, handle, recs, budget, withKeys, false)).set;
    // ARRIVAL and SIZE need no key: rather than wait behind a background build (whose set would then make this
    // command read every key row left), a set from the records for this command alone.
    if (!withKeys && this.inBackground.has(this.keyOf(accountId, handle))) return (await this.extend(null, handle, recs, budget, false, false)).set;
    return (await this.turn(accountId, handle, recs, budget, withKeys)).set;
  }

  /**
   * Build a mailbox's set with keys (and its image) ahead of the first SORT
   * or THREAD: for a mailbox never sorted, or mail imported or delivered
   * since, whose key rows (or, with none stored, files) would otherwise be
   * read by that command. Runs in turns on the mailbox's queue, each merging
   * the next `chunk` missing messages — or as many as the set already holds,
   * so the merges cost about twice one build — then writing the image, so
   * a node killed meanwhile goes on from the last image. A SORT that arrives
   * meanwhile waits for the turn under way only, then merges the rest
   * itself; the next turn then finds nothing missing. Every turn is sliced
   * and yields (readRows, merge). Resolves when the set holds every message
   * of the mailbox's snapshot, or after a failure (it only saves later work).
   */
  async background(accountId: string, handle: MailboxHandle, chunk: number = LIMITS.tuning.sortBuildChunk): Promise<void> {
    if (accountId === '') return;
    const key = this.keyOf(accountId, handle);
    // One background build per mailbox at a time: a second SELECT meanwhile adds nothing.
    if (this.inBackground.has(key)) return;
    this.inBackground.add(key);
    try {
      // As selectMessages: the columns hold exact INTERNALDATE and RFC822.SIZE only (store/facts.ts).
      await handle.ensureFacts();
      const recs = handle.snapshot().messages;
      // Each turn reads at least `chunk` messages, so this many turns cover the mailbox; one more finds it complete.
      const turns = Math.ceil(recs.length / Math.max(1, chunk)) + 1;
      for (let t = 0; t < turns; t++) {
        const size = Math.max(chunk, this.boxes.get(key)?.set?.n ?? 0);
        const r = await this.turn(accountId, handle, recs, new WorkBudget(Number.POSITIVE_INFINITY), true, size);
        if (r.rest === 0) return;
      }
    } catch {
      // The mailbox was deleted or its index closed meanwhile: the next SORT builds what it needs.
    } finally {
      this.inBackground.delete(key);
    }
  }

  /**
   * Mail arrived in a mailbox a session has selected: its keys (stored at
   * delivery, the sort_keys rows) are merged into the set by a background
   * build `delayMs` later, once for a burst of deliveries, so the next SORT
   * or THREAD does not pay for the merge.
   */
  follow(accountId: string, handle: MailboxHandle, delayMs: number = LIMITS.tuning.sortFollowMs): void {
    if (accountId === '') return;
    const key = this.keyOf(accountId, handle);
    if (this.following.has(key)) return;
    this.following.add(key);
    const timer = setTimeout(() => {
      this.following.delete(key);
      // A build under way works from its own snapshot: come back once it is done.
      if (this.inBackground.has(key)) this.follow(accountId, handle, delayMs);
      else void this.background(accountId, handle);
    }, delayMs);
    // A pending merge never keeps the process alive.
    timer.unref();
  }

  private keyOf(accountId: string, handle: MailboxHandle): string {
    return `${accountId}\0${handle.name}\0${handle.uidvalidity}`;
  }

  /**
   * One turn on a mailbox's queue: its set extended by the messages of
   * `recs` it lacks (at most `maxRows` of them: a background turn, whose
   * image is then always written), the image written when the set grew.
   */
  private turn(
    accountId: string,
    handle: MailboxHandle,
    recs: readonly MessageRecord[],
    budget: WorkBudget,
    withKeys: boolean,
    maxRows = Number.POSITIVE_INFINITY,
  ): Promise<{ set: ColumnSet; rest: number }> {
    const key = this.keyOf(accountId, handle);
    let e = this.boxes.get(key);
    if (e) this.boxes.delete(key);
    else e = { set: null, busy: Promise.resolve(), building: 0, saved: 0, covered: null };
    this.boxes.set(key, e);
    const entry = e;
    entry.building++;
    const partial = maxRows !== Number.POSITIVE_INFINITY;
    const run = entry.busy.catch(() => undefined).then(async () => {
      try {
        // Nothing changed since the last SORT (the same frozen snapshot): no walk over the messages.
        if (entry.set !== null && entry.covered?.deref() === recs && (entry.set.hasKeys || !withKeys)) {
          budget.charge(recs.length);
          return { set: entry.set, rest: 0 };
        }
        const { set, loaded, complete, rest } = await this.extend(entry.set, handle, recs, budget, withKeys, true, maxRows);
        entry.covered = complete ? new WeakRef(recs) : null;
        if (loaded !== 0) entry.saved = loaded;
        if (set !== entry.set && set.hasKeys && (partial || entry.saved === 0 || set.n - entry.saved >= saveStep(set.n))) {
          // The image only saves work later: a failure to write it (disk full, index busy) leaves the answer alone.
          const saved = await handle.saveSortColumns(encodeColumns(set)).then(() => true, () => false);
          if (saved) {
            this.stats.imagesSaved++;
            entry.saved = set.n;
          }
        }
        entry.set = set;
        return { set, rest };
      } finally {
        entry.building--;
        this.evict(entry);
      }
    });
    entry.busy = run;
    return run;
  }

  /**
   * `old` with the messages of `recs` it lacks merged in (`old` itself when
   * it lacks none); with no set in memory, the image the index keeps is the
   * start (`loaded`: its slots, 0 when none was read).
   */
  private async extend(
    old: ColumnSet | null,
    handle: MailboxHandle,
    recs: readonly MessageRecord[],
    budget: WorkBudget,
    withKeys: boolean,
    useImage: boolean,
    maxRows = Number.POSITIVE_INFINITY,
  ): Promise<{ set: ColumnSet; loaded: number; complete: boolean; rest: number }> {
    // Keys wanted and not read yet: a set with keys from the start. Keys once read are kept.
    if (old !== null && withKeys && !old.hasKeys) old = null;
    let loaded = 0;
    if (old === null && withKeys && useImage) {
      const image = await handle.sortColumns();
      old = image === null ? null : decodeColumns(image);
      if (old !== null) {
        this.stats.imagesLoaded++;
        loaded = old.n;
        budget.charge(old.n);
      }
    }
    // Mostly expunged since it was made: start again rather than carry the dead slots.
    if (old !== null && old.n > 2 * recs.length + PAGE) {
      old = null;
      loaded = 0;
    }
    const keys = withKeys || (old?.hasKeys ?? false);
    const missing: MessageRecord[] = [];
    if (old === null) missing.push(...recs);
    else {
      const at = old.slots(recs.map((r) => r.uid));
      for (let i = 0; i < recs.length; i++) if (at[i] === -1) missing.push(recs[i]!);
    }
    budget.charge(recs.length);
    if (old !== null && missing.length === 0) return { set: old, loaded, complete: true, rest: 0 };
    // A background turn reads the lowest missing UIDs only; the rest is left for the next turn.
    const rest = Math.max(0, missing.length - maxRows);
    if (rest > 0) missing.length = maxRows;
    const rows = await readRows(handle, missing, new WorkBudget(Number.POSITIVE_INFINITY), keys);
    if (keys) this.stats.rowsRead += missing.length;
    budget.charge(missing.length * (keys ? 16 : 1));
    return { set: await merge(old, rows, keys), loaded, complete: rest === 0 && rows.length === missing.length, rest };
  }

  private evict(keep: Entry): void {
    let total = this.bytes;
    for (const [key, e] of this.boxes) {
      if (total <= this.maxBytes) break;
      if (e === keep || e.building > 0) continue;
      total -= e.set?.bytes ?? 0;
      this.boxes.delete(key);
    }
  }
}

/** The process's cache. */
export const sortColumns = new SortColumnCache();
