#!/usr/bin/env node
/**
 * POP3 benchmark (issue 3): a maildrop of 10,000 realistic messages (seeded
 * generator: median a few KB, a tail of 50–500 KB attachments), served by the
 * built server (dist/). The client runs in a worker thread so it does not
 * share the server's event loop.
 *
 *   login + STAT + UIDL, LIST     (median of repeated sessions)
 *   full download, RETR 1..N      one command at a time, and pipelined
 *   logins per second             sequential, and 4 in parallel
 *   cat of the same files into a socket (the ceiling)
 *
 * Usage: npm run build && npm run bench:pop3 [-- --messages 10000]
 * Prints a table and writes bench/results/pop3-<timestamp>.json.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, isMainThread, parentPort, workerData } from 'node:worker_threads';
import { rng } from './lib/corpus.js';

const here = path.dirname(fileURLToPath(import.meta.url));
const dist = path.join(here, '..', 'dist');
const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : dflt;
};

// ---------------------------------------------------------------- generator

const WORDS = 'the of and to in is that for it as was with be by on not he this are or his from at which but have an they you were her she there one all we their can has been if more when will would who so no'.split(' ');

function message(r, i) {
  // 94 %: text mail, log-normal around 3.5 KB; 6 %: an attachment of 50–500 KB
  // (skewed to the small end), about 16 KB on average like the reference maildrop.
  const normal = () => Math.sqrt(-2 * Math.log(r() || 1e-9)) * Math.cos(2 * Math.PI * r());
  const attachment = r() < 0.06;
  const target = attachment ? 50_000 + Math.floor(r() ** 2 * 450_000) : Math.min(60_000, Math.max(700, Math.round(3500 * Math.exp(0.8 * normal()))));
  const crlf = r() < 0.1; // some deliveries store CRLF (e.g. via LMTP); qmail stores LF
  const head = [
    `Return-Path: <sender${i}@example.net>`,
    `Delivered-To: bench@example.org`,
    `Received: from relay${i % 7}.example.net (relay${i % 7}.example.net [192.0.2.${i % 250}]) by mx.example.org with ESMTP id ${i.toString(36)}; Tue, 24 Nov 2026 10:00:00 +0000`,
    `From: Sender ${i} <sender${i}@example.net>`,
    `To: bench@example.org`,
    `Subject: Message number ${i} about ${WORDS[i % WORDS.length]}`,
    `Date: Tue, 24 Nov 2026 10:${String(i % 60).padStart(2, '0')}:00 +0000`,
    `Message-ID: <${i}.${Math.floor(r() * 1e9)}@example.net>`,
    'MIME-Version: 1.0',
  ];
  const lines = [];
  let size = 0;
  if (attachment) {
    head.push('Content-Type: multipart/mixed; boundary="b1"');
    lines.push('', '--b1', 'Content-Type: text/plain; charset=us-ascii', '', 'See the attachment.', '', '--b1', 'Content-Type: application/octet-stream; name="file.bin"', 'Content-Transfer-Encoding: base64', '');
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
    while (size < target) {
      let l = '';
      for (let k = 0; k < 76; k++) l += alphabet[Math.floor(r() * 64)];
      lines.push(l);
      size += 77;
    }
    lines.push('--b1--');
  } else {
    head.push('Content-Type: text/plain; charset=us-ascii');
    lines.push('');
    while (size < target) {
      let l = '';
      while (l.length < 60 + Math.floor(r() * 16)) l += (l ? ' ' : '') + WORDS[Math.floor(r() * WORDS.length)];
      if (r() < 0.01) l = '.' + l; // the odd line that needs dot-stuffing
      lines.push(l);
      size += l.length + 1;
    }
  }
  const text = head.concat(lines).join('\n') + '\n';
  return Buffer.from(crlf ? text.replace(/\n/g, '\r\n') : text, 'latin1');
}

// ---------------------------------------------------------------- client (worker)

class Client {
  constructor(socket) {
    this.socket = socket;
    this.chunks = [];
    this.waiter = null;
    socket.on('data', (d) => {
      this.chunks.push(d);
      this.waiter?.();
    });
    socket.on('error', () => undefined);
  }
  static connect(port) {
    return new Promise((resolve, reject) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => resolve(new Client(s)));
      s.setNoDelay(true);
      s.once('error', reject);
    });
  }
  async take() {
    while (this.chunks.length === 0) await new Promise((r) => (this.waiter = r));
    this.waiter = null;
    const c = this.chunks.length === 1 ? this.chunks[0] : Buffer.concat(this.chunks);
    this.chunks = [];
    return c;
  }
  unshift(buf) {
    if (buf.length) this.chunks.unshift(buf);
  }
  async line() {
    let buf = Buffer.alloc(0);
    for (;;) {
      buf = buf.length ? Buffer.concat([buf, await this.take()]) : await this.take();
      const i = buf.indexOf('\r\n');
      if (i >= 0) {
        this.unshift(buf.subarray(i + 2));
        return buf.subarray(0, i).toString('latin1');
      }
    }
  }
  /** Read a multi-line body; returns its size in octets (terminator included). */
  async multi() {
    let n = 0;
    let tail = Buffer.alloc(0); // last bytes of the previous chunk, for a terminator split across chunks
    let first = true;
    for (;;) {
      const chunk = await this.take();
      if (first && chunk.length >= 3 && chunk[0] === 0x2e && chunk[1] === 0x0d && chunk[2] === 0x0a) {
        this.unshift(chunk.subarray(3));
        return 3;
      }
      first = false;
      const probe = tail.length ? Buffer.concat([tail, chunk]) : chunk;
      const i = probe.indexOf('\r\n.\r\n');
      if (i >= 0) {
        const used = i + 5 - tail.length;
        this.unshift(chunk.subarray(used));
        return n + used;
      }
      n += chunk.length;
      tail = probe.subarray(Math.max(0, probe.length - 4));
    }
  }
  async cmd(line) {
    this.socket.write(line + '\r\n');
    return this.line();
  }
  close() {
    this.socket.destroy();
  }
}

async function login(port, user, pass) {
  const c = await Client.connect(port);
  await c.line();
  await c.cmd(`USER ${user}`);
  const r = await c.cmd(`PASS ${pass}`);
  if (!r.startsWith('+OK')) throw new Error(`login failed: ${r}`);
  return c;
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const ms = (t0) => Number(process.hrtime.bigint() - t0) / 1e6;
const now = () => process.hrtime.bigint();

/** The maildrop's files as they are now (QUIT may have moved them to cur/ with flags). */
function maildropFiles(maildir) {
  return ['new', 'cur'].flatMap((d) => {
    try {
      return readdirSync(path.join(maildir, d)).map((f) => path.join(maildir, d, f));
    } catch {
      return [];
    }
  });
}

async function clientMain({ port, user, pass, maildir, count }) {
  const out = {};
  // warm-up (JIT, index handle in the store's LRU, page cache)
  {
    const c = await login(port, user, pass);
    c.socket.write('UIDL\r\n');
    await c.line();
    await c.multi();
    await c.cmd('QUIT');
  }
  // login + STAT + UIDL, and LIST
  const tLogin = [];
  const tUidl = [];
  const tList = [];
  const tTotal = [];
  for (let i = 0; i < 20; i++) {
    const t0 = now();
    const c = await login(port, user, pass);
    tLogin.push(ms(t0));
    const t1 = now();
    const stat = await c.cmd('STAT');
    if (!stat.startsWith(`+OK ${count} `)) throw new Error(`STAT: ${stat}`);
    c.socket.write('UIDL\r\n');
    await c.line();
    await c.multi();
    tUidl.push(ms(t1));
    tTotal.push(ms(t0));
    const t2 = now();
    c.socket.write('LIST\r\n');
    await c.line();
    await c.multi();
    tList.push(ms(t2));
    await c.cmd('QUIT');
  }
  out.loginMs = median(tLogin);
  out.statUidlMs = median(tUidl);
  out.loginStatUidlMs = median(tTotal);
  out.listMs = median(tList);

  // full download, one command at a time
  {
    const c = await login(port, user, pass);
    let bytes = 0;
    const t0 = now();
    for (let n = 1; n <= count; n++) {
      c.socket.write(`RETR ${n}\r\n`);
      const l = await c.line();
      if (!l.startsWith('+OK')) throw new Error(`RETR ${n}: ${l}`);
      bytes += l.length + 2 + (await c.multi());
    }
    const t = ms(t0);
    out.sequential = { ms: t, bytes, msgsPerSec: count / (t / 1000), MBps: bytes / 1e6 / (t / 1000) };
    c.close(); // no QUIT: the UPDATE state would flag 10,000 messages \Seen
  }

  // full download, pipelined: every RETR sent at once, replies read as they come
  {
    const c = await login(port, user, pass);
    let bytes = 0;
    const t0 = now();
    const cmds = Buffer.from(Array.from({ length: count }, (_, i) => `RETR ${i + 1}\r\n`).join(''));
    c.socket.write(cmds);
    for (let n = 1; n <= count; n++) {
      const l = await c.line();
      if (!l.startsWith('+OK')) throw new Error(`RETR ${n}: ${l}`);
      bytes += l.length + 2 + (await c.multi());
    }
    const t = ms(t0);
    out.pipelined = { ms: t, bytes, msgsPerSec: count / (t / 1000), MBps: bytes / 1e6 / (t / 1000) };
    const t1 = now();
    await c.cmd('QUIT');
    out.quitAfterRetrAllMs = ms(t1); // \Seen on every message, through the store
    c.close();
  }

  // logins per second: on the big maildrop (one at a time: [IN-USE] otherwise),
  // and on small maildrops with 4 clients in parallel
  {
    const N = 100;
    const t0 = now();
    for (let i = 0; i < N; i++) {
      const c = await login(port, user, pass);
      await c.cmd('QUIT');
      c.close();
    }
    out.loginsPerSecBigMaildrop = N / (ms(t0) / 1000);
    const t1 = now();
    await Promise.all(
      Array.from({ length: 4 }, async (_, k) => {
        for (let i = 0; i < N / 2; i++) {
          const c = await login(port, `small${k}@example.org`, pass);
          await c.cmd('QUIT');
          c.close();
        }
      }),
    );
    out.loginsPerSecParallel4 = (N * 2) / (ms(t1) / 1000);
  }

  // the ceiling: cat of the same files into a socket
  {
    let bytes = 0;
    let done;
    const finished = new Promise((r) => (done = r));
    const sink = net.createServer((s) => {
      s.on('data', (d) => (bytes += d.length));
      s.on('end', () => done());
    });
    await new Promise((r) => sink.listen(0, '127.0.0.1', r));
    const list = path.join(os.tmpdir(), `roost-bench-files-${process.pid}`);
    const files = maildropFiles(maildir);
    if (files.length !== count) throw new Error(`expected ${count} files in ${maildir}, found ${files.length}`);
    writeFileSync(list, files.join('\n') + '\n');
    const t0 = now();
    const child = spawn('bash', ['-c', `xargs -a "${list}" cat > /dev/tcp/127.0.0.1/${sink.address().port}`], { stdio: 'inherit' });
    await new Promise((r) => child.on('exit', r));
    await finished;
    const t = ms(t0);
    out.cat = { ms: t, bytes, MBps: bytes / 1e6 / (t / 1000), msgsPerSec: count / (t / 1000) };
    rmSync(list, { force: true });
    sink.close();
  }
  return out;
}

// ---------------------------------------------------------------- server (main)

async function main() {
  const count = arg('messages', 10_000);
  const { loadConfig } = await import(path.join(dist, 'config/load.js'));
  const { initLogger } = await import(path.join(dist, 'log/logger.js'));
  const { openStore } = await import(path.join(dist, 'store/open.js'));
  const { SqliteDirectory } = await import(path.join(dist, 'accounts/sqlite.js'));
  const { loadTls } = await import(path.join(dist, 'net/tls.js'));
  const { createPop3Server } = await import(path.join(dist, 'pop3/server.js'));

  const dir = mkdtempSync(path.join(os.tmpdir(), 'roost-bench-pop3-'));
  const log = initLogger('error');
  const config = loadConfig(null, {
    data_dir: dir,
    hostname: 'bench.example.org',
    pop3: { listen: '127.0.0.1:0', tls_listen: '' },
    auth: { allow_plaintext: 'loopback' },
  });
  const store = await openStore({ dataDir: dir, mailDir: config.paths.mailDir, hostname: config.hostname });
  const directory = new SqliteDirectory(path.join(dir, 'accounts.sqlite'), config.paths.mailDir);
  const account = await directory.addUser({ address: 'bench@example.org', password: 'bench-password' });
  // small maildrops for parallel logins (one session per maildrop)
  for (let k = 0; k < 4; k++) {
    const small = await directory.addUser({ address: `small${k}@example.org`, password: 'bench-password' });
    for (let i = 0; i < 20; i++) {
      const d = await store.createDraft();
      await d.write(message(rng(k * 100 + i), i));
      await d.finish();
      await store.deliver([small], d, { sender: 'bench@example.net' });
    }
  }

  process.stdout.write(`generating and delivering ${count} messages… `);
  const r = rng(20261124);
  let total = 0;
  const t0 = Date.now();
  for (let i = 0; i < count; i += 64) {
    const batch = [];
    for (let k = i; k < Math.min(count, i + 64); k++) batch.push(message(r, k));
    await Promise.all(
      batch.map(async (m) => {
        total += m.length;
        const d = await store.createDraft();
        await d.write(m);
        await d.finish();
        await store.deliver([account], d, { sender: 'bench@example.net' });
      }),
    );
  }
  console.log(`${(total / 1e6).toFixed(1)} MB in ${((Date.now() - t0) / 1000).toFixed(1)} s`);
  const sizes = [];
  {
    const box = await store.user(account).openMailbox('INBOX', { readOnly: true });
    for (const m of box.snapshot().messages) sizes.push(m.size);
    box.close();
  }
  sizes.sort((a, b) => a - b);
  // What the directory's password check costs on its own (the embedded
  // directory hashes with scrypt), so the login figure can be read against it.
  const authTimes = [];
  for (let i = 0; i < 10; i++) {
    const t = process.hrtime.bigint();
    await directory.authenticate('bench@example.org', 'bench-password');
    authTimes.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const authMs = median(authTimes);
  // ... and what opening the maildrop costs in the store (index snapshot of every message).
  const openTimes = [];
  for (let i = 0; i < 10; i++) {
    const t = process.hrtime.bigint();
    const box = await store.user(account).openMailbox('INBOX');
    box.snapshot();
    box.close();
    openTimes.push(Number(process.hrtime.bigint() - t) / 1e6);
  }
  const openMs = median(openTimes);

  const ctx = { config, log, store, directory, tls: await loadTls(config, log), replication: { waitFor: async () => undefined, writable: true } };
  const server = createPop3Server(ctx);
  await server.listen();
  const port = server.addresses().listen;

  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { port, user: 'bench@example.org', pass: 'bench-password', maildir: account.maildir, count } });
  const res = await new Promise((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
    worker.once('exit', (code) => reject(new Error(`client worker exited (${code})`)));
  });
  await worker.terminate();
  await server.close();
  await store.close();
  await directory.close();
  rmSync(dir, { recursive: true, force: true });

  const f = (x, d = 1) => x.toFixed(d);
  const rows = [
    ['maildrop', `${count} messages, ${f(total / 1e6)} MB, median ${f(sizes[Math.floor(sizes.length / 2)] / 1024)} KB, p99 ${f(sizes[Math.floor(sizes.length * 0.99)] / 1024)} KB, max ${f(sizes[sizes.length - 1] / 1024)} KB`, ''],
    ['login (connect → +OK PASS)', `${f(res.loginMs, 2)} ms`, 'Dovecot 13 ms'],
    ['  of which the directory password check (scrypt)', `${f(authMs, 2)} ms`, ''],
    ['  of which opening INBOX + snapshot in the store', `${f(openMs, 2)} ms`, ''],
    ['STAT + UIDL', `${f(res.statUidlMs, 2)} ms`, 'Dovecot UIDL 13 ms'],
    ['login + STAT + UIDL', `${f(res.loginStatUidlMs, 2)} ms`, 'goal < 30 ms'],
    ['LIST', `${f(res.listMs, 2)} ms`, 'Dovecot 32 ms'],
    ['download, one command at a time', `${f(res.sequential.MBps)} MB/s, ${f(res.sequential.msgsPerSec, 0)} msgs/s`, 'Dovecot 94 MB/s'],
    ['download, pipelined', `${f(res.pipelined.MBps)} MB/s, ${f(res.pipelined.msgsPerSec, 0)} msgs/s`, 'Dovecot 262 MB/s'],
    ['QUIT after RETR of all (\\Seen on every message)', `${f(res.quitAfterRetrAllMs, 0)} ms`, ''],
    ['logins/s (sequential, 10,000-message maildrop)', f(res.loginsPerSecBigMaildrop, 0), ''],
    ['logins/s (4 clients in parallel, 20-message maildrops)', f(res.loginsPerSecParallel4, 0), ''],
    ['ceiling: cat of the files into a socket', `${f(res.cat.MBps)} MB/s, ${f(res.cat.msgsPerSec, 0)} files/s`, ''],
  ];
  const w0 = Math.max(...rows.map((x) => x[0].length));
  const w1 = Math.max(...rows.map((x) => x[1].length));
  console.log('');
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  console.log('(MB = 10^6 octets as received by the client, CRLF and dot-stuffing included)');

  const resultsDir = path.join(here, 'results');
  mkdirSync(resultsDir, { recursive: true });
  const file = path.join(resultsDir, `pop3-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
  writeFileSync(
    file,
    JSON.stringify(
      {
        date: new Date().toISOString(),
        node: process.version,
        cpus: os.cpus().length,
        loadavg: os.loadavg(),
        maildrop: { messages: count, bytes: total, medianSize: sizes[Math.floor(sizes.length / 2)], p99Size: sizes[Math.floor(sizes.length * 0.99)], maxSize: sizes[sizes.length - 1] },
        directoryAuthMs: authMs,
        storeOpenSnapshotMs: openMs,
        ...res,
      },
      null,
      2,
    ) + '\n',
  );
  console.log(`saved ${path.relative(process.cwd(), file)}`);
}

if (isMainThread) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
} else {
  clientMain(workerData).then(
    (r) => parentPort.postMessage(r),
    (err) => {
      console.error(err);
      process.exit(1);
    },
  );
}
