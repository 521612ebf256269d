/**
 * CANCELUPDATE (RFC 5267 §4.3.5): stop the live updates of the named
 * searching commands. A tag without live updates is BAD and cancels
 * nothing, as in Dovecot.
 */
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, ok } from '../command.js';

export async function cancelUpdateCommand(env: CommandEnv, cmd: CommandOf<'CANCELUPDATE'>): Promise<CommandResult> {
  const unknown = env.s.searchContexts.cancel(cmd.args.tags);
  if (unknown !== null) return bad(`Unknown update tag "${unknown}"`);
  return ok('Updates cancelled');
}
