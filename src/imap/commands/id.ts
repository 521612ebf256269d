/** ID (RFC 2971): log what the client says about itself, answer with our name. */
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { ok } from '../command.js';
import { LIMITS } from '../../limits.js';

const MAX_PAIRS = LIMITS.imap.maxIdPairs;

export async function idCommand(env: CommandEnv, cmd: CommandOf<'ID'>): Promise<CommandResult> {
  const params = cmd.args.params;
  if (params && params.length > 0) {
    const client: Record<string, string | null> = {};
    for (const [k, v] of params.slice(0, MAX_PAIRS)) client[k.slice(0, 30)] = v === null ? null : v.slice(0, 1024);
    env.s.log.info({ client }, 'client ID');
  }
  env.s.out.push('* ID ("name" "Roost" "vendor" "Roost")\r\n');
  return ok('ID completed');
}
