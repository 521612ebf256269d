/**
 * LOGIN (RFC 3501 §6.2.3) and the login step AUTHENTICATE shares. Policy
 * (plaintext before TLS, growing delay, throttling, outage) is AuthGuard's;
 * this module only turns its outcome into IMAP answers (RFC 5530 codes):
 * a directory outage is `NO [UNAVAILABLE]`, never `[AUTHENTICATIONFAILED]`.
 */
import { LIMITS } from '../../limits.js';
import type { CommandOf } from '../wire/types.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { no, ok } from '../command.js';
import { takeUserIpSlot } from '../userip.js';

export async function loginCommand(env: CommandEnv, cmd: CommandOf<'LOGIN'>): Promise<CommandResult> {
  const s = env.s;
  // RFC 3501 §6.2.3 / §7.2.1 LOGINDISABLED.
  if (!s.guard.allowPlaintext(s.secure, s.remoteAddress, s.peer.via !== null)) {
    return no('Plaintext authentication disallowed on non-secure connections', { name: 'PRIVACYREQUIRED' });
  }
  return completeLogin(env, cmd.args.username, cmd.args.password);
}

export async function completeLogin(env: CommandEnv, login: string, password: string): Promise<CommandResult> {
  const s = env.s;
  if (s.state.kind !== 'notAuth') return no('Already logged in');
  const outcome = await s.guard.login(login, password, s.remoteAddress);
  switch (outcome.kind) {
    case 'ok': {
      const release = takeUserIpSlot(s.ctx, outcome.account.id, s.remoteAddress);
      if (!release) {
        s.log.warn({ login: outcome.account.login, limit: s.ctx.config.imap.max_userip_connections }, 'too many sessions for user+IP');
        return no('Maximum number of connections from user+IP exceeded', { name: 'LIMIT' });
      }
      const user = s.ctx.store.user(outcome.account);
      try {
        // RFC 6154: Drafts, Sent, Trash, Junk, Archive exist from the first login on.
        await user.ensureSpecialMailboxes();
      } catch (err) {
        release();
        throw err;
      }
      void s.whenEnded.then(release);
      s.state = { kind: 'auth', account: outcome.account, user };
      s.restartAutologout();
      s.log.info({ login: outcome.account.login }, 'logged in');
      return ok('Logged in', { name: 'CAPABILITY', args: s.capabilities().map((c) => ({ kind: 'atom', value: c })) });
    }
    case 'failed':
      return failure(env);
    case 'refused':
      return no('Account is not allowed to log in', { name: 'AUTHORIZATIONFAILED' });
    case 'unavailable':
      return no('Authentication service temporarily unavailable, try again later', { name: 'UNAVAILABLE' });
    case 'throttled':
      return no('Too many failed logins, try again later', { name: 'UNAVAILABLE' });
  }
}

/** Count the failure; after LIMITS.auth.maxFailuresPerConnection the connection is closed. */
function failure(env: CommandEnv): CommandResult {
  const s = env.s;
  if (s.state.kind !== 'notAuth') return no('Authentication failed', { name: 'AUTHENTICATIONFAILED' });
  s.state.authFailures++;
  if (s.state.authFailures >= LIMITS.auth.maxFailuresPerConnection) {
    return {
      status: 'NO',
      text: 'Authentication failed',
      code: { name: 'AUTHENTICATIONFAILED' },
      after: async () => {
        s.bye('Too many authentication failures');
        await s.logout();
      },
    };
  }
  return no('Authentication failed', { name: 'AUTHENTICATIONFAILED' });
}
