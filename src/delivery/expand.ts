/**
 * What final delivery does for one local recipient beyond the Maildir copy:
 * qmail-local's order of things for an LDAP account
 * (qmail-ldap's QLDAPINSTALL, deliveryMode) — forwards, the Maildir copy unless nolocal, and a
 * vacation reply when deliveryMode reply — decided from the account, the
 * envelope and the incoming header, without I/O. The once-per-sender memory
 * (./vacation/memory.ts) and the hand-off of forwards and replies to the
 * smarthost come after.
 *
 * Forwards keep the envelope sender (qmail-local sets NEWSENDER to it) and
 * the message bytes; a reply goes from <> to the envelope sender.
 */
import type { Account } from '../accounts/directory.js';
import type { ReplyHeader } from './vacation/header.js';
import { replyRefusal, type ReplyRefusal } from './vacation/rules.js';

export interface VacationPlan {
  /** The reply's recipient: the incoming envelope sender (RFC 3834 §4). */
  to: string;
  /** The reply's From: the account address the message was addressed to. */
  from: string;
  text: string;
}

export type VacationDecision = { send: true; plan: VacationPlan } | { send: false; reason: ReplyRefusal | 'off' };

export interface Expansion {
  /** Store the Maildir copy (false: deliveryMode nolocal, nombox or forwardonly). */
  keepLocalCopy: boolean;
  /** Addresses the same bytes go to through the smarthost, with the same envelope sender. */
  forwardTargets: string[];
  vacation: VacationDecision;
}

export interface ExpandInput {
  /** The envelope recipient as given (an alias or alternate address of the account). */
  recipient: string;
  sender: string;
  header: ReplyHeader;
}

export function expandRecipient(account: Account, input: ExpandInput): Expansion {
  const d = account.delivery;
  const keepLocalCopy = d?.local ?? true;
  const forwardTargets = [...(d?.forwards ?? [])];
  if (d?.replyText === undefined) return { keepLocalCopy, forwardTargets, vacation: { send: false, reason: 'off' } };
  const recipient = input.recipient.trim().replace(/^<(.*)>$/, '$1');
  const refusal = replyRefusal({ sender: input.sender, addresses: [recipient, account.address], header: input.header });
  const vacation: VacationDecision = refusal
    ? { send: false, reason: refusal }
    : { send: true, plan: { to: input.sender.trim().replace(/^<(.*)>$/, '$1'), from: recipient, text: d.replyText } };
  return { keepLocalCopy, forwardTargets, vacation };
}

/**
 * One account's forwards: the targets (each once) and the envelope address
 * the message came in for, which heads the forwarded copy as
 * `Delivered-To: <recipient>`, as qmail-local prepends its dtline to a
 * forward, so a chain that comes back here is bounced (./deliver.ts loopVerdict).
 */
export interface ForwardGroup {
  recipient: string;
  account: Account;
  targets: string[];
}

/** The whole message: which accounts get a Maildir copy, whose forwards go where, which replies are due. */
export interface MessageExpansion {
  local: Account[];
  /** One group per account with forwards, in envelope order. */
  forwards: ForwardGroup[];
  replies: { account: Account; plan: VacationPlan }[];
}

export function expandMessage(recipients: readonly { address: string; account: Account }[], sender: string, header: ReplyHeader): MessageExpansion {
  const local = new Map<string, Account>();
  const forwards = new Map<string, ForwardGroup>();
  const replies = new Map<string, { account: Account; plan: VacationPlan }>();
  for (const r of recipients) {
    const e = expandRecipient(r.account, { recipient: r.address, sender, header });
    if (e.keepLocalCopy) local.set(r.account.id, r.account);
    if (e.forwardTargets.length > 0 && !forwards.has(r.account.id)) {
      const seen = new Set<string>();
      const targets = e.forwardTargets.filter((t) => !seen.has(t.toLowerCase()) && seen.add(t.toLowerCase()));
      forwards.set(r.account.id, { recipient: r.address.trim().replace(/^<(.*)>$/, '$1'), account: r.account, targets });
    }
    // One reply per account, however many of its addresses the envelope names.
    if (e.vacation.send && !replies.has(r.account.id)) replies.set(r.account.id, { account: r.account, plan: e.vacation.plan });
  }
  return { local: [...local.values()], forwards: [...forwards.values()], replies: [...replies.values()] };
}
