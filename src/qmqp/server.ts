/**
 * The QMQP listener (cr.yp.to/proto/qmqp.html): one message per connection,
 * answered with one netstring K/Z/D, then closed.
 *
 * Reading pulls from the socket (async iteration) and awaits each write into
 * the store's draft, so a slow disk slows the client down instead of filling
 * memory. The reply is sent only after the client has sent the whole packet,
 * as qmqp.html requires; a client that disconnects earlier is throwing the
 * message away, and so do we.
 */
import net from 'node:net';
import type { NodeContext, ProtocolServer } from '../context.js';
import { LIMITS } from '../limits.js';
import { connectionLogger, type Logger } from '../log/logger.js';
import { descriptorsLow } from '../net/admission.js';
import { closeServer, listenOn } from '../net/listen.js';
import { openConnections } from '../net/metrics.js';
import { deliverDraft, Incoming } from '../delivery/deliver.js';
import { deliveries } from '../delivery/metrics.js';
import { receivedLine } from '../delivery/trace.js';
import { TEXT, verdictForError, verdictForProblem, type Verdict } from '../delivery/verdict.js';
import { parseCidrList, type AddressSet } from '../net/cidr.js';
import { encodeNetstring } from './netstring.js';
import { QmqpFormatError, QmqpRequestParser, type Envelope } from './request.js';

const LINGER_MS = LIMITS.qmqp.closeLingerMs;

/**
 * Answer and close. Reading resumes (discarding anything after the packet) so
 * the client's FIN is seen and the socket is released; a client that never
 * closes is cut after LINGER_MS.
 */
function reply(socket: net.Socket, v: Pick<Verdict, 'code' | 'text'>): void {
  const text = v.text.slice(0, LIMITS.qmqp.maxReplyText);
  socket.end(encodeNetstring(`${v.code}${text}`));
  socket.resume();
  socket.setTimeout(LINGER_MS, () => socket.destroy());
}

type Phase = 'idle' | 'receiving' | 'delivering';

interface Session {
  socket: net.Socket;
  phase: Phase;
  done: Promise<void>;
}

/** One connection from accept to close. Never throws. */
async function serve(ctx: NodeContext, socket: net.Socket, session: Session, log: Logger, relayFrom: AddressSet): Promise<void> {
  const cfg = ctx.config.qmqp;
  const parser = new QmqpRequestParser(cfg.max_recipients);
  let draft: Incoming | null = null;
  let tooBig = false;
  /** A store failure while receiving: we keep reading (the client must finish) and answer at the end. */
  let failure: unknown = null;
  let env: Envelope | null = null;
  socket.setTimeout(cfg.read_timeout_ms, () => {
    log.info('read timeout');
    socket.destroy();
  });
  const sessionTimer = setTimeout(() => {
    log.info('session time limit reached while receiving');
    socket.destroy();
  }, LIMITS.qmqp.maxSessionMs);
  socket.once('close', () => clearTimeout(sessionTimer));

  const dropDraft = async (): Promise<void> => {
    const d = draft;
    draft = null;
    if (d) await d.draft.discard().catch((err: unknown) => log.warn({ err }, 'draft discard failed'));
  };

  try {
    for await (const chunk of socket.iterator({ destroyOnReturn: false })) {
      session.phase = 'receiving';
      for (const ev of parser.push(chunk as Buffer)) {
        switch (ev.kind) {
          case 'message-start':
            if (ev.length > cfg.max_message_size) tooBig = true;
            else {
              try {
                draft = await Incoming.open(ctx.store, {
                  prefix: receivedLine(socket.remoteAddress ?? 'unknown', ctx.config.hostname, { via: 'QMQP' }),
                  maxSize: cfg.max_message_size,
                });
              } catch (err) {
                failure = err;
              }
            }
            break;
          case 'message-data':
            if (draft && failure === null) {
              try {
                await draft.write(ev.chunk);
              } catch (err) {
                failure = err;
                await dropDraft();
              }
            }
            break;
          case 'done':
            env = ev.envelope;
            break;
          case 'message-end':
            break;
        }
      }
      if (parser.done) break;
    }
  } catch (err) {
    await dropDraft();
    if (err instanceof QmqpFormatError) {
      log.info({ reason: err.message }, 'malformed QMQP packet');
      deliveries.inc({ result: 'D', via: 'qmqp' });
      // qmail-ldap's compressed QMQP starts with a non-digit; we do not speak it: close, the client defers.
      if (err.compressed) socket.destroy();
      else reply(socket, { code: 'D', text: `${err.message} (#5.5.2)` });
      return;
    }
    log.info({ err }, 'connection failed while receiving');
    socket.destroy();
    return;
  }

  if (!env) {
    // EOF or timeout before the last recipient: the client abandoned the message (qmqp.html).
    await dropDraft();
    log.info('client closed before the end of the packet');
    socket.destroy();
    return;
  }

  session.phase = 'delivering';
  socket.setTimeout(0);
  clearTimeout(sessionTimer);
  let verdict: Verdict;
  if (env.problem || tooBig || failure !== null || !draft) {
    verdict = env.problem
      ? verdictForProblem(env.problem)
      : tooBig
        ? { code: 'D', text: TEXT.tooBig, reason: 'toobig' }
        : verdictForError(failure, cfg.over_quota);
    await dropDraft();
    deliveries.inc({ result: verdict.code, via: 'qmqp' });
    log.info({ verdict: verdict.code, text: verdict.text }, 'delivery refused');
  } else {
    const incoming: Incoming = draft;
    draft = null;
    // qmail-qmqpd with RELAYCLIENT unset: recipients that are not ours are refused (#5.7.1).
    const relay = socket.remoteAddress !== undefined && relayFrom.has(socket.remoteAddress);
    verdict = await deliverDraft(ctx, { sender: env.sender, recipients: env.recipients, incoming, via: 'qmqp', log, relay });
  }
  reply(socket, verdict);
}

export function createQmqpServer(ctx: NodeContext): ProtocolServer {
  const sessions = new Set<Session>();
  /** Every open socket, including answered ones lingering until the client closes. */
  const sockets = new Set<net.Socket>();
  let port: number | null = null;
  const relayFrom = parseCidrList(ctx.config.qmqp.relay_from);
  const server = net.createServer({ noDelay: true }, (socket) => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
    const remote = `${socket.remoteAddress}:${socket.remotePort}`;
    if (sessions.size >= ctx.config.qmqp.max_connections) {
      // qmqp.html: the server may close at any time; an answer the client gets is clearer than a reset.
      socket.on('error', () => undefined);
      reply(socket, { code: 'Z', text: 'too many connections, try again later (#4.3.2)' });
      return;
    }
    if (descriptorsLow()) {
      // A delivery needs spool, index and journal descriptors: refuse while we can still answer.
      socket.on('error', () => undefined);
      ctx.log.warn({ remote }, 'qmqp: out of file descriptors, connection refused');
      reply(socket, { code: 'Z', text: 'server is out of resources, try again later (#4.3.0)' });
      return;
    }
    const log = connectionLogger('qmqp', remote);
    socket.on('error', (err) => log.debug({ err }, 'socket error'));
    openConnections.inc({ protocol: 'qmqp' });
    const session: Session = { socket, phase: 'idle', done: Promise.resolve() };
    session.done = serve(ctx, socket, session, log, relayFrom)
      .catch((err: unknown) => {
        log.error({ err }, 'qmqp session failed');
        socket.destroy();
      })
      .finally(() => {
        sessions.delete(session);
        openConnections.dec({ protocol: 'qmqp' });
      });
    sessions.add(session);
  });

  return {
    name: 'qmqp',
    async listen() {
      if (server.listening) return;
      port = await listenOn(server, ctx.config.qmqp.listen, 'qmqp.listen');
    },
    async close() {
      const closed = closeServer(server);
      // Connections that have not sent a byte hold no message: cut them now; the rest may finish.
      for (const s of sessions) if (s.phase === 'idle') s.socket.destroy();
      if (sessions.size > 0) ctx.log.info({ sessions: sessions.size }, 'qmqp: waiting for in-flight sessions');
      const pending = Promise.all([...sessions].map((s) => s.done));
      let timer: NodeJS.Timeout | undefined;
      const grace = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, LIMITS.qmqp.shutdownGraceMs);
      });
      await Promise.race([pending, grace]);
      clearTimeout(timer);
      for (const s of sessions) s.socket.destroy();
      await Promise.all([...sessions].map((s) => s.done));
      for (const s of sockets) s.destroy();
      await closed;
      port = null;
    },
    addresses() {
      return port === null ? {} : { listen: port };
    },
  };
}
