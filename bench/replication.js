#!/usr/bin/env node
// Replication costs and recovery times, two real nodes on loopback (built
// checkout, `npm run build` first):
//   1. QMQP ingest, 16 clients, 4 KB messages: no replica / async / sync
//      (goal: sync >= 70% of no-replica)
//   2. replica catch-up rate: N messages delivered while the replica is down,
//      then the time until it has applied them all (journal stream); then a
//      full resync of the same N: the replica's data directory emptied, so it
//      comes back as a new replica and is seeded by a snapshot (index images
//      and message files), timed until it follows the stream again
//   3. failover: SIGKILL the primary, `roost promote` on the replica, time
//      until the promoted node answers IMAP (goal: < 2 s after promote)
//
//   npm run bench:replication                       # 8 s per ingest row, 10,000 catch-up messages
//   BENCH_SECONDS=3 BENCH_CATCHUP=2000 npm run bench:replication
//
// Prints a table and writes bench/results/replication-<timestamp>.json.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { measureDeliveries, qmqpPacket, qmqpSend, spawnRoost, writeBenchConfig } from './lib/node.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'roost');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const CATCHUP = Number(process.env.BENCH_CATCHUP ?? 10_000);
const CLIENTS = 16;
// BENCH_PARTS=ingest runs only the ingest rows (A/B comparisons of the sync path).
const PARTS = new Set((process.env.BENCH_PARTS ?? 'ingest,catchup').split(','));
const SIZE = 4 * 1024;
const WARMUP_MS = 500;

if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { openSqliteDirectory } = await import(path.join(ROOT, 'dist', 'accounts', 'sqlite.js'));
const { controlRequest } = await import(path.join(ROOT, 'dist', 'cli', 'control-client.js'));

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function makeMessage(size) {
  const head = 'From: Bench <bench@example.net>\nTo: user0@example.org\nSubject: replication benchmark\nMessage-Id: <bench@example.net>\n\n';
  const line = 'The quick brown fox jumps over the lazy dog while the replica acks.\n';
  let body = '';
  while (head.length + body.length < size) body += line;
  return Buffer.from((head + body).slice(0, size - 1) + '\n', 'latin1');
}

const PACKET = qmqpPacket(makeMessage(SIZE), 'bench@example.net', ['user0@example.org']);

const deliverOnce = (port) => qmqpSend(port, PACKET);

async function freePort() {
  const s = net.createServer();
  await new Promise((r) => s.listen(0, '127.0.0.1', r));
  const { port } = s.address();
  await new Promise((r) => s.close(r));
  return port;
}

function makeDir(name) {
  const dataDir = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), `roost-bench-repl-${name}-`));
  return dataDir;
}

async function addUsers(dataDir) {
  const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  await dir.addUser({ address: 'user0@example.org' });
  await dir.close();
}

function writeConfig(dataDir, repl) {
  const cfg = writeBenchConfig(
    dataDir,
    [
      '[log]\nlevel = "warn"',
      '[imap]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
      '[pop3]\nlisten = ""\ntls_listen = ""',
      '[qmqp]\nlisten = "127.0.0.1:0"\nmax_connections = 1000',
      '[lmtp]\nlisten = ""',
      '[admin]\nlisten = "127.0.0.1:0"',
      repl
        ? `[replication]\nrole = "${repl.role}"\nlisten = "127.0.0.1:${repl.own}"\npeer = "127.0.0.1:${repl.peer}"\nsecret = "bench-replication-secret-0123456789abcdef"\nack = "${repl.ack}"\nsync_timeout_ms = 10000`
        : '[replication]\nlisten = ""',
    ],
  );
  return cfg;
}

// BENCH_NODE_ARGS="--cpu-prof --cpu-prof-dir=/tmp/prof": Node flags for every spawned node (profiling).
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(' ').filter(Boolean);
// BENCH_PIN=1: "two machines" on one — the primary (or the lone node) and this load generator on
// CPU 0, the replica on CPU 1, so the replica's work does not take the primary's CPU time. Needs
// taskset(1) and 2 CPUs. Without it all processes share all CPUs (the default, and what one box is).
const PIN = process.env.BENCH_PIN === '1' && os.cpus().length >= 2;
if (PIN) spawnSync('taskset', ['-pc', '0', String(process.pid)], { stdio: 'ignore' });

async function startNode(dataDir, cfg, cpus = null) {
  const { child, ports } = await spawnRoost(dataDir, cfg, { stdio: ['ignore', 'ignore', 'inherit'], timeoutMs: 20_000, nodeArgs: NODE_ARGS, cpus: PIN ? cpus : null });
  return { child, ports, dataDir };
}

async function stopNode(n, signal = 'SIGTERM') {
  if (n.child.exitCode !== null || n.child.signalCode !== null) return;
  const exited = new Promise((r) => n.child.on('exit', r));
  n.child.kill(signal);
  await exited;
}

async function status(dataDir) {
  const r = await controlRequest(path.join(dataDir, 'control.sock'), 'status');
  if (!r.ok) throw new Error(r.error.message);
  return r.result;
}

async function waitFor(what, check, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    await sleep(20);
  }
  throw new Error(`timed out: ${what}`);
}

/** Busy share of all CPUs between two readings of /proc/stat (null where there is none). */
function cpuTimes() {
  try {
    const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { idle: f[3] + f[4], total: f.reduce((a, b) => a + b, 0) };
  } catch {
    return null;
  }
}

async function ingest(port) {
  const c0 = cpuTimes();
  const { delivered, failed, perSecond, p50ms, p99ms } = await measureDeliveries({ port, pkt: PACKET, concurrency: CLIENTS, seconds: SECONDS, warmupMs: WARMUP_MS });
  const c1 = cpuTimes();
  const cpuBusy = c0 && c1 ? Number((100 * (1 - (c1.idle - c0.idle) / (c1.total - c0.total))).toFixed(0)) : null;
  return { delivered, failed, perSecond, p50ms, p99ms, cpuBusy };
}

async function pair(ack) {
  const [pa, pb] = [await freePort(), await freePort()];
  const da = makeDir('a');
  const db = makeDir('b');
  await addUsers(da);
  await addUsers(db);
  const ca = writeConfig(da, { role: 'primary', own: pa, peer: pb, ack });
  const cb = writeConfig(db, { role: 'replica', own: pb, peer: pa, ack });
  const [a, b] = await Promise.all([startNode(da, ca, '0'), startNode(db, cb, '1')]);
  await waitFor('replica connected', async () => (await status(db)).replication.connected);
  return { a, b, ca, cb };
}

async function cleanup(...nodes) {
  for (const n of nodes) {
    await stopNode(n, NODE_ARGS.length > 0 ? 'SIGTERM' : 'SIGKILL');
    rmSync(n.dataDir, { recursive: true, force: true });
  }
}

const results = { ingest: [], catchup: null, fullResync: null, failover: null, loadAverage: { start: os.loadavg() } };

// 1. Ingest without a replica, async, sync.
{
  const d = makeDir('solo');
  await addUsers(d);
  const n = await startNode(d, writeConfig(d, null), '0');
  results.ingest.push({ mode: 'no replica', ...(await ingest(n.ports.qmqp)) });
  await cleanup(n);
}
for (const ack of ['async', 'sync']) {
  const p = await pair(ack);
  const row = await ingest(p.a.ports.qmqp);
  await waitFor('replica caught up', async () => (await status(p.b.dataDir)).replication.lag.records === 0);
  results.ingest.push({ mode: ack, ...row });
  await cleanup(p.a, p.b);
}
for (const r of results.ingest) process.stderr.write(`  ${JSON.stringify(r)}\n`);

// 2. Catch-up: replica down while CATCHUP messages arrive (async), then restarted.
if (PARTS.has('catchup')) {
  const p = await pair('async');
  await stopNode(p.b);
  let sent = 0;
  const worker = async () => {
    while (sent < CATCHUP) {
      sent++;
      if ((await deliverOnce(p.a.ports.qmqp)) !== 'K') throw new Error('delivery refused');
    }
  };
  await Promise.all(Array.from({ length: CLIENTS }, worker));
  const target = BigInt((await status(p.a.dataDir)).replication.lastLsn);
  const t0 = Date.now();
  p.b = await startNode(p.b.dataDir, p.cb, '1');
  await waitFor('catch-up', async () => BigInt((await status(p.b.dataDir)).replication.appliedLsn) >= target, 600_000);
  const seconds = (Date.now() - t0) / 1000;
  results.catchup = { messages: CATCHUP, seconds: Number(seconds.toFixed(2)), perSecond: Number((CATCHUP / seconds).toFixed(1)) };
  process.stderr.write(`  catch-up ${JSON.stringify(results.catchup)}\n`);

  // 2b. Full resync: the replica's store emptied (a new replica); the primary sends a snapshot.
  await stopNode(p.b);
  for (const f of ['journal.sqlite', 'journal.sqlite-wal', 'journal.sqlite-shm', 'index', 'mail', 'spool', 'replication-spool', 'replication.json']) {
    rmSync(path.join(p.b.dataDir, f), { recursive: true, force: true });
  }
  const r0 = Date.now();
  p.b = await startNode(p.b.dataDir, p.cb, '1');
  await waitFor(
    'full resync',
    async () => {
      const s = (await status(p.b.dataDir)).replication;
      return s.connected && s.snapshot === null && BigInt(s.appliedLsn) >= target;
    },
    900_000,
  );
  const rs = (Date.now() - r0) / 1000;
  results.fullResync = { messages: CATCHUP, seconds: Number(rs.toFixed(2)), perSecond: Number((CATCHUP / rs).toFixed(1)) };
  process.stderr.write(`  full resync ${JSON.stringify(results.fullResync)}\n`);

  // 3. Failover: SIGKILL the primary, promote the replica, time to IMAP greeting.
  const killedAt = Date.now();
  await stopNode(p.a, 'SIGKILL');
  const promoteAt = Date.now();
  const r = spawnSync(process.execPath, [BIN, 'promote', '--config', p.cb], { encoding: 'utf8', env: { ...process.env, ROOST_CONFIG: '' } });
  const promoteExit = Date.now();
  if (r.status !== 0) throw new Error(`promote failed: ${r.stderr}`);
  const imapPort = JSON.parse(readFileSync(path.join(p.b.dataDir, 'node.json'), 'utf8')).ports.imap;
  await new Promise((resolve, reject) => {
    const s = net.connect({ port: imapPort, host: '127.0.0.1' });
    s.once('data', (c) => {
      if (/^\* OK/.test(c.toString())) resolve();
      else reject(new Error(`IMAP said ${c}`));
      s.destroy();
    });
    s.once('error', reject);
  });
  const greeted = Date.now();
  results.failover = {
    promoteCommandMs: promoteExit - promoteAt,
    promoteToImapGreetingMs: greeted - promoteAt,
    killToImapGreetingMs: greeted - killedAt,
  };
  process.stderr.write(`  failover ${JSON.stringify(results.failover)}\n`);
  await cleanup(p.a, p.b);
}

const base = results.ingest[0].perSecond;
console.log(`\nRoost replication benchmark: QMQP ingest, ${CLIENTS} clients, ${SIZE / 1024} KB messages, ${SECONDS}s per row`);
console.log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}${PIN ? '; pinned: primary + load generator on CPU 0, replica on CPU 1' : '; all processes share all CPUs'}\n`);
console.log('mode          deliveries/s   p50 ms   p99 ms   failed   vs no replica   CPU busy');
for (const r of results.ingest) {
  console.log(
    `${r.mode.padEnd(12)}  ${r.perSecond.toFixed(1).padStart(12)}  ${r.p50ms.toFixed(2).padStart(7)}  ${r.p99ms.toFixed(2).padStart(7)}  ${String(r.failed).padStart(7)}   ${((100 * r.perSecond) / base).toFixed(0).padStart(11)}%   ${String(r.cpuBusy ?? '-').padStart(7)}%`,
  );
}
if (results.catchup) {
  console.log(`\ncatch-up: ${results.catchup.messages} messages applied in ${results.catchup.seconds}s (${results.catchup.perSecond} msgs/s)`);
console.log(`full resync (new replica seeded by a snapshot): ${results.fullResync.messages} messages in ${results.fullResync.seconds}s (${results.fullResync.perSecond} msgs/s)`);
console.log(
  `failover: promote command ${results.failover.promoteCommandMs} ms; promote → IMAP greeting ${results.failover.promoteToImapGreetingMs} ms; SIGKILL → IMAP greeting ${results.failover.killToImapGreetingMs} ms`,
);
}
results.loadAverage.end = os.loadavg();
console.log(`load average at start ${results.loadAverage.start.map((x) => x.toFixed(1)).join(' ')}, at end ${results.loadAverage.end.map((x) => x.toFixed(1)).join(' ')} (both nodes share this machine's CPUs and disk)`);

const outDir = path.join(ROOT, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const file = path.join(outDir, `replication-${stamp}.json`);
writeFileSync(file, `${JSON.stringify({ benchmark: 'replication', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, secondsPerRow: SECONDS, pinned: PIN, ...results }, null, 2)}\n`);
console.log(`\nsaved ${path.relative(ROOT, file)}`);
