/**
 * SORT and THREAD keys of a mailbox as columns (one array per key, one slot
 * per message in UID order), shared by every session of the process.
 * Keys are stored case-mapped once — i;ascii-casemap for addresses and base
 * subjects (RFC 5256 §3), i;unicode-casemap for RFC 5957 display names — and
 * each key gets, the first time a SORT needs it, a rank per message (equal
 * keys, equal rank), so a SORT is a few counting-sort passes over integers
 * (sort.ts) instead of a comparison sort over strings.
 *
 * A message's keys never change under its (mailbox, UIDVALIDITY, UID), so a
 * column set is never stale, only incomplete: messages delivered since it
 * was built are read from the index and merged into a new set (ranks are
 * then computed again); expunged ones are simply never looked up. A set is
 * immutable once built, so a command works on one set from start to end
 * while a later command may already use a newer one.
 *
 * Building is work for the mailbox, not for one command: it runs in slices
 * (src/work/sort.ts) under a budget of its own, so one client's NO [LIMIT]
 * cannot leave a half-built set for the others, and it is charged to the
 * command that triggered it afterwards.
 */
import { LIMITS } from '../../limits.js';
import type { SortKeys } from '../../store/mime/types.js';
import type { MailboxHandle } from '../../store/store.js';
import type { MessageRecord } from '../../store/types.js';
import type { SortKey } from '../wire/types.js';
import { WorkBudget } from '../../work/budget.js';
import { sortInSlices } from '../../work/sort.js';
import { asciiCasemap, unicodeCasemap } from './casemap.js';

/** Messages whose keys are read from the index in one query. */
const PAGE = 1024;

/** The keys compared as strings (already case-mapped in the columns). */
type StringKey = 'SUBJECT' | 'FROM' | 'TO' | 'CC' | 'DISPLAYFROM' | 'DISPLAYTO';

/** Rank of every message of a set under one key: equal keys share a rank; `distinct` ranks in all. */
export interface Rank {
  readonly rank: Int32Array;
  readonly distinct: number;
}

/** Interned Message-IDs of a set (ColumnSet.threadIds). */
export interface ThreadIds {
  /** Each slot's Message-ID, -1 when it has none. */
  readonly own: Int32Array;
  /** Slot s's parent chain is refs[refStart[s]] … refs[refStart[s + 1] - 1], oldest first. */
  readonly refStart: Int32Array;
  readonly refs: Int32Array;
  readonly distinct: number;
}

/** One message's column values, before they are merged into a set. */
interface Row {
  uid: number;
  arrival: number;
  size: number;
  date: number;
  strings: Record<StringKey, string>;
  isReply: boolean;
  messageId: string;
  inReplyTo: string;
  references: readonly string[];
}

const STRING_KEYS: readonly StringKey[] = ['SUBJECT', 'FROM', 'TO', 'CC', 'DISPLAYFROM', 'DISPLAYTO'];

const NO_STRINGS: Readonly<Record<StringKey, string>> = Object.freeze({ SUBJECT: '', FROM: '', TO: '', CC: '', DISPLAYFROM: '', DISPLAYTO: '' });

/** Column values of one message from its stored keys and record; `k` null: the record's alone (ARRIVAL, SIZE). */
function rowOf(rec: MessageRecord, k: SortKeys | null): Row {
  if (k === null) {
    return { uid: rec.uid, arrival: rec.internalDate, size: rec.vsize, date: rec.internalDate, strings: NO_STRINGS, isReply: false, messageId: '', inReplyTo: '', references: [] };
  }
  return {
    uid: rec.uid,
    arrival: rec.internalDate,
    size: rec.vsize,
    // RFC 5256 §3 DATE: the sent date, INTERNALDATE when there is none.
    date: k.date ?? rec.internalDate,
    strings: {
      SUBJECT: asciiCasemap(k.subject),
      FROM: asciiCasemap(k.from),
      TO: asciiCasemap(k.to),
      CC: asciiCasemap(k.cc),
      DISPLAYFROM: unicodeCasemap(k.displayFrom),
      DISPLAYTO: unicodeCasemap(k.displayTo),
    },
    isReply: k.isReply,
    messageId: k.messageId,
    inReplyTo: k.inReplyTo,
    references: k.references,
  };
}

/** An immutable set of columns: slot i is the message with the i-th smallest UID the set knows. */
export class ColumnSet {
  readonly n: number;
  /**
   * Whether the stored keys were read: a set for ARRIVAL and SIZE only comes
   * from the message records, without a look at the index; the first SORT
   * on another key or THREAD builds a set with keys.
   */
  readonly hasKeys: boolean;
  readonly uids: Float64Array;
  readonly arrival: Float64Array;
  readonly size: Float64Array;
  readonly date: Float64Array;
  readonly strings: Readonly<Record<StringKey, readonly string[]>>;
  readonly isReply: Uint8Array;
  readonly messageId: readonly string[];
  readonly inReplyTo: readonly string[];
  readonly references: readonly (readonly string[])[];
  private readonly ranks = new Map<SortKey, Promise<Rank>>();
  private ids: ThreadIds | null = null;

  /** Merge `rows` (ascending UIDs, none already in `old`, keys read when `hasKeys`) into the slots of `old`. */
  constructor(old: ColumnSet | null, rows: readonly Row[], hasKeys: boolean) {
    const m = old ? old.n : 0;
    const n = m + rows.length;
    this.n = n;
    this.hasKeys = hasKeys;
    this.uids = new Float64Array(n);
    this.arrival = new Float64Array(n);
    this.size = new Float64Array(n);
    this.date = new Float64Array(n);
    this.isReply = new Uint8Array(n);
    const strings = Object.fromEntries(STRING_KEYS.map((k) => [k, new Array<string>(n)])) as Record<StringKey, string[]>;
    const messageId = new Array<string>(n);
    const inReplyTo = new Array<string>(n);
    const references = new Array<readonly string[]>(n);
    let i = 0;
    let j = 0;
    for (let s = 0; s < n; s++) {
      if (j >= rows.length || (old !== null && i < m && old.uids[i]! < rows[j]!.uid)) {
        const o = old!;
        this.uids[s] = o.uids[i]!;
        this.arrival[s] = o.arrival[i]!;
        this.size[s] = o.size[i]!;
        this.date[s] = o.date[i]!;
        this.isReply[s] = o.isReply[i]!;
        for (const k of STRING_KEYS) strings[k][s] = o.strings[k][i]!;
        messageId[s] = o.messageId[i]!;
        inReplyTo[s] = o.inReplyTo[i]!;
        references[s] = o.references[i]!;
        i++;
      } else {
        const r = rows[j++]!;
        this.uids[s] = r.uid;
        this.arrival[s] = r.arrival;
        this.size[s] = r.size;
        this.date[s] = r.date;
        this.isReply[s] = r.isReply ? 1 : 0;
        for (const k of STRING_KEYS) strings[k][s] = r.strings[k];
        messageId[s] = r.messageId;
        inReplyTo[s] = r.inReplyTo;
        references[s] = r.references;
      }
    }
    this.strings = strings;
    this.messageId = messageId;
    this.inReplyTo = inReplyTo;
    this.references = references;
  }

  /** Slot of each UID (ascending), -1 where the set has none. */
  slots(uids: ArrayLike<number>): Int32Array {
    const out = new Int32Array(uids.length);
    let s = 0;
    for (let i = 0; i < uids.length; i++) {
      const u = uids[i]!;
      while (s < this.n && this.uids[s]! < u) s++;
      out[i] = s < this.n && this.uids[s] === u ? s : -1;
    }
    return out;
  }

  /** Ranks under `key`, computed once per set (concurrent commands share the computation). */
  rank(key: SortKey): Promise<Rank> {
    if (!this.hasKeys && key !== 'ARRIVAL' && key !== 'SIZE') throw new Error(`sort columns without keys cannot rank ${key}`);
    let r = this.ranks.get(key);
    if (!r) {
      r = key === 'ARRIVAL' || key === 'DATE' || key === 'SIZE' ? this.numberRank(key) : this.stringRank(key);
      this.ranks.set(key, r);
    }
    return r;
  }

  /**
   * Message-IDs as numbers (RFC 5256 §4 step 1's id table), computed once per
   * set: each slot's own id and its parent chain (References, else
   * In-Reply-To), as numbers 0..distinct-1.
   */
  threadIds(): ThreadIds {
    if (!this.hasKeys) throw new Error('sort columns without keys have no thread ids');
    if (this.ids) return this.ids;
    const table = new Map<string, number>();
    const num = (id: string): number => {
      let x = table.get(id);
      if (x === undefined) table.set(id, (x = table.size));
      return x;
    };
    const own = new Int32Array(this.n);
    const refStart = new Int32Array(this.n + 1);
    const refs: number[] = [];
    for (let s = 0; s < this.n; s++) {
      own[s] = this.messageId[s] === '' ? -1 : num(this.messageId[s]!);
      refStart[s] = refs.length;
      const r = this.references[s]!;
      if (r.length > 0) for (const id of r) refs.push(num(id));
      else if (this.inReplyTo[s] !== '') refs.push(num(this.inReplyTo[s]!));
    }
    refStart[this.n] = refs.length;
    this.ids = { own, refStart, refs: Int32Array.from(refs), distinct: table.size };
    return this.ids;
  }

  private async numberRank(key: 'ARRIVAL' | 'DATE' | 'SIZE'): Promise<Rank> {
    const v = key === 'ARRIVAL' ? this.arrival : key === 'DATE' ? this.date : this.size;
    // A typed-array sort is numeric and native: one call of a few ms even at 100,000.
    const sorted = v.slice().sort();
    let distinct = 0;
    for (let i = 0; i < sorted.length; i++) if (i === 0 || sorted[i] !== sorted[distinct - 1]) sorted[distinct++] = sorted[i]!;
    const rank = new Int32Array(this.n);
    const work = new WorkBudget(Number.POSITIVE_INFINITY);
    for (let s = 0; s < this.n; s++) {
      const x = v[s]!;
      let lo = 0;
      let hi = distinct - 1;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (sorted[mid]! < x) lo = mid + 1;
        else hi = mid;
      }
      rank[s] = lo;
      if ((s & 4095) === 4095) await work.pause();
    }
    return { rank, distinct };
  }

  private async stringRank(key: StringKey): Promise<Rank> {
    const col = this.strings[key];
    // Intern first: big mailboxes repeat subjects and senders, so only the distinct ones are sorted.
    const ids = new Map<string, number>();
    const of = new Int32Array(this.n);
    const unique: string[] = [];
    for (let s = 0; s < this.n; s++) {
      const x = col[s]!;
      let id = ids.get(x);
      if (id === undefined) {
        id = unique.length;
        ids.set(x, id);
        unique.push(x);
      }
      of[s] = id;
    }
    // Code-unit order of the case-mapped keys, as the comparison sort before it.
    const order = await sortInSlices(
      Array.from(unique.keys()),
      (a, b) => (unique[a]! < unique[b]! ? -1 : unique[a]! > unique[b]! ? 1 : 0),
      new WorkBudget(Number.POSITIVE_INFINITY),
    );
    const pos = new Int32Array(unique.length);
    for (let p = 0; p < order.length; p++) pos[order[p]!] = p;
    const rank = new Int32Array(this.n);
    for (let s = 0; s < this.n; s++) rank[s] = pos[of[s]!]!;
    return { rank, distinct: unique.length };
  }
}

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
}

/**
 * Column sets of recently sorted mailboxes, least recently used first,
 * holding at most `maxMessages` slots in all (the set in use is kept even
 * when it alone is bigger).
 */
export class SortColumnCache {
  private readonly boxes = new Map<string, Entry>();

  constructor(private readonly maxMessages: number = LIMITS.imap.sortColumnMessages) {}

  /** Forget every set: the next SORT or THREAD of each mailbox reads its keys from the index again. */
  clear(): void {
    this.boxes.clear();
  }

  /** Slots held by all kept sets. */
  get slots(): number {
    let n = 0;
    for (const e of this.boxes.values()) n += e.set?.n ?? 0;
    return n;
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
    if (accountId === '') return this.extend(null, handle, recs, budget, withKeys);
    const key = `${accountId}\0${handle.name}\0${handle.uidvalidity}`;
    let e = this.boxes.get(key);
    if (e) this.boxes.delete(key);
    else e = { set: null, busy: Promise.resolve() };
    this.boxes.set(key, e);
    const entry = e;
    const run = entry.busy.catch(() => undefined).then(async () => {
      const set = await this.extend(entry.set, handle, recs, budget, withKeys);
      entry.set = set;
      this.evict(entry);
      return set;
    });
    entry.busy = run;
    return run;
  }

  /** `old` with the messages of `recs` it lacks merged in (`old` itself when it lacks none). */
  private async extend(
    old: ColumnSet | null,
    handle: MailboxHandle,
    recs: readonly MessageRecord[],
    budget: WorkBudget,
    withKeys: boolean,
  ): Promise<ColumnSet> {
    // Mostly expunged since it was built: start again rather than carry the dead slots.
    if (old !== null && old.n > 2 * recs.length + PAGE) old = null;
    // Keys wanted and not read yet: a set with keys from the start. Keys once read are kept.
    if (old !== null && withKeys && !old.hasKeys) old = null;
    const keys = withKeys || (old?.hasKeys ?? false);
    const missing: MessageRecord[] = [];
    if (old === null) missing.push(...recs);
    else {
      const at = old.slots(recs.map((r) => r.uid));
      for (let i = 0; i < recs.length; i++) if (at[i] === -1) missing.push(recs[i]!);
    }
    budget.charge(recs.length);
    if (old !== null && missing.length === 0) return old;
    const rows = await readRows(handle, missing, new WorkBudget(Number.POSITIVE_INFINITY), keys);
    budget.charge(missing.length * (keys ? 16 : 1));
    return new ColumnSet(old, rows, keys);
  }

  private evict(keep: Entry): void {
    let total = this.slots;
    for (const [key, e] of this.boxes) {
      if (total <= this.maxMessages) break;
      if (e === keep) continue;
      total -= e.set?.n ?? 0;
      this.boxes.delete(key);
    }
  }
}

/** The process's cache. */
export const sortColumns = new SortColumnCache();
