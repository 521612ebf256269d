#!/usr/bin/env node
// Durable ingest: deliveries/s and MB/s over QMQP for 4 KB and 100 KB messages
// at 1 and 16 concurrent clients, 1 and 5 recipients, and over LMTP (RFC 2033:
// one kept connection per client, MAIL/RCPT/DATA pipelined, one 250 per
// recipient) for 4 KB messages at the same client and recipient counts. The node runs in its own
// process from the built checkout (`npm run build` first), exactly as
// `roost serve` runs; every K means file + directory fsync + index commit.
//
//   npm run bench:ingest                 # full table, ~8 s per row
//   BENCH_SECONDS=3 npm run bench:ingest # shorter rows
//
// Prints a table and writes bench/results/ingest-<timestamp>.json.
import { mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync, existsSync } from 'node:fs';
import { spawn } from 'node:child_process';
import http from 'node:http';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { lmtpConnection, measureDeliveries, qmqpPacket, spawnRoost, writeBenchConfig } from './lib/node.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SECONDS = Number(process.env.BENCH_SECONDS ?? 8);
const WARMUP_MS = 500;
const SIZES = [4 * 1024, 100 * 1024];
const CONCURRENCY = [1, 16];
const RECIPIENTS = [1, 5];
const LMTP_SIZES = [4 * 1024];

if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { openSqliteDirectory } = await import(path.join(ROOT, 'dist', 'accounts', 'sqlite.js'));

/** A realistic-looking LF message of exactly `size` bytes. */
function makeMessage(size) {
  const head = 'From: Bench <bench@example.net>\nTo: user@example.org\nSubject: ingest benchmark\nMessage-Id: <bench@example.net>\nDate: Tue, 24 Nov 2026 18:00:00 +0000\n\n';
  const line = 'The quick brown fox jumps over the lazy dog while the mail server fsyncs.\n';
  let body = '';
  while (head.length + body.length < size) body += line;
  return Buffer.from((head + body).slice(0, size - 1) + '\n', 'latin1');
}

function packet(message, recipients) {
  return qmqpPacket(message, 'bench@example.net', recipients);
}


/** Sum and count of the node's own delivery-latency histogram (lookup + fsyncs + index + replica wait). */
async function serverLatency(adminPort, via) {
  const text = await new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port: adminPort, path: '/metrics', agent: false }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve(Buffer.concat(chunks).toString()));
    }).on('error', reject);
  });
  const num = (re) => Number(re.exec(text)?.[1] ?? 0);
  return {
    sum: num(new RegExp(`^roost_delivery_duration_seconds_sum\\{result="K",via="${via}"\\} (\\S+)$`, 'm')),
    count: num(new RegExp(`^roost_delivery_duration_seconds_count\\{result="K",via="${via}"\\} (\\S+)$`, 'm')),
  };
}

/** CPU time (ms, user + system) the node process has used so far; null where /proc is missing. */
function nodeCpuMs(pid) {
  try {
    const f = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = f.slice(f.lastIndexOf(')') + 2).split(' ');
    // utime and stime are fields 14 and 15 of stat(5), in clock ticks (100 per second on Linux).
    return ((Number(fields[11]) + Number(fields[12])) * 1000) / 100;
  } catch {
    return null;
  }
}

// The hand-off rows: one local recipient plus one at another domain, handed to smtp-sink on loopback
// within the QMQP transaction (issue 14: a forwarded message's extra latency over a local one).
const SMTP_SINK = ['/usr/sbin/smtp-sink', '/usr/lib/postfix/sbin/smtp-sink'].find((p) => existsSync(p));
const REMOTE = 'far@remote.example.net';

async function runRow(protocol, port, size, concurrency, rcpts) {
  const recipients = protocol === 'qmqp+smarthost' ? ['user0@example.org', REMOTE] : Array.from({ length: rcpts }, (_, i) => `user${i}@example.org`);
  const message = makeMessage(size);
  const m =
    protocol !== 'lmtp'
      ? await measureDeliveries({ port, pkt: packet(message, recipients), concurrency, seconds: SECONDS, warmupMs: WARMUP_MS })
      : await measureDeliveries({ port, connect: () => lmtpConnection(port, 'bench@example.net', recipients, message), concurrency, seconds: SECONDS, warmupMs: WARMUP_MS });
  return {
    protocol,
    messageBytes: size,
    concurrency,
    recipients: rcpts,
    ...m,
    mbPerSecond: Number(((m.delivered * size) / m.seconds / 1e6).toFixed(2)),
  };
}

/** smtp-sink accepting everything on a free loopback port (null when Postfix's tools are missing). */
async function startSink() {
  if (!SMTP_SINK) return null;
  const port = await new Promise((resolve) => {
    const srv = net.createServer().listen(0, '127.0.0.1', () => {
      const p = srv.address().port;
      srv.close(() => resolve(p));
    });
  });
  const asRoot = process.getuid?.() === 0 ? ['-u', 'postfix'] : [];
  const child = spawn(SMTP_SINK, [...asRoot, '-c', `127.0.0.1:${port}`, '1000'], { stdio: 'ignore' });
  for (let i = 0; i < 100; i++) {
    const up = await new Promise((resolve) => {
      const c = net.connect(port, '127.0.0.1', () => (c.destroy(), resolve(true)));
      c.on('error', () => resolve(false));
    });
    if (up) return { child, port };
    await new Promise((r) => setTimeout(r, 50));
  }
  child.kill('SIGKILL');
  return null;
}

async function startNode(dataDir, sinkPort) {
  const cfg = writeBenchConfig(
    dataDir,
    [
      '[log]\nlevel = "warn"',
      '[imap]\nlisten = ""\ntls_listen = ""',
      '[pop3]\nlisten = ""\ntls_listen = ""',
      '[qmqp]\nlisten = "127.0.0.1:0"\nmax_connections = 1000',
      '[lmtp]\nlisten = "127.0.0.1:0"\nmax_connections = 1000',
      '[admin]\nlisten = "127.0.0.1:0"',
      '[replication]\nlisten = ""',
      ...(sinkPort ? [`[outbound]\nsmarthosts = ["127.0.0.1:${sinkPort}"]\nlocal_domains = ["example.org"]\nstarttls = "off"`] : []),
    ],
  );
  const { child, ports } = await spawnRoost(dataDir, cfg);
  return { child, ports: { qmqp: ports.qmqp, lmtp: ports.lmtp }, adminPort: ports.admin };
}

const dataDir = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'roost-bench-'));
const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
for (let i = 0; i < Math.max(...RECIPIENTS); i++) await dir.addUser({ address: `user${i}@example.org` });
await dir.close();

const sink = await startSink();
if (!sink) console.error('smtp-sink not found (Debian package postfix): the smarthost hand-off rows are left out');
const { child, ports: nodePorts, adminPort } = await startNode(dataDir, sink?.port);
const ports = { ...nodePorts, 'qmqp+smarthost': nodePorts.qmqp };
const rows = [];
const plan = [
  ...SIZES.flatMap((size) => CONCURRENCY.flatMap((c) => RECIPIENTS.map((r) => ['qmqp', size, c, r]))),
  ...LMTP_SIZES.flatMap((size) => CONCURRENCY.flatMap((c) => RECIPIENTS.map((r) => ['lmtp', size, c, r]))),
  // Beside the 2-recipient local figure it compares with: the same message to 2 local recipients.
  ...(sink ? CONCURRENCY.flatMap((c) => [['qmqp', 4 * 1024, c, 2], ['qmqp+smarthost', 4 * 1024, c, 2]]) : []),
];
try {
  for (const [protocol, size, concurrency, rcpts] of plan) {
        const via = protocol === 'lmtp' ? 'lmtp' : 'qmqp';
        const before = await serverLatency(adminPort, via);
        const cpu0 = nodeCpuMs(child.pid);
        const row = await runRow(protocol, ports[protocol], size, concurrency, rcpts);
        const cpu1 = nodeCpuMs(child.pid);
        const after = await serverLatency(adminPort, via);
        // LMTP counts one verdict per recipient; a delivery here is one message.
        const delivered = Math.max(1, (after.count - before.count) / (protocol === 'lmtp' ? rcpts : 1));
        // CPU the node spent per delivery (warm-up included): what bounds throughput once fsyncs are batched.
        row.nodeCpuMsPerDelivery = cpu0 === null || cpu1 === null ? null : Number(((cpu1 - cpu0) / delivered).toFixed(2));
        // Mean time inside the node from end of input to verdict (includes the warm-up deliveries).
        row.serverMeanMs = Number((((after.sum - before.sum) / Math.max(1, after.count - before.count)) * 1000).toFixed(2));
        rows.push(row);
        process.stderr.write(`  ${JSON.stringify(row)}\n`);
  }
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => child.on('exit', r));
  sink?.child.kill('SIGTERM');
  rmSync(dataDir, { recursive: true, force: true });
}

const header = ['protocol', 'size', 'clients', 'rcpts', 'deliveries/s', 'MB/s', 'p50 ms', 'p99 ms', 'in-node ms', 'node CPU ms', 'failed'];
const table = rows.map((r) => [
  r.protocol.toUpperCase(),
  r.messageBytes >= 1024 ? `${r.messageBytes / 1024} KB` : `${r.messageBytes} B`,
  String(r.concurrency),
  String(r.recipients),
  r.perSecond.toFixed(1),
  r.mbPerSecond.toFixed(2),
  r.p50ms.toFixed(2),
  r.p99ms.toFixed(2),
  r.serverMeanMs.toFixed(2),
  r.nodeCpuMsPerDelivery === null ? '-' : r.nodeCpuMsPerDelivery.toFixed(2),
  String(r.failed),
]);
const widths = header.map((h, i) => Math.max(h.length, ...table.map((row) => row[i].length)));
const fmt = (cells) => cells.map((c, i) => c.padStart(widths[i])).join('  ');
console.log(`\nRoost ingest over QMQP and LMTP (durable: fsync file + dir + index before K / each 250), ${SECONDS}s per row`);
console.log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}, data in ${path.dirname(dataDir)}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
console.log('QMQP: one connection per message; LMTP: one kept connection per client, a transaction per message;');
console.log('QMQP+SMARTHOST: 1 local + 1 remote recipient, K after smtp-sink on loopback said 250 (compare the 2-recipient QMQP row);');
console.log('p50/p99: client round trip (QMQP incl. connect); in-node: mean time from end of input to verdict;');
console.log('node CPU: CPU time of the node process per delivery (user + system)\n');
console.log(fmt(header));
for (const row of table) console.log(fmt(row));

const outDir = path.join(ROOT, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const file = path.join(outDir, `ingest-${stamp}.json`);
writeFileSync(
  file,
  `${JSON.stringify({ benchmark: 'ingest', date: new Date().toISOString(), loadAverage: os.loadavg(), node: process.version, cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, secondsPerRow: SECONDS, rows }, null, 2)}\n`,
);
console.log(`\nsaved ${path.relative(ROOT, file)}`);
