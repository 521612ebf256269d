/**
 * STARTTLS (RFC 3501 §6.2.1, RFC 2595): only on a plain connection before
 * login; TLS starts after our tagged OK (the session then drops anything the
 * client sent before the handshake, so no command can be injected in clear).
 */
import type { CommandEnv, CommandResult } from '../command.js';
import { bad } from '../command.js';

export async function starttlsCommand(env: CommandEnv): Promise<CommandResult> {
  if (env.s.secure) return bad('TLS is already active');
  return { status: 'OK', text: 'Begin TLS negotiation now', after: () => env.s.upgradeTls() };
}
