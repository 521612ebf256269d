/** SUBSCRIBE and UNSUBSCRIBE (RFC 3501 §6.3.6, §6.3.7). */
import type { CommandOf } from '../wire/types.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { ok } from '../command.js';

export async function subscribeCommand(env: CommandEnv, cmd: CommandOf<'SUBSCRIBE' | 'UNSUBSCRIBE'>): Promise<CommandResult> {
  const on = cmd.name === 'SUBSCRIBE';
  await env.s.user.setSubscribed(checkName(cmd.args.mailbox), on);
  return ok(`${on ? 'Subscribe' : 'Unsubscribe'} completed`);
}
