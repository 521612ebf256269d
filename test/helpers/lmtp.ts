/**
 * A raw LMTP client for the tests (RFC 2033 over a real socket): send any
 * bytes, read replies one at a time (multi-line replies joined), with an
 * overall time limit on every wait.
 */
import net from 'node:net';

export interface LmtpReply {
  code: number;
  /** Text of each line after "NNN-" / "NNN ". */
  lines: string[];
  /** All lines joined with "\n". */
  text: string;
}

export class LmtpClient {
  private buf = '';
  private waiters: (() => void)[] = [];
  private ended = false;
  readonly closed: Promise<void>;

  private constructor(readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      this.wake();
    });
    socket.on('error', () => undefined);
    this.closed = new Promise((resolve) =>
      socket.on('close', () => {
        this.ended = true;
        this.wake();
        resolve();
      }),
    );
  }

  static async connect(port: number): Promise<{ client: LmtpClient; greeting: LmtpReply }> {
    const socket = net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once('connect', resolve);
      socket.once('error', reject);
    });
    const client = new LmtpClient(socket);
    return { client, greeting: await client.reply() };
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** The server closed the connection (and every reply before that was read). */
  get isClosed(): boolean {
    return this.ended;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  /** The next complete reply; rejects when the connection closes first or after `timeoutMs`. */
  async reply(timeoutMs = 20_000): Promise<LmtpReply> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const r = this.take();
      if (r) return r;
      if (this.ended) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf)}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`no LMTP reply within ${timeoutMs} ms; have ${JSON.stringify(this.buf)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  async replies(n: number): Promise<LmtpReply[]> {
    const out: LmtpReply[] = [];
    for (let i = 0; i < n; i++) out.push(await this.reply());
    return out;
  }

  /** Send one command line (CRLF added) and read its reply. */
  async cmd(line: string): Promise<LmtpReply> {
    this.send(`${line}\r\n`);
    return this.reply();
  }

  private take(): LmtpReply | null {
    const lines: string[] = [];
    let pos = 0;
    for (;;) {
      const nl = this.buf.indexOf('\r\n', pos);
      if (nl < 0) return null;
      const line = this.buf.slice(pos, nl);
      pos = nl + 2;
      const m = /^(\d{3})([ -])(.*)$/.exec(line);
      if (!m) throw new Error(`not an LMTP reply line: ${JSON.stringify(line)}`);
      lines.push(m[3]!);
      if (m[2] === ' ') {
        this.buf = this.buf.slice(pos);
        return { code: Number(m[1]), lines, text: lines.join('\n') };
      }
    }
  }

  /** Wait until the server closes (or destroy after `timeoutMs`). */
  async waitClosed(timeoutMs = 20_000): Promise<boolean> {
    let t: NodeJS.Timeout | undefined;
    const closed = await Promise.race([this.closed.then(() => true), new Promise<boolean>((r) => (t = setTimeout(() => r(false), timeoutMs)))]);
    clearTimeout(t);
    return closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** SMTP/LMTP DATA framing of an LF message: CRLF line ends, leading dots doubled, ".CRLF" at the end. */
export function dataBlock(message: Buffer | string): Buffer {
  const text = (typeof message === 'string' ? Buffer.from(message, 'latin1') : message).toString('latin1');
  const body = text.endsWith('\n') ? text.slice(0, -1) : text;
  const lines = body.split('\n').map((l) => (l.startsWith('.') ? `.${l}` : l));
  return Buffer.from(`${lines.join('\r\n')}\r\n.\r\n`, 'latin1');
}

/** One whole transaction; resolves with the per-recipient replies after DATA (RFC 2033 §4.2). */
export async function lmtpSend(port: number, message: Buffer | string, sender: string, recipients: string[]): Promise<{ rcpt: LmtpReply[]; data: LmtpReply[] }> {
  const { client, greeting } = await LmtpClient.connect(port);
  try {
    if (greeting.code !== 220) throw new Error(`greeting: ${greeting.code} ${greeting.text}`);
    const lhlo = await client.cmd('LHLO test.example');
    if (lhlo.code !== 250) throw new Error(`LHLO refused: ${lhlo.code} ${lhlo.text}`);
    const mail = await client.cmd(`MAIL FROM:<${sender}>`);
    if (mail.code !== 250) throw new Error(`MAIL refused: ${mail.code} ${mail.text}`);
    const rcpt: LmtpReply[] = [];
    for (const r of recipients) rcpt.push(await client.cmd(`RCPT TO:<${r}>`));
    const ok = rcpt.filter((r) => r.code === 250).length;
    if (ok === 0) return { rcpt, data: [] };
    const go = await client.cmd('DATA');
    if (go.code !== 354) throw new Error(`DATA refused: ${go.code} ${go.text}`);
    client.send(dataBlock(message));
    const data = await client.replies(ok);
    await client.cmd('QUIT');
    return { rcpt, data };
  } finally {
    client.close();
  }
}
