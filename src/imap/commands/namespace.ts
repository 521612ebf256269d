/**
 * NAMESPACE (RFC 2342): one personal namespace with no prefix and "." as the
 * hierarchy separator (Maildir++ folders `.Sent`, `.Lists.foo`); no other
 * users' or shared namespaces.
 */
import type { CommandEnv, CommandResult } from '../command.js';
import { ok } from '../command.js';

export async function namespaceCommand(env: CommandEnv): Promise<CommandResult> {
  env.s.out.push('* NAMESPACE (("" ".")) NIL NIL\r\n');
  return ok('Namespace completed');
}
