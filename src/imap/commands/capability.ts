/** CAPABILITY (RFC 3501 §6.1.1): the list depends on the state and on TLS (Session.capabilities). */
import type { CommandEnv, CommandResult } from '../command.js';
import { ok } from '../command.js';

export async function capabilityCommand(env: CommandEnv): Promise<CommandResult> {
  env.s.out.push(`* CAPABILITY ${env.s.capabilities().join(' ')}\r\n`);
  return ok('Capability completed');
}
