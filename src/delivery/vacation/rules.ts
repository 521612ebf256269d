/**
 * Whether a vacation reply may be sent for one delivered message: RFC 3834
 * §2 ("When to send automatic responses") plus the senders and fields
 * qmail-ldap's qmail-reply refuses, so a migrated account answers no more
 * than it did. The once-per-sender rule is ./memory.ts; this is the pure part.
 */
import { traceKey } from '../trace.js';
import { addressesIn, type ReplyHeader } from './header.js';

export type ReplyRefusal =
  | 'null-sender'
  | 'bad-sender'
  | 'automated-sender'
  | 'own-address'
  | 'header-incomplete'
  | 'auto-submitted'
  | 'precedence'
  | 'list'
  | 'spam'
  | 'not-addressed';

/**
 * Local parts that are programs or administrators (qmail-reply's list:
 * "don't reply to bots", "don't bother admins", vacation(1)'s -relay),
 * matched whole or, for the ones with a dash, as a suffix after a dash;
 * RFC 3834 §2 adds owner-* (list owners) as a prefix.
 */
const JUNK_LOCAL = new Set(['daemon', 'uucp', 'mailer-daemon', 'mailer', 'postmaster', 'root', 'listserv', 'majordomo']);
const JUNK_SUFFIX = ['-request', '-daemon', '-relay', '-owner', '-bounces'];
const JUNK_PREFIX = ['owner-'];

function automatedSender(local: string): boolean {
  return JUNK_LOCAL.has(local) || JUNK_SUFFIX.some((s) => local.endsWith(s)) || JUNK_PREFIX.some((p) => local.startsWith(p));
}

export interface ReplyContext {
  /** Envelope sender (the reply goes there, RFC 3834 §4). */
  sender: string;
  /** The addresses of the account the message was delivered to: the envelope recipient and the account's own. */
  addresses: readonly string[];
  header: ReplyHeader;
}

/** Why no reply may be sent, or null when one may (subject to the once-per-sender memory). */
export function replyRefusal(ctx: ReplyContext): ReplyRefusal | null {
  const sender = traceKey(ctx.sender);
  // RFC 3834 §2: never respond to a message with a null Return-Path (qmail's "#@[]" is its double-bounce form).
  if (sender === '' || sender === '#@[]') return 'null-sender';
  const at = sender.lastIndexOf('@');
  if (at <= 0 || at === sender.length - 1 || /[\x00-\x20<>()\\,;"]/.test(sender)) return 'bad-sender';
  if (automatedSender(sender.slice(0, at))) return 'automated-sender';
  const own = new Set(ctx.addresses.map(traceKey));
  if (own.has(sender)) return 'own-address';
  const h = ctx.header;
  // A header cut at the capture limit may hide a List-Id or Auto-Submitted field past the cut.
  if (!h.complete) return 'header-incomplete';
  // RFC 3834 §5.2: any Auto-Submitted value but "no" (with or without parameters) marks an automatic message.
  for (const v of h.fields.get('auto-submitted') ?? []) if (v.split(';')[0]!.trim().toLowerCase() !== 'no') return 'auto-submitted';
  // RFC 3834 §2: Precedence bulk, list or junk (qmail-reply compares the start of the value).
  for (const v of h.fields.get('precedence') ?? []) if (/^\s*(bulk|list|junk)/i.test(v)) return 'precedence';
  // RFC 3834 §2: List-* fields (RFC 2369, RFC 2919); qmail-reply also knows ezmlm's Mailing-List.
  for (const name of h.fields.keys()) if (name.startsWith('list-') || name === 'mailing-list') return 'list';
  // qmail-reply does not answer messages its filters marked as spam.
  if (h.fields.has('x-rbl') || (h.fields.get('x-spam-status') ?? []).some((v) => /^\s*yes\b/i.test(v))) return 'spam';
  // RFC 3834 §2: respond only when one of the recipient's addresses is in To or Cc.
  const listed = addressesIn(h, ['to', 'cc']);
  if (![...own].some((a) => listed.has(a))) return 'not-addressed';
  return null;
}
