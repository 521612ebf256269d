/** STATUS (RFC 3501 §6.3.10): counts from the index, no mailbox is opened. */
import type { CommandOf, StatusItem } from '../wire/types.js';
import { mailboxValue, untagged } from '../wire/encoder.js';
import type { MailboxStatus } from '../../store/types.js';
import { appendLimit } from '../append-limit.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { ok } from '../session.js';

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

export async function statusCommand(env: CommandEnv, cmd: CommandOf<'STATUS'>): Promise<CommandResult> {
  const name = checkName(cmd.args.mailbox);
  const st = await env.s.user.status(name);
  // RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) is a CONDSTORE-enabling command.
  if (cmd.args.items.includes('HIGHESTMODSEQ')) env.s.enableCondstore();
  env.s.out.push(statusResponse(name, cmd.args.items, st, appendLimit(env.s.ctx)));
  return ok('Status completed');
}
