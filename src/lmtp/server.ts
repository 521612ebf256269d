/**
 * The LMTP listener (RFC 2033), `[lmtp] listen`: final delivery for Postfix
 * (`lmtp:inet:host:port`), Exim's lmtp transport and others, over the same
 * delivery path as QMQP (src/delivery). Like QMQP it is a client listener:
 * closed on a replica and opened by promote (src/node.ts), so an MTA with
 * several LMTP hosts moves on to the next when a connect fails.
 */
import net from 'node:net';
import type { NodeContext, ProtocolServer } from '../context.js';
import { LIMITS } from '../limits.js';
import { connectionLogger } from '../log/logger.js';
import { closeServer, listenOn } from '../net/listen.js';
import { openConnections } from '../net/metrics.js';
import { LmtpSession } from './session.js';

interface Live {
  socket: net.Socket;
  session: LmtpSession;
  done: Promise<void>;
}

export function createLmtpServer(ctx: NodeContext): ProtocolServer {
  const live = new Set<Live>();
  /** Every open socket, including refused ones and sessions lingering after 221. */
  const sockets = new Set<net.Socket>();
  let port: number | null = null;
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (live.size >= ctx.config.lmtp.max_connections) {
      // RFC 5321 §3.1: a server may answer 421 at once instead of the greeting and close.
      ctx.log.info({ remote, max: ctx.config.lmtp.max_connections }, 'lmtp: connection refused, too many connections');
      socket.end('421 4.3.2 Too many connections, try again later\r\n');
      socket.setTimeout(LIMITS.lmtp.closeLingerMs, () => socket.destroy());
      return;
    }
    const log = connectionLogger('lmtp', remote);
    openConnections.inc({ protocol: 'lmtp' });
    const session = new LmtpSession(ctx, socket, log);
    const entry: Live = { socket, session, done: Promise.resolve() };
    entry.done = session.run().finally(() => {
      live.delete(entry);
      openConnections.dec({ protocol: 'lmtp' });
    });
    live.add(entry);
  });

  return {
    name: 'lmtp',
    async listen() {
      if (server.listening) return;
      port = await listenOn(server, ctx.config.lmtp.listen, 'lmtp.listen');
    },
    async close() {
      const closed = closeServer(server);
      // Sessions waiting for a command are told 421 and cut; one receiving or delivering a message finishes it first.
      for (const l of live) l.session.shutdown();
      if (live.size > 0) ctx.log.info({ sessions: live.size }, 'lmtp: waiting for in-flight transactions');
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, LIMITS.lmtp.shutdownGraceMs);
      });
      await Promise.race([Promise.all([...live].map((l) => l.done)), grace]);
      clearTimeout(timer);
      for (const l of live) l.socket.destroy();
      await Promise.all([...live].map((l) => l.done));
      for (const s of sockets) s.destroy();
      await closed;
      port = null;
    },
    addresses() {
      return port === null ? {} : { listen: port };
    },
  };
}
