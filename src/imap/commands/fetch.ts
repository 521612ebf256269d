/**
 * FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8). Sequence numbers resolve
 * against this session's view; a message another session expunged (still in
 * our map, gone from the store) is never replaced by another: RFC 2180
 * §4.1.2 — the others are answered and the command ends NO.
 *
 * Implicit \Seen (RFC 3501 §6.4.5) is set per window of messages
 * (LIMITS.imap.fetchSeenWindow): the window's files are read (whole small
 * ones) or opened (a descriptor survives a rename) first, then one store
 * call flags them, then their answers go out carrying FLAGS (and, under
 * CONDSTORE, UID and the new MODSEQ: RFC 7162 §3.1). The store renames a
 * file when its flags change, so reading after the change would chase the
 * files this very command is moving.
 *
 * RFC 7162: MODSEQ and CHANGEDSINCE enable CONDSTORE (§3.1); CHANGEDSINCE
 * answers only messages with a higher modseq (§3.1.4.1); UID FETCH
 * (CHANGEDSINCE n VANISHED) first reports the UIDs of the set expunged
 * since n as VANISHED (EARLIER) (§3.2.6).
 */
import { isRoostError } from '../../errors.js';
import type { MimeTree } from '../../store/mime/types.js';
import type { CommandOf } from '../wire/types.js';
import { planFetch, reportingChange } from '../fetch/plan.js';
import { isWholeMessageItem, readsMessageFile, renderFetch, renderMetaLine, renderWholeMessage } from '../fetch/render.js';
import { structureTexts, type StructureTexts } from '../fetch/shared-values.js';
import type { MailboxHandle, MessageFile, MessageRecord } from '../../store/store.js';
import { LIMITS } from '../../limits.js';
import { renderBodyStructure } from '../message/bodystructure.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, no, ok } from '../command.js';
import { resolveSet } from './sets.js';
import { ResponseAbortedError } from '../output.js';
import { setIntervals, writeVanishedEarlier } from '../qresync.js';
import { announceKeywords } from '../updates.js';

/** Items answerable from the index plus cached ENVELOPE/BODY/BODYSTRUCTURE text. */
const TEXT_ITEMS: ReadonlySet<string> = new Set(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ', 'UID', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE']);

/** Items that show no size or date: answered without the facts a lazy first open leaves to be read. */
const FACT_FREE_ITEMS: ReadonlySet<string> = new Set(['FLAGS', 'MODSEQ', 'UID']);

/** Items that need the stored structure even with the whole message at hand. */
const STRUCTURE_ITEMS: ReadonlySet<string> = new Set(['ENVELOPE', 'BODY', 'BODYSTRUCTURE']);

/**
 * Whole small messages read LIMITS.imap.fetchReadAhead at a time ahead of
 * the one being written: the file system (libuv's thread pool) works on the
 * next files while this one goes out. A file it cannot read (being renamed,
 * expunged, or bigger than fetchWholeReadMaxBytes) yields null, and the
 * caller takes the general path, which opens and streams it.
 */
class ReadAhead {
  private readonly reads = new Map<number, { size: number; data: Promise<Buffer | null> }>();
  private next = 0;
  /** Bytes read or being read and not yet taken (bounded by LIMITS.imap.fetchReadAheadBytes). */
  private held = 0;

  constructor(
    private readonly handle: MailboxHandle,
    private readonly records: readonly MessageRecord[],
  ) {}

  take(i: number): Promise<Buffer | null> {
    while (this.next < this.records.length && this.next <= i + LIMITS.imap.fetchReadAhead && (this.next <= i || this.held < LIMITS.imap.fetchReadAheadBytes)) {
      this.start(this.next++);
    }
    const r = this.reads.get(i);
    if (!r) return Promise.resolve(null);
    this.reads.delete(i);
    this.held -= r.size;
    return r.data;
  }

  private start(i: number): void {
    const rec = this.records[i]!;
    if (rec.size > LIMITS.imap.fetchWholeReadMaxBytes) return;
    this.held += rec.size;
    // The whole file, not a range: a small one is then read on the main thread at the name the
    // index knows (store/maildir/quick-read.ts), one open/read/close with no thread-pool round trip
    // each. A file of another length than the index says takes the general path.
    // Never rejects: an unread promise must not become an unhandled rejection when the command ends early.
    const data = this.handle.readMessage(rec.uid).then(
      (b) => (b.length === rec.size ? b : null),
      () => null,
    );
    this.reads.set(i, { size: rec.size, data });
  }
}

/** A message made ready to answer before any flag change of this command: what renderFetch & co. read from. */
type Ready =
  | { readonly kind: 'texts'; readonly texts: StructureTexts }
  | { readonly kind: 'whole'; readonly raw: Buffer }
  | { readonly kind: 'file'; readonly file: MessageFile | null; readonly tree: MimeTree | null; readonly texts: StructureTexts | undefined };

interface Slot {
  readonly record: MessageRecord;
  readonly seq: number;
  readonly ready: Ready;
}

/** A window's messages made ready, and the \Seen change made for them. */
interface Window {
  readonly slots: readonly Slot[];
  readonly changed: SeenChange;
}

async function closeFiles(slots: readonly Slot[]): Promise<void> {
  for (const { ready } of slots) if (ready.kind === 'file') await ready.file?.close();
}

export async function fetchCommand(env: CommandEnv, cmd: CommandOf<'FETCH'>): Promise<CommandResult> {
  const s = env.s;
  const view = s.view;
  const changedSince = cmd.args.changedSince;
  if (cmd.args.vanished && !s.enabled.has('QRESYNC')) return bad('VANISHED requires ENABLE QRESYNC');
  const planned = planFetch(cmd.args.items, cmd.uid);
  if (!planned.ok) return bad(planned.reason);
  const plan = planned.plan;
  if (changedSince !== null || plan.items.some((i) => i.item === 'MODSEQ')) s.enableCondstore();
  // RFC 3501 §7.2.6: a keyword is shown only after FLAGS announced it to this session.
  const showsFlags = plan.addFlags || plan.items.some((i) => i.item === 'FLAGS');
  const uids = resolveSet(view, cmd.args.set, cmd.uid);
  const snapshot = view.handle.snapshot();
  const records = view.records(uids, snapshot);
  const missing = records.missing;
  const found = changedSince === null ? records.found : records.found.filter((m) => m.modseq > changedSince);
  // INTERNALDATE, RFC822.SIZE and the read-ahead's sizes are exact (a lazily opened Maildir's are read now: store/facts.ts).
  // With ENVELOPE/BODY/BODYSTRUCTURE, files not parsed yet are parsed in batches first: each structure below is then a lookup.
  if (!plan.items.every((i) => FACT_FREE_ITEMS.has(i.item))) await view.handle.ensureFacts(found.map((m) => m.uid), { structure: plan.needsStructure });
  if (cmd.args.vanished && changedSince !== null && cmd.args.set.kind === 'ranges') {
    writeVanishedEarlier(s.out, view, snapshot.uidnext, changedSince, setIntervals(cmd.args.set, snapshot.uidnext - 1));
  }
  const condstore = s.enabled.has('CONDSTORE');
  const done = (vanished: number): CommandResult =>
    !cmd.uid && missing.length + vanished > 0 ? no('Some of the requested messages no longer exist', { name: 'EXPUNGEISSUED' }) : ok('Fetch completed');

  if (plan.metaOnly) {
    // Index data only: no item reads the message, so none sets \Seen (plan.ts).
    for (const record of found) {
      const seq = view.seqOf(record.uid);
      if (seq === 0) continue;
      const flags = view.reportFlags(record.uid, record.flags);
      if (showsFlags) announceKeywords(s.out, view, flags);
      s.out.push(renderMetaLine(plan, { seq, record, flags, tree: null }));
      if (s.out.full) await s.out.flush();
    }
    return done(0);
  }

  // Structure needed only for ENVELOPE/BODY/BODYSTRUCTURE: answer from the rendered-text cache when possible.
  const textsOnly = plan.needsStructure && plan.items.every((i) => TEXT_ITEMS.has(i.item));
  const wantBody = plan.items.some((i) => i.item === 'BODY');
  const wantBs = plan.items.some((i) => i.item === 'BODYSTRUCTURE');
  // Only index data and whole messages: small files are read in one piece, several ahead, without their structure.
  const wholeOnly = plan.items.every((i) => TEXT_ITEMS.has(i.item) || isWholeMessageItem(i)) && !plan.items.some((i) => STRUCTURE_ITEMS.has(i.item));
  const cache = textsOnly ? structureTexts.forMailbox(s.user.account.id, view.handle.name, view.uidvalidity) : null;
  const ahead = wholeOnly ? new ReadAhead(view.handle, found) : null;
  const opensFile = plan.items.some(readsMessageFile);
  const flagging = plan.setsSeen && !view.readOnly;
  const windowSize = flagging ? LIMITS.imap.fetchSeenWindow : 1;
  let vanished = 0;

  /** Read or open one message; null when it is gone (expunged since the snapshot: like a missing message). */
  const prepare = async (record: MessageRecord, i: number): Promise<Ready | null> => {
    if (cache) {
      const hit = cache.get(record.uid);
      if (hit && (!wantBody || hit.body !== undefined) && (!wantBs || hit.bodystructure !== undefined)) return { kind: 'texts', texts: hit };
    }
    const raw = ahead ? await ahead.take(i) : null;
    if (raw) return { kind: 'whole', raw };
    try {
      let tree: MimeTree | null = null;
      let texts: StructureTexts | undefined;
      if (cache) {
        const old = cache.get(record.uid);
        const t = await view.handle.structure(record.uid);
        texts = {
          envelope: t.envelope,
          body: wantBody ? renderBodyStructure(t, false) : old?.body,
          bodystructure: wantBs ? renderBodyStructure(t, true) : old?.bodystructure,
        };
        cache.set(record.uid, texts);
      } else if (plan.needsStructure) tree = await view.handle.structure(record.uid);
      const file = opensFile ? await view.handle.openMessageFile(record.uid) : null;
      return { kind: 'file', file, tree, texts };
    } catch (err) {
      if (!isRoostError(err, 'NOTFOUND')) throw err;
      vanished++;
      return null;
    }
  };

  let w = 0;
  /** Read or open the next window's messages, then flag them: every file is read or opened before its flags change. */
  const gather = async (): Promise<Window | null> => {
    if (w >= found.length) return null;
    const slots: Slot[] = [];
    let rawBytes = 0;
    try {
      for (; w < found.length && slots.length < windowSize && rawBytes < LIMITS.imap.fetchReadAheadBytes; w++) {
        const record = found[w]!;
        const seq = view.seqOf(record.uid);
        if (seq === 0) continue;
        const ready = await prepare(record, w);
        if (!ready) continue;
        if (ready.kind === 'whole') rawBytes += ready.raw.length;
        slots.push({ record, seq, ready });
      }
      return { slots, changed: flagging ? await markSeen(view.handle, slots) : NO_CHANGE };
    } catch (err) {
      await closeFiles(slots);
      throw err;
    }
  };

  let next = gather();
  try {
    for (let win = await next; win; win = await next) {
      // Under implicit \Seen the next window is read and its flag change committed (a journal
      // fsync) while this one is written, so the command does not wait for each commit in turn.
      // Its answers still go out after this window's, in order. At most two windows are held.
      next = flagging ? gather() : Promise.resolve(null);
      next.catch(() => undefined);
      try {
        await writeWindow(win);
      } finally {
        await closeFiles(win.slots);
      }
      if (!flagging) next = gather();
    }
  } finally {
    // Cut short (the client went away): the window read ahead is closed too.
    const left = await next.catch(() => null);
    if (left) await closeFiles(left.slots);
  }
  return done(vanished);

  async function writeWindow({ slots, changed }: Window): Promise<void> {
    // RFC 7162 §3.1: under CONDSTORE an answer reporting the new \Seen also carries UID and MODSEQ.
    const changedPlan = changed.modseq.size > 0 && condstore ? reportingChange(plan) : plan;
    for (const { record, seq, ready } of slots) {
      const flags = view.reportFlags(record.uid, changed.flags.get(record.uid) ?? record.flags);
      if (showsFlags) announceKeywords(s.out, view, flags);
      const modseq = changed.modseq.get(record.uid);
      const p = modseq !== undefined ? changedPlan : plan;
      if (ready.kind === 'texts') {
        s.out.push(renderMetaLine(p, { seq, record, flags, tree: null, texts: ready.texts, modseq }));
      } else if (ready.kind === 'whole') {
        renderWholeMessage(s.out, p, { seq, record, flags, tree: null, modseq }, ready.raw);
      } else {
        try {
          await renderFetch(s.out, p, { seq, record, flags, tree: ready.tree, texts: ready.texts, modseq }, ready.file);
        } catch (err) {
          // Cut off mid-literal: the session ends (output.ts); the cause is worth an operator's look.
          if (err instanceof ResponseAbortedError) s.log.error({ uid: record.uid, mailbox: view.handle.name, reason: err.reason }, 'FETCH response aborted, closing the connection');
          throw err;
        }
      }
      if (s.out.full) await s.out.flush();
    }
  }
}

/** The flag change of one window: new flags and modseqs by UID. */
interface SeenChange {
  readonly flags: ReadonlyMap<number, readonly string[]>;
  readonly modseq: ReadonlyMap<number, bigint>;
}

const NO_CHANGE: SeenChange = { flags: new Map(), modseq: new Map() };

/** Implicit \Seen (RFC 3501 §6.4.5) for a window's messages, in one store call. */
async function markSeen(handle: MailboxHandle, slots: readonly Slot[]): Promise<SeenChange> {
  const unseen = slots.filter((x) => !x.record.flags.includes('\\Seen')).map((x) => x.record.uid);
  if (unseen.length === 0) return NO_CHANGE;
  const r = await handle.storeFlags(unseen, 'add', ['\\Seen']);
  const flags = new Map<number, readonly string[]>();
  const modseq = new Map<number, bigint>();
  for (const u of r.updated) {
    flags.set(u.uid, u.flags);
    modseq.set(u.uid, u.modseq);
  }
  return { flags, modseq };
}
