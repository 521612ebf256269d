/** CAPA (RFC 2449 §5) and STLS (RFC 2595 §4). */
import { SASL_MECHANISMS } from '../../net/auth-guard.js';
import type { CommandSession } from '../session-api.js';
import { noArgs, type Command } from './args.js';

/** The capability list for the session's current state (RFC 2449 §6). */
export function capabilities(s: CommandSession): string[] {
  const caps = ['TOP', 'UIDL', 'RESP-CODES', 'AUTH-RESP-CODE', 'PIPELINING'];
  if (s.state.kind === 'authorization') {
    // RFC 2595 §2.2: do not offer plaintext logins the server would refuse.
    if (s.env.guard.allowPlaintext(s.secure, s.remoteAddress, s.peer.via !== null)) caps.push('USER', `SASL ${SASL_MECHANISMS.join(' ')}`);
    if (!s.secure) caps.push('STLS');
  }
  // Messages are never deleted by the server on its own (RFC 2449 §6.7).
  caps.push('EXPIRE NEVER');
  const delay = s.ctx.config.pop3.login_delay;
  if (delay > 0) caps.push(`LOGIN-DELAY ${delay}`);
  caps.push('IMPLEMENTATION Roost');
  return caps;
}

export const capa: Command<null> = {
  states: ['authorization', 'transaction'],
  parse: noArgs,
  async run(s) {
    await s.reply('+OK Capability list follows.');
    const out = s.listing();
    for (const c of capabilities(s)) await out.line(c);
    await out.end();
  },
};

export const stls: Command<null> = {
  states: ['authorization'],
  parse: noArgs,
  async run(s) {
    if (s.secure) {
      // RFC 2595 §4: not allowed once TLS is active.
      await s.bad('-ERR TLS is already active.');
      return;
    }
    await s.startTls();
  },
};
