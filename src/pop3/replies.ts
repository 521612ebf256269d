/**
 * POP3 error replies: the one place where store and directory outcomes
 * become "-ERR" lines with RFC 2449 / RFC 3206 response codes.
 */
import { isRoostError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { LoginOutcome } from '../net/auth-guard.js';

/** Login outcomes other than 'ok' and 'failed' (RFC 3206 response codes). */
export function loginRefusal(outcome: Exclude<LoginOutcome, { kind: 'ok' } | { kind: 'failed' }>): string {
  switch (outcome.kind) {
    case 'refused':
      return `-ERR [SYS/PERM] Account is ${outcome.status === 'noaccess' ? 'not allowed to log in' : 'disabled'}.`;
    case 'unavailable':
      return '-ERR [SYS/TEMP] Authentication service unavailable, try again later.';
    case 'throttled':
      return '-ERR [SYS/TEMP] Too many failed logins, try again later.';
  }
}

/**
 * THE mapping of store and directory errors to POP3 replies (RFC 2449 §8
 * [IN-USE], RFC 3206 [SYS/TEMP] [SYS/PERM] [AUTH]). Anything that is not a
 * RoostError is a bug or an OS failure: a temporary failure to the client,
 * the cause to the log.
 */
export function errorReply(err: unknown, log: Logger): string {
  if (!isRoostError(err)) {
    log.error({ err }, 'pop3 internal error');
    return '-ERR [SYS/TEMP] Internal error, try again later.';
  }
  log.warn({ code: err.code, err: err.message }, 'pop3 command failed');
  switch (err.code) {
    case 'INUSE':
      return '-ERR [IN-USE] Mailbox is locked by another POP3 session.';
    case 'NOTFOUND':
      return '-ERR Message was removed by another session.';
    case 'AUTHFAILED':
      return '-ERR [AUTH] Authentication failed.';
    case 'DISABLED':
    case 'NOLOGIN':
      return '-ERR [SYS/PERM] Account is disabled.';
    case 'TEMP':
    case 'UNAVAILABLE':
    case 'READONLY':
    case 'NOTPRIMARY':
      return '-ERR [SYS/TEMP] Temporary failure, try again later.';
    case 'OVERQUOTA':
    case 'LIMIT':
    case 'TOOBIG':
    case 'PARSE':
    case 'UNKNOWNCTE':
    case 'BADNAME':
    case 'NOPERM':
    case 'EXISTS':
      return `-ERR [SYS/PERM] ${err.message.replace(/[\r\n]+/g, ' ').slice(0, 200)}.`;
  }
}
