/**
 * Mailbox names as the commands receive them: Unicode (the wire layer decoded
 * modified UTF-7, RFC 3501 §5.1.3), "." as hierarchy separator, "INBOX"
 * canonical. Names that could escape the Maildir or that Maildir++ cannot
 * hold are refused here with NO [CANNOT] before the store sees them (the
 * store checks again; two locks on one door).
 */
import { RoostError } from '../errors.js';
import { LIMITS } from '../limits.js';

export const SEPARATOR = '.';

/** Why a name is unusable, or null. */
export function nameProblem(name: string): string | null {
  if (name === '') return 'Empty mailbox name';
  if (name.length > LIMITS.store.maxMailboxNameLength) return 'Mailbox name too long';
  // Control characters and "/" (a path separator on disk). "%" and "*" are
  // allowed as Dovecot, Courier and Gmail allow them (RFC 3501 §5.1 only
  // discourages them): LIST still reads them as wildcards in a pattern, and
  // the encoder quotes such names.
  if (/[\u0000-\u001f\u007f/]/u.test(name)) return 'Mailbox name contains a character that is not allowed';
  const parts = name.split(SEPARATOR);
  if (parts.length > LIMITS.store.maxMailboxDepth) return 'Mailbox hierarchy too deep';
  // An empty component means "..", a leading or a trailing separator.
  if (parts.some((p) => p === '')) return 'Mailbox name has an empty hierarchy level';
  return null;
}

/** Throw NO [CANNOT] (RoostError BADNAME) for an unusable name. */
export function checkName(name: string): string {
  const problem = nameProblem(name);
  if (problem) throw new RoostError('BADNAME', problem);
  return name;
}

export const isInbox = (name: string): boolean => name === 'INBOX';
