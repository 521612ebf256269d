// Protocol clients shared by both sides of the comparison: the same code
// times Roost and Dovecot. Raw sockets, minimal parsing (literal contents are
// counted and skipped, never copied), so the client is never the bottleneck.
import net from 'node:net';
import { qmqpPacket } from '../lib/node.js';

const CRLF = Buffer.from('\r\n');

/** A raw IMAP connection: `cmd()` resolves on the tagged reply. */
export class Imap {
  constructor(socket) {
    this.s = socket;
    this.buf = Buffer.alloc(0);
    this.literal = 0;
    this.lines = [];
    this.waiter = null;
    this.onUntagged = null;
    this.bytes = 0;
    this.n = 0;
    socket.setNoDelay(true);
    socket.on('data', (c) => this.feed(c));
    socket.on('error', () => undefined);
  }

  static async connect(port) {
    const s = net.connect(port, '127.0.0.1');
    const c = new Imap(s);
    await new Promise((resolve, reject) => {
      c.waiter = { tag: '*', resolve, reject };
      s.once('error', reject);
    });
    return c;
  }

  feed(chunk) {
    this.bytes += chunk.length;
    let data = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    let pos = 0;
    for (;;) {
      if (this.literal > 0) {
        const take = Math.min(this.literal, data.length - pos);
        this.literal -= take;
        pos += take;
        if (this.literal > 0) break;
        continue;
      }
      const eol = data.indexOf(CRLF, pos);
      if (eol < 0) break;
      const line = data.toString('latin1', pos, eol);
      pos = eol + 2;
      const lit = /\{(\d+)\}$/.exec(line);
      if (lit) this.literal = Number(lit[1]);
      this.line(line);
    }
    this.buf = pos < data.length ? Buffer.from(data.subarray(pos)) : Buffer.alloc(0);
  }

  line(line) {
    const w = this.waiter;
    if (w && w.tag === '*' && line.startsWith('* ')) {
      this.waiter = null;
      w.resolve(line);
      return;
    }
    if (line.startsWith('* ') || line.startsWith('+')) {
      if (this.onUntagged) this.onUntagged(line);
      if (w && w.keep) this.lines.push(line);
      if (w && line.startsWith('+') && w.onContinue) w.onContinue();
      return;
    }
    if (w && line.startsWith(w.tag + ' ')) {
      this.waiter = null;
      const ok = line.slice(w.tag.length + 1).startsWith('OK');
      const lines = this.lines;
      this.lines = [];
      if (ok) w.resolve({ line, lines });
      else w.reject(new Error(`${w.text.slice(0, 60)} -> ${line}`));
    }
  }

  /** Send a command; resolves with {line, lines (if keep)}. */
  cmd(text, { keep = false, onContinue } = {}) {
    const tag = `t${++this.n}`;
    return new Promise((resolve, reject) => {
      this.waiter = { tag, resolve, reject, keep, text, onContinue };
      this.s.write(`${tag} ${text}\r\n`);
    });
  }

  async login(user, pass) {
    await this.cmd(`LOGIN "${user}" "${pass}"`);
  }

  close() {
    this.s.destroy();
  }
}

/** A POP3 session: returns bytes received and timings. */
export class Pop3 {
  constructor(socket) {
    this.s = socket;
    this.buf = Buffer.alloc(0);
    this.queue = [];
    this.bytes = 0;
    socket.setNoDelay(true);
    socket.on('data', (c) => this.feed(c));
    socket.on('error', () => undefined);
  }

  static async connect(port) {
    const c = new Pop3(net.connect(port, '127.0.0.1'));
    await c.expect(false);
    return c;
  }

  /** Queue a reply reader: single line, or multi-line (ends with CRLF.CRLF). */
  expect(multi) {
    return new Promise((resolve, reject) => {
      this.queue.push({ multi, resolve, reject, size: 0, first: null });
      this.feed(Buffer.alloc(0));
    });
  }

  feed(chunk) {
    this.bytes += chunk.length;
    if (chunk.length) this.buf = this.buf.length ? Buffer.concat([this.buf, chunk]) : chunk;
    while (this.queue.length && this.buf.length) {
      const q = this.queue[0];
      if (q.first === null) {
        const eol = this.buf.indexOf(CRLF);
        if (eol < 0) return;
        q.first = this.buf.toString('latin1', 0, eol);
        this.buf = this.buf.subarray(eol + 2);
        if (!q.first.startsWith('+OK')) {
          this.queue.shift();
          q.reject(new Error(q.first));
          continue;
        }
        if (!q.multi) {
          this.queue.shift();
          q.resolve({ first: q.first, size: 0, text: '' });
          continue;
        }
        q.parts = [];
      }
      // Multi-line: look for the terminating ".\r\n" at a line start.
      const end = this.buf.indexOf('\r\n.\r\n');
      const startDot = q.size === 0 && q.parts.length === 0 && this.buf.subarray(0, 3).toString() === '.\r\n';
      if (startDot) {
        this.buf = this.buf.subarray(3);
        this.queue.shift();
        q.resolve({ first: q.first, size: 0, text: '' });
        continue;
      }
      if (end < 0) {
        // Keep the last 4 bytes in case the terminator is split.
        const keep = Math.max(0, this.buf.length - 4);
        q.size += keep;
        if (q.keepText) q.parts.push(this.buf.subarray(0, keep));
        this.buf = this.buf.subarray(keep);
        return;
      }
      q.size += end + 2;
      if (q.keepText) q.parts.push(this.buf.subarray(0, end + 2));
      this.buf = this.buf.subarray(end + 5);
      this.queue.shift();
      q.resolve({ first: q.first, size: q.size, text: q.keepText ? Buffer.concat(q.parts).toString('latin1') : '' });
    }
  }

  /** RETR 1..count, one at a time (each reply awaited) or all sent at once; resolves with {bytes, seconds}. */
  async retrieveAll(count, pipelined = false) {
    const a = performance.now();
    let bytes = 0;
    if (pipelined) {
      const replies = [];
      for (let i = 1; i <= count; i++) replies.push(this.send(`RETR ${i}`, true));
      for (const r of replies) bytes += (await r).size;
    } else {
      for (let i = 1; i <= count; i++) bytes += (await this.send(`RETR ${i}`, true)).size;
    }
    return { bytes, seconds: (performance.now() - a) / 1000 };
  }

  send(line, multi, keepText = false) {
    const p = new Promise((resolve, reject) => {
      this.queue.push({ multi, resolve, reject, size: 0, first: null, keepText });
    });
    this.s.write(line + '\r\n');
    return p;
  }

  close() {
    this.s.destroy();
  }
}


/** One QMQP delivery (one connection per message, as the protocol says). */
export function qmqpDeliver(port, message, sender, rcpts) {
  const pkt = qmqpPacket(message, sender, rcpts);
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const got = [];
    s.on('data', (c) => got.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const m = /^\d+:([KZD])/.exec(Buffer.concat(got).toString('latin1'));
      if (m && m[1] === 'K') resolve();
      else reject(new Error(`QMQP: ${Buffer.concat(got).toString('latin1')}`));
    });
    s.on('connect', () => s.write(pkt));
  });
}

/** An LMTP connection that can carry many transactions (RFC 2033). */
export class Lmtp {
  constructor(socket) {
    this.s = socket;
    this.buf = '';
    this.waiters = [];
    socket.setNoDelay(true);
    socket.on('data', (c) => {
      this.buf += c.toString('latin1');
      let eol;
      while ((eol = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, eol);
        this.buf = this.buf.slice(eol + 2);
        if (line[3] === '-') continue;
        const w = this.waiters.shift();
        if (w) (line[0] === '2' || line[0] === '3' ? w.resolve : w.reject)(line);
      }
    });
    socket.on('error', () => undefined);
  }

  static async connect(port) {
    const c = new Lmtp(net.connect(port, '127.0.0.1'));
    await c.reply();
    await c.send('LHLO bench.example.org');
    return c;
  }

  reply() {
    return new Promise((resolve, reject) => this.waiters.push({ resolve, reject }));
  }

  send(line) {
    const p = this.reply();
    this.s.write(line + '\r\n');
    return p;
  }

  /** Deliver: MAIL, RCPT…, DATA with CRLF line ends and dot-stuffing; one reply per recipient. */
  async deliver(message, sender, rcpts) {
    await this.send(`MAIL FROM:<${sender}>`);
    for (const r of rcpts) await this.send(`RCPT TO:<${r}>`);
    await this.send('DATA');
    const body = message.toString('latin1').replace(/\r?\n/g, '\r\n').replace(/^\./gm, '..');
    const replies = rcpts.map(() => this.reply());
    this.s.write(Buffer.from(body + (body.endsWith('\r\n') ? '' : '\r\n') + '.\r\n', 'latin1'));
    await Promise.all(replies);
  }

  close() {
    this.s.end('QUIT\r\n');
  }
}
