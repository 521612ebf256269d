/**
 * SORT keys and ordering (RFC 5256 §3, RFC 5957 DISPLAYFROM/DISPLAYTO).
 * Keys come from the index: INTERNALDATE and RFC822.SIZE from the message
 * record, the others from the sort keys stored with the MIME structure at
 * delivery (MimeTree.sort, kept in their own small index rows and read a
 * page of messages per query), so no message file is read and no whole
 * structure parsed.
 *
 * Comparisons: i;ascii-casemap for addresses and subjects (RFC 5256 §3:
 * ASCII letters compared as upper case), i;unicode-casemap for display names
 * (RFC 5957 §3, RFC 5051). Equal messages are ordered by sequence number
 * (RFC 5256 §3, last paragraph).
 *
 * Loading, key extraction and sorting run in slices under the command's
 * budget (src/work/budget.ts), so SORT over a big mailbox does not hold
 * the event loop.
 */
import type { MessageRecord } from '../../store/types.js';
import type { SortKeys } from '../../store/mime/types.js';
import type { MailboxHandle } from '../../store/store.js';
import type { SortCriterion } from '../wire/types.js';
import type { WorkBudget } from '../../work/budget.js';
import { sortInSlices } from '../../work/sort.js';

/** What SORT and THREAD know about one message. */
export interface SortItem {
  readonly uid: number;
  readonly seq: number;
  readonly rec: MessageRecord;
  readonly keys: SortKeys;
  /** Sent date (Date: header, else INTERNALDATE; RFC 5256 §3 DATE). */
  readonly date: number;
}

/** Messages whose sort keys are read from the index in one query. */
const PAGE = 1024;

/** Keys of an item sorted by ARRIVAL/SIZE only, which come from the message record. */
const NO_KEYS: SortKeys = Object.freeze({
  date: null,
  subject: '',
  from: '',
  to: '',
  cc: '',
  displayFrom: '',
  displayTo: '',
  messageId: '',
  inReplyTo: '',
  references: [],
  isReply: false,
});

/** Do the criteria look at the stored keys (all but ARRIVAL and SIZE, which the message record has)? */
export function needsKeys(criteria: readonly SortCriterion[]): boolean {
  return criteria.some((c) => c.key !== 'ARRIVAL' && c.key !== 'SIZE');
}

/**
 * Load sort items for records (those expunged meanwhile are left out);
 * `withKeys` false (needsKeys): the stored keys are not read at all.
 */
export async function loadItems(
  handle: MailboxHandle,
  recs: readonly { rec: MessageRecord; seq: number }[],
  budget: WorkBudget,
  withKeys = true,
): Promise<SortItem[]> {
  const out: SortItem[] = [];
  if (!withKeys) {
    for (const { rec, seq } of recs) out.push({ uid: rec.uid, seq, rec, keys: NO_KEYS, date: rec.internalDate });
    await budget.step(recs.length);
    return out;
  }
  for (let i = 0; i < recs.length; i += PAGE) {
    const batch = recs.slice(i, i + PAGE);
    const stored = await handle.sortKeys(batch.map((r) => r.rec.uid));
    for (const { rec, seq } of batch) {
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
      out.push({ uid: rec.uid, seq, rec, keys, date: keys.date ?? rec.internalDate });
    }
    await budget.step(batch.length);
  }
  return out;
}

/** i;ascii-casemap key: ASCII a-z as A-Z, everything else unchanged. */
export function asciiCasemap(s: string): string {
  // In an all-ASCII string the native upper-casing touches a-z only (and is much faster than the replace).
  return NON_ASCII.test(s) ? s.replace(/[a-z]+/g, (m) => m.toUpperCase()) : s.toUpperCase();
}
const NON_ASCII = /[^\x00-\x7f]/;

/** The four digraphs whose title case differs from their upper case (U+01C4-U+01CC, U+01F1-U+01F3). */
const TITLE_DIGRAPHS: Record<string, string> = {
  '\u01c4': '\u01c5', '\u01c5': '\u01c5', '\u01c6': '\u01c5',
  '\u01c7': '\u01c8', '\u01c8': '\u01c8', '\u01c9': '\u01c8',
  '\u01ca': '\u01cb', '\u01cb': '\u01cb', '\u01cc': '\u01cb',
  '\u01f1': '\u01f2', '\u01f2': '\u01f2', '\u01f3': '\u01f2',
};

/**
 * i;unicode-casemap key (RFC 5051 §2): each character mapped by its simple
 * title case (one character to one: upper case where that is one
 * character, so "ß" stays "ß"), then fully decomposed (NFKD), so "É" sorts
 * as "E" + U+0301, next to "E", as Dovecot sorts it.
 */
export function unicodeCasemap(s: string): string {
  let out = '';
  for (const ch of s) {
    const digraph = TITLE_DIGRAPHS[ch];
    if (digraph !== undefined) {
      out += digraph;
      continue;
    }
    const up = ch.toUpperCase();
    out += [...up].length === 1 ? up : ch;
  }
  return out.normalize('NFKD');
}

function cmpStr(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

type Extract = (i: SortItem) => string | number;

function extractor(key: SortCriterion['key']): Extract {
  switch (key) {
    case 'ARRIVAL':
      return (i) => i.rec.internalDate;
    case 'DATE':
      return (i) => i.date;
    case 'SIZE':
      return (i) => i.rec.vsize;
    case 'FROM':
      return (i) => asciiCasemap(i.keys.from);
    case 'TO':
      return (i) => asciiCasemap(i.keys.to);
    case 'CC':
      return (i) => asciiCasemap(i.keys.cc);
    case 'SUBJECT':
      return (i) => asciiCasemap(i.keys.subject);
    case 'DISPLAYFROM':
      return (i) => unicodeCasemap(i.keys.displayFrom);
    case 'DISPLAYTO':
      return (i) => unicodeCasemap(i.keys.displayTo);
  }
}

/** Sort items by the criteria (stable on sequence number). Keys are computed once per item. */
export async function sortItems(items: readonly SortItem[], criteria: readonly SortCriterion[], budget: WorkBudget): Promise<SortItem[]> {
  const ex = criteria.map((c) => extractor(c.key));
  const keyed: { it: SortItem; k: (string | number)[] }[] = [];
  for (const it of items) {
    keyed.push({ it, k: ex.map((f) => f(it)) });
    await budget.step(ex.length);
  }
  const sorted = await sortInSlices(keyed, (a, b) => {
    for (let c = 0; c < criteria.length; c++) {
      const x = a.k[c]!;
      const y = b.k[c]!;
      const r = typeof x === 'number' ? x - (y as number) : cmpStr(x, y as string);
      if (r !== 0) return criteria[c]!.reverse ? -r : r;
    }
    return a.it.seq - b.it.seq;
  }, budget);
  return sorted.map((k) => k.it);
}
