/** Resolving a client's sequence set against the session's view (RFC 3501 §9 sequence-set). */
import type { SequenceSet } from '../wire/types.js';
import type { MailboxView } from '../mailbox-view.js';

/** Ascending UIDs named by `set`: UIDs when `uid`, else message sequence numbers. */
export function resolveSet(view: MailboxView, set: SequenceSet, uid: boolean): number[] {
  // RFC 5182 §2.1: "$" is the saved result (UIDs), whether or not the command is a UID command.
  if (set.kind === 'saved') return view.resolveSaved();
  return uid ? view.resolveUids(set.ranges) : view.resolveSeqs(set.ranges);
}

/** Compact a sorted UID list as an IMAP sequence set ("1:3,7"). */
export function formatUidSet(uids: readonly number[]): string {
  const out: string[] = [];
  for (let i = 0; i < uids.length; ) {
    let j = i;
    while (j + 1 < uids.length && uids[j + 1] === uids[j]! + 1) j++;
    out.push(i === j ? `${uids[i]}` : `${uids[i]}:${uids[j]}`);
    i = j + 1;
  }
  return out.join(',');
}
