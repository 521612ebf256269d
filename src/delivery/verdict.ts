/**
 * The outcome of a final delivery, shared by QMQP, LMTP and `roost deliver`.
 * A verdict is QMQP's K/Z/D (cr.yp.to/proto/qmqp.html) plus a typed reason,
 * from which LMTP derives its reply codes in one switch (src/lmtp/replies.ts).
 * Typed errors become verdicts in exactly one switch (verdictForError), per
 */
import { isRoostError } from '../errors.js';

export type VerdictReason =
  | 'accepted'
  /** An address of ≥ 1000 bytes or with a NUL byte (qmail-qmqpd). */
  | 'badaddress'
  | 'norecipients'
  | 'toomanyrecipients'
  /** Larger than the listener's limit. */
  | 'toobig'
  /** Larger than this user accepts (LDAP mailSizeMax). */
  | 'usertoobig'
  | 'overquota'
  | 'limit'
  | 'disabled'
  | 'nomailbox'
  /** The directory refused or deferred the recipient with its own text. */
  | 'directory'
  | 'notprimary'
  | 'directorydown'
  | 'temporary'
  /** The mailbox refuses changes for a few seconds (an account move's freeze, a reindex): try this recipient again. */
  | 'mailboxbusy'
  /** Delivered-To of this recipient already present, or too many hops (#5.4.6). */
  | 'loop'
  /** A recipient that is not local, from a peer not in qmqp.relay_from (#5.7.1). */
  | 'relaydenied'
  /** A smarthost or cluster peer refused (D) or could not take (Z) a recipient handed off. */
  | 'remote';

/** K accepted (durable, indexed, replica-acknowledged in sync mode), Z try again later, D permanent failure. */
export interface Verdict {
  code: 'K' | 'Z' | 'D';
  text: string;
  reason: VerdictReason;
}

export const TEXT = {
  badAddress: "sorry, I can't accept addresses like that (#5.1.3)",
  noRecipients: 'sorry, no recipients given (#5.1.3)',
  tooManyRecipients: 'sorry, too many recipients (#5.5.3)',
  tooBig: 'Sorry, that message size exceeds my databytes limit. (#5.3.4)',
  userTooBig: 'The message exeeded the maximum size the user accepts. (#5.2.3)',
  overQuotaBounce: 'The users mailfolder is over the allowed quota (size). (#5.2.2)',
  overQuotaDefer: 'The users mailfolder is over the allowed quota, try again later. (#4.2.2)',
  disabled: 'Sorry, this mailbox does not accept mail. (#5.2.1)',
  noMailbox: 'Sorry, no mailbox here by that name. (#5.1.1)',
  notPrimary: 'this server is not accepting mail right now (#4.3.2)',
  directoryDown: 'account directory temporarily unavailable (#4.3.0)',
  temporary: 'temporary failure storing the message (#4.3.0)',
  mailboxBusy: 'this mailbox is busy (being moved or rebuilt); try again in a few seconds (#4.2.1)',
  limit: 'sorry, a server limit was exceeded (#5.3.4)',
  // qmail-local's texts for its two loop checks.
  loopDeliveredTo: 'This message is looping: it already has my Delivered-To line. (#5.4.6)',
  loopHops: 'This message is looping: too many Received lines. (#5.4.6)',
  // qmail-smtpd's answer to a relay attempt without RELAYCLIENT.
  relayDenied: "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)",
} as const;

export function accepted(): Verdict {
  return { code: 'K', text: `ok ${Math.floor(Date.now() / 1000)} qp ${process.pid}`, reason: 'accepted' };
}

/** Why an envelope is refused even though it was well-formed. */
export type EnvelopeProblem = 'badaddress' | 'norecipients' | 'toomanyrecipients';

export function verdictForProblem(problem: EnvelopeProblem): Verdict {
  switch (problem) {
    case 'badaddress':
      return { code: 'D', text: TEXT.badAddress, reason: 'badaddress' };
    case 'norecipients':
      return { code: 'D', text: TEXT.noRecipients, reason: 'norecipients' };
    case 'toomanyrecipients':
      return { code: 'D', text: TEXT.tooManyRecipients, reason: 'toomanyrecipients' };
  }
}

/** Over quota, as `qmqp.over_quota` says: bounce (qmail-ldap's behaviour) or defer. */
export function overQuotaVerdict(overQuota: string): Verdict {
  return overQuota === 'bounce'
    ? { code: 'D', text: TEXT.overQuotaBounce, reason: 'overquota' }
    : { code: 'Z', text: TEXT.overQuotaDefer, reason: 'overquota' };
}

/**
 * THE mapping of errors to verdicts. Over quota is decided here, not in the
 * store: the store always reports OVERQUOTA, and `qmqp.over_quota` says
 * whether that bounces or defers. Anything that is not a RoostError is a bug
 * or an OS failure: Z.
 */
export function verdictForError(err: unknown, overQuota: string): Verdict {
  if (!isRoostError(err)) return { code: 'Z', text: TEXT.temporary, reason: 'temporary' };
  switch (err.code) {
    case 'TOOBIG':
      return { code: 'D', text: TEXT.tooBig, reason: 'toobig' };
    case 'OVERQUOTA':
      return overQuotaVerdict(overQuota);
    case 'LIMIT':
      return { code: 'D', text: TEXT.limit, reason: 'limit' };
    case 'DISABLED':
    case 'NOLOGIN':
      return { code: 'D', text: TEXT.disabled, reason: 'disabled' };
    case 'NOTFOUND':
      return { code: 'D', text: TEXT.noMailbox, reason: 'nomailbox' };
    case 'READONLY':
    case 'NOTPRIMARY':
      return { code: 'Z', text: TEXT.notPrimary, reason: 'notprimary' };
    case 'UNAVAILABLE':
      return { code: 'Z', text: TEXT.directoryDown, reason: 'directorydown' };
    case 'TEMP':
    case 'EXISTS':
    case 'INUSE':
    case 'BADNAME':
    case 'NOPERM':
    case 'AUTHFAILED':
    case 'PARSE':
    case 'UNKNOWNCTE':
      return { code: 'Z', text: TEXT.temporary, reason: 'temporary' };
  }
}
