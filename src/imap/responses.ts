/**
 * Typed errors mapped to IMAP answers in ONE switch.
 * Response codes are RFC 5530's (plus RFC 3501's READ-ONLY and RFC 3516's
 * UNKNOWN-CTE). Anything that is not a RoostError is a bug or an OS failure:
 * the client gets a generic answer and the cause goes to the log with the
 * connection id.
 */
import { isRoostError, type ErrorCode } from '../errors.js';
import type { Logger } from '../log/logger.js';

export interface NoAnswer {
  readonly status: 'NO' | 'BAD';
  readonly code: string | null;
  readonly text: string;
}

/** RoostError code -> IMAP response code (RFC 5530 names). */
function codeFor(code: ErrorCode): { code: string; text: string } {
  switch (code) {
    case 'NOTFOUND':
      return { code: 'NONEXISTENT', text: 'No such mailbox or message' };
    case 'EXISTS':
      return { code: 'ALREADYEXISTS', text: 'Mailbox already exists' };
    case 'OVERQUOTA':
      return { code: 'OVERQUOTA', text: 'Quota exceeded' };
    case 'INUSE':
      return { code: 'INUSE', text: 'Mailbox is in use' };
    case 'READONLY':
      return { code: 'READ-ONLY', text: 'Mailbox is read-only' };
    case 'TEMP':
      return { code: 'UNAVAILABLE', text: 'Temporary failure, try again later' };
    case 'LIMIT':
      return { code: 'LIMIT', text: 'Limit exceeded' };
    case 'TOOBIG':
      return { code: 'TOOBIG', text: 'Message too large' };
    case 'BADNAME':
      return { code: 'CANNOT', text: 'Invalid mailbox name' };
    case 'NOPERM':
      return { code: 'NOPERM', text: 'Not permitted' };
    case 'DISABLED':
      return { code: 'AUTHORIZATIONFAILED', text: 'Account disabled' };
    case 'AUTHFAILED':
      return { code: 'AUTHENTICATIONFAILED', text: 'Authentication failed' };
    case 'NOLOGIN':
      return { code: 'AUTHORIZATIONFAILED', text: 'Account may not log in' };
    case 'UNAVAILABLE':
      return { code: 'UNAVAILABLE', text: 'Service temporarily unavailable, try again later' };
    case 'PARSE':
      return { code: 'PARSE', text: 'Message could not be parsed' };
    case 'UNKNOWNCTE':
      return { code: 'UNKNOWN-CTE', text: 'Unknown Content-Transfer-Encoding' };
    case 'NOTPRIMARY':
      return { code: 'UNAVAILABLE', text: 'This server is a standby; writes are refused' };
  }
}

/**
 * The tagged answer for an error thrown by a command. RoostError messages are
 * written for operators and may name paths, so the client sees the fixed text
 * of the code; the message goes to the debug log.
 */
export function answerForError(err: unknown, log: Logger, command: string): NoAnswer {
  if (isRoostError(err)) {
    const c = codeFor(err.code);
    log.debug({ command, code: err.code, err: err.message }, 'command refused');
    return { status: 'NO', code: c.code, text: c.text };
  }
  log.error({ command, err }, 'command failed: internal error');
  return { status: 'NO', code: 'SERVERBUG', text: 'Internal error occurred. Refer to server log for more information.' };
}
