/**
 * The control socket: data_dir/control.sock, a unix socket (mode 0600) the
 * `roost` CLI talks to for commands that must run inside the node (status,
 * promote, demote, deliver while serving…). One request per connection:
 *
 *   client: {"cmd":"status","args":{}}\n          (then, for stream commands, the body framed as in framing.ts)
 *   server: {"ok":true,"result":…}\n  or  {"ok":false,"error":{"code":"TEMP","message":"…"}}\n
 *
 * A long command (reindex, verify) may send {"progress":{…}}\n lines before
 * its answer; the answer is always the last line.
 *
 * Modules register handlers (replication registers promote/demote); the
 * socket itself knows nothing about what they do.
 */
import net from 'node:net';
import { chmod, unlink } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isRoostError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { chunkDecoder } from './framing.js';
import { LIMITS } from '../limits.js';

const MAX_REQUEST_LINE = LIMITS.admin.maxRequestLine;

export type ControlArgs = Record<string, unknown>;

export interface ControlHandler {
  /**
   * `body` is the rest of the connection after the request line (stream
   * commands only); `progress` sends the client a progress line.
   */
  (args: ControlArgs, body: Readable | null, progress: (p: Record<string, unknown>) => void): Promise<unknown>;
}

export interface ControlError {
  code: string;
  message: string;
}

export type ControlResponse = { ok: true; result: unknown } | { ok: false; error: ControlError };

export class ControlServer {
  private readonly handlers = new Map<string, { fn: ControlHandler; stream: boolean }>();
  private readonly server: net.Server;
  private readonly sockets = new Set<net.Socket>();
  private socketPath: string | null = null;

  constructor(private readonly log: Logger) {
    this.server = net.createServer({ allowHalfOpen: true }, (s) => this.accept(s));
  }

  /** Add a command. `stream` commands read a body after the request line (e.g. deliver). */
  register(cmd: string, fn: ControlHandler, opts: { stream?: boolean } = {}): void {
    if (this.handlers.has(cmd)) throw new Error(`control command ${cmd} registered twice`);
    this.handlers.set(cmd, { fn, stream: opts.stream ?? false });
  }

  commands(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /**
   * Listen on `path`. A socket file left by a dead node is removed; one that
   * answers means another node serves this data directory, and we refuse.
   */
  async listen(path: string): Promise<void> {
    if (await answers(path)) throw new Error(`another roost node is running on this data directory (${path} answers)`);
    await unlink(path).catch(() => undefined);
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(path, () => {
        this.server.off('error', reject);
        resolve();
      });
    });
    await chmod(path, 0o600);
    this.socketPath = path;
  }

  async close(): Promise<void> {
    if (!this.server.listening) return;
    await new Promise<void>((resolve) => {
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
    if (this.socketPath) await unlink(this.socketPath).catch(() => undefined);
    this.socketPath = null;
  }

  private accept(socket: net.Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', (err) => this.log.debug({ err }, 'control socket error'));
    let buf = Buffer.alloc(0);
    const onData = (chunk: Buffer): void => {
      buf = Buffer.concat([buf, chunk]);
      const nl = buf.indexOf(0x0a);
      // The line is its bytes before the LF, whether or not the LF came in the same read.
      if ((nl < 0 ? buf.length : nl) > MAX_REQUEST_LINE) {
        socket.off('data', onData);
        this.respond(socket, { ok: false, error: { code: 'LIMIT', message: 'request line too long' } });
        return;
      }
      if (nl < 0) return;
      socket.off('data', onData);
      socket.pause();
      const rest = buf.subarray(nl + 1);
      if (rest.length > 0) socket.unshift(rest);
      void this.dispatch(socket, buf.subarray(0, nl).toString('utf8'));
    };
    socket.on('data', onData);
  }

  private async dispatch(socket: net.Socket, line: string): Promise<void> {
    let cmd = '';
    let response: ControlResponse;
    try {
      const req = JSON.parse(line) as { cmd?: unknown; args?: unknown };
      if (typeof req.cmd !== 'string') throw new SyntaxError('missing "cmd"');
      cmd = req.cmd;
      const h = this.handlers.get(cmd);
      if (!h) response = { ok: false, error: { code: 'UNKNOWN', message: `unknown control command ${JSON.stringify(cmd)}` } };
      else {
        const args = typeof req.args === 'object' && req.args !== null ? (req.args as ControlArgs) : {};
        // The body is decoded into its own stream (framed: see framing.ts); a consumer that iterates
        // it to the end must not destroy the socket the answer still has to go out on.
        let body: Readable | null = null;
        if (h.stream) {
          const b = chunkDecoder();
          // Errors surface to the consumer when it reads; this keeps one arriving earlier from being unhandled.
          b.on('error', (err) => this.log.debug({ err, cmd }, 'control body failed'));
          socket.pipe(b);
          // A client that vanishes mid-body: fail the body so the command ends (and discards what it had).
          socket.once('close', () => {
            if (!b.writableEnded) b.destroy(new Error('control client closed before the end of the body'));
          });
          body = b;
        }
        const progress = (p: Record<string, unknown>): void => {
          if (!socket.destroyed && !socket.writableEnded) socket.write(`${JSON.stringify({ progress: p })}\n`);
        };
        const result = await h.fn(args, body, progress);
        response = { ok: true, result: result ?? null };
      }
    } catch (err) {
      if (err instanceof SyntaxError) response = { ok: false, error: { code: 'USAGE', message: `bad request: ${err.message}` } };
      else if (isRoostError(err)) response = { ok: false, error: { code: err.code, message: err.message } };
      else {
        this.log.error({ err, cmd }, 'control command failed');
        response = { ok: false, error: { code: 'INTERNAL', message: (err as Error)?.message ?? String(err) } };
      }
    }
    this.respond(socket, response);
  }

  private respond(socket: net.Socket, r: ControlResponse): void {
    socket.end(`${JSON.stringify(r, (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v))}\n`);
  }
}

/** True when something accepts connections on the unix socket `path`. */
function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect(path);
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}
