/**
 * FETCH and UID FETCH (RFC 3501 §6.4.5, §6.4.8). Sequence numbers resolve
 * against this session's view; a message another session expunged (still in
 * our map, gone from the store) is never replaced by another: RFC 2180
 * §4.1.2 — the others are answered and the command ends NO. Implicit \Seen
 * is set in one store call before the answers, which then carry FLAGS.
 *
 * RFC 7162: MODSEQ and CHANGEDSINCE enable CONDSTORE (§3.1); CHANGEDSINCE
 * answers only messages with a higher modseq (§3.1.4.1); UID FETCH
 * (CHANGEDSINCE n VANISHED) first reports the UIDs of the set expunged
 * since n as VANISHED (EARLIER) (§3.2.6).
 */
import { isRoostError } from '../../errors.js';
import type { MimeTree } from '../../store/mime/types.js';
import type { CommandOf } from '../wire/types.js';
import { planFetch } from '../fetch/plan.js';
import { renderFetch, renderMetaLine } from '../fetch/render.js';
import { structureKey, structureTexts, type StructureTexts } from '../fetch/cache.js';
import { renderBodyStructure } from '../../store/mime/bodystructure.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { bad, no, ok } from '../session.js';
import { resolveSet } from './sets.js';
import { setIntervals, writeVanishedEarlier } from '../qresync.js';

/** Items answerable from the index plus cached ENVELOPE/BODY/BODYSTRUCTURE text. */
const TEXT_ITEMS: ReadonlySet<string> = new Set(['FLAGS', 'INTERNALDATE', 'RFC822.SIZE', 'MODSEQ', 'UID', 'ENVELOPE', 'BODY', 'BODYSTRUCTURE']);

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
  if (changedSince !== null || plan.items.some((i) => i.item === 'MODSEQ')) s.enabled.add('CONDSTORE');
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

  if (plan.metaOnly) {
    for (const record of found) {
      const seq = view.seqOf(record.uid);
      if (seq === 0) continue;
      s.out.push(renderMetaLine(plan, seq, record, newFlags.get(record.uid) ?? record.flags, newModseq.get(record.uid) ?? record.modseq));
      if (s.out.full) await s.out.flush();
    }
    return missing.length > 0 && !cmd.uid ? no('Some of the requested messages no longer exist', { name: 'EXPUNGEISSUED' }) : ok('Fetch completed');
  }

  // Structure needed only for ENVELOPE/BODY/BODYSTRUCTURE: answer from the rendered-text cache when possible.
  const textsOnly = plan.needsStructure && plan.items.every((i) => TEXT_ITEMS.has(i.item));
  const wantBody = plan.items.some((i) => i.item === 'BODY');
  const wantBs = plan.items.some((i) => i.item === 'BODYSTRUCTURE');
  const accountId = s.user.account.id;
  let vanished = 0;
  for (const record of found) {
    const seq = view.seqOf(record.uid);
    if (seq === 0) continue;
    const flags = newFlags.get(record.uid) ?? record.flags;
    for (let attempt = 0; ; attempt++) {
      try {
        let tree: MimeTree | null = null;
        let texts: StructureTexts | undefined;
        if (textsOnly) {
          const key = structureKey(accountId, view.handle.name, view.uidvalidity, record.uid);
          texts = structureTexts.get(key);
          if (!texts || (wantBody && texts.body === undefined) || (wantBs && texts.bodystructure === undefined)) {
            const t = await view.handle.structure(record.uid);
            texts = {
              envelope: t.envelope,
              body: wantBody ? renderBodyStructure(t, false) : texts?.body,
              bodystructure: wantBs ? renderBodyStructure(t, true) : texts?.bodystructure,
            };
            structureTexts.set(key, texts);
          }
        } else if (plan.needsStructure) tree = await view.handle.structure(record.uid);
        await renderFetch(s.out, view.handle, plan, { seq, record, flags, tree, texts, modseq: newModseq.get(record.uid) });
        break;
      } catch (err) {
        if (!isRoostError(err, 'NOTFOUND')) throw err;
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
