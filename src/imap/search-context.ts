/**
 * CONTEXT=SEARCH live results (RFC 5267 §4.3): after `SEARCH RETURN (UPDATE)`
 * the client is told, with `* ESEARCH (TAG "t") [UID] ADDTO (0 set)` and
 * `REMOVEFROM (0 set)`, whenever messages start or stop matching — new
 * messages, flag changes by anyone (this session's STORE included) and
 * expunges — until CANCELUPDATE or the mailbox is no longer selected.
 *
 * Position 0 (§4.3.3/§4.3.4: allowed for SEARCH) means "in mailbox order",
 * so a context keeps just its matching UIDs. Sequence numbers in the program
 * were resolved to UIDs when the command ran (§4.3: they are evaluated at
 * that time only). Each change is checked by running the context's program
 * over the changed messages only (Appendix B), never the whole mailbox.
 *
 * The session calls two hooks around its untagged updates (session.ts
 * writePending): `beforeWrite` with the view's flush, so the REMOVEFROM for
 * messages about to be expunged goes out while their sequence numbers are
 * still valid (§4.3.4 MUST), and `afterWrite`, so an ADDTO naming new
 * messages follows their EXISTS (§4.3.3 MUST). Which messages changed comes
 * from the store's own change events for the selected mailbox.
 */
import { LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';
import type { MailboxEvent } from '../store/types.js';
import type { MailboxView, ViewUpdate } from './mailbox-view.js';
import type { Output } from './output.js';
import { evaluateSearch } from './search/evaluate.js';
import { formatInOrder } from './search/result.js';
import type { SearchKey, SeqRange, SequenceSet } from './wire/types.js';

interface UpdateContext {
  /** Answers use UIDs (UID SEARCH) or sequence numbers (SEARCH), §4.3.2. */
  readonly uid: boolean;
  /** The program with message sequence numbers and `$` resolved to UIDs. */
  readonly program: SearchKey;
  /** Matching UIDs the client has been told of, ascending. */
  result: number[];
}

/** Ascending, distinct UIDs as UID ranges. */
function rangesOf(uids: readonly number[]): SeqRange[] {
  const out: SeqRange[] = [];
  for (let i = 0; i < uids.length; ) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
    out.push({ from: uids[i]!, to: uids[j]! });
    i = j + 1;
  }
  return out;
}

const uidKey = (uids: readonly number[]): SearchKey => ({ key: 'UID', set: { kind: 'ranges', ranges: rangesOf(uids) } });

/** The UIDs a sequence set names now (numbers beyond the mailbox name nothing, as in SEARCH). */
function seqUids(view: MailboxView, set: SequenceSet): number[] {
  if (set.kind === 'saved') return view.resolveSaved();
  const n = view.exists;
  const picked = new Set<number>();
  for (const r of set.ranges) {
    const a = r.from === '*' ? n : r.from;
    const b = r.to === '*' ? n : r.to;
    for (let s = Math.max(1, Math.min(a, b)); s <= Math.min(n, Math.max(a, b)); s++) picked.add(view.uidAt(s));
  }
  return [...picked].sort((x, y) => x - y);
}

/** §4.3: message sequence numbers (and `$`) are evaluated when the command is received, so fix them as UIDs. */
export function freezeSequences(view: MailboxView, k: SearchKey): SearchKey {
  switch (k.key) {
    case 'SEQ':
      return uidKey(seqUids(view, k.set));
    case 'UID':
      return k.set.kind === 'saved' ? uidKey(view.resolveSaved()) : k;
    case 'NOT':
      return { key: 'NOT', operand: freezeSequences(view, k.operand) };
    case 'OR':
      return { key: 'OR', left: freezeSequences(view, k.left), right: freezeSequences(view, k.right) };
    case 'AND':
      return { key: 'AND', operands: k.operands.map((o) => freezeSequences(view, o)) };
    default:
      return k;
  }
}

/** Remove `drop` (ascending) from `from` (ascending); both are small next to the mailbox only in `drop`. */
function without(from: readonly number[], drop: ReadonlySet<number>): number[] {
  return from.filter((u) => !drop.has(u));
}

/** Merge ascending `add` into ascending `into`. */
function merged(into: readonly number[], add: readonly number[]): number[] {
  const out: number[] = [];
  let i = 0;
  let j = 0;
  while (i < into.length || j < add.length) {
    if (j >= add.length || (i < into.length && into[i]! < add[j]!)) out.push(into[i++]!);
    else if (i < into.length && into[i] === add[j]) {
      out.push(into[i++]!);
      j++;
    } else out.push(add[j++]!);
  }
  return out;
}

function contains(sorted: readonly number[], uid: number): boolean {
  let lo = 0;
  let hi = sorted.length - 1;
  while (lo <= hi) {
    const mid = (lo + hi) >>> 1;
    const v = sorted[mid]!;
    if (v === uid) return true;
    if (v < uid) lo = mid + 1;
    else hi = mid - 1;
  }
  return false;
}

/** One session's live update contexts, all for its selected mailbox. */
export class SearchContexts {
  private view: MailboxView | null = null;
  private off: (() => void) | null = null;
  private readonly contexts = new Map<string, UpdateContext>();
  /** UIDs whose flags changed or that arrived since the contexts were last brought up to date. */
  private changed = new Set<number>();

  constructor(private readonly log: Logger) {}

  /** A searching command's tag still has live updates (§4.3: reusing it for UPDATE is BAD). */
  has(tag: string): boolean {
    return this.contexts.has(tag);
  }

  /**
   * Start noting changes to `view` before a searching command with UPDATE
   * evaluates, so nothing that happens while it runs is missed.
   */
  watch(view: MailboxView): void {
    if (this.view === view && this.off) return;
    this.reset();
    this.view = view;
    this.off = view.handle.onChange((e) => this.onEvent(e));
  }

  /**
   * Keep a context for `tag` with its initial result (`hits`: ascending
   * UIDs). False when LIMITS.imap.maxUpdateContexts are live already: the
   * command then answers `* NO [NOUPDATE "tag"]` (§4.3.1).
   */
  add(view: MailboxView, tag: string, uid: boolean, program: SearchKey, hits: readonly number[]): boolean {
    if (this.view !== view) this.watch(view);
    if (this.contexts.size >= LIMITS.imap.maxUpdateContexts) {
      this.releaseIfUnused();
      return false;
    }
    this.contexts.set(tag, { uid, program: freezeSequences(view, program), result: [...hits] });
    return true;
  }

  /** CANCELUPDATE (§4.3.5): the first tag that has no live context, or null when all were cancelled. */
  cancel(tags: readonly string[]): string | null {
    for (const t of tags) if (!this.contexts.has(t)) return t;
    for (const t of tags) this.contexts.delete(t);
    this.releaseIfUnused();
    return null;
  }

  /**
   * Between the view's flush and writing it: REMOVEFROM for messages about
   * to be expunged, with the sequence numbers the flush gives them (valid
   * until their EXPUNGE is written, highest first).
   */
  beforeWrite(out: Output, view: MailboxView, updates: readonly ViewUpdate[]): void {
    if (!this.live(view)) return;
    const gone = new Map<number, number>();
    for (const u of updates) if (u.kind === 'expunge') gone.set(u.uid, u.seq);
    if (gone.size === 0) return;
    for (const uid of gone.keys()) this.changed.delete(uid);
    const drop = new Set(gone.keys());
    for (const [tag, ctx] of this.contexts) {
      const hit = [...gone].filter(([uid]) => contains(ctx.result, uid));
      if (hit.length === 0) continue;
      ctx.result = without(ctx.result, drop);
      const nums = hit.map(([uid, seq]) => (ctx.uid ? uid : seq)).sort((a, b) => a - b);
      out.push(`* ESEARCH (TAG "${tag}")${ctx.uid ? ' UID' : ''} REMOVEFROM (0 ${formatInOrder(nums)})\r\n`);
    }
  }

  /**
   * After the updates are written: check the messages that changed against
   * each context and send what starts or stops matching. Messages not yet
   * announced to the client (no sequence number) wait for their EXISTS.
   */
  async afterWrite(out: Output, view: MailboxView): Promise<void> {
    if (!this.live(view) || this.changed.size === 0) return;
    const now: number[] = [];
    const later = new Set<number>();
    const last = view.lastUid;
    for (const uid of this.changed) {
      if (view.seqOf(uid) > 0) now.push(uid);
      else if (uid > last) later.add(uid);
    }
    this.changed = later;
    if (now.length === 0) return;
    now.sort((a, b) => a - b);
    const candidates = uidKey(now);
    for (const [tag, ctx] of this.contexts) {
      let hits: number[];
      try {
        // The UID restriction first: the evaluator keeps the order of equally cheap keys.
        hits = (await evaluateSearch(view, { key: 'AND', operands: [candidates, ctx.program] })).map((h) => h.uid);
      } catch (err) {
        this.log.warn({ err, tag }, 'search update failed; context dropped');
        this.contexts.delete(tag);
        continue;
      }
      // The session may have left the mailbox while the evaluation ran.
      if (this.view !== view || !this.contexts.has(tag)) return;
      const matching = new Set(hits);
      const removed = now.filter((u) => !matching.has(u) && contains(ctx.result, u));
      const added = hits.filter((u) => !contains(ctx.result, u));
      if (removed.length > 0) ctx.result = without(ctx.result, new Set(removed));
      if (added.length > 0) ctx.result = merged(ctx.result, added);
      const nums = (uids: number[]): string => formatInOrder(ctx.uid ? uids : uids.map((u) => view.seqOf(u)));
      const head = `* ESEARCH (TAG "${tag}")${ctx.uid ? ' UID' : ''}`;
      if (removed.length > 0) out.push(`${head} REMOVEFROM (0 ${nums(removed)})\r\n`);
      if (added.length > 0) out.push(`${head} ADDTO (0 ${nums(added)})\r\n`);
    }
  }

  /** Contexts live only while their mailbox stays selected (§4.3): another view ends them. */
  private live(view: MailboxView): boolean {
    if (this.view === null) return false;
    if (this.view !== view) {
      this.reset();
      return false;
    }
    if (this.contexts.size === 0) {
      this.releaseIfUnused();
      return false;
    }
    return true;
  }

  private onEvent(e: MailboxEvent): void {
    if (e.type === 'append') for (const m of e.messages) this.changed.add(m.uid);
    else if (e.type === 'flags') for (const u of e.updates) this.changed.add(u.uid);
    // An expunged message leaves the results through beforeWrite, with its EXPUNGE (or never arrived).
    else if (e.type === 'expunge') for (const uid of e.uids) this.changed.delete(uid);
  }

  private releaseIfUnused(): void {
    if (this.contexts.size === 0) this.reset();
  }

  private reset(): void {
    this.off?.();
    this.off = null;
    this.view = null;
    this.contexts.clear();
    this.changed = new Set();
  }
}

/**
 * The UPDATE part of a searching command (§4.3), in two steps around its
 * evaluation: `begin` before (BAD for a tag already in use, else changes
 * start being noted), `finish` after the ESEARCH answer is queued (the
 * context is kept, or `* NO [NOUPDATE "tag"]` when over the limit, §4.3.1).
 */
export const searchUpdate = {
  begin(contexts: SearchContexts, view: MailboxView, tag: string): string | null {
    if (contexts.has(tag)) return `Tag reuse: ${tag} already has live updates`;
    contexts.watch(view);
    return null;
  },
  finish(contexts: SearchContexts, out: Output, view: MailboxView, cmd: { tag: string; uid: boolean; program: SearchKey }, uids: readonly number[]): void {
    if (!contexts.add(view, cmd.tag, cmd.uid, cmd.program, uids)) {
      out.push(`* NO [NOUPDATE "${cmd.tag}"] Too many live search updates (limit ${LIMITS.imap.maxUpdateContexts})\r\n`);
    }
  },
};
