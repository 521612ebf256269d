/**
 * The untagged STATUS response (RFC 3501 §7.2.4), written by STATUS,
 * LIST-STATUS (RFC 5819 §2) and NOTIFY (RFC 5465 §5); a module of its own so
 * the NOTIFY machinery need not import a command module.
 */
import type { MailboxStatus } from '../store/types.js';
import { mailboxValue, untagged } from './wire/encoder.js';
import type { StatusItem } from './wire/types.js';

/** `limit`: the APPENDLIMIT of the mailbox (appendLimit(ctx); the same for every mailbox here). */
function valueOf(item: StatusItem, st: MailboxStatus, limit: number): number | bigint {
  switch (item) {
    case 'MESSAGES':
      return st.messages;
    case 'RECENT':
      return st.recent;
    case 'UIDNEXT':
      return st.uidnext;
    case 'UIDVALIDITY':
      return st.uidvalidity;
    case 'UNSEEN':
      return st.unseen;
    // RFC 7162 §3.1.10.
    case 'HIGHESTMODSEQ':
      return st.highestModseq;
    // RFC 8438: the mailbox size in octets as RFC822.SIZE counts them.
    case 'SIZE':
      return st.size;
    // RFC 7889 §3.
    case 'APPENDLIMIT':
      return limit;
  }
}

/** `* STATUS name (item value ...)` in the items' order: STATUS, LIST-STATUS (RFC 5819 §2) and NOTIFY (RFC 5465 §5). */
export function statusResponse(name: string, items: readonly StatusItem[], st: MailboxStatus, limit: number): Buffer {
  const values: (number | bigint | { kind: 'atom'; value: string })[] = [];
  for (const item of items) values.push({ kind: 'atom', value: item }, valueOf(item, st, limit));
  return untagged({ kind: 'atom', value: 'STATUS' }, mailboxValue(name), values);
}
