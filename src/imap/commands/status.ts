/** STATUS (RFC 3501 §6.3.10): counts from the index, no mailbox is opened. */
import type { CommandOf, StatusItem } from '../wire/types.js';
import { mailboxValue, untagged } from '../wire/encoder.js';
import type { MailboxStatus } from '../../store/types.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { bad, ok } from '../session.js';

export function valueOf(item: StatusItem, st: MailboxStatus): number | bigint | null {
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
  }
}

export async function statusCommand(env: CommandEnv, cmd: CommandOf<'STATUS'>): Promise<CommandResult> {
  const name = checkName(cmd.args.mailbox);
  const st = await env.s.user.status(name);
  // RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) is a CONDSTORE-enabling command.
  if (cmd.args.items.includes('HIGHESTMODSEQ')) env.s.enableCondstore();
  const values: (string | number | bigint | { kind: 'atom'; value: string })[] = [];
  for (const item of cmd.args.items) {
    const v = valueOf(item, st);
    if (v === null) return bad(`Unsupported STATUS item ${item}`);
    values.push({ kind: 'atom', value: item }, v);
  }
  env.s.out.push(untagged({ kind: 'atom', value: 'STATUS' }, mailboxValue(name), values));
  return ok('Status completed');
}
