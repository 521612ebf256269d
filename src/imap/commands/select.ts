/**
 * SELECT and EXAMINE (RFC 3501 §6.3.1, §6.3.2). A failed SELECT leaves the
 * session unselected (§6.3.1). The view (mailbox-view.ts) is created here and
 * lives until CLOSE/UNSELECT/another SELECT/LOGOUT.
 *
 * RFC 7162: `(CONDSTORE)` enables CONDSTORE (§3.1.8); HIGHESTMODSEQ is sent
 * on every SELECT (§3.1.2.1); `(QRESYNC (...))` needs ENABLE QRESYNC first
 * (§3.2.5) and adds VANISHED (EARLIER) and changed FETCHes (qresync.ts);
 * leaving a selected mailbox for another sends `* OK [CLOSED]` (§3.2.11).
 */
import type { CommandOf } from '../wire/types.js';
import { MailboxView } from '../mailbox-view.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, ok } from '../command.js';
import { flagsResponses } from '../updates.js';
import { resyncOnSelect } from '../qresync.js';
import type { MessageRecord } from '../../store/types.js';
import { sortColumns } from '../search/sort-columns.js';

export async function selectCommand(env: CommandEnv, cmd: CommandOf<'SELECT' | 'EXAMINE'>): Promise<CommandResult> {
  const s = env.s;
  const args = cmd.args;
  if (args.qresync && !s.enabled.has('QRESYNC')) return bad('QRESYNC parameter requires ENABLE QRESYNC');
  if (s.state.kind === 'selected') s.out.push('* OK [CLOSED] Previous mailbox closed\r\n');
  s.deselect();
  // After the deselect, so the old mailbox's HIGHESTMODSEQ is not reported; this SELECT reports the new one.
  if (args.condstore) s.enableCondstore();
  const name = checkName(args.mailbox);
  const readOnly = cmd.name === 'EXAMINE';
  const user = s.user;
  // SELECT takes \Recent ownership, EXAMINE only looks (RFC 3501 §6.3.2; store/recent.ts).
  const handle = await user.openMailbox(name, { readOnly, origin: s.id, recent: true });
  const { view, snapshot } = MailboxView.open(handle, s.id, user.account.id);
  if (s.state.kind !== 'auth') {
    view.close();
    return bad('Session state changed');
  }
  s.state = { kind: 'selected', account: s.state.account, user: s.state.user, view };

  // Keywords in use (RFC 3501 §7.2.6 FLAGS lists the flags applicable here); the view
  // remembers them, and announces any later one before a FETCH shows it.
  const { flagSets, firstUnseen } = summaryOf(snapshot.messages);
  for (const f of flagSets) view.learnKeywords(f);
  s.out.push(flagsResponses(view));
  s.out.push(`* ${view.exists} EXISTS\r\n`);
  s.out.push(`* ${view.recent} RECENT\r\n`);
  if (firstUnseen > 0) s.out.push(`* OK [UNSEEN ${firstUnseen}] First unseen\r\n`);
  s.out.push(`* OK [UIDVALIDITY ${snapshot.uidvalidity}] UIDs valid\r\n`);
  s.out.push(`* OK [UIDNEXT ${snapshot.uidnext}] Predicted next UID\r\n`);
  s.out.push(`* OK [HIGHESTMODSEQ ${snapshot.highestModseq}] Highest\r\n`);
  if (args.qresync) await resyncOnSelect(s.out, view, snapshot, args.qresync);
  // RFC 5256 SORT/THREAD keys of mail not yet in the mailbox's columns (never sorted, imported, delivered since)
  // are merged in the background, in sliced turns, so the first SORT or THREAD finds them ready. Begun on the
  // next turn of the event loop: reading a 100,000-message column image is no part of this SELECT's answer.
  // (A handle closed by then: background() gives up, and the next SORT builds what it needs.)
  setImmediate(() => void sortColumns.background(user.account.id, handle));
  // And mail delivered while the mailbox is selected, a burst at a time (the listener goes with the handle).
  handle.onChange((e) => {
    if (e.type === 'append') sortColumns.follow(user.account.id, handle);
  });
  return ok(`${readOnly ? 'Examine' : 'Select'} completed`, { name: handle.readOnly ? 'READ-ONLY' : 'READ-WRITE' });
}

interface Summary {
  /** The distinct flag arrays (the store interns them: a handful in a mailbox of 100,000). */
  readonly flagSets: ReadonlySet<readonly string[]>;
  /** Sequence number of the first message without \Seen, 0 when none (RFC 3501 §7.1 UNSEEN). */
  readonly firstUnseen: number;
}

/**
 * Per snapshot array: the store hands every session the same frozen array
 * until the mailbox changes, so a SELECT of an unchanged mailbox reads the
 * summary the last one made instead of looking at every message again.
 */
const summaries = new WeakMap<readonly MessageRecord[], Summary>();

function summaryOf(msgs: readonly MessageRecord[]): Summary {
  let s = summaries.get(msgs);
  if (s) return s;
  const flagSets = new Set<readonly string[]>();
  let firstUnseen = 0;
  for (let i = 0; i < msgs.length; i++) {
    const f = msgs[i]!.flags;
    if (flagSets.has(f)) continue;
    flagSets.add(f);
    if (firstUnseen === 0 && !f.includes('\\Seen')) firstUnseen = i + 1;
  }
  s = { flagSets, firstUnseen };
  summaries.set(msgs, s);
  return s;
}
