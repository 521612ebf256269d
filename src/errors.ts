/**
 * Typed errors. The store and the directory throw these;
 * each protocol maps `code` to its answer in exactly one switch:
 *   IMAP  -> NO [CODE]          (src/imap/responses.ts)
 *   POP3  -> -ERR [SYS/...]     (src/pop3/replies.ts)
 *   QMQP  -> Z / D              (src/delivery/verdict.ts)
 *   LMTP  -> 4xx / 5xx          (that verdict, then src/lmtp/replies.ts)
 * Anything that is not a RoostError is a bug or an OS failure: the client gets
 * a generic temporary failure and the cause goes to the log.
 */
export type ErrorCode =
  | 'NOTFOUND' // no such mailbox / message / user
  | 'EXISTS' // mailbox already exists
  | 'OVERQUOTA' // Maildir++ quota would be exceeded
  | 'INUSE' // maildrop locked by another POP3 session
  | 'READONLY' // mailbox opened read-only, or node is a replica
  | 'TEMP' // temporary: disk, directory outage, replica sync timeout
  | 'LIMIT' // a named limit was exceeded (size, count, length)
  | 'TOOBIG' // message larger than allowed
  | 'BADNAME' // mailbox name not acceptable
  | 'NOPERM' // not allowed (e.g. delete INBOX)
  | 'DISABLED' // account disabled or deleted
  | 'AUTHFAILED' // wrong credentials
  | 'NOLOGIN' // account exists but may not log in (noaccess)
  | 'UNAVAILABLE' // backend outage (directory, replica)
  | 'PARSE' // message could not be parsed for this operation
  | 'UNKNOWNCTE' // unknown Content-Transfer-Encoding (BINARY)
  | 'NOTPRIMARY'; // writes refused: this node is a replica

export class RoostError extends Error {
  constructor(
    readonly code: ErrorCode,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'RoostError';
  }
}

export const isRoostError = (e: unknown, code?: ErrorCode): e is RoostError =>
  e instanceof RoostError && (code === undefined || e.code === code);

/** Wrap an OS error from the filesystem as a temporary failure (EIO, ENOSPC, EMFILE…). */
export function tempFromOs(err: unknown, what: string): RoostError {
  const code = (err as NodeJS.ErrnoException)?.code ?? 'unknown';
  return new RoostError('TEMP', `${what}: ${code}`, { cause: err });
}
