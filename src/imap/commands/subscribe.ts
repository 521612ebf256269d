/** SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6, §6.3.7). */
import type { CommandOf } from '../wire/types.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { ok } from '../session.js';

export async function subscribeCommand(env: CommandEnv, cmd: CommandOf<'SUBSCRIBE' | 'UNSUBSCRIBE'>): Promise<CommandResult> {
  const on = cmd.name === 'SUBSCRIBE';
  await env.s.user.setSubscribed(checkName(cmd.args.mailbox), on);
  return ok(`${on ? 'Subscribe' : 'Unsubscribe'} completed`);
}
