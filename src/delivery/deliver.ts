/**
 * Final delivery, shared by the QMQP and LMTP listeners and `roost deliver`:
 * resolve recipients, check for loops, store the finished draft in every
 * Maildir at once (one spool file, hard links), wait for the replica, and
 * turn the outcome into verdicts (./verdict.ts).
 *
 * Two shapes over the same store call:
 *  - deliverDraft: one verdict for the message, all-or-nothing (QMQP has one
 *    answer per message, qmqp.html; `roost deliver` is an MDA with one exit code).
 *  - deliverEach: one verdict per recipient (LMTP, RFC 2033 §4.2). What can
 *    differ per recipient (loop, mailSizeMax, quota) is decided before the
 *    store call; the recipients left go into one store.deliver, whose outcome
 *    is then the same for all of them, so nothing is half-delivered and a
 *    recipient answered 250 stays delivered.
 */
import type { Readable } from 'node:stream';
import type { Account, Directory, RecipientResult } from '../accounts/directory.js';
import type { Config } from '../config/schema.js';
import type { ReplicationGate } from '../context.js';
import { isRoostError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Outbound } from '../outbound/handoff.js';
import type { PrimaryFinder } from '../proxy/pairs.js';
import type { SavedMessage, Store } from '../store/store.js';
import { deliveredBytes, deliveries, deliveryLatency } from './metrics.js';
import { clusterLoop, handOffCluster } from './cluster.js';
import { handOffDraft, relayDenied, splitRecipients } from './remote.js';
import { TraceScanner } from './trace.js';
import { planDelivery, sendReplies, type DeliveryPlan, type HandOff } from './forward.js';
import { Incoming } from './incoming.js';
import type { VacationMemory } from './vacation/memory.js';
import { accepted, overQuotaVerdict, TEXT, verdictForError, type Verdict } from './verdict.js';

export { Incoming } from './incoming.js';

export type DeliveryVia = 'qmqp' | 'lmtp' | 'local';

/** What delivery needs from the node (a NodeContext satisfies it). */
export interface DeliveryContext {
  readonly config: Config;
  readonly log: Logger;
  readonly store: Store;
  readonly directory: Directory;
  readonly replication: ReplicationGate;
  /** The node's one smarthost client (src/outbound): remote recipients, and forwards through handOff. */
  readonly outbound: Outbound;
  /** The node's one asker of pairs' primaries (src/proxy/pairs.ts), shared with auth_http: cluster hand-offs. */
  readonly primaries: PrimaryFinder;
  /** The smarthost client (src/outbound) for forwards and vacation replies; absent: neither is done (./forward.ts). */
  readonly handOff?: HandOff;
  /** Once-per-sender memory of vacation replies (./vacation/memory.ts). */
  readonly vacation?: VacationMemory;
}

/** A directory answer as a verdict, or the account. */
export function recipientVerdict(r: RecipientResult): Account | Verdict {
  if (r.kind === 'found') return r.account;
  return { code: r.kind === 'rejected' ? 'D' : 'Z', text: r.text, reason: 'directory' };
}

/** Look one recipient up; a directory failure (thrown) is a verdict too. Never throws. */
export async function resolveRecipient(ctx: DeliveryContext, address: string): Promise<Account | Verdict> {
  try {
    return recipientVerdict(await ctx.directory.lookupRecipient(address));
  } catch (err) {
    ctx.log.warn({ err }, 'recipient lookup failed');
    return verdictForError(err, ctx.config.qmqp.over_quota);
  }
}

interface Resolved {
  /** Local recipients, one entry per distinct address, with their accounts. */
  recipients: ResolvedRecipient[];
  /** Recipients on another mailHost (other_host = "forward") → that mailHost. */
  elsewhere: Map<string, string>;
}

/** Resolve every recipient; the first refusal decides (all-or-nothing). One entry per distinct address. */
async function resolveAll(directory: Directory, recipients: readonly string[]): Promise<Resolved | Verdict> {
  // Look up distinct addresses at once (an LDAP backend bounds concurrency with its pool); the verdict
  // is still that of the first refused recipient in envelope order.
  const distinct = [...new Set(recipients.map((r) => r.toLowerCase()))];
  const results = await Promise.all(distinct.map((r) => directory.lookupRecipient(r)));
  const out: ResolvedRecipient[] = [];
  const elsewhere = new Map<string, string>();
  for (const [i, r] of results.entries()) {
    if (r.kind === 'deferred' && r.mailHost !== undefined) {
      elsewhere.set(distinct[i]!, r.mailHost);
      continue;
    }
    const v = recipientVerdict(r);
    if ('code' in v) return v;
    out.push({ address: distinct[i]!, account: v });
  }
  return { recipients: out, elsewhere };
}

/**
 * qmail's two loop checks on the incoming header: more than `max_hops`
 * Received lines (qmail-send), or a Delivered-To line naming this recipient
 * (qmail-local). null when neither applies.
 */
export function loopVerdict(trace: TraceScanner, recipient: string, maxHops: number): Verdict | null {
  if (trace.received > maxHops) return { code: 'D', text: TEXT.loopHops, reason: 'loop' };
  if (trace.hasDeliveredTo(recipient)) return { code: 'D', text: TEXT.loopDeliveredTo, reason: 'loop' };
  return null;
}

function maxLsn(saved: readonly SavedMessage[]): bigint {
  return saved.reduce((m, s) => (s.lsn > m ? s.lsn : m), 0n);
}

function record(via: DeliveryVia, v: Verdict, seconds: number, bytes: number): void {
  deliveries.inc({ result: v.code, via });
  deliveryLatency.observe({ result: v.code, via }, seconds);
  if (v.code === 'K') deliveredBytes.inc({ via }, bytes);
}

export interface DeliveryRequest {
  sender: string;
  recipients: readonly string[];
  /** Receiving finished (all bytes written); finish() is called here. */
  incoming: Incoming;
  via: DeliveryVia;
  /** Correlates the log lines of one connection/command. */
  log?: Logger;
  /** Whether recipients that are not local may be handed off (QMQP: peer in qmqp.relay_from). Default true (a local caller). */
  relay?: boolean;
}

/**
 * Deliver a draft to all recipients and answer once. Never throws: every
 * outcome is a verdict. K only after the store's deliver resolved (files and
 * directories fsync'd, index and journal committed) and the replica gate
 * released the highest LSN. On anything but K the draft is discarded, and the
 * store guarantees no copy is visible, so a retry does not duplicate.
 */
export async function deliverDraft(ctx: DeliveryContext, req: DeliveryRequest): Promise<Verdict> {
  const started = process.hrtime.bigint();
  const log = req.log ?? ctx.log;
  const draft = req.incoming.draft;
  let verdict: Verdict;
  let plan: DeliveryPlan | null = null;
  try {
    const outcome = await attempt(ctx, req, log);
    verdict = 'code' in outcome ? outcome : outcome.verdict;
    if (!('code' in outcome)) plan = outcome.plan;
  } catch (err) {
    verdict = verdictForError(err, ctx.config.qmqp.over_quota);
    const level = verdict.code === 'D' ? 'info' : 'warn';
    log[level]({ err, code: isRoostError(err) ? err.code : undefined }, 'delivery failed');
  }
  if (verdict.code !== 'K') await draft.discard().catch((err: unknown) => log.warn({ err }, 'draft discard failed'));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  record(req.via, verdict, seconds, draft.size);
  log.info(
    { verdict: verdict.code, text: verdict.text, sender: req.sender, recipients: req.recipients.length, size: draft.size, ms: seconds * 1000 },
    'delivery',
  );
  // RFC 3834 replies are best effort and after the answer's decision: they never change it.
  if (verdict.code === 'K' && plan && plan.replies.length > 0) void sendReplies(ctx, plan, log);
  return verdict;
}

async function attempt(ctx: DeliveryContext, req: DeliveryRequest, log: Logger): Promise<Verdict | { verdict: Verdict; plan: DeliveryPlan }> {
  if (!ctx.replication.writable) return { code: 'Z', text: TEXT.notPrimary, reason: 'notprimary' };
  const outbound = ctx.outbound;
  const { local, remote } = splitRecipients(outbound, req.recipients);
  if (remote.length > 0 && req.relay === false) return relayDenied();
  const found = local.length > 0 ? await resolveAll(ctx.directory, local) : { recipients: [], elsewhere: new Map<string, string>() };
  if ('code' in found) return found;
  const resolved = found.recipients;
  const draft = req.incoming.draft;
  await draft.finish();
  for (const r of req.recipients) {
    const loop = loopVerdict(req.incoming.trace, r, ctx.config.delivery.max_hops);
    if (loop) return loop;
  }
  if (found.elsewhere.size > 0) {
    const loop = clusterLoop(ctx.config, req.incoming.trace);
    if (loop) return loop;
  }
  // Per-account size limit (LDAP mailSizeMax); the global limit was enforced while receiving.
  if (resolved.some((r) => r.account.maxMessageSize > 0 && draft.size > r.account.maxMessageSize)) return { code: 'D', text: TEXT.userTooBig, reason: 'usertoobig' };
  const plan = planDelivery(ctx, resolved, req.sender, req.incoming);
  // Remote recipients, then each account's forwards behind its Delivered-To line, before the local
  // copy: a refusal then leaves nothing to undo here (./remote.ts). A refusal after an earlier hand-off answers Z, and
  // the retry may send that one again: duplicated, never lost.
  if (remote.length > 0) {
    const refused = await handOffDraft(outbound, draft, req.incoming.eightBit, req.sender, remote);
    if (refused) return refused;
  }
  for (const g of plan.forwards) {
    const refused = await ctx.handOff!.forward!({ sender: req.sender, recipients: g.targets, deliveredTo: g.recipient, incoming: req.incoming });
    if (refused) return refused;
  }
  if (found.elsewhere.size > 0) {
    const refused = await handOffCluster(ctx.config, log, ctx.primaries, draft, req.sender, found.elsewhere);
    if (refused) return refused;
  }
  if (plan.local.length === 0) {
    // Only remote recipients, or deliveryMode nolocal/forwardonly: the hand-off was the delivery (qmail-local stores nothing either).
    await draft.discard();
    return { verdict: accepted(), plan };
  }
  const saved = await ctx.store.deliver(plan.local, draft, { sender: req.sender });
  await ctx.replication.waitFor(maxLsn(saved));
  return { verdict: accepted(), plan };
}

/** One LMTP recipient, resolved at RCPT time. */
export interface ResolvedRecipient {
  address: string;
  account: Account;
}

export interface EachRequest {
  sender: string;
  recipients: readonly ResolvedRecipient[];
  incoming: Incoming;
  via: DeliveryVia;
  log?: Logger;
}

async function overQuota(ctx: DeliveryContext, account: Account, size: number): Promise<boolean> {
  if (account.quotaBytes <= 0 && account.quotaMessages <= 0) return false;
  const q = await ctx.store.user(account).quota();
  return (q.limitBytes > 0 && q.bytes + size > q.limitBytes) || (q.limitMessages > 0 && q.messages + 1 > q.limitMessages);
}

/**
 * Deliver a finished draft to recipients resolved earlier and answer each
 * (RFC 2033 §4.2). Never throws; the verdicts are in recipient order.
 */
export async function deliverEach(ctx: DeliveryContext, req: EachRequest): Promise<Verdict[]> {
  const started = process.hrtime.bigint();
  const log = req.log ?? ctx.log;
  const draft = req.incoming.draft;
  let verdicts: Verdict[];
  const each: EachOutcome = { stored: false, plan: null };
  if (!ctx.replication.writable) verdicts = req.recipients.map(() => ({ code: 'Z', text: TEXT.notPrimary, reason: 'notprimary' }));
  else {
    try {
      verdicts = await decideEach(ctx, req, log, each);
    } catch (err) {
      const v = verdictForError(err, ctx.config.qmqp.over_quota);
      log[v.code === 'D' ? 'info' : 'warn']({ err, code: isRoostError(err) ? err.code : undefined }, 'delivery failed');
      verdicts = req.recipients.map(() => v);
    }
  }
  if (!each.stored || !verdicts.some((v) => v.code === 'K')) await draft.discard().catch((err: unknown) => log.warn({ err }, 'draft discard failed'));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  for (const v of verdicts) record(req.via, v, seconds, draft.size);
  log.info(
    { verdicts: verdicts.map((v) => v.code).join(''), sender: req.sender, recipients: verdicts.length, size: draft.size, ms: seconds * 1000 },
    'delivery',
  );
  if (each.plan && each.plan.replies.length > 0) void sendReplies(ctx, each.plan, log);
  return verdicts;
}

/** What decideEach leaves for deliverEach: whether the store took the draft, and the replies due for recipients answered 250. */
interface EachOutcome {
  stored: boolean;
  plan: DeliveryPlan | null;
}

async function decideEach(ctx: DeliveryContext, req: EachRequest, log: Logger, outcome: EachOutcome): Promise<Verdict[]> {
  const draft = req.incoming.draft;
  await draft.finish();
  const out: (Verdict | null)[] = req.recipients.map(() => null);
  let group: number[] = [];
  for (let i = 0; i < req.recipients.length; i++) {
    const r = req.recipients[i]!;
    const loop = loopVerdict(req.incoming.trace, r.address, ctx.config.delivery.max_hops);
    if (loop) out[i] = loop;
    else if (r.account.maxMessageSize > 0 && draft.size > r.account.maxMessageSize) out[i] = { code: 'D', text: TEXT.userTooBig, reason: 'usertoobig' };
    else group.push(i);
  }
  const accountOf = (i: number): Account => req.recipients[i]!.account;
  // Quota matters only where a Maildir copy is kept (not under nolocal/forwardonly once forwards can go out).
  const keepsCopy = (a: Account): boolean => a.delivery?.local !== false || !ctx.handOff?.forward;
  const distinct = [...new Map(group.filter((i) => keepsCopy(accountOf(i))).map((i) => [accountOf(i).id, accountOf(i)])).values()];
  // One store call is all-or-nothing: with several accounts, take out the ones over quota first so
  // they do not fail the others. A single account is checked by the store itself.
  if (distinct.length > 1) {
    const over = new Set<string>();
    for (const a of distinct) if (await overQuota(ctx, a, draft.size)) over.add(a.id);
    for (const i of group) if (over.has(accountOf(i).id)) out[i] = overQuotaVerdict(ctx.config.qmqp.over_quota);
    group = group.filter((i) => !over.has(accountOf(i).id));
  }
  const plan = planDelivery(ctx, group.map((i) => req.recipients[i]!), req.sender, req.incoming);
  for (const g of plan.forwards) {
    // One hand-off per account behind its Delivered-To line; if it fails, that account's recipients get its verdict (RFC 2033 §4.2).
    const refused = await ctx.handOff!.forward!({ sender: req.sender, recipients: g.targets, deliveredTo: g.recipient, incoming: req.incoming });
    if (refused) {
      log.info({ verdict: refused.code, text: refused.text, account: g.account.id }, 'forward hand-off refused');
      for (const i of group) if (accountOf(i).id === g.account.id) out[i] = refused;
      group = group.filter((i) => out[i] === null);
    }
  }
  const localIds = new Set(plan.local.map((a) => a.id));
  const stored = group.filter((i) => localIds.has(accountOf(i).id));
  // Recipients whose mail only goes on (nolocal/forwardonly) are done once their forwards were taken.
  for (const i of group) if (!localIds.has(accountOf(i).id)) out[i] = accepted();
  group = stored;
  // An account that refuses changes now (frozen for a move, being rebuilt) would fail the one store call for every
  // recipient: it gets its own temporary answer and the others are delivered (RFC 2033 §4.2).
  for (const i of group) if (mailboxBusy(ctx.store, accountOf(i))) out[i] = { code: 'Z', text: TEXT.mailboxBusy, reason: 'mailboxbusy' };
  group = group.filter((i) => out[i] === null);
  if (group.length > 0) {
    let v: Verdict;
    try {
      const saved = await ctx.store.deliver(group.map(accountOf), draft, { sender: req.sender });
      outcome.stored = true;
      await ctx.replication.waitFor(maxLsn(saved));
      v = accepted();
    } catch (err) {
      // Quota moved between the check and the store: which account is over is unknown, so each
      // is told to try again (the check separates them next time).
      const several = new Set(group.map((i) => accountOf(i).id)).size > 1;
      v = isRoostError(err, 'OVERQUOTA') && several ? overQuotaVerdict('defer') : verdictForError(err, ctx.config.qmqp.over_quota);
      log[v.code === 'D' ? 'info' : 'warn']({ err, code: isRoostError(err) ? err.code : undefined }, 'delivery failed');
    }
    for (const i of group) out[i] = v;
  }
  // Replies only for accounts that were answered 250.
  const answered = new Set(out.flatMap((v, i) => (v?.code === 'K' ? [accountOf(i).id] : [])));
  outcome.plan = { ...plan, replies: plan.replies.filter((r) => answered.has(r.account.id)) };
  return out.map((v) => v ?? { code: 'Z', text: TEXT.temporary, reason: 'temporary' });
}

/** The store refuses the account's changes for a while (Store.user throws TEMP then); a failure to open it is the store call's to report. */
function mailboxBusy(store: Store, account: Account): boolean {
  try {
    store.user(account);
    return false;
  } catch (err) {
    return isRoostError(err, 'TEMP');
  }
}

/**
 * `roost deliver`: read a message from a stream into a draft and deliver it
 * exactly as QMQP does. The stream is piped with back-pressure, never buffered whole.
 */
export async function deliverStream(
  ctx: DeliveryContext,
  source: Readable,
  opts: { sender: string; recipients: readonly string[]; via: DeliveryVia; prefix?: Buffer; log?: Logger },
): Promise<Verdict> {
  let incoming: Incoming;
  try {
    incoming = await Incoming.open(ctx.store, { prefix: opts.prefix, maxSize: ctx.config.qmqp.max_message_size });
  } catch (err) {
    return verdictForError(err, ctx.config.qmqp.over_quota);
  }
  try {
    for await (const chunk of source) await incoming.write(chunk as Buffer);
  } catch (err) {
    await incoming.draft.discard().catch(() => undefined);
    const v = verdictForError(err, ctx.config.qmqp.over_quota);
    deliveries.inc({ result: v.code, via: opts.via });
    return v;
  }
  return deliverDraft(ctx, { sender: opts.sender, recipients: opts.recipients, incoming, via: opts.via, log: opts.log });
}
