/**
 * Untagged responses for a view's queued changes (RFC 3501 §7.3.1 EXISTS,
 * §7.3.2 RECENT, §7.4.1 EXPUNGE, §7.4.2 FETCH). When QRESYNC arrives
 * (issue 7) this is where EXPUNGE becomes VANISHED and FETCH gains MODSEQ.
 */
import type { ViewUpdate } from './mailbox-view.js';

/** `(\Seen $Junk)`: flags are atoms or `\`-flags as the store keeps them. */
export function flagsText(flags: readonly string[]): string {
  return `(${flags.join(' ')})`;
}

export function renderUpdates(updates: readonly ViewUpdate[]): { text: string; gone: boolean } {
  let text = '';
  let gone = false;
  for (const u of updates) {
    switch (u.kind) {
      case 'expunge':
        text += `* ${u.seq} EXPUNGE\r\n`;
        break;
      case 'exists':
        text += `* ${u.count} EXISTS\r\n`;
        break;
      case 'recent':
        text += `* ${u.count} RECENT\r\n`;
        break;
      case 'flags':
        // UID is included so clients that track by UID need no extra round trip.
        text += `* ${u.seq} FETCH (UID ${u.uid} FLAGS ${flagsText(u.flags)})\r\n`;
        break;
      case 'gone':
        gone = true;
        break;
    }
  }
  return { text, gone };
}
