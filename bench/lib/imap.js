// A minimal IMAP client for the benches: one command at a time, tagged
// completion awaited, literals skipped by their {n} count (RFC 3501 §4.3),
// bytes received counted so a bench can report MB/s.
import net from 'node:net';

export class Raw {
  constructor(socket) {
    this.s = socket;
    this.pending = Buffer.alloc(0);
    this.literal = 0;
    this.lines = [];
    this.keepLines = false;
    this.waiter = null;
    this.bytes = 0;
    this.tag = 0;
    socket.on('data', (c) => this.onData(c));
    socket.on('error', () => undefined);
  }

  static connect(port) {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => resolve(new Raw(s)));
      s.once('error', reject);
    });
  }

  onData(chunk) {
    this.bytes += chunk.length;
    let buf = this.pending.length ? Buffer.concat([this.pending, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      if (this.literal > 0) {
        const n = Math.min(this.literal, buf.length - pos);
        this.literal -= n;
        pos += n;
        if (this.literal > 0) break;
      }
      const nl = buf.indexOf(10, pos);
      if (nl < 0) break;
      const line = buf.toString('latin1', pos, nl - 1);
      pos = nl + 1;
      const m = /\{(\d+)\}$/.exec(line);
      if (m) this.literal = Number(m[1]);
      this.onLine(line);
    }
    this.pending = pos < buf.length ? Buffer.from(buf.subarray(pos)) : Buffer.alloc(0);
  }

  onLine(line) {
    if (this.keepLines) this.lines.push(line);
    const w = this.waiter;
    if (w && w.test(line)) {
      this.waiter = null;
      w.resolve(line);
    }
  }

  /** Resolve with the first line matching `re` from now on. */
  wait(re) {
    return new Promise((resolve) => {
      this.waiter = { test: (l) => re.test(l), resolve };
    });
  }

  /** Send a command; resolve with {ms, bytes, tagged, lines}. */
  async cmd(text, { keep = false } = {}) {
    const tag = `b${++this.tag}`;
    this.lines = [];
    this.keepLines = keep;
    const b0 = this.bytes;
    const t0 = performance.now();
    const done = this.wait(new RegExp(`^${tag} (OK|NO|BAD)`));
    this.s.write(`${tag} ${text}\r\n`);
    const tagged = await done;
    const ms = performance.now() - t0;
    if (!tagged.startsWith(`${tag} OK`)) throw new Error(`${text.slice(0, 60)}: ${tagged}`);
    return { ms, bytes: this.bytes - b0, tagged, lines: this.lines };
  }

  close() {
    this.s.destroy();
  }
}
