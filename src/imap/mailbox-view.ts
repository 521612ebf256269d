/**
 * One session's view of its selected mailbox (store events
 * in, untagged responses out at safe points).
 *
 * Every session keeps its own sequence map (RFC 3501 §2.3.1.2): message
 * sequence numbers change only when THIS session is told of an expunge, so
 * other sessions' changes are queued here and handed out by `flush()` at the
 * moments RFC 3501 §7.4.1 allows:
 *  - new messages (EXISTS) after any command, and during IDLE;
 *  - EXPUNGE never during FETCH, STORE or SEARCH (nor any other command that
 *    takes sequence numbers), never when no command is in progress;
 *  - flag changes by others as unsolicited FETCH (FLAGS) at the same points.
 * EXISTS never shrinks (§5.2): expunged messages stay in the map, and count,
 * until their EXPUNGE is sent.
 *
 * Modseqs travel with every queued change and the view tracks the highest
 * one it has announced, so CONDSTORE (FETCH MODSEQ in unsolicited FETCH) and
 * QRESYNC (VANISHED instead of EXPUNGE, UID sets not sequence numbers) can be
 * added by changing how `flush()` results are rendered, not how they are kept.
 *
 * Memory: while nothing is held back the map is the store's shared snapshot
 * array; a private Uint32Array (4 bytes a message) exists only while this
 * session has not yet been told of changes. Queues are empty while nothing
 * happens, so an idle session costs little.
 */
import type { MailboxHandle } from '../store/store.js';
import type { MailboxEvent, MailboxSnapshot, MessageRecord, RecentRange } from '../store/types.js';
import { NO_RECENT, inRange, withRecent } from './recent.js';

/** One untagged response the view wants sent, in order. */
export type ViewUpdate =
  | { readonly kind: 'expunge'; readonly seq: number; readonly uid: number; readonly modseq: bigint }
  | { readonly kind: 'exists'; readonly count: number }
  | { readonly kind: 'recent'; readonly count: number }
  /**
   * Flag changes by others, as the store's own event arrays (shared by every
   * session, never copied: a STORE 1:* over 100,000 messages must not cost
   * 100,000 entries per idle session). They only say WHICH messages changed:
   * the lines carry each message's state when they are written
   * (updates.ts), so an event queued before this session's own STORE or
   * FETCH answer can never show older flags or a lower MODSEQ after it
   * (RFC 7162 §3.1.4.1: a client's view of a modseq only grows).
   */
  | { readonly kind: 'flags'; readonly batches: readonly (readonly FlagChange[])[] }
  /** The mailbox was deleted or renamed away by another session. */
  | { readonly kind: 'gone' };

export interface FlagChange {
  readonly uid: number;
  readonly flags: readonly string[];
  readonly modseq: bigint;
}

/** A range as the client wrote it; `'*'` is resolved against this view. */
export interface SeqRange {
  readonly from: number | '*';
  readonly to: number | '*';
}

export interface FlushOptions {
  /** False while responding to a sequence-number FETCH/STORE/SEARCH/COPY (RFC 3501 §7.4.1). */
  readonly allowExpunge: boolean;
  /** When false, queue everything (e.g. Dovecot's delay-newmail; unused by default). */
  readonly allowExists?: boolean;
}

/** Thrown for sequence numbers beyond the map (callers answer BAD). */
export class SequenceError extends Error {}

export class MailboxView {
  /**
   * The sequence map. While this session has been told everything, it IS the
   * store's current frozen snapshot array (shared by every session on the
   * mailbox, so 5,000 idle sessions on one big INBOX cost one array, not
   * 5,000). Only while changes are held back does the session keep its own
   * copy: `own` (UIDs by sequence number - 1, `count` entries in use).
   */
  private shared: readonly MessageRecord[] | null;
  private own: Uint32Array | null = null;
  private count = 0;
  /** UIDs of messages appended since the last flush (ascending). */
  private pendingNew: number[] = [];
  /** Expunged in the store, not yet announced to this client (uid -> modseq). */
  private pendingExpunge = new Map<number, bigint>();
  /** Flag changes by others, not yet announced: the events' arrays, in order. */
  private pendingFlags: (readonly FlagChange[])[] = [];
  private gone = false;
  /**
   * Keywords this client has been told of in FLAGS (RFC 3501 §7.2.6): a
   * FETCH may show only these, so a new one is announced first
   * (announceKeywords in updates.ts). Never shrinks while the mailbox is selected.
   */
  private readonly keywords = new Set<string>();
  /** Flag arrays (the store interns them) already known to hold only announced keywords. */
  private readonly knownFlagArrays = new WeakSet<readonly string[]>();
  /** This session's \Recent messages (RFC 3501 §2.3.2; the store keeps it current, imap/recent.ts). */
  private readonly recentRange: RecentRange;
  private highestModseq: bigint;
  private readonly unsubscribe: () => void;
  /**
   * RFC 5182 SEARCHRES: UIDs saved by the last SEARCH/SORT RETURN (SAVE), `$`
   * in later commands; empty at SELECT (§2.1). Expunged UIDs simply no longer
   * resolve (resolveSaved).
   */
  searchResult: readonly number[] = [];
  /** Called (synchronously) when something was queued; IDLE uses it to push at once. */
  onUpdate: (() => void) | null = null;

  private constructor(
    readonly handle: MailboxHandle,
    private readonly origin: string,
    snapshot: MailboxSnapshot,
    subscribe: (view: MailboxView) => () => void,
  ) {
    this.shared = snapshot.messages;
    this.count = snapshot.messages.length;
    this.highestModseq = snapshot.highestModseq;
    this.recentRange = handle.recent ?? NO_RECENT;
    this.unsubscribe = subscribe(this);
  }

  /**
   * Build the view of an opened handle. Subscribing and taking the snapshot
   * happen in the same tick, so no change can fall between them; events that
   * describe what the snapshot already holds are recognised and ignored.
   */
  static open(handle: MailboxHandle, origin: string, accountId = ''): { view: MailboxView; snapshot: MailboxSnapshot } {
    const snapshot = handle.snapshot();
    const view = new MailboxView(handle, origin, snapshot, (v) => handle.onChange((e: MailboxEvent) => v.onEvent(e)));
    view.accountId = accountId;
    return { view, snapshot };
  }

  /** Owner of the mailbox, for process-wide caches keyed by mailbox (fetch/shared-values.ts); '' when unknown (no sharing). */
  accountId = '';

  get exists(): number {
    return this.count;
  }

  get readOnly(): boolean {
    return this.handle.readOnly;
  }

  get uidvalidity(): number {
    return this.handle.uidvalidity;
  }

  /** The highest modseq this view has seen (HIGHESTMODSEQ for CONDSTORE later). */
  get modseq(): bigint {
    return this.highestModseq;
  }

  uidAt(seq: number): number {
    if (seq < 1 || seq > this.count) throw new SequenceError(`no message ${seq}`);
    return this.at(seq - 1);
  }

  /** Sequence number of a UID in this session's map, or 0. */
  seqOf(uid: number): number {
    let lo = 0;
    let hi = this.count - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >>> 1;
      const v = this.at(mid);
      if (v === uid) return mid + 1;
      if (v < uid) lo = mid + 1;
      else hi = mid - 1;
    }
    return 0;
  }

  /** Expunged by someone, not announced yet: FETCH answers NO for it (RFC 2180 §4.1.2). */
  isExpunged(uid: number): boolean {
    return this.pendingExpunge.has(uid);
  }

  get lastUid(): number {
    return this.count > 0 ? this.at(this.count - 1) : 0;
  }

  /**
   * Resolve a message sequence set to ascending UIDs. Numbers beyond the map
   * are a client error (RFC 3501 §9 "seq-number": a number that does not
   * exist is invalid) except `*`, which is the last message.
   */
  resolveSeqs(ranges: readonly SeqRange[]): number[] {
    const n = this.count;
    const intervals: [number, number][] = [];
    for (const r of ranges) {
      const a = r.from === '*' ? n : r.from;
      const b = r.to === '*' ? n : r.to;
      const lo = Math.min(a, b);
      const hi = Math.max(a, b);
      if (lo < 1 || hi > n) throw new SequenceError(n === 0 ? 'mailbox is empty' : `message sequence number out of range (1:${n})`);
      intervals.push([lo, hi]);
    }
    intervals.sort((x, y) => x[0] - y[0]);
    const out: number[] = [];
    let next = 1;
    for (const [lo, hi] of intervals) {
      for (let s = Math.max(lo, next); s <= hi; s++) out.push(this.at(s - 1));
      next = Math.max(next, hi + 1);
    }
    return out;
  }

  /**
   * Resolve a UID set to the ascending UIDs present in the map. Absent UIDs
   * are silently skipped; `n:*` always includes the last message (§6.4.8).
   */
  resolveUids(ranges: readonly SeqRange[]): number[] {
    const out: number[] = [];
    const last = this.lastUid;
    const intervals: [number, number][] = [];
    for (const r of ranges) {
      const a = r.from === '*' ? last : r.from;
      const b = r.to === '*' ? last : r.to;
      intervals.push([Math.min(a, b), Math.max(a, b)]);
    }
    intervals.sort((x, y) => x[0] - y[0]);
    let prevEnd = 0;
    for (const [lo0, hi] of intervals) {
      const lo = Math.max(lo0, prevEnd + 1);
      if (lo > hi) continue;
      prevEnd = hi;
      // Walk from the first map entry >= lo: cost is the size of the answer, not of the mailbox.
      let i = this.lowerBound(lo);
      while (i < this.count && this.at(i) <= hi) out.push(this.at(i++));
    }
    return out;
  }

  /** The saved search result (RFC 5182 `$`) as ascending UIDs still in the map. */
  resolveSaved(): number[] {
    return [...this.searchResult].sort((a, b) => a - b).filter((uid) => this.seqOf(uid) > 0);
  }

  /**
   * The store records of `uids` (ascending), from one snapshot. Missing ones
   * (expunged meanwhile) are reported separately, never replaced by another
   * message.
   */
  records(uids: readonly number[], snapshot: MailboxSnapshot = this.handle.snapshot()): { found: MessageRecord[]; missing: number[] } {
    const msgs = snapshot.messages;
    const found: MessageRecord[] = [];
    const missing: number[] = [];
    let j = 0;
    for (const uid of uids) {
      // Both lists are sorted by UID: a merge walk, with a binary search to skip big gaps.
      if (j < msgs.length && msgs[j]!.uid < uid) j = msgs[j + 1]?.uid === uid ? j + 1 : lowerBoundRecords(msgs, uid, j);
      if (j < msgs.length && msgs[j]!.uid === uid) found.push(msgs[j++]!);
      else missing.push(uid);
    }
    return { found, missing };
  }

  /** Apply this session's own expunge at once (the store event may come later; both are idempotent, the event's modseq wins). */
  noteExpunged(uids: readonly number[], modseq: bigint): void {
    for (const uid of uids) if (this.seqOf(uid) > 0 && !this.pendingExpunge.has(uid)) this.pendingExpunge.set(uid, modseq);
  }

  /**
   * Note the keywords of `flags` as announced; true when one was new, and
   * the caller must send FLAGS/PERMANENTFLAGS before showing them.
   */
  learnKeywords(flags: readonly string[]): boolean {
    if (this.knownFlagArrays.has(flags)) return false;
    let fresh = false;
    for (const f of flags) {
      // 92 = '\\': system flags are always in FLAGS.
      if (f.charCodeAt(0) !== 92 && !this.keywords.has(f)) {
        this.keywords.add(f);
        fresh = true;
      }
    }
    this.knownFlagArrays.add(flags);
    return fresh;
  }

  /** Every keyword announced so far, sorted (the FLAGS list is system flags plus these). */
  get announcedKeywords(): string[] {
    return [...this.keywords].sort();
  }

  /** The record of `uid` in `snapshot`, or undefined when it is not there (expunged). */
  recordOf(uid: number, snapshot: MailboxSnapshot): MessageRecord | undefined {
    const i = this.indexIn(snapshot, uid, 0);
    return i >= 0 ? snapshot.messages[i] : undefined;
  }

  /**
   * Position of `uid` in `snapshot.messages`, or -1. `hint` is where the
   * caller expects it (the position after the previous hit): a walk over
   * ascending UIDs then costs one comparison a message, not a search.
   */
  indexIn(snapshot: MailboxSnapshot, uid: number, hint: number): number {
    const msgs = snapshot.messages;
    if (hint < msgs.length && msgs[hint]!.uid === uid) return hint;
    const i = lowerBoundRecords(msgs, uid, 0);
    return i < msgs.length && msgs[i]!.uid === uid ? i : -1;
  }

  /** Note messages this session added (COPY/APPEND into the selected mailbox). */
  noteAppended(records: readonly MessageRecord[]): void {
    this.queueNew(records);
  }

  /** Anything queued? (IDLE checks before sleeping.) */
  get hasPending(): boolean {
    return this.gone || this.pendingNew.length > 0 || this.pendingExpunge.size > 0 || this.pendingFlags.length > 0;
  }

  /**
   * Hand out what may be sent now and apply it to the map. Order: EXPUNGEs
   * (highest sequence first, so each number is still valid when the client
   * reads it), then EXISTS/RECENT, then flag changes.
   */
  flush(opts: FlushOptions): ViewUpdate[] {
    const out: ViewUpdate[] = [];
    if (this.gone) {
      out.push({ kind: 'gone' });
      return out;
    }
    const applyAll = (opts.allowExpunge || this.pendingExpunge.size === 0) && opts.allowExists !== false;
    const removed: number[] = [];
    if (opts.allowExpunge && this.pendingExpunge.size > 0) {
      for (const uid of this.pendingExpunge.keys()) {
        const seq = this.seqOf(uid);
        if (seq > 0) removed.push(seq);
      }
      removed.sort((a, b) => b - a);
      for (const seq of removed) {
        const uid = this.at(seq - 1);
        const modseq = this.pendingExpunge.get(uid)!;
        out.push({ kind: 'expunge', seq, uid, modseq });
        if (modseq > this.highestModseq) this.highestModseq = modseq;
      }
      this.pendingExpunge.clear();
    }
    const add = opts.allowExists !== false ? this.pendingNew : [];
    if (add.length > 0) this.pendingNew = [];
    const nextCount = this.count - removed.length + add.length;
    // Everything received is being applied, and the store updates its snapshot
    // before it emits (store.ts), so the result IS the current snapshot: share
    // it instead of copying 100,000 UIDs per session (5,000 idle sessions wake
    // on one delivery). Anything else edits a private copy.
    const snap = applyAll && (removed.length > 0 || add.length > 0) ? this.handle.snapshot().messages : null;
    if (snap && snap.length === nextCount && (add.length === 0 || snap[nextCount - 1]!.uid === add[add.length - 1])) {
      this.shared = snap;
      this.own = null;
      this.count = nextCount;
    } else {
      if (removed.length > 0) this.removeSeqs(removed);
      if (add.length > 0) {
        const own = this.ensureCapacity(this.count + add.length);
        for (const uid of add) own[this.count++] = uid;
      }
    }
    if (add.length > 0) {
      out.push({ kind: 'exists', count: this.count });
      out.push({ kind: 'recent', count: this.recent });
    }
    if (this.pendingFlags.length > 0) {
      const batches = this.pendingFlags;
      this.pendingFlags = [];
      for (const b of batches) for (const u of b) if (u.modseq > this.highestModseq) this.highestModseq = u.modseq;
      out.push({ kind: 'flags', batches });
    }
    this.adoptSnapshot();
    return out;
  }

  /**
   * Sequence number for an unsolicited FETCH of a flag change, or 0 when the
   * message is not (or no longer, as far as this client may know) in the map.
   */
  flagSeq(uid: number): number {
    return this.pendingExpunge.has(uid) ? 0 : this.seqOf(uid);
  }

  /** How many messages in this session's map are \Recent here (RFC 3501 §7.3.2 RECENT). */
  get recent(): number {
    const r = this.recentRange;
    return r.from >= r.to ? 0 : this.lowerBound(r.to) - this.lowerBound(r.from);
  }

  /** Whether a message is \Recent in this session (SEARCH RECENT/NEW/OLD, §6.4.4). */
  isRecent(uid: number): boolean {
    return inRange(this.recentRange, uid);
  }

  /** A message's flags as this session reports them: with \Recent when it is recent here. */
  reportFlags(uid: number, flags: readonly string[]): readonly string[] {
    return inRange(this.recentRange, uid) ? withRecent(flags) : flags;
  }

  close(): void {
    this.unsubscribe();
    this.onUpdate = null;
    this.handle.close();
  }

  private onEvent(e: MailboxEvent): void {
    switch (e.type) {
      case 'append':
        this.queueNew(e.messages);
        break;
      case 'expunge':
        for (const uid of e.uids) {
          if (this.seqOf(uid) > 0) this.pendingExpunge.set(uid, e.modseq);
          else this.dropPendingNew(uid);
        }
        break;
      case 'flags':
        // Our own STORE answers with its own FETCH responses (or none for .SILENT, RFC 3501 §6.4.6).
        if (e.origin === this.origin) {
          for (const u of e.updates) if (u.modseq > this.highestModseq) this.highestModseq = u.modseq;
          return;
        }
        this.pendingFlags.push(e.updates);
        break;
      case 'gone':
        this.gone = true;
        break;
    }
    this.onUpdate?.();
  }

  private queueNew(records: readonly MessageRecord[]): void {
    let last = this.pendingNew.length > 0 ? this.pendingNew[this.pendingNew.length - 1]! : this.lastUid;
    for (const m of records) {
      // Already in the map (snapshot raced the event) or already queued.
      if (m.uid <= last) continue;
      this.pendingNew.push(m.uid);
      last = m.uid;
    }
  }

  private dropPendingNew(uid: number): void {
    const i = this.pendingNew.indexOf(uid);
    if (i >= 0) this.pendingNew.splice(i, 1);
  }

  /** Remove the given sequence numbers (descending) from the map in one pass. */
  private removeSeqs(desc: readonly number[]): void {
    if (desc.length === 0) return;
    const drop = new Set(desc);
    const own = this.ensureCapacity(this.count);
    let w = 0;
    for (let r = 0; r < this.count; r++) {
      if (drop.has(r + 1)) continue;
      own[w++] = own[r]!;
    }
    this.count = w;
  }

  /** UID at 0-based position i of the map. */
  private at(i: number): number {
    return this.shared ? this.shared[i]!.uid : this.own![i]!;
  }

  /** The session's own copy of the map, with room for n entries (made from the shared snapshot if needed). */
  private ensureCapacity(n: number): Uint32Array {
    let own = this.own;
    if (!own || n > own.length) {
      const next = new Uint32Array(Math.max(16, n, own ? own.length * 2 : n + (n >> 4)));
      if (own) next.set(own.subarray(0, this.count));
      else for (let i = 0; i < this.count; i++) next[i] = this.shared![i]!.uid;
      own = this.own = next;
    }
    this.shared = null;
    return own;
  }

  /**
   * Nothing held back: the map equals the store's current snapshot, so share
   * it again and drop the private copy.
   */
  private adoptSnapshot(): void {
    if (this.shared || this.pendingExpunge.size > 0 || this.pendingNew.length > 0) return;
    const msgs = this.handle.snapshot().messages;
    if (msgs.length !== this.count) return;
    const own = this.own!;
    for (let i = 0; i < msgs.length; i++) if (msgs[i]!.uid !== own[i]) return;
    this.shared = msgs;
    this.own = null;
  }

  private lowerBound(uid: number): number {
    let lo = 0;
    let hi = this.count;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (this.at(mid) < uid) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

function lowerBoundRecords(msgs: readonly MessageRecord[], uid: number, from: number): number {
  let lo = from;
  let hi = msgs.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (msgs[mid]!.uid < uid) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
