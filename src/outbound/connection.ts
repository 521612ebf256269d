/**
 * One SMTP client connection's I/O: replies are pulled one at a time with a
 * timeout each (RFC 5321 §4.5.3.2), writes wait for 'drain', and STARTTLS
 * (RFC 3207) swaps the plain socket for a TLS one. Any socket error, close,
 * timeout or bad reply makes the connection fail for good: SessionError.
 */
import net from 'node:net';
import tls from 'node:tls';
import { ReplyError, ReplyParser, type SmtpReply } from './reply.js';

/** Why a smarthost could not be used; the message is then tried elsewhere or deferred. */
export class SessionError extends Error {
  constructor(
    message: string,
    readonly kind: 'connect' | 'timeout' | 'closed' | 'protocol' | 'tls',
  ) {
    super(message);
    this.name = 'SessionError';
  }
}

export class SmtpConnection {
  private socket: net.Socket;
  private parser = new ReplyParser();
  private replies: SmtpReply[] = [];
  private failure: SessionError | null = null;
  private waiter: (() => void) | null = null;
  private readonly onData = (chunk: Buffer): void => {
    try {
      this.replies.push(...this.parser.push(chunk));
    } catch (err) {
      this.fail(new SessionError(err instanceof ReplyError ? err.message : String(err), 'protocol'));
      return;
    }
    this.wake();
  };

  private constructor(socket: net.Socket) {
    this.socket = socket;
    this.attach(socket);
  }

  /** Connect within `timeoutMs`; throws SessionError('connect'). */
  static connect(host: string, port: number, timeoutMs: number): Promise<SmtpConnection> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port, noDelay: true });
      const timer = setTimeout(() => {
        socket.destroy();
        reject(new SessionError(`connect to ${host}:${port} timed out`, 'connect'));
      }, timeoutMs);
      socket.once('error', (err) => {
        clearTimeout(timer);
        reject(new SessionError(`connect to ${host}:${port}: ${err.message}`, 'connect'));
      });
      socket.once('connect', () => {
        clearTimeout(timer);
        socket.removeAllListeners('error');
        resolve(new SmtpConnection(socket));
      });
    });
  }

  get encrypted(): boolean {
    return this.socket instanceof tls.TLSSocket;
  }

  /** The next reply, or SessionError when none arrives within `timeoutMs`. */
  async reply(timeoutMs: number, what: string): Promise<SmtpReply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.replies.shift();
      if (r) return r;
      if (this.failure) throw this.failure;
      const left = deadline - Date.now();
      if (left <= 0) {
        this.fail(new SessionError(`no reply to ${what} within ${timeoutMs} ms`, 'timeout'));
        throw this.failure!;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, left);
        this.waiter = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      this.waiter = null;
    }
  }

  /** Write and wait until the socket takes more (back-pressure), at most `timeoutMs` (RFC 5321 §4.5.3.2.5). */
  async write(data: Buffer | string, timeoutMs: number): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.socket.write(data)) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.fail(new SessionError(`peer did not read for ${timeoutMs} ms`, 'timeout'));
        reject(this.failure!);
      }, timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        this.socket.off('drain', done);
        this.socket.off('close', done);
        if (this.failure) reject(this.failure);
        else resolve();
      };
      this.socket.once('drain', done);
      this.socket.once('close', done);
    });
  }

  /**
   * RFC 3207 §4: after 220 to STARTTLS the client starts the handshake. Bytes
   * the server sent after that 220 are an injection attempt (RFC 3207 §6):
   * refuse to go on.
   */
  async startTls(servername: string, verify: boolean, timeoutMs: number): Promise<void> {
    if (this.replies.length > 0) throw this.fail(new SessionError('data after the STARTTLS reply', 'protocol'));
    const plain = this.socket;
    this.detach(plain);
    this.parser = new ReplyParser();
    const secure = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const s = tls.connect({ socket: plain, servername: net.isIP(servername) ? undefined : servername, rejectUnauthorized: verify });
      const timer = setTimeout(() => {
        s.destroy();
        reject(new SessionError('TLS handshake timed out', 'tls'));
      }, timeoutMs);
      s.once('secureConnect', () => {
        clearTimeout(timer);
        s.removeAllListeners('error');
        resolve(s);
      });
      s.once('error', (err) => {
        clearTimeout(timer);
        reject(new SessionError(`TLS: ${err.message}`, 'tls'));
      });
    }).catch((err: SessionError) => {
      throw this.fail(err);
    });
    this.socket = secure;
    this.attach(secure);
  }

  close(): void {
    this.socket.destroy();
  }

  private attach(socket: net.Socket): void {
    socket.on('data', this.onData);
    socket.on('error', (err) => this.fail(new SessionError(err.message, 'closed')));
    socket.on('close', () => this.fail(new SessionError('connection closed by the smarthost', 'closed')));
  }

  private detach(socket: net.Socket): void {
    socket.off('data', this.onData);
    socket.removeAllListeners('error');
    socket.removeAllListeners('close');
    // The TLS layer takes the error events from here on; keep one so an early one is not thrown.
    socket.on('error', () => undefined);
  }

  private fail(err: SessionError): SessionError {
    this.failure ??= err;
    this.socket.destroy();
    this.wake();
    return this.failure;
  }

  private wake(): void {
    this.waiter?.();
  }
}
