/**
 * AUTHENTICATE (RFC 3501 §6.2.2) with SASL-IR (RFC 4959). Mechanisms and
 * their decoding are in src/net/auth-guard.ts; the session carries the
 * exchange across continuation lines. A client's "*" cancels with BAD.
 */
import { createSaslExchange, type SaslExchange, type SaslStep } from '../../net/auth-guard.js';
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { bad, no, PENDING } from '../command.js';
import { completeLogin } from './login.js';

export async function authenticateCommand(env: CommandEnv, cmd: CommandOf<'AUTHENTICATE'>): Promise<CommandResult> {
  const s = env.s;
  const exchange = createSaslExchange(cmd.args.mechanism);
  if (!exchange) return no(`Unsupported authentication mechanism ${cmd.args.mechanism}`, { name: 'CANNOT' });
  if (!s.guard.allowPlaintext(s.secure, s.remoteAddress, s.peer.via !== null)) {
    return no('Plaintext authentication disallowed on non-secure connections', { name: 'PRIVACYREQUIRED' });
  }
  // The wire layer decoded the initial response (decodeBase64, "=" as empty); the exchange takes the bytes.
  const step = exchange.start(cmd.args.initialResponse);
  return advance(env, exchange, step);
}

/** The client's next continuation line. */
export async function continueSasl(env: CommandEnv, exchange: SaslExchange, line: string): Promise<CommandResult> {
  return advance(env, exchange, exchange.next(line));
}

async function advance(env: CommandEnv, exchange: SaslExchange, step: SaslStep): Promise<CommandResult> {
  switch (step.kind) {
    case 'challenge':
      env.s.beginSasl(env.tag, exchange, step.challenge);
      return PENDING;
    case 'cancelled':
      return bad('Authentication cancelled');
    case 'error':
      return bad(`Invalid SASL response: ${step.reason}`);
    case 'done':
      return completeLogin(env, step.credentials.authcid, step.credentials.password);
  }
}
