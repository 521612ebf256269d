/**
 * ENABLE (RFC 5161). No extension that needs enabling is offered yet
 * (CONDSTORE/QRESYNC come with issue 7), so the answer lists none: RFC 5161
 * §3.1 says unknown or unsupported names are ignored.
 */
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { ok } from '../session.js';

/** Extensions this server can enable (upper case). */
const ENABLEABLE: ReadonlySet<string> = new Set<string>();

export async function enableCommand(env: CommandEnv, cmd: CommandOf<'ENABLE'>): Promise<CommandResult> {
  const enabled = cmd.args.capabilities.filter((c) => ENABLEABLE.has(c));
  env.s.out.push(enabled.length > 0 ? `* ENABLED ${enabled.join(' ')}\r\n` : '* ENABLED\r\n');
  return ok('Enabled');
}
