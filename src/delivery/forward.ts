/**
 * Forwards and vacation replies in final delivery, around
 * the pure expansion (./expand.ts):
 *
 *  - planDelivery: which accounts get the Maildir copy and which addresses
 *    the same bytes go to. Forwards are handed off inside the delivery's
 *    all-or-nothing step (deliverDraft): a smarthost that does not take them
 *    means Z and no local copy.
 *  - sendReplies: after the verdict is K, each due reply is composed, handed
 *    off from <> and remembered. Best effort: a failure is logged, never a Z.
 *
 * INTEGRATION POINT with src/outbound: the smarthost client
 * is reached through `DeliveryContext.handOff` (the HandOff interface
 * below; ./smarthost.ts builds it from `[outbound] smarthosts`; QMQP hands
 * forwards off together with its remote recipients, ./remote.ts). Without
 * one nothing changes for the sender: accounts with forwards keep their
 * Maildir copy (even under deliveryMode nolocal, so no mail is lost), each
 * such account is logged once, and no reply is sent.
 */
import type { Account } from '../accounts/directory.js';
import type { Logger } from '../log/logger.js';
import { SeenOnce } from '../log/seen-once.js';
import { LIMITS } from '../limits.js';
import type { Incoming } from './incoming.js';
import { expandMessage, type ForwardGroup, type VacationPlan } from './expand.js';
import { vacationReplies } from './metrics.js';
import { composeReply } from './vacation/compose.js';
import { readReplyHeader, type ReplyHeader } from './vacation/header.js';
import type { VacationMemory } from './vacation/memory.js';
import type { Verdict } from './verdict.js';

/** What final delivery needs from the smarthost client (src/outbound). */
export interface HandOff {
  /**
   * Hand the received message (the finished draft's bytes, headed by
   * `Delivered-To: <deliveredTo>` unless the draft already starts with that
   * line) to a smarthost for `recipients` with envelope sender `sender`:
   * null once a smarthost answered 250 after DATA for every recipient, else
   * the verdict (D for a 5xx, Z otherwise). Never throws.
   */
  forward?(req: { sender: string; recipients: readonly string[]; deliveredTo: string; incoming: Incoming }): Promise<Verdict | null>;
  /** Send a message Roost made (a vacation reply): envelope sender <>, one recipient. Resolves when a smarthost took it. */
  send(req: { recipient: string; message: Buffer }): Promise<void>;
}

/** The optional parts of a DeliveryContext this module uses. */
export interface ForwardingContext {
  readonly handOff?: HandOff;
  readonly vacation?: VacationMemory;
  readonly log: Logger;
  readonly config: { readonly hostname: string };
}

export interface DeliveryPlan {
  /** Accounts that get the Maildir copy. */
  local: Account[];
  /** Per account with forwards: one hand-off with the incoming envelope sender behind its Delivered-To line. */
  forwards: ForwardGroup[];
  /** Replies due after K (the once-per-sender memory is asked then). */
  replies: { account: Account; plan: VacationPlan }[];
  header: ReplyHeader;
}

/** Accounts already logged for forwards or replies without a hand-off. */
const noted = new SeenOnce(LIMITS.delivery.maxNotedAccounts);

function noteOnce(log: Logger, account: Account, what: string): void {
  if (!noted.first(`${what}\0${account.id}`)) return;
  log.warn({ account: account.id }, `${what}: no outbound hand-off in this node ([outbound] smarthosts); ignored, the Maildir copy is kept`);
}

export function planDelivery(
  ctx: ForwardingContext,
  recipients: readonly { address: string; account: Account }[],
  sender: string,
  incoming: Incoming,
): DeliveryPlan {
  const header = readReplyHeader(incoming.header.header());
  const m = expandMessage(recipients, sender, header);
  if (ctx.handOff?.forward) {
    // nolocal/forwardonly without a forward (or with noforward): qmail-local delivers nothing and exits 0; so does Roost, loudly.
    for (const r of recipients)
      if (r.account.delivery?.local === false && r.account.delivery.forwards.length === 0)
        ctx.log.warn({ account: r.account.id }, 'deliveryMode leaves neither a Maildir copy nor a forward: message accepted and dropped, as qmail-local does');
    return { local: m.local, forwards: m.forwards, replies: m.replies, header };
  }
  // Without a hand-off every account keeps its Maildir copy: what Roost did before it read forwards.
  const all = new Map(recipients.map((r) => [r.account.id, r.account]));
  for (const a of all.values()) if (a.delivery?.forwards.length) noteOnce(ctx.log, a, 'forwarding');
  if (!ctx.handOff) for (const r of m.replies) noteOnce(ctx.log, r.account, 'vacation reply');
  return { local: [...all.values()], forwards: [], replies: ctx.handOff ? m.replies : [], header };
}

/**
 * Send the replies a K'd delivery made due. Never throws; resolves when
 * every reply was handed off, skipped or failed (callers need not wait).
 */
export async function sendReplies(ctx: ForwardingContext, plan: DeliveryPlan, log: Logger): Promise<void> {
  const { handOff, vacation } = ctx;
  if (!handOff || !vacation) return;
  for (const { account, plan: p } of plan.replies) {
    let claimed = false;
    try {
      claimed = vacation.claim(account.id, p.to, p.text);
      if (!claimed) {
        vacationReplies.inc({ result: 'recent' });
        log.debug({ account: account.id, to: p.to }, 'vacation reply already sent within the window');
        continue;
      }
      const message = composeReply({ text: p.text, from: p.from, to: p.to, header: plan.header, hostname: ctx.config.hostname });
      await handOff.send({ recipient: p.to, message });
      await vacation.remember(account.id, p.to, p.text);
      claimed = false;
      vacationReplies.inc({ result: 'sent' });
      log.info({ account: account.id, to: p.to }, 'vacation reply sent');
    } catch (err) {
      vacationReplies.inc({ result: 'failed' });
      log.warn({ err, account: account.id, to: p.to }, 'vacation reply not sent');
    } finally {
      if (claimed) vacation.release(account.id, p.to);
    }
  }
}
