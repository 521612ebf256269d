/**
 * Final delivery, shared by the QMQP listener and `roost deliver`: resolve
 * recipients, store the finished draft in every Maildir at once, wait for the
 * replica, and turn the outcome into one verdict. Typed errors become K/Z/D
 * in exactly one switch (verdictForError), per STYLE.md habit 5.
 */
import type { Readable } from 'node:stream';
import type { Account, Directory } from '../accounts/directory.js';
import type { Config } from '../config/schema.js';
import type { ReplicationGate } from '../context.js';
import { isRoostError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import type { Draft, Store } from '../store/store.js';
import { deliveredBytes, deliveries, deliveryLatency } from './metrics.js';
import type { EnvelopeProblem } from './request.js';

/** QMQP's answer: K accepted for all recipients, Z try again later, D permanent failure. */
export interface Verdict {
  code: 'K' | 'Z' | 'D';
  text: string;
}

export type DeliveryVia = 'qmqp' | 'local';

/** What delivery needs from the node (a NodeContext satisfies it). */
export interface DeliveryContext {
  readonly config: Config;
  readonly log: Logger;
  readonly store: Store;
  readonly directory: Directory;
  readonly replication: ReplicationGate;
}

export const TEXT = {
  badAddress: "sorry, I can't accept addresses like that (#5.1.3)",
  noRecipients: 'sorry, no recipients given (#5.1.3)',
  tooManyRecipients: 'sorry, too many recipients (#5.5.3)',
  tooBig: 'Sorry, that message size exceeds my databytes limit. (#5.3.4)',
  overQuotaBounce: 'The users mailfolder is over the allowed quota (size). (#5.2.2)',
  overQuotaDefer: 'The users mailfolder is over the allowed quota, try again later. (#4.2.2)',
  disabled: 'Sorry, this mailbox does not accept mail. (#5.2.1)',
  notPrimary: 'this server is not accepting mail right now (#4.3.2)',
  directoryDown: 'account directory temporarily unavailable (#4.3.0)',
  temporary: 'temporary failure storing the message (#4.3.0)',
  limit: 'sorry, a server limit was exceeded (#5.3.4)',
} as const;

export function verdictForProblem(problem: EnvelopeProblem): Verdict {
  switch (problem) {
    case 'badaddress':
      return { code: 'D', text: TEXT.badAddress };
    case 'norecipients':
      return { code: 'D', text: TEXT.noRecipients };
    case 'toomanyrecipients':
      return { code: 'D', text: TEXT.tooManyRecipients };
  }
}

/**
 * THE mapping of errors to QMQP verdicts. Over quota is decided here, not in
 * the store: the store always reports OVERQUOTA, and `qmqp.over_quota` says
 * whether that bounces (qmail-ldap's behaviour) or defers.
 * Anything that is not a RoostError is a bug or an OS failure: Z.
 */
export function verdictForError(err: unknown, overQuota: string): Verdict {
  if (!isRoostError(err)) return { code: 'Z', text: TEXT.temporary };
  switch (err.code) {
    case 'TOOBIG':
      return { code: 'D', text: TEXT.tooBig };
    case 'OVERQUOTA':
      return overQuota === 'bounce' ? { code: 'D', text: TEXT.overQuotaBounce } : { code: 'Z', text: TEXT.overQuotaDefer };
    case 'LIMIT':
      return { code: 'D', text: TEXT.limit };
    case 'DISABLED':
    case 'NOLOGIN':
      return { code: 'D', text: TEXT.disabled };
    case 'NOTFOUND':
      return { code: 'D', text: 'Sorry, no mailbox here by that name. (#5.1.1)' };
    case 'READONLY':
    case 'NOTPRIMARY':
      return { code: 'Z', text: TEXT.notPrimary };
    case 'UNAVAILABLE':
      return { code: 'Z', text: TEXT.directoryDown };
    case 'TEMP':
    case 'EXISTS':
    case 'INUSE':
    case 'BADNAME':
    case 'NOPERM':
    case 'AUTHFAILED':
    case 'PARSE':
    case 'UNKNOWNCTE':
      return { code: 'Z', text: TEXT.temporary };
  }
}

/** Resolve every recipient; the first refusal decides (all-or-nothing). Accounts are de-duplicated. */
async function resolveRecipients(directory: Directory, recipients: readonly string[]): Promise<Account[] | Verdict> {
  // Look up distinct addresses at once (an LDAP backend bounds concurrency with its pool); the verdict
  // is still that of the first refused recipient in envelope order.
  const distinct = [...new Set(recipients.map((r) => r.toLowerCase()))];
  const results = await Promise.all(distinct.map((r) => directory.lookupRecipient(r)));
  const accounts = new Map<string, Account>();
  for (const r of results) {
    if (r.kind === 'rejected') return { code: 'D', text: r.text };
    if (r.kind === 'deferred') return { code: 'Z', text: r.text };
    accounts.set(r.account.id, r.account);
  }
  return [...accounts.values()];
}

export interface DeliveryRequest {
  sender: string;
  recipients: readonly string[];
  /** Receiving finished (all bytes written); finish() is called here. */
  draft: Draft;
  via: DeliveryVia;
  /** Correlates the log lines of one connection/command. */
  log?: Logger;
}

/**
 * Deliver a draft to all recipients and answer. Never throws: every outcome
 * is a verdict. K only after the store's deliver resolved (files and
 * directories fsync'd, index and journal committed) and the replica gate
 * released the highest LSN. On anything but K the draft is discarded, and the
 * store guarantees no copy is visible, so a retry does not duplicate.
 */
export async function deliverDraft(ctx: DeliveryContext, req: DeliveryRequest): Promise<Verdict> {
  const started = process.hrtime.bigint();
  const log = req.log ?? ctx.log;
  let verdict: Verdict;
  try {
    verdict = await attempt(ctx, req);
  } catch (err) {
    verdict = verdictForError(err, ctx.config.qmqp.over_quota);
    const level = verdict.code === 'D' ? 'info' : 'warn';
    log[level]({ err, code: isRoostError(err) ? err.code : undefined }, 'delivery failed');
  }
  if (verdict.code !== 'K') await req.draft.discard().catch((err: unknown) => log.warn({ err }, 'draft discard failed'));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  deliveries.inc({ result: verdict.code, via: req.via });
  deliveryLatency.observe({ result: verdict.code, via: req.via }, seconds);
  if (verdict.code === 'K') deliveredBytes.inc({ via: req.via }, req.draft.size);
  log.info(
    { verdict: verdict.code, text: verdict.text, sender: req.sender, recipients: req.recipients.length, size: req.draft.size, ms: seconds * 1000 },
    'delivery',
  );
  return verdict;
}

async function attempt(ctx: DeliveryContext, req: DeliveryRequest): Promise<Verdict> {
  if (!ctx.replication.writable) return { code: 'Z', text: TEXT.notPrimary };
  const resolved = await resolveRecipients(ctx.directory, req.recipients);
  if (!Array.isArray(resolved)) return resolved;
  await req.draft.finish();
  // Per-account size limit (LDAP mailSizeMax); the global limit was enforced while receiving.
  if (resolved.some((a) => a.maxMessageSize > 0 && req.draft.size > a.maxMessageSize)) return { code: 'D', text: TEXT.tooBig };
  const saved = await ctx.store.deliver(resolved, req.draft, { sender: req.sender, overQuota: 'bounce' });
  const maxLsn = saved.reduce((m, s) => (s.lsn > m ? s.lsn : m), 0n);
  await ctx.replication.waitFor(maxLsn);
  return { code: 'K', text: `ok ${Math.floor(Date.now() / 1000)} qp ${process.pid}` };
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
  let draft: Draft;
  try {
    draft = await ctx.store.createDraft({ prefix: opts.prefix, maxSize: ctx.config.qmqp.max_message_size });
  } catch (err) {
    return verdictForError(err, ctx.config.qmqp.over_quota);
  }
  try {
    for await (const chunk of source) await draft.write(chunk as Buffer);
  } catch (err) {
    await draft.discard().catch(() => undefined);
    const v = verdictForError(err, ctx.config.qmqp.over_quota);
    deliveries.inc({ result: v.code, via: opts.via });
    return v;
  }
  return deliverDraft(ctx, { sender: opts.sender, recipients: opts.recipients, draft, via: opts.via, log: opts.log });
}
