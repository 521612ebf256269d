/**
 * APPEND (RFC 3501 §6.3.11) with UIDPLUS APPENDUID (RFC 4315 §3). The
 * message bytes already streamed into store drafts while the literal arrived
 * (Session.onLiteral/onAppendData, never a whole message in memory); here
 * they are committed to the mailbox, and the tagged OK waits for the
 * replica's acknowledgement. A missing mailbox answers [TRYCREATE].
 *
 * MULTIAPPEND (RFC 3502 §6.3.11): several messages in one command, all or
 * nothing. If a later message fails (over quota, store error) the ones
 * already stored are expunged again before the NO, so the mailbox ends as
 * it was (their UIDs stay used, as any expunged UID does).
 *
 * CATENATE (RFC 4469): a message may be built from TEXT literals and URLs of
 * stored messages; commands/catenate.ts assembles the drafts, finishing
 * here the URL parts that followed the last literal.
 */
import { isRoostError } from '../../errors.js';
import type { SavedMessage } from '../../store/types.js';
import type { CommandOf } from '../wire/types.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, no, ok } from '../command.js';
import { formatUidSet } from './sets.js';
import { appendFailure } from './catenate.js';

export async function appendCommand(env: CommandEnv, cmd: CommandOf<'APPEND'>): Promise<CommandResult> {
  const s = env.s;
  let assembly = s.takeAppendAssembly();
  if (cmd.args.messages.some((m) => m.flags.some((f) => f.toLowerCase() === '\\recent'))) {
    await assembly?.discard();
    return bad('\\Recent cannot be set by APPEND');
  }
  let name: string;
  try {
    name = checkName(cmd.args.mailbox);
  } catch (err) {
    await assembly?.discard();
    throw err;
  }
  if (!assembly) {
    // Only CATENATE URL parts, no literal: the mailbox was not checked yet (TRYCREATE comes before BADURL).
    try {
      await s.user.checkMailbox(name);
    } catch (err) {
      if (isRoostError(err, 'NOTFOUND')) return no('Mailbox does not exist', { name: 'TRYCREATE' });
      throw err;
    }
    assembly = s.newAppendAssembly();
  }
  let drafts;
  try {
    drafts = await assembly.complete(cmd.args.messages);
  } catch (err) {
    return appendFailure(err, s.log);
  }
  const discardAll = (): Promise<unknown> => Promise.all(drafts.map((d) => d.discard().catch(() => undefined)));
  const saved: SavedMessage[] = [];
  try {
    for (let i = 0; i < drafts.length; i++) {
      const m = cmd.args.messages[i]!;
      saved.push(
        await s.user.append(name, drafts[i]!, {
          flags: m.flags,
          internalDate: m.internalDate ?? undefined,
          origin: s.id,
        }),
      );
    }
  } catch (err) {
    await discardAll();
    if (saved.length > 0) await undo(env, name, saved.map((m) => m.uid));
    if (isRoostError(err, 'NOTFOUND')) return no('Mailbox does not exist', { name: 'TRYCREATE' });
    throw err;
  }
  const last = saved[saved.length - 1]!;
  await s.ctx.replication.waitFor(last.lsn);
  const uidSet = formatUidSet(saved.map((m) => m.uid));
  return ok('Append completed', { name: 'APPENDUID', args: [last.uidvalidity, { kind: 'atom', value: uidSet }] });
}

/** Remove the messages a failed MULTIAPPEND already stored (RFC 3502: none may remain). */
async function undo(env: CommandEnv, name: string, uids: readonly number[]): Promise<void> {
  const h = await env.s.user.openMailbox(name, { origin: env.s.id });
  try {
    await h.expunge({ uids, force: true });
  } finally {
    h.close();
  }
}
