/**
 * Who is on the other end of a client connection. A direct connection's
 * client is the socket's peer. On a proxied listener (`imap.proxy_listen`,
 * `pop3.proxy_listen`) the peer is a mail proxy (nginx's mail module,
 * HAProxy) and the client is named by the PROXY header the proxy sends first
 * (src/net/proxy-protocol.ts), so connection limits, the login throttle,
 * max_userip_connections and logs all see the user's address.
 *
 * Proxied listeners are proxy-only: a peer outside `proxy.trusted` is closed
 * without a byte read (it could otherwise claim any address), and so is a
 * trusted peer whose header is malformed, too long or late.
 */
import type { Socket } from 'node:net';
import type { Logger } from '../log/logger.js';
import type { AddressSet } from './cidr.js';
import { readProxyHeader } from './proxy-protocol.js';

export interface ClientPeer {
  /** The client's address: limits, throttles and logs key on it. */
  readonly address: string;
  readonly port: number;
  /** The proxy that relayed the connection ("address:port"), or null for a direct one. */
  readonly via: string | null;
}

/** Refusals are logged at most once a second per listener and reason, so a flood cannot flood the log too. */
const lastLogged = new Map<string, number>();
function logRefusal(log: Logger, listener: string, reason: string, fields: Record<string, unknown>, msg: string): void {
  const key = `${listener}\0${reason}`;
  const now = Date.now();
  if (now - (lastLogged.get(key) ?? 0) < 1000) return;
  lastLogged.set(key, now);
  log.warn({ listener, ...fields }, msg);
}

export function directPeer(socket: Socket): ClientPeer {
  return { address: socket.remoteAddress ?? '', port: socket.remotePort ?? 0, via: null };
}

/**
 * Read the client's address from a proxied connection; null when the
 * connection was refused (the socket is destroyed and the reason logged).
 * On success the socket is paused with any bytes after the header put back:
 * the caller resumes it once the session has attached its reader.
 */
export async function proxiedPeer(socket: Socket, trusted: AddressSet, listener: string, log: Logger, timeoutMs?: number): Promise<ClientPeer | null> {
  const proxy = `${socket.remoteAddress ?? ''}:${socket.remotePort ?? 0}`;
  socket.on('error', () => undefined);
  if (!trusted.has(socket.remoteAddress ?? '')) {
    logRefusal(log, listener, 'untrusted', { peer: proxy }, 'proxied listener: peer is not in proxy.trusted; closed');
    socket.destroy();
    return null;
  }
  const r = await readProxyHeader(socket, timeoutMs);
  if (r.kind === 'error') {
    logRefusal(log, listener, 'header', { peer: proxy, reason: r.reason }, 'proxied listener: bad PROXY header; closed');
    socket.destroy();
    return null;
  }
  // v2 LOCAL / v1 UNKNOWN: the proxy speaks for itself (health checks), so the peer is the client.
  if (r.header.kind === 'local') return { ...directPeer(socket), via: proxy };
  return { address: r.header.source.address, port: r.header.source.port, via: proxy };
}
