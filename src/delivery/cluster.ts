/**
 * mailHost hand-off (qmail-ldap clustering): with
 * `directory.ldap.other_host = "forward"`, a recipient whose account lives on
 * another mailHost is handed to that host's QMQP port within the
 * transaction, one packet per recipient (qmail-lspawn forwards each
 * recipient alone), behind a `Delivered-To: CLUSTERHOST <me> <rcpt>` line.
 * A message that already carries our CLUSTERHOST line has been here and is
 * going round: D (#5.4.6), as qmail-ldap refuses it.
 */
import type { Config } from '../config/schema.js';
import type { Logger } from '../log/logger.js';
import { handoffLatency, handoffRecipients, handoffs } from '../outbound/metrics.js';
import { qmqpHandOff } from '../outbound/qmqp-client.js';
import { LIMITS } from '../limits.js';
import type { HostPort } from '../outbound/targets.js';
import { pairService, type PrimaryFinder } from '../proxy/pairs.js';
import type { Draft } from '../store/store.js';
import type { TraceScanner } from './trace.js';
import type { Verdict } from './verdict.js';

export const LOOP_TEXT = 'This message is looping: it already has my CLUSTERHOST Delivered-To line. (#5.4.6)';

/** This server's cluster name: directory.ldap.mail_host, else hostname. */
export function clusterName(cfg: Config): string {
  return (cfg.directory.ldap.mail_host || cfg.hostname).toLowerCase();
}

/**
 * Where a mailHost's QMQP listener is, or null when its pair has no single
 * ready primary now. cluster.hosts names the pair by its service address
 * (QMQP on cluster.qmqp_port) or by its nodes' admin listeners (the primary's
 * QMQP port as its /health reports it, as auth_http finds it); a mailHost
 * not listed is reached by its own name on cluster.qmqp_port.
 */
export async function clusterTarget(cfg: Config, primaries: PrimaryFinder, mailHost: string): Promise<HostPort | null> {
  const t = await pairService(cfg.cluster.hosts, primaries, mailHost, 'qmqp', () => cfg.cluster.qmqp_port);
  return t ? { host: t.host, port: t.port } : null;
}

export function clusterLine(me: string, recipient: string): Buffer {
  return Buffer.from(`Delivered-To: CLUSTERHOST ${me} ${recipient}\n`, 'utf8');
}

export function clusterLoop(cfg: Config, trace: TraceScanner): Verdict | null {
  return trace.hasDeliveredToPrefix(`clusterhost ${clusterName(cfg)} `) ? { code: 'D', text: LOOP_TEXT, reason: 'loop' } : null;
}

/**
 * A peer's Z or D as this delivery's verdict, its text quoted up to
 * LIMITS.delivery.maxQuotedReplyChars (the QMQP and LMTP replies cut the
 * whole line to qmqp.maxReplyText when they send it).
 */
export function peerRefusal(recipient: string, host: string, a: { code: 'Z' | 'D'; text: string }): Verdict {
  return { code: a.code, text: `${recipient}: ${host} said: ${a.text.slice(0, LIMITS.delivery.maxQuotedReplyChars)}`, reason: 'remote' };
}

/**
 * Hand each recipient to its mailHost; null when every one answered K, else
 * the first refusal (Z or D) refuses the message, as for smarthosts.
 */
export async function handOffCluster(cfg: Config, log: Logger, primaries: PrimaryFinder, draft: Draft, sender: string, elsewhere: ReadonlyMap<string, string>): Promise<Verdict | null> {
  const me = clusterName(cfg);
  const timeoutMs = cfg.outbound.timeout_ms > 0 ? Math.min(cfg.outbound.timeout_ms, LIMITS.outbound.qmqpTimeoutMs) : LIMITS.outbound.qmqpTimeoutMs;
  const message = { sender, size: draft.size, open: () => draft.openReader() };
  for (const [recipient, host] of elsewhere) {
    const started = process.hrtime.bigint();
    const target = await clusterTarget(cfg, primaries, host);
    if (!target) {
      log.warn({ recipient, mailHost: host }, 'cluster hand-off: no single ready primary for the mailHost');
      handoffs.inc({ result: 'temporary', kind: 'qmqp' });
      return { code: 'Z', text: `${recipient}: no primary of ${host} answers now`, reason: 'remote' };
    }
    const a = await qmqpHandOff(target, message, clusterLine(me, recipient), [recipient], timeoutMs);
    const status = a.code === 'K' ? 'accepted' : a.code === 'D' ? 'permanent' : 'temporary';
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    handoffs.inc({ result: status, kind: 'qmqp' });
    handoffRecipients.inc({ status, kind: 'qmqp' });
    handoffLatency.observe({ result: status, kind: 'qmqp' }, seconds);
    log.info({ result: status, recipient, mailHost: host, peer: `${target.host}:${target.port}`, reply: `${a.code}${a.text}`, ms: seconds * 1000 }, 'cluster hand-off');
    // Stop at the first refusal: the message is refused as a whole, and the retry sends it again.
    if (a.code !== 'K') return peerRefusal(recipient, host, { code: a.code, text: a.text });
  }
  return null;
}
