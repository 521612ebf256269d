/** STATUS (RFC 3501 §6.3.10): counts from the index, no mailbox is opened. */
import type { CommandOf, StatusItem } from '../wire/types.js';
import { mailboxValue, untagged } from '../wire/encoder.js';
import type { MailboxStatus } from '../../store/types.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { bad, ok } from '../session.js';

function valueOf(item: StatusItem, st: MailboxStatus): number | bigint | null {
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
    // CONDSTORE and STATUS=SIZE are not advertised yet (issue 7).
    case 'HIGHESTMODSEQ':
    case 'SIZE':
      return null;
  }
}

export async function statusCommand(env: CommandEnv, cmd: CommandOf<'STATUS'>): Promise<CommandResult> {
  const name = checkName(cmd.args.mailbox);
  const st = await env.s.user.status(name);
  const values: (string | number | bigint | { kind: 'atom'; value: string })[] = [];
  for (const item of cmd.args.items) {
    const v = valueOf(item, st);
    if (v === null) return bad(`Unsupported STATUS item ${item}`);
    values.push({ kind: 'atom', value: item }, v);
  }
  env.s.out.push(untagged({ kind: 'atom', value: 'STATUS' }, mailboxValue(name), values));
  return ok('Status completed');
}
