/**
 * A tiny raw IMAP client for transcript tests: it writes exactly what the
 * test says and hands back the server's lines (literals inlined), so tests
 * assert the bytes the server sent. Every wait is bounded by a timeout.
 */
import net from 'node:net';
import tls from 'node:tls';

export interface Reply {
  /** Untagged and continuation lines, literals inlined, without the final CRLF. */
  untagged: string[];
  /** The tagged status line, e.g. "a1 OK [READ-WRITE] Select completed". */
  tagged: string;
}

export class RawImap {
  private buf = Buffer.alloc(0);
  private lines: string[] = [];
  private waiters: (() => void)[] = [];
  private closedFlag = false;
  private tagNo = 0;

  private constructor(public socket: net.Socket) {
    this.bind(socket);
  }

  static async connect(port: number, opts: { tls?: boolean } = {}): Promise<RawImap> {
    const socket = await new Promise<net.Socket>((resolve, reject) => {
      const s = opts.tls
        ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false }, () => resolve(s))
        : net.connect({ port, host: '127.0.0.1' }, () => resolve(s));
      s.once('error', reject);
    });
    return new RawImap(socket);
  }

  private bind(s: net.Socket): void {
    s.on('data', (c: Buffer) => {
      this.buf = Buffer.concat([this.buf, c]);
      this.parse();
    });
    s.on('close', () => {
      this.closedFlag = true;
      this.wake();
    });
    s.on('error', () => undefined);
  }

  get closed(): boolean {
    return this.closedFlag;
  }

  /** Split buffered bytes into logical lines (a line ending in {n} continues after n bytes). */
  private parse(): void {
    let line = '';
    let pos = 0;
    for (;;) {
      const nl = this.buf.indexOf('\r\n', pos);
      if (nl < 0) break;
      const part = this.buf.toString('latin1', pos, nl);
      const m = /\{(\d+)\}$/.exec(part);
      if (m) {
        const n = Number(m[1]);
        if (this.buf.length < nl + 2 + n) break;
        line += part + '\r\n' + this.buf.toString('latin1', nl + 2, nl + 2 + n);
        pos = nl + 2 + n;
        continue;
      }
      this.lines.push(line + part);
      line = '';
      pos = nl + 2;
      this.buf = this.buf.subarray(pos);
      pos = 0;
    }
    this.wake();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  /** Wait for the next complete line. */
  async line(timeoutMs = 5000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    while (this.lines.length === 0) {
      if (this.closedFlag) throw new Error('connection closed');
      const left = deadline - Date.now();
      if (left <= 0) throw new Error(`timeout waiting for a line (buffered: ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))})`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.lines.shift()!;
  }

  /** Lines already received, without waiting. */
  drain(): string[] {
    const l = this.lines;
    this.lines = [];
    return l;
  }

  write(data: string | Buffer): void {
    this.socket.write(data);
  }

  nextTag(): string {
    return `a${++this.tagNo}`;
  }

  /** Send `tag text` and collect everything up to the tagged answer. */
  async cmd(text: string, timeoutMs = 5000): Promise<Reply> {
    const tag = this.nextTag();
    this.write(`${tag} ${text}\r\n`);
    return this.until(tag, timeoutMs);
  }

  /** Collect lines until the one tagged `tag`. */
  async until(tag: string, timeoutMs = 5000): Promise<Reply> {
    const untagged: string[] = [];
    for (;;) {
      const l = await this.line(timeoutMs);
      if (l.startsWith(`${tag} `)) return { untagged, tagged: l };
      untagged.push(l);
    }
  }

  /** Wait until a line matches (returns it); other lines are kept in `skipped`. */
  async waitFor(re: RegExp, timeoutMs = 5000, skipped: string[] = []): Promise<string> {
    for (;;) {
      const l = await this.line(timeoutMs);
      if (re.test(l)) return l;
      skipped.push(l);
    }
  }

  /** Upgrade to TLS after the server's OK to STARTTLS. */
  async startTls(): Promise<void> {
    this.socket.removeAllListeners('data');
    this.socket.removeAllListeners('close');
    const s = await new Promise<tls.TLSSocket>((resolve, reject) => {
      const t = tls.connect({ socket: this.socket, rejectUnauthorized: false }, () => resolve(t));
      t.once('error', reject);
    });
    this.socket = s;
    this.bind(s);
  }

  close(): void {
    this.socket.destroy();
  }

  /** Resolve when the server closes the connection (bounded). */
  async waitClosed(timeoutMs = 5000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closedFlag && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
    return this.closedFlag;
  }
}

/** Log in with LOGIN and check the answer. */
export async function login(port: number, user: string, pass: string): Promise<RawImap> {
  const c = await RawImap.connect(port);
  await c.line();
  const r = await c.cmd(`LOGIN "${user}" "${pass}"`);
  if (!/^a\d+ OK/.test(r.tagged)) throw new Error(`login failed: ${r.tagged}`);
  return c;
}
