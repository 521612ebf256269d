/**
 * Untagged responses for a view's queued changes (RFC 3501 §7.3.1 EXISTS,
 * §7.3.2 RECENT, §7.4.1 EXPUNGE, §7.4.2 FETCH). Once CONDSTORE is enabled
 * unsolicited FETCH carries MODSEQ (RFC 7162 §3.1.4.1); once QRESYNC is
 * enabled EXPUNGE becomes VANISHED with UIDs (RFC 7162 §3.2.10).
 */
import type { ViewUpdate } from './mailbox-view.js';
import { formatUidSet } from './commands/sets.js';

export interface RenderOptions {
  /** CONDSTORE enabled: add MODSEQ to flag updates. */
  readonly modseq: boolean;
  /** QRESYNC enabled: one `VANISHED uid-set` instead of EXPUNGEs. */
  readonly vanished: boolean;
}

/** `(\Seen $Junk)`: flags are atoms or `\`-flags as the store keeps them. */
export function flagsText(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}

export function renderUpdates(updates: readonly ViewUpdate[], opts: RenderOptions = { modseq: false, vanished: false }): { text: string; gone: boolean } {
  let text = '';
  let gone = false;
  const vanished: number[] = [];
  for (const u of updates) {
    switch (u.kind) {
      case 'expunge':
        if (opts.vanished) vanished.push(u.uid);
        else text += `* ${u.seq} EXPUNGE\r\n`;
        break;
      case 'exists':
        text += `* ${u.count} EXISTS\r\n`;
        break;
      case 'recent':
        text += `* ${u.count} RECENT\r\n`;
        break;
      case 'flags':
        // UID is included so clients that track by UID need no extra round trip.
        text += `* ${u.seq} FETCH (UID ${u.uid} FLAGS ${flagsText(u.flags)}${opts.modseq ? ` MODSEQ (${u.modseq})` : ''})\r\n`;
        break;
      case 'gone':
        gone = true;
        break;
    }
  }
  if (vanished.length > 0) {
    // Expunges come first in the flush (so sequence numbers stay valid); one VANISHED keeps that order.
    vanished.sort((a, b) => a - b);
    text = `* VANISHED ${formatUidSet(vanished)}\r\n${text}`;
  }
  return { text, gone };
}
