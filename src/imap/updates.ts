/**
 * Untagged responses for a view's queued changes (RFC 3501 §7.3.1 EXISTS,
 * §7.3.2 RECENT, §7.4.1 EXPUNGE, §7.4.2 FETCH). Once CONDSTORE is enabled
 * unsolicited FETCH carries MODSEQ (RFC 7162 §3.1.4.1); once QRESYNC is
 * enabled EXPUNGE becomes VANISHED with UIDs (RFC 7162 §3.2.10).
 */
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
      case 'flags':
        for (const batch of u.batches) {
          for (const f of batch) {
            const seq = view.flagSeq(f.uid);
            // UID is included so clients that track by UID need no extra round trip.
            if (seq > 0) out.push(`* ${seq} FETCH (UID ${f.uid} FLAGS ${flagsText(view.reportFlags(f.uid, f.flags))}${opts.modseq ? ` MODSEQ (${f.modseq})` : ''})\r\n`);
            if (out.full) await out.flush();
          }
        }
        break;
      case 'gone':
        gone = true;
        break;
    }
  }
  return gone;
}
