/** STATUS (RFC 3501 §6.3.10): counts from the index, no mailbox is opened. */
import type { CommandOf } from '../wire/types.js';
import { statusResponse } from '../status-response.js';
import { appendLimit } from '../append-limit.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { ok } from '../command.js';

export async function statusCommand(env: CommandEnv, cmd: CommandOf<'STATUS'>): Promise<CommandResult> {
  const name = checkName(cmd.args.mailbox);
  const st = await env.s.user.status(name);
  // RFC 7162 §3.1: STATUS (HIGHESTMODSEQ) is a CONDSTORE-enabling command.
  if (cmd.args.items.includes('HIGHESTMODSEQ')) env.s.enableCondstore();
  env.s.out.push(statusResponse(name, cmd.args.items, st, appendLimit(env.s.ctx)));
  return ok('Status completed');
}
