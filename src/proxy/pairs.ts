/**
 * Where a pair named in `cluster.hosts` takes proxied logins. A value is
 * either the pair's one service address (a floating address, keepalived's
 * VIP: the IMAP/POP3 ports are cluster.imap_port / cluster.pop3_port) or,
 * for a pair without one, its nodes' admin listeners ("10.0.2.11:8025
 * 10.0.2.12:8025"): then each node's GET /health is asked and the one ready
 * primary is the target, on the ports its /health reports (proxied listener
 * first). No ready primary, or more than one, is no target (the login gets
 * a temporary error): a split pair must not be guessed at.
 */
import http from 'node:http';
import { LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';

export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

export type PairSpec = { kind: 'address'; host: string } | { kind: 'nodes'; admins: Endpoint[] };

const HOST_PORT = /^(?:\[([^\]]+)\]|([^:\s[\]]+)):(\d{1,5})$/;

/** Parse one cluster.hosts value; throws with the reason. */
export function parsePairSpec(value: string): PairSpec {
  const tokens = value.trim().split(/\s+/).filter((t) => t !== '');
  if (tokens.length === 0) throw new Error('empty');
  if (tokens.length === 1 && !HOST_PORT.test(tokens[0]!)) return { kind: 'address', host: tokens[0]! };
  const admins = tokens.map((t) => {
    const m = HOST_PORT.exec(t);
    const port = Number(m?.[3]);
    if (!m || port < 1 || port > 65535) throw new Error(`${JSON.stringify(t)} is not "host:port" (a node's admin.listen)`);
    return { host: m[1] ?? m[2]!, port };
  });
  return { kind: 'nodes', admins };
}

/** What a node's /health says, as far as routing needs it. */
export interface Health {
  role?: unknown;
  ready?: unknown;
  ports?: Record<string, unknown>;
  [detail: string]: unknown;
}

/**
 * GET /health of one node's admin listener; null when it does not answer
 * with JSON within timeoutMs in all (a total deadline: a node dripping bytes
 * must not hold every login of its pair while the answer is cached).
 */
export function getHealth(admin: Endpoint, timeoutMs: number): Promise<Health | null> {
  return new Promise((done) => {
    const deadline = setTimeout(() => {
      req.destroy();
      done(null);
    }, timeoutMs);
    const resolve = (h: Health | null): void => {
      clearTimeout(deadline);
      done(h);
    };
    const req = http.get({ host: admin.host, port: admin.port, path: '/health', timeout: timeoutMs, agent: false }, (res) => {
      let body = '';
      let bytes = 0;
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        body += c;
        bytes += Buffer.byteLength(c);
        // Settled here: an answer that arrived whole still ends (and parses) after the destroy.
        if (bytes > LIMITS.proxyAuth.maxHealthBytes) {
          req.destroy();
          resolve(null);
        }
      });
      res.on('end', () => {
        try {
          resolve(JSON.parse(body) as Health);
        } catch {
          resolve(null);
        }
      });
      res.on('error', () => resolve(null));
    });
    req.on('timeout', () => req.destroy());
    req.on('error', () => resolve(null));
  });
}

export interface PrimaryPorts {
  readonly host: string;
  readonly imap?: number;
  readonly pop3?: number;
  readonly qmqp?: number;
  /** Its replication listener (`roost account move` hands accounts there). */
  readonly replication?: number;
}

/** Asks pairs' nodes who is primary; answers are kept LIMITS.proxyAuth.primaryCacheMs. */
export class PrimaryFinder {
  private readonly cache = new Map<string, { at: number; answer: Promise<PrimaryPorts | null> }>();

  constructor(private readonly log: Logger) {}

  primary(name: string, admins: readonly Endpoint[]): Promise<PrimaryPorts | null> {
    const now = Date.now();
    // Keyed by the nodes too: a changed cluster.hosts entry is never answered from the old one.
    const key = `${name} ${admins.map((a) => `${a.host}:${a.port}`).join(' ')}`;
    const hit = this.cache.get(key);
    if (hit && now - hit.at < LIMITS.proxyAuth.primaryCacheMs) return hit.answer;
    const answer = this.ask(name, admins);
    this.cache.set(key, { at: now, answer });
    return answer;
  }

  private async ask(name: string, admins: readonly Endpoint[]): Promise<PrimaryPorts | null> {
    const healths = await Promise.all(admins.map((a) => getHealth(a, LIMITS.proxyAuth.healthTimeoutMs)));
    const primaries = admins.flatMap((a, i) => {
      const h = healths[i];
      return h && h.role === 'primary' && h.ready === true ? [{ admin: a, ports: h.ports ?? {} }] : [];
    });
    if (primaries.length !== 1) {
      this.log.error({ mailHost: name, primaries: primaries.map((p) => `${p.admin.host}:${p.admin.port}`), asked: admins.length }, 'auth_http: no single ready primary for the pair');
      return null;
    }
    const { admin, ports } = primaries[0]!;
    const num = (v: unknown): number | undefined => (typeof v === 'number' && Number.isInteger(v) ? v : undefined);
    return { host: admin.host, imap: num(ports.imapProxy) ?? num(ports.imap), pop3: num(ports.pop3Proxy) ?? num(ports.pop3), qmqp: num(ports.qmqp), replication: num(ports.replication) };
  }
}

/**
 * Where one service of a mailHost's pair listens. cluster.hosts names the
 * pair by its service address (the service on `port()`) or by its nodes'
 * admin listeners (the ready primary's port for `service`, as its /health
 * reports it); a mailHost not listed is reached by its own name on
 * `port()`. null when the pair has no single ready primary now, or it
 * reports no such port. `mailHost` is the name as cluster.hosts spells it.
 * One copy for the QMQP hand-off (delivery/cluster.ts) and `roost account
 * move` (replication/move-command.ts).
 */
export async function pairService(
  hosts: Readonly<Record<string, string>>,
  primaries: PrimaryFinder,
  mailHost: string,
  service: 'qmqp' | 'replication',
  port: () => number,
): Promise<{ host: string; port: number; mailHost: string } | null> {
  const mapped = Object.entries(hosts).find(([h]) => h.toLowerCase() === mailHost.toLowerCase());
  if (!mapped) return { host: mailHost, port: port(), mailHost };
  const spec = parsePairSpec(mapped[1]);
  if (spec.kind === 'address') return { host: spec.host, port: port(), mailHost: mapped[0] };
  const primary = await primaries.primary(mapped[0], spec.admins);
  const found = primary?.[service];
  return primary && found !== undefined ? { host: primary.host, port: found, mailHost: mapped[0] } : null;
}
