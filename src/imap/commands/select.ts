/**
 * SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2). A failed SELECT leaves the
 * session unselected (§6.3.1). The view (mailbox-view.ts) is created here and
 * lives until CLOSE/UNSELECT/another SELECT/LOGOUT.
 */
import { SYSTEM_FLAGS } from '../../store/types.js';
import type { CommandOf } from '../wire/types.js';
import { MailboxView } from '../mailbox-view.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { bad, ok } from '../session.js';
import { flagsText } from '../updates.js';

export async function selectCommand(env: CommandEnv, cmd: CommandOf<'SELECT' | 'EXAMINE'>): Promise<CommandResult> {
  const s = env.s;
  const args = cmd.args;
  if (args.condstore || args.qresync) return bad('CONDSTORE/QRESYNC are not supported');
  s.deselect();
  const name = checkName(args.mailbox);
  const readOnly = cmd.name === 'EXAMINE';
  const user = s.user;
  const handle = await user.openMailbox(name, { readOnly, origin: s.id });
  const { view, snapshot } = MailboxView.open(handle, s.id);
  if (s.state.kind !== 'auth') {
    view.close();
    return bad('Session state changed');
  }
  s.state = { kind: 'selected', account: s.state.account, user: s.state.user, view };

  // Keywords in use (RFC 3501 §7.2.6 FLAGS lists the flags applicable here).
  const keywords = new Set<string>();
  let firstUnseen = 0;
  const msgs = snapshot.messages;
  for (let i = 0; i < msgs.length; i++) {
    const f = msgs[i]!.flags;
    let seen = false;
    for (const flag of f) {
      if (flag === '\\Seen') seen = true;
      else if (flag.charCodeAt(0) !== 92) keywords.add(flag);
    }
    if (!seen && firstUnseen === 0) firstUnseen = i + 1;
  }
  const flags = [...SYSTEM_FLAGS, ...[...keywords].sort()];
  s.out.push(`* FLAGS ${flagsText(flags)}\r\n`);
  s.out.push(`* OK [PERMANENTFLAGS ${handle.readOnly ? '()' : flagsText([...flags, '\\*'])}] Flags permitted\r\n`);
  s.out.push(`* ${view.exists} EXISTS\r\n`);
  s.out.push('* 0 RECENT\r\n');
  if (firstUnseen > 0) s.out.push(`* OK [UNSEEN ${firstUnseen}] First unseen\r\n`);
  s.out.push(`* OK [UIDVALIDITY ${snapshot.uidvalidity}] UIDs valid\r\n`);
  s.out.push(`* OK [UIDNEXT ${snapshot.uidnext}] Predicted next UID\r\n`);
  return ok(`${readOnly ? 'Examine' : 'Select'} completed`, { name: handle.readOnly ? 'READ-ONLY' : 'READ-WRITE' });
}
