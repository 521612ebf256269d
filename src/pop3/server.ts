/**
 * The POP3 listeners: `pop3.listen` (plaintext with STLS, RFC 2595),
 * `pop3.tls_listen` (implicit TLS, RFC 8314) and `pop3.proxy_listen`
 * (plaintext behind a mail proxy, PROXY header first: src/net/proxied.ts).
 * Each connection is a Session;
 * close() stops accepting, lets running QUITs finish and closes the rest.
 */
import net from 'node:net';
import tls from 'node:tls';
import { openConnections } from '../net/metrics.js';
import type { NodeContext, ProtocolServer } from '../context.js';
import { LIMITS } from '../limits.js';
import { connectionLogger } from '../log/logger.js';
import { ConnectionGate, type Refusal } from '../net/admission.js';
import { AuthGuard, sharedAuthGuard, type AuthGuardOptions } from '../net/auth-guard.js';
import { parseCidrList } from '../net/cidr.js';
import { closeServer, listenOn } from '../net/listen.js';
import { directPeer, proxiedPeer, type ClientPeer } from '../net/proxied.js';
import { serverTls } from '../net/tls-handshake.js';
import { Session, type SessionEnv } from './session.js';

/** Internal knobs (tests, node wiring); the operator contract is the config. */
export interface Pop3Options {
  /** RFC 1939 §3 autologout; default LIMITS.pop3.idleTimeoutMs. */
  idleTimeoutMs?: number;
  /** A login policy to use; default: the node's shared one (sharedAuthGuard), which IMAP uses too. */
  guard?: AuthGuard;
  /** Timing knobs (tests): a guard of this server's own is made with them. */
  auth?: AuthGuardOptions;
}

export interface Pop3Server extends ProtocolServer {
  /** Sessions currently open (tests, shutdown). */
  readonly sessionCount: number;
  /** Reply bytes queued in sockets, not yet taken by the kernel (back-pressure tests). */
  bufferedBytes(): number;
}

export function createPop3Server(ctx: NodeContext, options: Pop3Options = {}): Pop3Server {
  const log = ctx.log.child({ module: 'pop3' });
  const env: SessionEnv = {
    ctx,
    guard: options.guard ?? (options.auth ? new AuthGuard(ctx.directory, ctx.config.auth, log, options.auth) : sharedAuthGuard(ctx.directory, ctx.config.auth, ctx.log)),
    secureContext: tls.createSecureContext(ctx.tls),
    idleTimeoutMs: options.idleTimeoutMs ?? LIMITS.pop3.idleTimeoutMs,
    lastLogin: new Map(),
  };
  const sessions = new Set<Session>();
  let plain: net.Server | null = null;
  let secure: net.Server | null = null;
  let proxied: net.Server | null = null;
  const trusted = parseCidrList(ctx.config.proxy.trusted);
  // Counted from accept, before any TLS handshake, until the socket closes.
  const gate = new ConnectionGate('pop3', { maxConnections: ctx.config.pop3.max_connections, maxPerAddress: ctx.config.pop3.max_connections_per_ip }, log);
  const ports: { listen?: number; tls?: number; proxy?: number } = {};

  const start = (socket: net.Socket | tls.TLSSocket, peer: ClientPeer = directPeer(socket)): void => {
    // Replies are small and paced by the client: do not let Nagle hold them.
    socket.setNoDelay(true);
    const session = new Session(env, socket, peer, connectionLogger('pop3', peer.address || 'unknown', peer.via));
    sessions.add(session);
    openConnections.inc({ protocol: 'pop3' });
    void session.run().finally(() => {
      sessions.delete(session);
      openConnections.dec({ protocol: 'pop3' });
    });
  };

  return {
    name: 'pop3',
    get sessionCount() {
      return sessions.size;
    },
    bufferedBytes() {
      let n = 0;
      for (const s of sessions) n += s.socket.writableLength;
      return n;
    },
    async listen() {
      if (!plain) {
        plain = net.createServer((socket) => {
          const why = gate.admit(socket);
          if (why) refuse(socket, why);
          else start(socket);
        });
        const port = await listenOn(plain, ctx.config.pop3.listen, 'pop3.listen');
        if (port === null) plain = null;
        else ports.listen = port;
      }
      if (!secure) {
        secure = net.createServer((raw) => {
          // No TLS yet, so a refusal could not be read: close at once.
          if (gate.admit(raw)) return void raw.destroy();
          void serverTls(raw, env.secureContext).then((s) => {
            if (s) start(s);
            else log.debug('pop3s handshake failed or timed out');
          });
        });
        const port = await listenOn(secure, ctx.config.pop3.tls_listen, 'pop3.tls_listen');
        if (port === null) secure = null;
        else ports.tls = port;
      }
      if (!proxied) {
        proxied = net.createServer((socket) => {
          void proxiedPeer(socket, trusted, 'pop3.proxy_listen', log).then((peer) => {
            if (!peer) return;
            const why = gate.admit(socket, peer.address);
            if (why) return refuse(socket, why);
            start(socket, peer);
            // proxiedPeer left the socket paused with the bytes after the header put back.
            socket.resume();
          });
        });
        const port = await listenOn(proxied, ctx.config.pop3.proxy_listen, 'pop3.proxy_listen');
        if (port === null) proxied = null;
        else ports.proxy = port;
      }
    },
    async close() {
      const closing = [plain, secure, proxied].filter((s): s is net.Server => s !== null).map((s) => closeServer(s));
      plain = null;
      secure = null;
      proxied = null;
      delete ports.listen;
      delete ports.tls;
      delete ports.proxy;
      await Promise.all([...closing, ...[...sessions].map((s) => s.shutdown())]);
    },
    addresses() {
      return { ...ports };
    },
  };
}

/** Refused before the greeting: RFC 1939 §3 lets the server answer -ERR and close. */
function refuse(socket: net.Socket, why: Refusal): void {
  socket.on('error', () => undefined);
  const text = why === 'connections' ? 'Too many connections, try again later.' : why === 'address' ? 'Too many connections from your address, try again later.' : 'Server is out of resources, try again later.';
  socket.end(`-ERR [SYS/TEMP] ${text}\r\n`);
}
