/**
 * FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8). Sequence numbers resolve
 * against this session's view; a message another session expunged (still in
 * our map, gone from the store) is never replaced by another: RFC 2180
 * §4.1.2 — the others are answered and the command ends NO. Implicit \Seen
 * is set in one store call before the answers, which then carry FLAGS (and,
 * under CONDSTORE, UID and the new MODSEQ: RFC 7162 §3.1).
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
import { isWholeMessageItem, renderFetch, renderMetaLine, renderWholeMessage } from '../fetch/render.js';
import { structureTexts, type StructureTexts } from '../fetch/cache.js';
import type { MailboxHandle, MessageRecord } from '../../store/store.js';
import { LIMITS } from '../../limits.js';
import { renderBodyStructure } from '../../store/mime/bodystructure.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, no, ok } from '../command.js';
import { resolveSet } from './sets.js';
import { ResponseAbortedError } from '../output.js';
import { setIntervals, writeVanishedEarlier } from '../qresync.js';
import { announceKeywords } from '../updates.js';

/** Items answerable from the index plus cached ENVELOPE/BODY/BODYSTRUCTURE text. */
const TEXT_ITEMS: ReadonlySet<string> = new Set(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ', 'UID', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE']);

/** Items that need the stored structure even with the whole message at hand. */
const STRUCTURE_ITEMS: ReadonlySet<string> = new Set(['ENVELOPE', 'BODY', 'BODYSTRUCTURE']);

/**
 * Whole small messages read LIMITS.imap.fetchReadAhead at a time ahead of
 * the one being written: the file system (libuv's thread pool) works on the
 * next files while this one goes out. A file it cannot read (being renamed,
 * expunged, or bigger than fetchWholeReadMaxBytes) yields null, and the
 * caller takes the general path, which retries and streams.
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
    // Never rejects: an unread promise must not become an unhandled rejection when the command ends early.
    const data = this.handle.readMessage(rec.uid, { start: 0, end: rec.size }).then(
      (b) => (b.length === rec.size ? b : null),
      () => null,
    );
    this.reads.set(i, { size: rec.size, data });
  }
}

/** Attempts (5 ms apart) to open a file the index still lists while the store renames it. */
const RENAME_RETRIES = 20;

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
  if (cmd.args.vanished && changedSince !== null && cmd.args.set.kind === 'ranges') {
    writeVanishedEarlier(s.out, view, snapshot.uidnext, changedSince, setIntervals(cmd.args.set, snapshot.uidnext - 1));
  }

  // Implicit \Seen (RFC 3501 §6.4.5), once for the whole command.
  const newFlags = new Map<number, readonly string[]>();
  const newModseq = new Map<number, bigint>();
  if (plan.setsSeen && !view.readOnly) {
    const unseen = found.filter((m) => !m.flags.includes('\\Seen')).map((m) => m.uid);
    if (unseen.length > 0) {
      const r = await view.handle.storeFlags(unseen, 'add', ['\\Seen']);
      for (const u of r.updated) {
        newFlags.set(u.uid, u.flags);
        newModseq.set(u.uid, u.modseq);
      }
    }
  }

  // RFC 7162 §3.1: under CONDSTORE an answer reporting the new \Seen also carries UID and MODSEQ.
  const changedPlan = newModseq.size > 0 && s.enabled.has('CONDSTORE') ? reportingChange(plan) : plan;
  const planFor = (uid: number): typeof plan => (newModseq.has(uid) ? changedPlan : plan);

  if (plan.metaOnly) {
    for (const record of found) {
      const seq = view.seqOf(record.uid);
      if (seq === 0) continue;
      const flags = view.reportFlags(record.uid, newFlags.get(record.uid) ?? record.flags);
      if (showsFlags) announceKeywords(s.out, view, flags);
      s.out.push(renderMetaLine(planFor(record.uid), seq, record, flags, newModseq.get(record.uid) ?? record.modseq));
      if (s.out.full) await s.out.flush();
    }
    return missing.length > 0 && !cmd.uid ? no('Some of the requested messages no longer exist', { name: 'EXPUNGEISSUED' }) : ok('Fetch completed');
  }

  // Structure needed only for ENVELOPE/BODY/BODYSTRUCTURE: answer from the rendered-text cache when possible.
  const textsOnly = plan.needsStructure && plan.items.every((i) => TEXT_ITEMS.has(i.item));
  const wantBody = plan.items.some((i) => i.item === 'BODY');
  const wantBs = plan.items.some((i) => i.item === 'BODYSTRUCTURE');
  // Only index data and whole messages: small files are read in one piece, several ahead, without their structure.
  const wholeOnly = plan.items.every((i) => TEXT_ITEMS.has(i.item) || isWholeMessageItem(i)) && !plan.items.some((i) => STRUCTURE_ITEMS.has(i.item));
  const cache = textsOnly ? structureTexts.forMailbox(s.user.account.id, view.handle.name, view.uidvalidity) : null;
  const ahead = wholeOnly ? new ReadAhead(view.handle, found) : null;
  let vanished = 0;
  for (let i = 0; i < found.length; i++) {
    const record = found[i]!;
    const seq = view.seqOf(record.uid);
    if (seq === 0) continue;
    const flags = view.reportFlags(record.uid, newFlags.get(record.uid) ?? record.flags);
    if (showsFlags) announceKeywords(s.out, view, flags);
    const modseq = newModseq.get(record.uid);
    const p = planFor(record.uid);
    if (cache) {
      const hit = cache.get(record.uid);
      if (hit && (!wantBody || hit.body !== undefined) && (!wantBs || hit.bodystructure !== undefined)) {
        s.out.push(renderMetaLine(p, seq, record, flags, modseq ?? record.modseq, hit));
        if (s.out.full) await s.out.flush();
        continue;
      }
    }
    const raw = ahead ? await ahead.take(i) : null;
    if (raw) {
      renderWholeMessage(s.out, p, { seq, record, flags, tree: null, modseq }, raw);
      if (s.out.full) await s.out.flush();
      continue;
    }
    for (let attempt = 0; ; attempt++) {
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
        await renderFetch(s.out, view.handle, p, { seq, record, flags, tree, texts, modseq });
        break;
      } catch (err) {
        // Cut off mid-literal: the session ends (output.ts); the cause is worth an operator's look.
        if (err instanceof ResponseAbortedError) s.log.error({ uid: record.uid, mailbox: view.handle.name, reason: err.reason }, 'FETCH response aborted, closing the connection');
        if (!isRoostError(err, 'NOTFOUND')) throw err;
        // Nothing of this message was written (renderFetch reads before it writes).
        // Still in the index: the file is being renamed for a flag change; look again shortly.
        if (attempt < RENAME_RETRIES && view.records([record.uid]).found.length > 0) {
          await new Promise((r) => setTimeout(r, 5));
          continue;
        }
        // Expunged between the snapshot and reading it: like a missing message.
        vanished++;
        break;
      }
    }
  }
  if (!cmd.uid && missing.length + vanished > 0) {
    return no('Some of the requested messages no longer exist', { name: 'EXPUNGEISSUED' });
  }
  return ok('Fetch completed');
}
