#!/usr/bin/env node
// Isolation benchmark (issue 13 §1): one node serves every session from one
// event loop, so a quiet user's answers must not wait behind a noisy user's
// expensive command. A quiet client measures, in rounds, one after another:
//
//   greeting    a new IMAP connection until its "* OK"
//   NOOP        on a logged-in IMAP session
//   UID FETCH   1:* (FLAGS) over a 1,000-message INBOX
//   POP3 STAT   on a logged-in POP3 session of another user
//   QMQP        one delivery of a small message, until its K
//
// first alone, then while a noisy user runs one expensive command in a loop:
// SEARCH BODY over a 40 MB text body, SEARCH with 4,000 NOT BODY keys over
// two 4 MB bodies, SORT (SUBJECT) and THREAD REFERENCES over 20,000
// messages (one References chain). p50/p99 per operation and the node's
// peak RSS are reported per phase. The goal: p99 under 100 ms everywhere.
//
//   npm run build && npm run bench:isolation
//   BENCH_PHASE_SECONDS=20 npm run bench:isolation
//
// Prints a table and writes bench/results/isolation-<timestamp>.json.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { message } from './lib/corpus.js';
import { qmqpPacket, qmqpSend, spawnRoost, writeBenchConfig } from './lib/node.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const PHASE_SECONDS = Number(process.env.BENCH_PHASE_SECONDS ?? 15);
const MANY = Number(process.env.BENCH_MANY ?? 20_000);
const QUIET_MESSAGES = 1000;
const KEYS = 4000;
const SEED = 7;
const PASS = 'bench-password';
const QUIET = 'quiet@example.org';
const POP = 'pop@example.org';
const NOISY = 'noisy@example.org';
const SINK = 'sink@example.org';

if (!existsSync(path.join(ROOT, 'dist', 'store', 'open.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { openSqliteDirectory } = await import(path.join(ROOT, 'dist', 'accounts', 'sqlite.js'));
const { openStore } = await import(path.join(ROOT, 'dist', 'store', 'open.js'));

// ---------------------------------------------------------------- raw clients

/** Line reader over a socket; `{n}` literals are skipped (not kept) so big answers cost little here. */
class Lines {
  constructor(socket) {
    this.s = socket;
    this.buf = '';
    this.literal = 0;
    this.lines = [];
    this.waiter = null;
    socket.setEncoding('latin1');
    socket.on('data', (c) => {
      this.buf += c;
      this.parse();
    });
    socket.on('error', () => undefined);
  }

  parse() {
    for (;;) {
      if (this.literal > 0) {
        const n = Math.min(this.literal, this.buf.length);
        this.buf = this.buf.slice(n);
        this.literal -= n;
        if (this.literal > 0) return;
      }
      const i = this.buf.indexOf('\r\n');
      if (i < 0) return;
      const l = this.buf.slice(0, i);
      this.buf = this.buf.slice(i + 2);
      const m = /\{(\d+)\}$/.exec(l);
      if (m) this.literal = Number(m[1]);
      this.lines.push(l);
      if (this.waiter) this.waiter();
    }
  }

  async next() {
    while (this.lines.length === 0) await new Promise((r) => (this.waiter = r));
    this.waiter = null;
    return this.lines.shift();
  }
}

async function connect(port) {
  const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
  await new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  return new Lines(s);
}

class Imap {
  static async login(port, user) {
    const c = new Imap(await connect(port));
    await c.r.next();
    const r = await c.cmd(`LOGIN ${user} ${PASS}`);
    if (!/ OK/.test(r.tagged)) throw new Error(`login ${user}: ${r.tagged}`);
    return c;
  }

  constructor(r) {
    this.r = r;
    this.tag = 0;
  }

  /** Send a command; resolves with the tagged line, the untagged line count and the time in ms. */
  async cmd(text) {
    const tag = `t${++this.tag}`;
    const t0 = performance.now();
    this.r.s.write(`${tag} ${text}\r\n`);
    let untagged = 0;
    for (;;) {
      const l = await this.r.next();
      if (l.startsWith(`${tag} `)) return { tagged: l, untagged, ms: performance.now() - t0 };
      untagged++;
    }
  }

  close() {
    this.r.s.destroy();
  }
}

// ---------------------------------------------------------------- mail

const line = 'the quick brown fox jumps over the lazy dog, again and again and again\n';
function bigText(bytes, subject, tail) {
  return Buffer.from(`From: Big <big@example.net>\nTo: ${NOISY}\nSubject: ${subject}\nMessage-ID: <${subject}@example.net>\n\n${line.repeat(Math.ceil(bytes / line.length))}${tail}\n`);
}

function chained(i) {
  return Buffer.from(
    `From: Sender ${i} <s${i}@example.net>\nTo: ${NOISY}\nSubject: S${String((i * 7919) % MANY).padStart(5, '0')}\n` +
      `Date: Tue, 24 Nov 2026 10:00:00 +0000\nMessage-ID: <m${i}@example.net>\n${i > 1 ? `References: <m${i - 1}@example.net>\n` : ''}\nBody ${i}\n`,
  );
}

async function populate(dataDir) {
  const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  const acc = {};
  for (const u of [QUIET, POP, NOISY, SINK]) acc[u] = await dir.addUser({ address: u, password: PASS });
  await dir.close();
  const store = await openStore({ dataDir, mailDir: path.join(dataDir, 'mail'), hostname: 'bench.example.org' });
  const put = async (account, bytes, mailbox) => {
    const draft = await store.createDraft();
    await draft.write(bytes);
    await draft.finish();
    await store.deliver([account], draft, { sender: 'bench@example.net', mailbox });
  };
  const inParallel = async (n, f) => {
    let next = 0;
    await Promise.all(Array.from({ length: 32 }, async () => {
      while (next < n) await f(next++);
    }));
  };
  const noisy = store.user(acc[NOISY]);
  for (const b of ['Big', 'Keys', 'Many']) await noisy.createMailbox(b);
  await inParallel(QUIET_MESSAGES, (i) => put(acc[QUIET], message(SEED, i, QUIET)));
  await inParallel(100, (i) => put(acc[POP], message(SEED, i, POP)));
  await put(acc[NOISY], bigText(40e6, 'big', 'the end'), 'Big');
  await put(acc[NOISY], bigText(4e6, 'has-key', 'w1234'), 'Keys');
  await put(acc[NOISY], bigText(4e6, 'no-key', 'none'), 'Keys');
  // Message i answers message i-1 (by Message-ID, so delivery order does not matter).
  await inParallel(MANY, async (i) => {
    await put(acc[NOISY], chained(i + 1), 'Many');
    if ((i + 1) % 5000 === 0) process.stderr.write(`  Many: ${i + 1}/${MANY}\n`);
  });
  await store.close();
}

async function startNode(dataDir) {
  const cfg = writeBenchConfig(
    dataDir,
    [
      '[log]\nlevel = "warn"',
      '[imap]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
      '[pop3]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
      '[qmqp]\nlisten = "127.0.0.1:0"',
      '[admin]\nlisten = ""',
      '[auth]\nallow_plaintext = "loopback"',
      '[replication]\nlisten = ""',
    ],
  );
  return spawnRoost(dataDir, cfg);
}

const rssMiB = (pid) => Number(/VmRSS:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024;

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// ---------------------------------------------------------------- phases

const NOISE = [
  { name: 'alone', box: null, cmd: null },
  { name: 'SEARCH BODY, 40 MB body', box: 'Big', cmd: 'SEARCH BODY "not in this message"' },
  { name: `SEARCH ${KEYS} × NOT BODY, 2 × 4 MB`, box: 'Keys', cmd: `SEARCH ${Array.from({ length: KEYS }, (_, i) => `NOT BODY w${String(i).padStart(4, '0')}`).join(' ')}` },
  { name: `SORT (SUBJECT), ${MANY} messages`, box: 'Many', cmd: 'SORT (SUBJECT) UTF-8 ALL' },
  { name: `THREAD REFERENCES, ${MANY} chain`, box: 'Many', cmd: 'THREAD REFERENCES UTF-8 ALL' },
];
const OPS = ['greeting', 'NOOP', 'UID FETCH 1:* (FLAGS)', 'POP3 STAT', 'QMQP delivery'];

async function phase(ports, pid, noise) {
  const quiet = await Imap.login(ports.imap, QUIET);
  await quiet.cmd('SELECT INBOX');
  const pop = await connect(ports.pop3);
  await pop.next();
  for (const l of [`USER ${POP}`, `PASS ${PASS}`]) {
    pop.s.write(`${l}\r\n`);
    await pop.next();
  }
  const pkt = qmqpPacket(message(SEED, 1, SINK), 'bench@example.net', [SINK]);
  let stop = false;
  let noisyRuns = 0;
  let noisyMs = 0;
  let noisyAnswer = '';
  const noisyLoop = (async () => {
    if (!noise.cmd) return;
    const c = await Imap.login(ports.imap, NOISY);
    await c.cmd(`SELECT ${noise.box}`);
    while (!stop) {
      const r = await c.cmd(noise.cmd);
      noisyRuns++;
      noisyMs += r.ms;
      noisyAnswer = r.tagged.replace(/^t\d+ /, '');
    }
    c.close();
  })();
  // Let the noisy command get going before measuring.
  if (noise.cmd) await new Promise((r) => setTimeout(r, 1000));
  const lat = Object.fromEntries(OPS.map((o) => [o, []]));
  let rss = rssMiB(pid);
  const timed = async (op, f) => {
    const t0 = performance.now();
    await f();
    lat[op].push(performance.now() - t0);
  };
  const end = Date.now() + PHASE_SECONDS * 1000;
  while (Date.now() < end) {
    await timed('greeting', async () => {
      const c = await connect(ports.imap);
      await c.next();
      c.s.destroy();
    });
    await timed('NOOP', () => quiet.cmd('NOOP'));
    await timed('UID FETCH 1:* (FLAGS)', () => quiet.cmd('UID FETCH 1:* (FLAGS)'));
    await timed('POP3 STAT', async () => {
      pop.s.write('STAT\r\n');
      await pop.next();
    });
    await timed('QMQP delivery', async () => {
      if ((await qmqpSend(ports.qmqp, pkt)) !== 'K') throw new Error('QMQP delivery refused');
    });
    rss = Math.max(rss, rssMiB(pid));
  }
  stop = true;
  await noisyLoop;
  quiet.close();
  pop.s.destroy();
  const ops = Object.fromEntries(OPS.map((o) => [o, { n: lat[o].length, p50: Number(pct(lat[o], 50).toFixed(1)), p99: Number(pct(lat[o], 99).toFixed(1)) }]));
  return { noise: noise.name, ops, rssMiB: Number(rss.toFixed(0)), noisyRuns, noisyMeanMs: noisyRuns ? Number((noisyMs / noisyRuns).toFixed(0)) : null, noisyAnswer };
}

// ---------------------------------------------------------------- run

const dataDir = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'roost-bench-isolation-'));
const results = [];
let child;
try {
  process.stderr.write(`populating (${QUIET_MESSAGES} quiet, 40 MB + 2 × 4 MB + ${MANY} noisy messages)…\n`);
  await populate(dataDir);
  const node = await startNode(dataDir);
  child = node.child;
  for (const noise of NOISE) {
    process.stderr.write(`  phase: ${noise.name}\n`);
    const r = await phase(node.ports, child.pid, noise);
    results.push(r);
    process.stderr.write(`    ${JSON.stringify(r.ops)} rss ${r.rssMiB} MiB, noisy ${r.noisyRuns} × ${r.noisyMeanMs} ms ${r.noisyAnswer}\n`);
  }
} finally {
  if (child) {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
  }
  rmSync(dataDir, { recursive: true, force: true });
}

console.log(`\nRoost isolation: quiet client p50 / p99 (ms) while a noisy user loops one command, ${PHASE_SECONDS} s per phase`);
console.log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, load average ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}\n`);
const head = ['noisy command', ...OPS, 'node RSS', 'noisy runs × mean'];
console.log(`| ${head.join(' | ')} |`);
console.log(`| ${head.map((_, i) => (i === 0 ? '---' : '---:')).join(' | ')} |`);
for (const r of results) {
  const cells = OPS.map((o) => `${r.ops[o].p50} / ${r.ops[o].p99}`);
  console.log(`| ${[r.noise, ...cells, `${r.rssMiB} MiB`, r.noisyRuns ? `${r.noisyRuns} × ${r.noisyMeanMs} ms` : '—'].join(' | ')} |`);
}
const outDir = path.join(ROOT, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const file = path.join(outDir, `isolation-${stamp}.json`);
writeFileSync(file, `${JSON.stringify({ benchmark: 'isolation', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: os.loadavg(), phaseSeconds: PHASE_SECONDS, many: MANY, results }, null, 2)}\n`);
console.log(`\nsaved ${path.relative(ROOT, file)}`);
