/**
 * The search keys a message record answers alone (RFC 3501 §6.4.4 flags,
 * sizes, INTERNALDATE days, UID and sequence sets; RFC 7162 §3.1.5 MODSEQ),
 * and the walk that answers a program made only of them (SORT … UNSEEN,
 * SEARCH DELETED) over the index snapshot's records: no file, no stored
 * field, no promise per message (evaluate.ts costOf: these cost 0).
 */
import type { MessageRecord } from '../../store/types.js';
import type { ImapDate, SearchKey, SequenceSet } from '../wire/types.js';
import type { MailboxView } from '../mailbox-view.js';
import type { WorkBudget } from '../../work/budget.js';
import { liveHits, type HitColumns } from './hits.js';

/**
 * Calendar day of INTERNALDATE in the server's time zone: §6.4.4 BEFORE/ON/
 * SINCE disregard time and zone, and the store keeps only the instant, so
 * the day is the one the server's clock showed (Dovecot's reading too).
 */
export const localDay = (ms: number): number => {
  const d = new Date(ms);
  return d.getFullYear() * 10000 + (d.getMonth() + 1) * 100 + d.getDate();
};
export const dayOfImap = (d: ImapDate): number => d.year * 10000 + d.month * 100 + d.day;

export function compareDay(key: 'BEFORE' | 'ON' | 'SINCE', day: number, want: number): boolean {
  return key === 'BEFORE' ? day < want : key === 'ON' ? day === want : day >= want;
}

export interface Sets {
  /** Resolved UID/sequence sets, by key object identity. */
  readonly members: Map<SequenceSet, Set<number>>;
  readonly view: MailboxView;
  readonly now: number;
}

/** A key of cost 0 (costOf) against the message record: no file, no stored field, no await. */
export function recordMatches(k: SearchKey, r: MessageRecord, seq: number, sets: Sets): boolean {
  switch (k.key) {
    case 'ALL':
      return true;
    case 'ANSWERED':
      return r.flags.includes('\\Answered');
    case 'DELETED':
      return r.flags.includes('\\Deleted');
    case 'DRAFT':
      return r.flags.includes('\\Draft');
    case 'FLAGGED':
      return r.flags.includes('\\Flagged');
    case 'SEEN':
      return r.flags.includes('\\Seen');
    case 'UNANSWERED':
      return !r.flags.includes('\\Answered');
    case 'UNDELETED':
      return !r.flags.includes('\\Deleted');
    case 'UNDRAFT':
      return !r.flags.includes('\\Draft');
    case 'UNFLAGGED':
      return !r.flags.includes('\\Flagged');
    case 'UNSEEN':
      return !r.flags.includes('\\Seen');
    // \Recent is this session's (RFC 3501 §6.4.4): NEW = RECENT UNSEEN, OLD = NOT RECENT.
    case 'RECENT':
      return sets.view.isRecent(r.uid);
    case 'NEW':
      return sets.view.isRecent(r.uid) && !r.flags.includes('\\Seen');
    case 'OLD':
      return !sets.view.isRecent(r.uid);
    case 'KEYWORD':
      return r.flags.some((f) => f.toLowerCase() === k.flag.toLowerCase());
    case 'UNKEYWORD':
      return !r.flags.some((f) => f.toLowerCase() === k.flag.toLowerCase());
    case 'LARGER':
      return r.vsize > k.size;
    case 'SMALLER':
      return r.vsize < k.size;
    case 'BEFORE':
    case 'ON':
    case 'SINCE':
      return compareDay(k.key, localDay(r.internalDate), dayOfImap(k.date));
    case 'OLDER':
      return r.internalDate <= sets.now - k.seconds * 1000;
    case 'YOUNGER':
      return r.internalDate > sets.now - k.seconds * 1000;
    case 'UID':
      return setMembers(k.set, true, sets).has(r.uid);
    case 'SEQ':
      return setMembers(k.set, false, sets).has(seq);
    // RFC 7162 §3.1.5: modseq at or above the value. Only flag changes have modseqs here, so every entry name matches the message's one modseq.
    case 'MODSEQ':
      return r.modseq >= k.modseq;
    case 'NOT':
      return !recordMatches(k.operand, r, seq, sets);
    case 'OR':
      return recordMatches(k.left, r, seq, sets) || recordMatches(k.right, r, seq, sets);
    case 'AND': {
      for (const op of k.operands) if (!recordMatches(op, r, seq, sets)) return false;
      return true;
    }
    default:
      throw new Error(`search key ${k.key} needs more than the message record`);
  }
}

/** Members of a set: UIDs for UID keys, sequence numbers otherwise; numbers beyond the mailbox simply match nothing. */
export function setMembers(set: SequenceSet, uid: boolean, sets: Sets): Set<number> {
  let s = sets.members.get(set);
  if (s) return s;
  s = new Set<number>();
  if (set.kind === 'ranges') {
    const view = sets.view;
    const star = uid ? view.lastUid : view.exists;
    for (const r of set.ranges) {
      const a = r.from === '*' ? star : r.from;
      const b = r.to === '*' ? star : r.to;
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      if (uid) for (const u of view.resolveUids([{ from: lo, to: hi }])) s.add(u);
      else for (let n = lo; n <= Math.min(hi, view.exists); n++) s.add(n);
    }
  } else {
    // RFC 5182 §2.1: `$` means the saved UIDs in UID and sequence contexts alike.
    for (const u of sets.view.resolveSaved()) s.add(uid ? u : sets.view.seqOf(u));
  }
  sets.members.set(set, s);
  return s;
}

/** Messages a record-only walk tests between two budget steps (each step may yield). */
const RECORD_SLICE = 4096;

/**
 * Hits of a program whose keys the message record answers alone (cost 0):
 * the view's messages less those expunged meanwhile (everyMessage's merge
 * walk), each tested by recordMatches with no promise per message. Charged
 * `size` units per message, as the per-message evaluation is.
 */
export function recordHits(view: MailboxView, prog: SearchKey, sets: Sets, size: number, budget: WorkBudget): Promise<HitColumns> {
  return liveHits(view, budget, (m, s) => recordMatches(prog, m, s, sets), { perMessage: size, slice: RECORD_SLICE });
}
