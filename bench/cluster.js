#!/usr/bin/env node
// The mail proxy's cost (issue 18, "Benchmark"): one Roost node from dist/
// in its own process, nginx's mail module in front of it (auth_http to the
// node, `proxy_protocol on;` to its proxied listeners), and the same
// workloads run against nginx and directly against the node:
//
//   imap-login    connect, greeting, LOGIN, LOGOUT              (logins/s)
//   pop3-login    connect, greeting, USER, PASS, QUIT            (logins/s)
//   imap-session  login, SELECT, FETCH 1:* BODY.PEEK[], LOGOUT   (sessions/s, MB/s)
//   pop3-session  login, RETR 1..N one at a time, QUIT           (sessions/s, MB/s)
//   then one client's RETR time by message size, direct and through nginx
//   account-move  `roost account move` of a BENCH_MOVE_MESSAGES (10,000) message
//                 account between two primaries: messages/s, MB/s, freeze time
//                 (bench/lib/move.js; first, and alone with BENCH_ONLY=move)
//
// Rounds alternate which target goes first (direct, nginx / nginx, direct),
// so drift in the machine's load falls on both; the table gives each row's
// median over the rounds and the overhead 1 - nginx/direct (the median of
// each round's ratio, and their range). Through nginx a
// login costs an auth_http request and a second TCP connection with a PROXY
// header; a session's bytes cross one more process.
//
//   npm run build && npm run bench:cluster
//   BENCH_SECONDS=3 BENCH_ROUNDS=3 BENCH_CLIENTS=4 BENCH_MESSAGES=200 npm run bench:cluster
//
// Prints a table and writes bench/results/cluster-<timestamp>.json.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { message } from './lib/corpus.js';
import { Raw } from './lib/imap.js';
import { spawnRoost, writeBenchConfig } from './lib/node.js';
import { freePort, nginxAvailable, startNginx } from './lib/nginx.js';
import { Pop3 } from './lib/pop3.js';
import { benchMove } from './lib/move.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const CLIENTS = Number(process.env.BENCH_CLIENTS ?? 4);
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 200);
/** nginx's mail proxy_buffer (nginx's default is one page, 4k): see the README on POP3 RETR and delayed ACKs. */
const PROXY_BUFFER = process.env.BENCH_PROXY_BUFFER ?? '64k';
const SEED = 18;
/** One account per client: a POP3 maildrop takes one session at a time (RFC 1939 §8). */
const user = (w) => `bench${w}@example.org`;
const PASS = 'bench-password';
const SECRET = 'bench-auth-secret';

if (!existsSync(path.join(ROOT, 'dist', 'store', 'open.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
if (!nginxAvailable()) {
  console.error('nginx with the mail module is needed (apt-get install nginx libnginx-mod-mail)');
  process.exit(1);
}
const { openSqliteDirectory } = await import(path.join(ROOT, 'dist', 'accounts', 'sqlite.js'));
const { openStore } = await import(path.join(ROOT, 'dist', 'store', 'open.js'));

/** Every client's account gets the same MESSAGES corpus messages; returns one INBOX's bytes. */
async function populate(dataDir) {
  const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  const accounts = [];
  for (let w = 0; w < CLIENTS; w++) accounts.push(await dir.addUser({ address: user(w), password: PASS }));
  await dir.close();
  const store = await openStore({ dataDir, mailDir: path.join(dataDir, 'mail'), hostname: 'bench.example.org' });
  let bytes = 0;
  for (let i = 0; i < MESSAGES; i++) {
    const m = message(SEED, i, 'bench@example.org');
    bytes += m.length;
    const draft = await store.createDraft();
    await draft.write(m);
    await draft.finish();
    await store.deliver(accounts, draft, { sender: 'bench@example.net' });
  }
  await store.close();
  return bytes;
}

async function startNode(dataDir) {
  const cfg = writeBenchConfig(
    dataDir,
    [
      '[log]\nlevel = "error"',
      '[imap]\nlisten = "127.0.0.1:0"\nproxy_listen = "127.0.0.1:0"\ntls_listen = ""\nmax_connections_per_ip = 10000\nmax_userip_connections = 10000',
      '[pop3]\nlisten = "127.0.0.1:0"\nproxy_listen = "127.0.0.1:0"\ntls_listen = ""\nmax_connections_per_ip = 10000',
      '[qmqp]\nlisten = ""',
      '[lmtp]\nlisten = ""',
      '[admin]\nlisten = ""',
      '[auth]\nallow_plaintext = "loopback"',
      `[proxy]\ntrusted = ["127.0.0.1"]\nauth_listen = "127.0.0.1:0"\nauth_secret = "${SECRET}"`,
      '[replication]\nlisten = ""',
    ],
  );
  return spawnRoost(dataDir, cfg);
}

// ---------------------------------------------------------------- workloads

async function imapLogin(port, w) {
  const c = await Raw.connect(port);
  await c.wait(/^\* OK/);
  await c.cmd(`LOGIN ${user(w)} ${PASS}`);
  return c;
}

async function pop3Login(port, w) {
  const c = await Pop3.connect(port);
  const greeting = await c.line();
  if (!greeting.startsWith('+OK')) throw new Error(`POP3 greeting: ${greeting}`);
  await c.cmd(`USER ${user(w)}`);
  await c.cmd(`PASS ${PASS}`);
  return c;
}

/** Each runs one session as client `w` and returns the bytes it received. */
const WORKLOADS = {
  'imap-login': async (port, w) => {
    const c = await imapLogin(port, w);
    await c.cmd('LOGOUT').catch(() => undefined);
    c.close();
    return c.bytes;
  },
  'pop3-login': async (port, w) => {
    const c = await pop3Login(port, w);
    await c.cmd('QUIT');
    c.close();
    return c.bytes;
  },
  'imap-session': async (port, w) => {
    const c = await imapLogin(port, w);
    await c.cmd('SELECT INBOX');
    await c.cmd('FETCH 1:* BODY.PEEK[]');
    await c.cmd('LOGOUT').catch(() => undefined);
    c.close();
    return c.bytes;
  },
  'pop3-session': async (port, w) => {
    const c = await pop3Login(port, w);
    const stat = /^\+OK (\d+)/.exec(await c.cmd('STAT'));
    const n = Number(stat?.[1] ?? 0);
    for (let i = 1; i <= n; i++) await c.multi(`RETR ${i}`);
    await c.cmd('QUIT');
    c.close();
    return c.bytes;
  },
};

/** CLIENTS loops of `fn(port, w)` for SECONDS; completed runs per second, MB/s received, latency percentiles. */
async function measure(fn, port) {
  const latencies = [];
  let bytes = 0;
  let failed = 0;
  const t0 = performance.now();
  const end = t0 + SECONDS * 1000;
  const worker = async (_, w) => {
    while (performance.now() < end) {
      const a = performance.now();
      try {
        bytes += await fn(port, w);
        latencies.push(performance.now() - a);
      } catch {
        failed++;
      }
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, worker));
  const s = (performance.now() - t0) / 1000;
  latencies.sort((x, y) => x - y);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return {
    runs: latencies.length,
    failed,
    perSecond: Number((latencies.length / s).toFixed(1)),
    mbPerSecond: Number((bytes / s / 1e6).toFixed(2)),
    p50ms: Number(pct(50).toFixed(2)),
    p99ms: Number(pct(99).toFixed(2)),
  };
}

/**
 * One client, one session per target: each RETR's time by message size
 * (under one 4 KiB page, under 64 KiB, larger), to show where a proxy's
 * per-message cost lies (nginx's writes to the client and delayed ACKs).
 */
async function retrLatency(port) {
  const c = await pop3Login(port, 0);
  c.s.write('LIST\r\n');
  await c.line();
  const sizes = (await c.until('\r\n.\r\n')).toString('latin1').split('\r\n').slice(0, -2).map((l) => Number(l.split(' ')[1]));
  const classes = { 'under 4 KiB': [], '4-64 KiB': [], 'over 64 KiB': [] };
  for (let k = 1; k <= sizes.length; k++) {
    const a = performance.now();
    await c.multi(`RETR ${k}`);
    const size = sizes[k - 1];
    classes[size < 4096 ? 'under 4 KiB' : size < 65536 ? '4-64 KiB' : 'over 64 KiB'].push(performance.now() - a);
  }
  await c.cmd('QUIT');
  c.close();
  return Object.fromEntries(Object.entries(classes).map(([k, v]) => [k, { messages: v.length, p50ms: v.length ? Number(median(v).toFixed(2)) : null }]));
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
  return Number(m.toFixed(2));
};

// ---------------------------------------------------------------- run

const MOVE_MESSAGES = Number(process.env.BENCH_MOVE_MESSAGES ?? 10_000);
const resultFile = (date) => path.join(ROOT, 'bench', 'results', `cluster-${date.replace(/[:.]/g, '-')}.json`);
let accountMove = null;
if (MOVE_MESSAGES > 0) {
  const moveWork = mkdtempSync(path.join(os.tmpdir(), 'roost-bench-move-'));
  try {
    accountMove = await benchMove(moveWork, { messages: MOVE_MESSAGES, seed: SEED });
  } finally {
    rmSync(moveWork, { recursive: true, force: true });
  }
  const m = accountMove;
  console.log(`
account move of ${m.messages} messages (${(m.bytes / 1e6).toFixed(1)} MB) in ${m.rounds} rounds: ${m.seconds.toFixed(1)} s, ${m.messagesPerSecond} messages/s, ${m.mbPerSecond} MB/s; frozen ${m.freezeMs} ms (goal under 2000${m.freezePhasesMs ? `; final round ${m.freezePhasesMs.finalRound}, install ${m.freezePhasesMs.install}, verify ${m.freezePhasesMs.verify}` : ''}); identical ${m.identical}`);
}
if (process.env.BENCH_ONLY === 'move') {
  const date = new Date().toISOString();
  const out = resultFile(date);
  writeFileSync(out, JSON.stringify({ bench: 'cluster', date, host: { cpus: os.cpus().length, loadavg: os.loadavg() }, params: { moveMessages: MOVE_MESSAGES }, accountMove }, null, 2) + '\n');
  console.log(`load average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; written to ${path.relative(ROOT, out)}`);
  process.exit(0);
}

const work = mkdtempSync(path.join(os.tmpdir(), 'roost-bench-cluster-'));
const dataDir = path.join(work, 'node');
mkdirSync(dataDir);
let node = null;
let nginx = null;
try {
  const corpusBytes = await populate(dataDir);
  node = await startNode(dataDir);
  const imapPort = await freePort();
  const pop3Port = await freePort();
  nginx = await startNginx(
    [
      '  server_name bench.roost.invalid;',
      `  auth_http 127.0.0.1:${node.ports.proxyAuth}/auth;`,
      `  auth_http_header X-Roost-Secret "${SECRET}";`,
      '  proxy_pass_error_message on;',
      '  imap_auth login plain;',
      '  pop3_auth plain;',
      `  proxy_buffer ${PROXY_BUFFER};`,
      `  server { listen 127.0.0.1:${imapPort}; protocol imap; proxy_protocol on; }`,
      `  server { listen 127.0.0.1:${pop3Port}; protocol pop3; proxy_protocol on; }`,
    ].join('\n'),
    [imapPort, pop3Port],
  );
  const targets = {
    direct: { imap: node.ports.imap, pop3: node.ports.pop3 },
    nginx: { imap: imapPort, pop3: pop3Port },
  };
  const portFor = (target, workload) => targets[target][workload.startsWith('imap') ? 'imap' : 'pop3'];

  // Warm-up: the password check is remembered after the first success (LIMITS.auth.verifiedCache*), JIT, page cache.
  for (const w of Object.keys(WORKLOADS)) for (const t of Object.keys(targets)) for (let c = 0; c < CLIENTS; c++) await WORKLOADS[w](portFor(t, w), c);

  const rounds = [];
  for (let r = 0; r < ROUNDS; r++) {
    const order = r % 2 === 0 ? ['direct', 'nginx'] : ['nginx', 'direct'];
    const round = {};
    for (const w of Object.keys(WORKLOADS)) {
      round[w] = {};
      for (const t of order) {
        round[w][t] = await measure(WORKLOADS[w], portFor(t, w));
        process.stderr.write(`  round ${r + 1}/${ROUNDS} ${w.padEnd(12)} ${t.padEnd(6)} ${round[w][t].perSecond}/s ${round[w][t].mbPerSecond} MB/s\n`);
      }
    }
    rounds.push(round);
  }

  const summary = {};
  for (const w of Object.keys(WORKLOADS)) {
    const row = {};
    for (const t of Object.keys(targets)) {
      row[t] = {
        perSecond: median(rounds.map((x) => x[w][t].perSecond)),
        mbPerSecond: median(rounds.map((x) => x[w][t].mbPerSecond)),
        p50ms: median(rounds.map((x) => x[w][t].p50ms)),
        failed: rounds.reduce((n, x) => n + x[w][t].failed, 0),
      };
    }
    // Within a round the two targets ran back to back, so each round's ratio is the least disturbed by load drift.
    const overheads = rounds.map((x) => 100 * (1 - x[w].nginx.perSecond / x[w].direct.perSecond));
    row.overheadPercent = Number(median(overheads).toFixed(1));
    row.overheadRange = [Number(Math.min(...overheads).toFixed(1)), Number(Math.max(...overheads).toFixed(1))];
    summary[w] = row;
  }

  const retr = { direct: await retrLatency(targets.direct.pop3), nginx: await retrLatency(targets.nginx.pop3) };

  const pad = (v, n) => String(v).padStart(n);
  console.log(`\n${CLIENTS} clients, ${SECONDS} s per row, nginx proxy_buffer ${PROXY_BUFFER}, median of ${ROUNDS} alternating rounds; an account each, INBOX ${MESSAGES} messages, ${(corpusBytes / 1e6).toFixed(2)} MB`);
  console.log(`${'workload'.padEnd(13)}${pad('direct/s', 10)}${pad('nginx/s', 10)}${pad('direct MB/s', 12)}${pad('nginx MB/s', 12)}${pad('p50 direct', 12)}${pad('p50 nginx', 11)}${pad('overhead', 10)}${pad('range', 16)}${pad('failed', 8)}`);
  for (const [w, row] of Object.entries(summary)) {
    console.log(
      `${w.padEnd(13)}${pad(row.direct.perSecond, 10)}${pad(row.nginx.perSecond, 10)}${pad(row.direct.mbPerSecond, 12)}${pad(row.nginx.mbPerSecond, 12)}${pad(row.direct.p50ms, 12)}${pad(row.nginx.p50ms, 11)}${pad(`${row.overheadPercent}%`, 10)}${pad(`${row.overheadRange[0]}…${row.overheadRange[1]}%`, 16)}${pad(row.direct.failed + row.nginx.failed, 8)}`,
    );
  }

  console.log('\nPOP3 RETR, one client, p50 by message size (messages):');
  for (const k of Object.keys(retr.direct)) console.log(`  ${k.padEnd(12)} direct ${pad(retr.direct[k].p50ms, 7)} ms   nginx ${pad(retr.nginx[k].p50ms, 7)} ms   (${retr.direct[k].messages})`);

  const result = {
    bench: 'cluster',
    date: new Date().toISOString(),
    host: { cpus: os.cpus().length, loadavg: os.loadavg() },
    params: { seconds: SECONDS, rounds: ROUNDS, clients: CLIENTS, messages: MESSAGES, corpusBytes, nginxWorkers: 1, proxyBuffer: PROXY_BUFFER, moveMessages: MOVE_MESSAGES },
    summary,
    retrLatency: retr,
    accountMove,
    rounds,
  };
  const out = resultFile(result.date);
  writeFileSync(out, JSON.stringify(result, null, 2) + '\n');
  console.log(`\nload average at the end: ${os.loadavg().map((x) => x.toFixed(1)).join(' ')}; written to ${path.relative(ROOT, out)}`);
} finally {
  await nginx?.stop();
  if (node) {
    node.child.kill('SIGTERM');
    await new Promise((r) => (node.child.exitCode !== null ? r() : node.child.once('exit', r)));
  }
  rmSync(work, { recursive: true, force: true });
}
// Done: the nodes and nginx are stopped above; a client socket or timer left open must not keep the process waiting.
process.exit(0);
