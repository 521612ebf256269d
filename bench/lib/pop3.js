// A minimal POP3 client for the benches: one command at a time, single-line
// replies and multi-line bodies (RFC 1939 §3: ended by CRLF.CRLF), bytes
// received counted so a bench can report MB/s.
import net from 'node:net';

export class Pop3 {
  constructor(socket) {
    this.s = socket;
    this.buf = Buffer.alloc(0);
    this.bytes = 0;
    this.waiter = null;
    this.closed = false;
    socket.on('data', (c) => {
      this.bytes += c.length;
      this.buf = this.buf.length ? Buffer.concat([this.buf, c]) : c;
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  static connect(port) {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(new Pop3(s)));
      s.once('error', reject);
    });
  }

  wake() {
    const w = this.waiter;
    this.waiter = null;
    w?.();
  }

  /** Resolve with the buffered bytes up to and including `terminator`. */
  async until(terminator, from = 0) {
    for (;;) {
      const i = this.buf.indexOf(terminator, from);
      if (i >= 0) {
        const out = this.buf.subarray(0, i + terminator.length);
        this.buf = this.buf.subarray(i + terminator.length);
        return out;
      }
      if (this.closed) throw new Error('POP3 connection closed');
      from = Math.max(0, this.buf.length - terminator.length);
      await new Promise((r) => (this.waiter = r));
    }
  }

  async line() {
    return (await this.until('\r\n')).toString('latin1', 0, undefined).slice(0, -2);
  }

  /** Send a command and read its status line; throws on -ERR. */
  async cmd(text) {
    this.s.write(`${text}\r\n`);
    const l = await this.line();
    if (!l.startsWith('+OK')) throw new Error(`${text.split(' ')[0]}: ${l}`);
    return l;
  }

  /** Send a command whose +OK is followed by a multi-line body; resolves with the body's size. */
  async multi(text) {
    await this.cmd(text);
    if (this.buf.subarray(0, 3).toString('latin1') === '.\r\n') {
      this.buf = this.buf.subarray(3);
      return 0;
    }
    return (await this.until('\r\n.\r\n')).length;
  }

  close() {
    this.s.destroy();
  }
}
