/**
 * One mailbox's SORT and THREAD keys as columns (one array per key, one slot
 * per message in UID order). String keys are kept as a sorted dictionary of
 * their distinct case-mapped values — i;ascii-casemap for addresses and base
 * subjects (RFC 5256 §3), i;unicode-casemap for RFC 5957 display names — and
 * one code per slot, the value's place in that dictionary: the code is the
 * rank (equal keys, equal rank), so a SORT is a few counting-sort passes over
 * integers (sort.ts) and needs no string at all. Message-IDs are numbered
 * once (RFC 5256 §4 step 1's id table) the same way, in arrival order.
 *
 * A set is immutable; new messages are merged into a new set (merge()),
 * which merges the dictionaries and renumbers the old codes, so nothing is
 * sorted again but the new values. The arrays are what the persisted image
 * (sort-column-image.ts) holds, so a set read back after a restart is ready
 * to rank at once; its dictionaries are decoded only when a merge needs them.
 */
import type { SortKeys } from '../../store/mime/types.js';
import type { MessageRecord } from '../../store/types.js';
import type { SortKey } from '../wire/types.js';
import { WorkBudget } from '../../work/budget.js';
import { sortInSlices } from '../../work/sort.js';
import { asciiCasemap, unicodeCasemap } from './casemap.js';

/** The keys compared as strings (already case-mapped in the columns). */
export type StringKey = 'SUBJECT' | 'FROM' | 'TO' | 'CC' | 'DISPLAYFROM' | 'DISPLAYTO';

export const STRING_KEYS: readonly StringKey[] = ['SUBJECT', 'FROM', 'TO', 'CC', 'DISPLAYFROM', 'DISPLAYTO'];

/** Rank of every message of a set under one key: equal keys share a rank; `distinct` ranks in all. */
export interface Rank {
  readonly rank: Int32Array;
  readonly distinct: number;
}

/** Interned Message-IDs of a set. */
export interface ThreadIds {
  /** Each slot's Message-ID, -1 when it has none. */
  readonly own: Int32Array;
  /** Slot s's parent chain is refs[refStart[s]] … refs[refStart[s + 1] - 1], oldest first. */
  readonly refStart: Int32Array;
  readonly refs: Int32Array;
  readonly distinct: number;
}

/** One message's column values, before they are merged into a set. */
export interface Row {
  uid: number;
  arrival: number;
  size: number;
  date: number;
  strings: Readonly<Record<StringKey, string>>;
  isReply: boolean;
  messageId: string;
  inReplyTo: string;
  references: readonly string[];
}

const NO_STRINGS: Readonly<Record<StringKey, string>> = Object.freeze({ SUBJECT: '', FROM: '', TO: '', CC: '', DISPLAYFROM: '', DISPLAYTO: '' });

/**
 * Column values of one message from its stored keys (store/mime/sort.ts
 * sortKeys, the function delivery and every fill of the index call) and its
 * record; `k` null: the record's alone (ARRIVAL, SIZE).
 */
export function rowOf(rec: MessageRecord, k: SortKeys | null): Row {
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

/** The strings of a set: each key's sorted dictionary and the Message-IDs by number. */
export interface Dictionaries {
  readonly strings: Readonly<Record<StringKey, readonly string[]>>;
  readonly ids: readonly string[];
}

/** Everything a set is made of (what merge() computes and an image holds). */
export interface ColumnParts {
  n: number;
  hasKeys: boolean;
  uids: Float64Array;
  arrival: Float64Array;
  size: Float64Array;
  date: Float64Array;
  isReply: Uint8Array;
  /** Per string key, each slot's place in its dictionary (empty arrays in a set without keys). */
  codes: Record<StringKey, Int32Array>;
  /** Per string key, the dictionary's length. */
  distinct: Record<StringKey, number>;
  /** Code of "" in the SUBJECT dictionary, -1 when no message has an empty base subject. */
  emptySubject: number;
  ids: ThreadIds;
  /** Bytes the dictionaries take when decoded, or in the image that holds them. */
  dictBytes: number;
  dicts: () => Dictionaries;
  /** Whether dicts() decodes (from an image): the decoded strings then add to `bytes`. */
  decodes?: boolean;
}

/** Sets up to this many new distinct values are sorted in one native call; more in slices. */
const SLICED_SORT = 4096;

const EMPTY_DICTS: Dictionaries = {
  strings: { SUBJECT: [], FROM: [], TO: [], CC: [], DISPLAYFROM: [], DISPLAYTO: [] },
  ids: [],
};

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
  readonly isReply: Uint8Array;
  readonly codes: Readonly<Record<StringKey, Int32Array>>;
  readonly distinct: Readonly<Record<StringKey, number>>;
  /** Rank of the empty base subject, -1 when none (RFC 5256 §4 step 5 leaves those roots alone). */
  readonly emptySubject: number;
  private readonly ids: ThreadIds;
  private readonly dictBytes: number;
  private readonly loadDicts: () => Dictionaries;
  private readonly decodes: boolean;
  private dictCache: Dictionaries | null = null;
  private decodedBytes = 0;
  private readonly ranks = new Map<SortKey, Promise<Rank>>();

  constructor(p: ColumnParts) {
    this.n = p.n;
    this.hasKeys = p.hasKeys;
    this.uids = p.uids;
    this.arrival = p.arrival;
    this.size = p.size;
    this.date = p.date;
    this.isReply = p.isReply;
    this.codes = p.codes;
    this.distinct = p.distinct;
    this.emptySubject = p.emptySubject;
    this.ids = p.ids;
    this.dictBytes = p.dictBytes;
    this.loadDicts = p.dicts;
    this.decodes = p.decodes ?? false;
  }

  /** Memory the set holds (typed arrays and dictionaries), for the cache's bound. */
  get bytes(): number {
    let b = this.uids.byteLength + this.arrival.byteLength + this.size.byteLength + this.date.byteLength + this.isReply.byteLength;
    for (const k of STRING_KEYS) b += this.codes[k].byteLength;
    b += this.ids.own.byteLength + this.ids.refStart.byteLength + this.ids.refs.byteLength;
    return b + this.dictBytes + this.decodedBytes;
  }

  /** The dictionaries (decoded from the image on first use). */
  dictionaries(): Dictionaries {
    if (this.dictCache === null) {
      this.dictCache = this.loadDicts();
      if (this.decodes) this.decodedBytes = dictionaryBytes(this.dictCache);
    }
    return this.dictCache;
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

  /** Ranks under `key`: a string key's codes as they are; a number key's computed once per set. */
  rank(key: SortKey): Promise<Rank> {
    if (!this.hasKeys && key !== 'ARRIVAL' && key !== 'SIZE') throw new Error(`sort columns without keys cannot rank ${key}`);
    let r = this.ranks.get(key);
    if (!r) {
      r = key === 'ARRIVAL' || key === 'DATE' || key === 'SIZE' ? this.numberRank(key) : Promise.resolve({ rank: this.codes[key], distinct: this.distinct[key] });
      this.ranks.set(key, r);
    }
    return r;
  }

  /** Message-IDs as numbers: each slot's own id and its parent chain (References, else In-Reply-To). */
  threadIds(): ThreadIds {
    if (!this.hasKeys) throw new Error('sort columns without keys have no thread ids');
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
}

/** Bytes a decoded dictionary holds (two per code unit and a string header each). */
export function dictionaryBytes(d: Dictionaries): number {
  let b = 0;
  for (const k of STRING_KEYS) for (const s of d.strings[k]) b += 2 * s.length + 32;
  for (const s of d.ids) b += 2 * s.length + 32;
  return b;
}

/** Code-unit order, as the comparison sort before the columns had it. */
const byCodeUnits = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

/**
 * `old` (sorted, distinct) with `added` merged in: the new dictionary, where
 * each old entry went, and the new code of each added string (by position
 * in `added`). One hash lookup per added string (numbering its distinct
 * values), one more per distinct value: a 100,000-message build is 600,000
 * strings, and a second lookup of each (a Set, then a Map) was most of it.
 */
async function mergeDictionary(
  old: readonly string[],
  added: readonly string[],
  work: WorkBudget,
): Promise<{ dict: string[]; moved: Int32Array; codes: Int32Array }> {
  const local = new Map<string, number>();
  const fresh: string[] = [];
  const which = new Int32Array(added.length);
  for (let r = 0; r < added.length; r++) {
    const v = added[r]!;
    let x = local.get(v);
    if (x === undefined) {
      x = fresh.length;
      local.set(v, x);
      fresh.push(v);
    }
    which[r] = x;
    if ((r & 4095) === 4095) await work.pause();
  }
  const sorted = fresh.length <= SLICED_SORT ? fresh.slice().sort(byCodeUnits) : await sortInSlices(fresh.slice(), byCodeUnits, work);
  const dict: string[] = [];
  const moved = new Int32Array(old.length);
  const codeOfFresh = new Int32Array(fresh.length);
  let i = 0;
  let j = 0;
  while (i < old.length || j < sorted.length) {
    if (j >= sorted.length || (i < old.length && old[i]! < sorted[j]!)) {
      moved[i++] = dict.length;
      dict.push(old[i - 1]!);
    } else if (i < old.length && old[i] === sorted[j]) {
      codeOfFresh[local.get(sorted[j++]!)!] = dict.length;
      moved[i++] = dict.length;
      dict.push(old[i - 1]!);
    } else {
      codeOfFresh[local.get(sorted[j]!)!] = dict.length;
      dict.push(sorted[j++]!);
    }
    if ((dict.length & 4095) === 0) await work.pause();
  }
  const codes = new Int32Array(added.length);
  for (let r = 0; r < added.length; r++) codes[r] = codeOfFresh[which[r]!]!;
  return { dict, moved, codes };
}

/** A new set: `rows` (ascending UIDs, none already in `old`, keys read when `hasKeys`) merged into the slots of `old`. */
export async function merge(old: ColumnSet | null, rows: readonly Row[], hasKeys: boolean): Promise<ColumnSet> {
  const work = new WorkBudget(Number.POSITIVE_INFINITY);
  const m = old ? old.n : 0;
  const n = m + rows.length;
  // Where each slot comes from: old slot i as i, row j as -1 - j.
  const from = new Int32Array(n);
  const uids = new Float64Array(n);
  const arrival = new Float64Array(n);
  const size = new Float64Array(n);
  const date = new Float64Array(n);
  const isReply = new Uint8Array(n);
  let i = 0;
  let j = 0;
  for (let s = 0; s < n; s++) {
    if (j >= rows.length || (old !== null && i < m && old.uids[i]! < rows[j]!.uid)) {
      const o = old!;
      from[s] = i;
      uids[s] = o.uids[i]!;
      arrival[s] = o.arrival[i]!;
      size[s] = o.size[i]!;
      date[s] = o.date[i]!;
      isReply[s] = o.isReply[i]!;
      i++;
    } else {
      const r = rows[j]!;
      from[s] = -1 - j++;
      uids[s] = r.uid;
      arrival[s] = r.arrival;
      size[s] = r.size;
      date[s] = r.date;
      isReply[s] = r.isReply ? 1 : 0;
    }
  }
  if (!hasKeys) {
    const none = new Int32Array(0);
    return new ColumnSet({
      n, hasKeys, uids, arrival, size, date, isReply,
      codes: { SUBJECT: none, FROM: none, TO: none, CC: none, DISPLAYFROM: none, DISPLAYTO: none },
      distinct: { SUBJECT: 0, FROM: 0, TO: 0, CC: 0, DISPLAYFROM: 0, DISPLAYTO: 0 },
      emptySubject: -1,
      ids: { own: none, refStart: new Int32Array(n + 1), refs: none, distinct: 0 },
      dictBytes: 0,
      dicts: () => EMPTY_DICTS,
    });
  }
  const oldDicts = old?.hasKeys ? old.dictionaries() : EMPTY_DICTS;
  const strings = {} as Record<StringKey, string[]>;
  const codes = {} as Record<StringKey, Int32Array>;
  const distinct = {} as Record<StringKey, number>;
  for (const k of STRING_KEYS) {
    const { dict, moved, codes: added } = await mergeDictionary(oldDicts.strings[k], rows.map((r) => r.strings[k]), work);
    const oldCodes = old?.hasKeys ? old.codes[k] : null;
    const c = new Int32Array(n);
    for (let s = 0; s < n; s++) {
      const f = from[s]!;
      c[s] = f >= 0 ? moved[oldCodes![f]!]! : added[-1 - f]!;
    }
    strings[k] = dict;
    codes[k] = c;
    distinct[k] = dict.length;
    await work.pause();
  }
  const emptySubject = strings.SUBJECT[0] === '' ? 0 : -1;
  const ids = [...oldDicts.ids];
  const table = new Map<string, number>();
  for (let x = 0; x < ids.length; x++) table.set(ids[x]!, x);
  const num = (id: string): number => {
    let x = table.get(id);
    if (x === undefined) {
      x = ids.length;
      table.set(id, x);
      ids.push(id);
    }
    return x;
  };
  const oldIds = old?.hasKeys ? old.threadIds() : null;
  const own = new Int32Array(n);
  const refStart = new Int32Array(n + 1);
  const refs: number[] = [];
  for (let s = 0; s < n; s++) {
    const f = from[s]!;
    refStart[s] = refs.length;
    if (f >= 0) {
      own[s] = oldIds!.own[f]!;
      for (let r = oldIds!.refStart[f]!; r < oldIds!.refStart[f + 1]!; r++) refs.push(oldIds!.refs[r]!);
    } else {
      const row = rows[-1 - f]!;
      own[s] = row.messageId === '' ? -1 : num(row.messageId);
      if (row.references.length > 0) for (const id of row.references) refs.push(num(id));
      else if (row.inReplyTo !== '') refs.push(num(row.inReplyTo));
    }
    if ((s & 4095) === 4095) await work.pause();
  }
  refStart[n] = refs.length;
  const dicts: Dictionaries = { strings, ids };
  return new ColumnSet({
    n, hasKeys, uids, arrival, size, date, isReply, codes, distinct, emptySubject,
    ids: { own, refStart, refs: Int32Array.from(refs), distinct: ids.length },
    dictBytes: dictionaryBytes(dicts),
    dicts: () => dicts,
  });
}
