/**
 * The remote queue without a queue: a message's remote recipients are handed
 * to the configured smarthosts, tried in turn, while the sending client
 * waits. A recipient a smarthost answered for for good (250
 * after DATA, or 5xx) is decided; the ones left temporary (connection
 * refused, timeout, 4xx, bad replies) go to the next smarthost. Forwards add
 * their targets to the same recipient list.
 */
import type { Config } from '../config/schema.js';
import { LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';
import { handoffAttempts, handoffLatency, handoffRecipients, handoffs } from './metrics.js';
import { sendMail, type OutboundMessage, type RecipientOutcome, type RecipientStatus } from './smtp.js';
import { parseHostPort, type HostPort } from './targets.js';

export type { OutboundMessage, RecipientOutcome, RecipientStatus };

export interface HandOffResult {
  /** accepted: every recipient got 250 after DATA; permanent: at least one got 5xx; temporary: otherwise. */
  status: RecipientStatus;
  recipients: RecipientOutcome[];
}

/** The overall outcome of per-recipient outcomes: one 5xx makes it permanent, else one 4xx temporary. */
export function overall(outcomes: readonly RecipientOutcome[]): RecipientStatus {
  if (outcomes.some((o) => o.status === 'permanent')) return 'permanent';
  if (outcomes.some((o) => o.status === 'temporary')) return 'temporary';
  return 'accepted';
}

/** The domain of an address (after the last @), lower-cased; "" without one. */
function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

export class Outbound {
  private readonly smarthosts: HostPort[];
  private readonly locals: Set<string>;

  constructor(
    private readonly cfg: Config['outbound'],
    private readonly helo: string,
    private readonly log: Logger,
  ) {
    // At most LIMITS.outbound.maxSmarthosts: config load refuses more.
    this.smarthosts = cfg.smarthosts.slice(0, LIMITS.outbound.maxSmarthosts).map((s) => parseHostPort(s, 25));
    this.locals = new Set(cfg.local_domains.map((d) => d.toLowerCase()));
  }

  /** Remote delivery is configured: smarthosts to send to and local domains to tell local from remote. */
  get enabled(): boolean {
    return this.smarthosts.length > 0 && this.locals.size > 0;
  }

  /** Not at one of our domains, so not for the directory: a smarthost's. False while remote delivery is disabled. */
  isRemote(address: string): boolean {
    return this.enabled && !this.locals.has(domainOf(address));
  }

  /** Hand `message` to a smarthost for `remoteRecipients`. Never throws. */
  async handOff(message: OutboundMessage, remoteRecipients: readonly string[]): Promise<HandOffResult> {
    const started = process.hrtime.bigint();
    const decided = new Map<string, RecipientOutcome>();
    let pending = [...new Set(remoteRecipients)];
    let last: RecipientOutcome[] = pending.map((r) => ({ recipient: r, status: 'temporary', reply: 'no smarthost configured' }));
    const tried: string[] = [];
    for (const target of this.smarthosts) {
      if (pending.length === 0) break;
      const peer = `${target.host}:${target.port}`;
      tried.push(peer);
      const res = await sendMail(target.host, target.port, message, pending, {
        helo: this.helo,
        starttls: this.cfg.starttls as 'opportunistic' | 'required' | 'off',
        tlsVerify: this.cfg.tls_verify,
        timeoutMs: this.cfg.timeout_ms,
      });
      last = res.recipients.filter((o) => o.status === 'temporary');
      for (const o of res.recipients) if (o.status !== 'temporary') decided.set(o.recipient, o);
      handoffAttempts.inc({ peer, result: last.length === 0 ? 'decided' : 'failed' });
      if (last.length > 0) this.log.info({ smarthost: peer, reply: last[0]!.reply, tls: res.tls }, 'smarthost did not take every recipient');
      pending = last.map((o) => o.recipient);
    }
    const recipients = [...new Set(remoteRecipients)].map((r) => decided.get(r) ?? last.find((o) => o.recipient === r)!);
    const status = overall(recipients);
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    handoffs.inc({ result: status, kind: 'smtp' });
    handoffLatency.observe({ result: status, kind: 'smtp' }, seconds);
    for (const o of recipients) handoffRecipients.inc({ status: o.status, kind: 'smtp' });
    this.log.info(
      { result: status, sender: message.sender, recipients: recipients.map((o) => `${o.recipient} ${o.status} ${o.reply}`), tried, size: message.size, ms: seconds * 1000 },
      'outbound hand-off',
    );
    return { status, recipients };
  }
}
