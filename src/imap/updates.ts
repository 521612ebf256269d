/**
 * Untagged responses for a view's queued changes (RFC 3501 §7.3.1 EXISTS,
 * §7.3.2 RECENT, §7.4.1 EXPUNGE, §7.4.2 FETCH). Once CONDSTORE is enabled
 * unsolicited FETCH carries MODSEQ (RFC 7162 §3.1.4.1); once QRESYNC is
 * enabled EXPUNGE becomes VANISHED with UIDs (RFC 7162 §3.2.10).
 */
import { SYSTEM_FLAGS } from '../store/types.js';
import type { MailboxView, ViewUpdate } from './mailbox-view.js';
import type { Output } from './output.js';
import { formatUidSet } from './commands/sets.js';

export interface RenderOptions {
  /** CONDSTORE enabled: add MODSEQ to flag updates. */
  readonly modseq: boolean;
  /** QRESYNC enabled: one `VANISHED uid-set` instead of EXPUNGEs. */
  readonly vanished: boolean;
}

/** `(\Seen $Junk)`: flags are atoms or `\`-flags as the store keeps them. */
export function flagsText(flags: readonly string[]): string {
  // The store interns flag arrays (most messages of a big mailbox share one), so the text is made once per array.
  let t = flagsTextCache.get(flags);
  if (t === undefined) {
    t = `(${flags.join(' ')})`;
    flagsTextCache.set(flags, t);
  }
  return t;
}
const flagsTextCache = new WeakMap<readonly string[], string>();

/**
 * `* FLAGS (...)` and `* OK [PERMANENTFLAGS (...)]` for the view's keywords
 * (RFC 3501 §7.2.6, §7.1): at SELECT, and again whenever a keyword new to
 * this session is about to be shown. The list only grows, so a keyword a
 * message still carries is never dropped from it.
 */
export function flagsResponses(view: MailboxView): string {
  const flags = [...SYSTEM_FLAGS, ...view.announcedKeywords];
  const permanent = view.readOnly ? '()' : `(${[...flags, '\\*'].join(' ')})`;
  return `* FLAGS (${flags.join(' ')})\r\n* OK [PERMANENTFLAGS ${permanent}] Flags permitted\r\n`;
}

/**
 * Before any FETCH that shows `flags`: announce keywords this session has
 * not been told of (RFC 3501 §7.2.6), whether they came from its own STORE,
 * another session, COPY or APPEND. Cheap when nothing is new (the view
 * remembers the store's interned flag arrays it has checked).
 */
export function announceKeywords(out: Output, view: MailboxView, flags: readonly string[]): void {
  if (view.learnKeywords(flags)) out.push(flagsResponses(view));
}

/**
 * Write the updates; flag changes stream with back-pressure (a STORE 1:* by
 * another session is one line per message). Returns true when the mailbox
 * went away (the caller says BYE).
 */
export async function writeUpdates(
  out: Output,
  view: MailboxView,
  updates: readonly ViewUpdate[],
  opts: RenderOptions = { modseq: false, vanished: false },
): Promise<boolean> {
  let gone = false;
  if (opts.vanished) {
    // Expunges come first in a flush; one VANISHED line with their UIDs keeps that order.
    const uids: number[] = [];
    for (const u of updates) if (u.kind === 'expunge') uids.push(u.uid);
    if (uids.length > 0) out.push(`* VANISHED ${formatUidSet(uids.sort((a, b) => a - b))}\r\n`);
  }
  for (const u of updates) {
    switch (u.kind) {
      case 'expunge':
        if (!opts.vanished) out.push(`* ${u.seq} EXPUNGE\r\n`);
        break;
      case 'exists':
        out.push(`* ${u.count} EXISTS\r\n`);
        break;
      case 'recent':
        out.push(`* ${u.count} RECENT\r\n`);
        break;
      case 'flags': {
        // The message's state now, not the event's: an older event must not undo what a newer answer
        // (this session's own STORE or FETCH) already showed, and each message goes out once.
        const now = view.handle.snapshot();
        const written = u.batches.length > 1 ? new Set<number>() : null;
        let at = 0;
        for (const batch of u.batches) {
          for (const f of batch) {
            const seq = view.flagSeq(f.uid);
            if (seq === 0) continue;
            if (written) {
              if (written.has(f.uid)) continue;
              written.add(f.uid);
            }
            const i = view.indexIn(now, f.uid, at);
            // Gone from the store: its EXPUNGE is queued and says the rest.
            if (i < 0) continue;
            at = i + 1;
            const m = now.messages[i]!;
            announceKeywords(out, view, m.flags);
            // UID is included so clients that track by UID need no extra round trip.
            out.push(`* ${seq} FETCH (UID ${m.uid} FLAGS ${flagsText(view.reportFlags(m.uid, m.flags))}${opts.modseq ? ` MODSEQ (${m.modseq})` : ''})\r\n`);
            if (out.full) await out.flush();
          }
        }
        break;
      }
      case 'gone':
        gone = true;
        break;
    }
  }
  return gone;
}
