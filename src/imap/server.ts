/**
 * The IMAP listeners: `imap.listen` (plain, STARTTLS offered),
 * `imap.tls_listen` (implicit TLS, RFC 8314) and `imap.proxy_listen` (plain,
 * behind a mail proxy: a PROXY header first, src/net/proxied.ts). Each accepted socket becomes
 * one Session; the server only counts and closes them.
 */
import net from 'node:net';
import tls from 'node:tls';
import type { NodeContext, ProtocolServer } from '../context.js';
import { ConnectionGate, type Refusal } from '../net/admission.js';
import { sharedAuthGuard } from '../net/auth-guard.js';
import { parseCidrList } from '../net/cidr.js';
import { closeServer, listenOn } from '../net/listen.js';
import { directPeer, proxiedPeer, type ClientPeer } from '../net/proxied.js';
import { openConnections } from '../net/metrics.js';
import { serverTls } from '../net/tls-handshake.js';
import { Session } from './session.js';

export function createImapServer(ctx: NodeContext): ProtocolServer {
  const sessions = new Set<Session>();
  // The node's one login policy (shared with POP3): failure counts and
  // throttles span connections and protocols, so a guesser cannot double
  // their rate by alternating IMAP and POP3.
  const guard = sharedAuthGuard(ctx.directory, ctx.config.auth, ctx.log);
  const ports: { listen?: number; tls?: number; proxy?: number } = {};
  const trusted = parseCidrList(ctx.config.proxy.trusted);
  let secureContext: tls.SecureContext | null = null;
  const getSecureContext = (): tls.SecureContext => (secureContext ??= tls.createSecureContext(ctx.tls));

  // Counted from accept, before any TLS handshake, until the socket closes.
  const gate = new ConnectionGate('imap', { maxConnections: ctx.config.imap.max_connections, maxPerAddress: ctx.config.imap.max_connections_per_ip }, ctx.log);

  const accept = (socket: net.Socket, secure: boolean, peer: ClientPeer = directPeer(socket)): void => {
    const session = new Session(ctx, socket, secure, guard, getSecureContext, peer);
    sessions.add(session);
    openConnections.inc({ protocol: 'imap' });
    session.run().finally(() => {
      sessions.delete(session);
      openConnections.dec({ protocol: 'imap' });
    });
  };
  /** RFC 3501 §7.1.5: BYE may be the greeting when the server refuses the connection. */
  const refuse = (socket: net.Socket, why: Refusal): void => {
    socket.on('error', () => undefined);
    socket.end(`* BYE ${REFUSAL_TEXT[why]}\r\n`);
  };

  const plain = net.createServer({ noDelay: true }, (s) => {
    const why = gate.admit(s);
    if (why) refuse(s, why);
    else accept(s, false);
  });
  const implicit = net.createServer({ noDelay: true }, (raw) => {
    const why = gate.admit(raw);
    // No TLS yet, so the refusal cannot be read: close at once rather than hold a slot for a handshake.
    if (why) return void raw.destroy();
    void serverTls(raw, getSecureContext()).then((s) => {
      if (s) accept(s, true);
    });
  });
  const proxied = net.createServer({ noDelay: true }, (s) => {
    void proxiedPeer(s, trusted, 'imap.proxy_listen', ctx.log).then((peer) => {
      if (!peer) return;
      const why = gate.admit(s, peer.address);
      if (why) return refuse(s, why);
      accept(s, false, peer);
      // proxiedPeer left the socket paused with the bytes after the header put back.
      s.resume();
    });
  });
  for (const srv of [plain, implicit, proxied]) srv.on('error', (err) => ctx.log.error({ err }, 'imap listener error'));

  return {
    name: 'imap',
    async listen() {
      const p = await listenOn(plain, ctx.config.imap.listen, 'imap.listen');
      if (p !== null) ports.listen = p;
      const t = await listenOn(implicit, ctx.config.imap.tls_listen, 'imap.tls_listen');
      if (t !== null) ports.tls = t;
      const x = await listenOn(proxied, ctx.config.imap.proxy_listen, 'imap.proxy_listen');
      if (x !== null) ports.proxy = x;
    },
    async close() {
      // net.Server.close() resolves only when every connection has ended, so stop accepting first, then end the sessions.
      const stopped = Promise.all([closeServer(plain), closeServer(implicit), closeServer(proxied)]);
      await Promise.all([...sessions].map((s) => s.shutdown('Server shutting down')));
      await stopped;
    },
    addresses() {
      return { ...ports };
    },
  };
}

const REFUSAL_TEXT: Record<Refusal, string> = {
  connections: 'Too many connections, try again later',
  address: 'Too many connections from your address, try again later',
  descriptors: 'Server is out of resources, try again later',
};
