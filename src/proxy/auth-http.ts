/**
 * The `auth_http` service of nginx's mail proxy (ngx_mail_auth_http_module):
 * for each login nginx sends one HTTP GET whose headers carry the attempt
 * (Auth-Method, Auth-User, Auth-Pass, Auth-Protocol, Auth-Login-Attempt,
 * Client-IP, Auth-SSL …) and reads the answer from the response headers:
 *
 *   Auth-Status: OK, Auth-Server: <IP>, Auth-Port: <port>  — proxy to there
 *   Auth-Status: <text>, Auth-Wait: <seconds>               — refuse; the
 *     client may try again after the wait (no Auth-Wait: nginx closes)
 *
 * The password is checked through the node's AuthGuard, the same policy and
 * the same counters as direct IMAP and POP3 logins, keyed on Client-IP, so
 * a guesser gains nothing by going through the proxy. The failure delay is
 * handed to nginx as Auth-Wait rather than served by holding the request.
 * The backend is the account's pair: the LDAP mailHost looked up in
 * `cluster.hosts`, or this node when the account is local.
 *
 * Only peers in `proxy.trusted` are answered (and, with `proxy.auth_secret`,
 * only requests carrying it in X-Roost-Secret): the service tells whether a
 * password is right. Passwords are never logged.
 */
import { timingSafeEqual } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import http from 'node:http';
import { isIP } from 'node:net';
import type { Account, Directory } from '../accounts/directory.js';
import type { Config } from '../config/schema.js';
import { LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';
import type { AuthGuard } from '../net/auth-guard.js';
import { parseCidrList, type AddressSet } from '../net/cidr.js';
import { closeServer, listenOn } from '../net/listen.js';
import { parsePairSpec, type PrimaryFinder } from './pairs.js';

export type MailProtocol = 'imap' | 'pop3';

export interface Backend {
  readonly host: string;
  readonly port: number;
}

/** One login attempt as nginx describes it. */
export interface AuthRequest {
  readonly method: string;
  readonly user: string;
  readonly pass: string;
  readonly protocol: string;
  readonly attempt: number;
  readonly clientIp: string;
  /** Auth-SSL: the client reached nginx over TLS (logged; the policy is nginx's). */
  readonly ssl: boolean;
}

export type AuthAnswer = { kind: 'ok'; backend: Backend; user?: string } | { kind: 'error'; text: string; waitSeconds?: number };

/**
 * nginx escapes Auth-User and Auth-Pass (ngx_mail_auth_http_escape: %XX for
 * space, '%', controls and non-ASCII), so they are percent-decoded here; a
 * `+` is a plus. Malformed escapes are left as they are.
 */
export function unescapeAuthValue(value: string): string {
  const bytes: number[] = [];
  const raw = Buffer.from(value, 'latin1');
  for (let i = 0; i < raw.length; i++) {
    const hex = raw[i] === 0x25 && i + 2 < raw.length ? raw.toString('latin1', i + 1, i + 3) : '';
    if (/^[0-9a-fA-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else bytes.push(raw[i]!);
  }
  return Buffer.from(bytes).toString('utf8');
}

/** The attempt from the request headers, or the reason it cannot be one. */
export function parseAuthRequest(headers: http.IncomingHttpHeaders): AuthRequest | { error: string } {
  const h = (name: string): string => {
    const v = headers[name];
    return Array.isArray(v) ? (v[0] ?? '') : (v ?? '');
  };
  const clientIp = h('client-ip');
  if (isIP(clientIp) === 0) return { error: 'Client-IP missing or not an address' };
  const attempt = Number(h('auth-login-attempt') || '1');
  return {
    method: h('auth-method').toLowerCase(),
    user: unescapeAuthValue(h('auth-user')),
    pass: unescapeAuthValue(h('auth-pass')),
    protocol: h('auth-protocol').toLowerCase(),
    attempt: Number.isInteger(attempt) && attempt > 0 ? attempt : 1,
    clientIp,
    ssl: h('auth-ssl').toLowerCase() === 'on',
  };
}

/** Auth-Wait is whole seconds, and 0 would make nginx close instead of wait. */
const waitSeconds = (ms: number | undefined): number => Math.max(1, Math.ceil((ms ?? 1000) / 1000));

/** A header value nginx can take back: no CR, LF or other controls (a login is at most maxLoginLength). */
const safeHeaderValue = (v: string): boolean => v.length > 0 && v.length <= LIMITS.auth.maxLoginLength && !/[\x00-\x1f\x7f]/.test(v);

export interface AuthServiceDeps {
  readonly config: Config;
  readonly directory: Directory;
  readonly guard: AuthGuard;
  readonly log: Logger;
  /** This node's proxied (or plain) listener for `protocol`; null while it does not serve (a replica). */
  readonly localBackend: (protocol: MailProtocol) => Backend | null;
  /** Finds the primary of a pair given by its nodes' admin listeners. */
  readonly primaries: PrimaryFinder;
}

/** Decide one attempt: the password check, then where the account lives. */
export async function answerAttempt(deps: AuthServiceDeps, req: AuthRequest): Promise<AuthAnswer> {
  if (req.protocol !== 'imap' && req.protocol !== 'pop3') return { kind: 'error', text: 'Protocol not served here' };
  // APOP and CRAM-MD5 would need the cleartext password stored; nginx must be set to `imap_auth login plain` / `pop3_auth plain`.
  if (req.method !== 'plain' && req.method !== 'login') return { kind: 'error', text: 'Authentication method not supported' };
  const outcome = await deps.guard.login(req.user, req.pass, req.clientIp, { serveDelay: false, anyHost: true });
  const fields = { login: req.user, client: req.clientIp, protocol: req.protocol, attempt: req.attempt, ssl: req.ssl };
  switch (outcome.kind) {
    case 'ok': {
      const backend = await backendFor(deps, outcome.account, req.protocol);
      if (!backend) return { kind: 'error', text: 'Temporary server problem, try again later', waitSeconds: waitSeconds(undefined) };
      deps.log.info({ ...fields, backend: `${backend.host}:${backend.port}` }, 'auth_http: login routed');
      // The backend looks the account up again: hand it the directory's own spelling of the login when ours differs.
      const user = outcome.account.login !== req.user && safeHeaderValue(outcome.account.login) ? outcome.account.login : undefined;
      return { kind: 'ok', backend, ...(user ? { user } : {}) };
    }
    case 'failed': {
      deps.log.info(fields, 'auth_http: login failed');
      // The last attempt a connection gets (as a direct session closes after
      // maxFailuresPerConnection): serve the delay here, then let nginx close.
      if (req.attempt >= LIMITS.auth.maxFailuresPerConnection) {
        await new Promise((r) => setTimeout(r, outcome.waitMs ?? 0));
        return { kind: 'error', text: 'Invalid login or password' };
      }
      return { kind: 'error', text: 'Invalid login or password', waitSeconds: waitSeconds(outcome.waitMs) };
    }
    case 'throttled':
      return { kind: 'error', text: 'Too many failed logins, try again later', waitSeconds: waitSeconds(outcome.waitMs) };
    case 'refused':
      return { kind: 'error', text: 'Account is not allowed to log in' };
    case 'unavailable':
      return { kind: 'error', text: 'Authentication service temporarily unavailable, try again later', waitSeconds: waitSeconds(undefined) };
  }
}

/**
 * Where the account's mailbox is served: this node unless its mailHost names
 * another one (the same rule as src/accounts/ldap.ts: with no
 * directory.ldap.mail_host every account is local). The pair is its
 * service address or its current primary (src/proxy/pairs.ts). nginx takes
 * only an IP address in Auth-Server, so a name is resolved here.
 */
async function backendFor(deps: AuthServiceDeps, account: Account, protocol: MailProtocol): Promise<Backend | null> {
  const self = deps.config.directory.ldap.mail_host.toLowerCase();
  const host = account.mailHost;
  if (host === undefined || self === '' || host === self) return deps.localBackend(protocol);
  const target = deps.config.cluster.hosts[host];
  if (target === undefined) {
    deps.log.error({ login: account.login, mailHost: host }, 'auth_http: mailHost not in cluster.hosts');
    return null;
  }
  const spec = parsePairSpec(target);
  let name: string;
  let port: number | undefined;
  if (spec.kind === 'address') {
    name = spec.host;
    port = protocol === 'imap' ? deps.config.cluster.imap_port : deps.config.cluster.pop3_port;
  } else {
    const primary = await deps.primaries.primary(host, spec.admins);
    if (!primary) return null;
    name = primary.host;
    port = primary[protocol];
    if (port === undefined) {
      deps.log.error({ mailHost: host, primary: primary.host, protocol }, 'auth_http: the primary reports no listener for the protocol');
      return null;
    }
  }
  if (isIP(name) !== 0) return { host: name, port };
  try {
    return { host: (await lookup(name)).address, port };
  } catch (err) {
    deps.log.error({ mailHost: host, target: name, err: (err as Error).message }, 'auth_http: cannot resolve the pair address');
    return null;
  }
}

export function answerHeaders(a: AuthAnswer): Record<string, string> {
  if (a.kind === 'ok') return { 'Auth-Status': 'OK', 'Auth-Server': a.backend.host, 'Auth-Port': String(a.backend.port), ...(a.user ? { 'Auth-User': a.user } : {}) };
  return { 'Auth-Status': a.text, ...(a.waitSeconds !== undefined ? { 'Auth-Wait': String(a.waitSeconds) } : {}) };
}

/** The attempt is not decided now; nginx tells the client and lets it try again after Auth-Wait. */
const BUSY: AuthAnswer = { kind: 'error', text: 'Temporary server problem, try again later', waitSeconds: 1 };

/** The HTTP listener on `proxy.auth_listen`. */
export class AuthHttpServer {
  private readonly server: http.Server;
  private readonly trusted: AddressSet;
  /** proxy.auth_secret as bytes, or null when none is set (then the peer check alone decides). */
  private readonly secret: Buffer | null;
  private port: number | null = null;
  /** Sockets open now (LIMITS.proxyAuth.maxConnections); the one a request came on counts. */
  private connections = 0;
  private lastBusyWarning = 0;

  constructor(private readonly deps: AuthServiceDeps) {
    this.trusted = parseCidrList(deps.config.proxy.trusted);
    this.secret = deps.config.proxy.auth_secret === '' ? null : Buffer.from(deps.config.proxy.auth_secret);
    this.server = http.createServer((req, res) => {
      void this.handle(req, res);
    });
    this.server.keepAliveTimeout = 5000;
    this.server.headersTimeout = LIMITS.proxyAuth.requestTimeoutMs;
    this.server.requestTimeout = LIMITS.proxyAuth.requestTimeoutMs;
    this.server.maxHeadersCount = LIMITS.proxyAuth.maxHeaders;
    this.server.on('connection', (socket) => {
      if (this.connections >= LIMITS.proxyAuth.maxSockets) {
        this.warnBusy('auth_http: socket limit reached; new connections closed unanswered', LIMITS.proxyAuth.maxSockets);
        socket.destroy();
        return;
      }
      this.connections++;
      socket.once('close', () => this.connections--);
    });
  }

  /** Past maxConnections: say so (at most once per 10 s in the log), and turn the attempt away undecided. */
  private overLimit(): boolean {
    if (this.connections <= LIMITS.proxyAuth.maxConnections) return false;
    this.warnBusy('auth_http: too many connections; logins answered with a temporary error', LIMITS.proxyAuth.maxConnections);
    return true;
  }

  private warnBusy(msg: string, limit: number): void {
    const now = Date.now();
    if (now - this.lastBusyWarning < 10_000) return;
    this.lastBusyWarning = now;
    this.deps.log.warn({ connections: this.connections, limit }, msg);
  }

  private allowed(req: http.IncomingMessage): boolean {
    const peer = req.socket.remoteAddress ?? '';
    if (!this.trusted.has(peer)) {
      this.deps.log.warn({ peer }, 'auth_http: peer not in proxy.trusted; refused');
      return false;
    }
    const want = this.secret;
    if (want === null) return true;
    const given = Buffer.from(String(req.headers['x-roost-secret'] ?? ''));
    if (given.length === want.length && timingSafeEqual(given, want)) return true;
    this.deps.log.warn({ peer }, 'auth_http: X-Roost-Secret missing or wrong; refused');
    return false;
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    try {
      if (!this.allowed(req)) return void res.writeHead(403, { 'Content-Type': 'text/plain' }).end('forbidden\n');
      if (req.method !== 'GET') return void res.writeHead(405, { Allow: 'GET', 'Content-Type': 'text/plain' }).end('method not allowed\n');
      if (this.overLimit()) return void res.writeHead(200, { ...answerHeaders(BUSY), 'Content-Length': '0', 'Cache-Control': 'no-store', Connection: 'close' }).end();
      const parsed = parseAuthRequest(req.headers);
      const answer: AuthAnswer = 'error' in parsed ? BUSY : await answerAttempt(this.deps, parsed);
      if ('error' in parsed) this.deps.log.warn({ problem: parsed.error }, 'auth_http: unusable request');
      // nginx reads the answer from the headers of a 200 response; the body is ignored.
      res.writeHead(200, { ...answerHeaders(answer), 'Content-Length': '0', 'Cache-Control': 'no-store' }).end();
    } catch (err) {
      this.deps.log.error({ err }, 'auth_http: request failed');
      if (!res.headersSent) res.writeHead(200, { 'Auth-Status': 'Temporary server problem, try again later', 'Auth-Wait': '1', 'Content-Length': '0' });
      res.end();
    }
  }

  async listen(spec: string): Promise<void> {
    this.port = await listenOn(this.server, spec, 'proxy.auth_listen');
  }

  address(): number | null {
    return this.port;
  }

  async close(): Promise<void> {
    const closed = closeServer(this.server);
    this.server.closeAllConnections();
    await closed;
    this.port = null;
  }
}
