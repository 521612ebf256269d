/**
 * A raw POP3 client over a real socket (RFC 1939), for every test that
 * speaks POP3: it reads replies the way a client does and bounds each wait.
 */
import net from 'node:net';
import tls from 'node:tls';

/** A raw POP3 client over a real socket. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(public socket: net.Socket | tls.TLSSocket) {
    this.listen(socket);
  }

  static async connect(port: number, secure = false): Promise<RawClient> {
    const socket = secure
      ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      : net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(secure ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  private listen(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async more(timeoutMs: number): Promise<void> {
    if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf.toString('latin1'))}`);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout waiting for server; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** One line without CRLF. */
  async line(timeoutMs = 10_000): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      await this.more(timeoutMs);
    }
  }

  /** Raw bytes of a multi-line body up to and including CRLF.CRLF (or a leading ".CRLF"). */
  async multiRaw(timeoutMs = 10_000): Promise<Buffer> {
    for (;;) {
      if (this.buf.subarray(0, 3).equals(Buffer.from('.\r\n'))) {
        const out = this.buf.subarray(0, 3);
        this.buf = this.buf.subarray(3);
        return out;
      }
      const i = this.buf.indexOf('\r\n.\r\n');
      if (i >= 0) {
        const out = this.buf.subarray(0, i + 5);
        this.buf = this.buf.subarray(i + 5);
        return out;
      }
      await this.more(timeoutMs);
    }
  }

  /** Lines of a multi-line body, un-dot-stuffed, without the terminator. */
  async multi(timeoutMs = 10_000): Promise<string[]> {
    const raw = (await this.multiRaw(timeoutMs)).toString('latin1');
    const lines = raw.split('\r\n');
    lines.splice(-2); // "." and ""
    return lines.map((l) => (l.startsWith('.') ? l.slice(1) : l));
  }

  send(line: string): void {
    this.socket.write(line + '\r\n');
  }

  async cmd(line: string): Promise<string> {
    this.send(line);
    return this.line();
  }

  /** Wait for the server to close the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const start = Date.now();
    while (!this.closed) {
      if (Date.now() - start > timeoutMs) throw new Error('server did not close');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** STLS: upgrade this connection. */
  async startTls(): Promise<void> {
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const sock = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      sock.once('secureConnect', () => resolve());
      sock.once('error', reject);
    });
    this.socket = sock;
    this.listen(sock);
  }

  async login(user: string, pass: string): Promise<string> {
    const r1 = await this.cmd(`USER ${user}`);
    if (!r1.startsWith('+OK')) return r1;
    return this.cmd(`PASS ${pass}`);
  }

  destroy(): void {
    this.socket.destroy();
  }
}

/** Log in, DELE the given message numbers, QUIT; returns the QUIT reply (throws on any -ERR). */
export async function pop3Dele(port: number, user: string, pass: string, numbers: number[]): Promise<string> {
  const c = await RawClient.connect(port);
  try {
    await c.line();
    const cmd = async (line: string): Promise<string> => {
      const r = await c.cmd(line);
      if (!r.startsWith('+OK')) throw new Error(`POP3 ${line.split(' ')[0]}: ${r}`);
      return r;
    };
    await cmd(`USER ${user}`);
    await cmd(`PASS ${pass}`);
    for (const n of numbers) await cmd(`DELE ${n}`);
    return await cmd('QUIT');
  } finally {
    c.destroy();
  }
}
