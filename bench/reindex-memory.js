#!/usr/bin/env node
// Does an in-node index rebuild give its memory back? (issue 15 §1: "reindex,
// import, snapshot and recovery run in bounded memory and return it".)
//
// A real `roost serve` from dist/ in its own process; one folder (INBOX) of
// --count messages (default 100,000: hard links of one small file per
// 10,000) with no index; then, measured as an operator would from outside
// (/proc/PID/status VmRSS, no forced GC):
//
//   1. first login + SELECT: the missing index is rebuilt at the first open,
//      then LOGOUT;
//   2. `roost reindex ADDRESS` through the node's control socket (the node
//      rebuilds in slices), --rounds times (default 2).
//
// For each: RSS before, the peak (sampled every 100 ms) and after, once the
// node's background work (facts fill, full-text catch-up, packing) is done —
// "settled" means it used under 2 % of a CPU for --quiet s in a row (default 20; at most
// --settle-max seconds) — plus V8 heap used/total and external from the
// node's /metrics (prom-client) and Anonymous/RssFile from smaps_rollup.
//
//   npm run build && node bench/reindex-memory.js [--count 300000] [--rounds 2]
//     [--env MALLOC_ARENA_MAX=2] [--heapsnapshot] [--settle-max 900] [--quiet 20] [--no-first-open]
//     [--malloc-trim-probe]
//
// --heapsnapshot starts the node with --heapsnapshot-signal=SIGUSR2 and takes
// one snapshot after each step (largest self sizes by constructor printed);
// taking one forces a full GC and grows the node's RSS by itself, so the
// figures of a run with snapshots are for finding retainers only.
// Results: bench/results/reindex-memory-<ts>.json; the table on stdout.
import { spawn } from 'node:child_process';
import { linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync, existsSync } from 'node:fs';
import http from 'node:http';
import os from 'node:os';
import path from 'node:path';
import { ROOT, BIN, spawnRoost, writeBenchConfig } from './lib/node.js';
import { summarise } from './lib/heap.js';
import { Raw } from './lib/imap.js';

function arg(name, dflt) {
  const i = process.argv.indexOf(`--${name}`);
  if (i < 0) return dflt;
  const v = process.argv[i + 1];
  return v === undefined || v.startsWith('--') ? true : v;
}
const COUNT = Number(arg('count', 100_000));
const ROUNDS = Number(arg('rounds', 2));
const SETTLE_MAX_S = Number(arg('settle-max', 600));
/** Seconds in a row under 2 % of a CPU that count as settled. */
const QUIET_S = Number(arg('quiet', 20));
const SNAPSHOTS = arg('heapsnapshot', false) === true;
const BODY_BYTES = Number(arg('body-bytes', 2000));
/** --no-first-open: the index is built by `roost reindex` without a node before it starts (the in-node reindex rounds only). */
const FIRST_OPEN = !process.argv.includes('--no-first-open');
/**
 * --malloc-trim-probe: after each step, gdb(1) calls glibc's malloc_trim(0)
 * in the node and the RSS is read again — how much of what is kept is free
 * memory glibc holds (Node cannot call malloc_trim itself). Diagnosis only.
 */
const TRIM_PROBE = process.argv.includes('--malloc-trim-probe');
const extraEnv = Object.fromEntries(
  process.argv.flatMap((a, i) => (a === '--env' ? [process.argv[i + 1].split('=')] : [])).map(([k, ...v]) => [k, v.join('=')]),
);
if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const USER = 'big@example.org';
const PASS = 'big-password';
const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'roost-bench-rss-'));
const dataDir = path.join(work, 'data');
mkdirSync(dataDir);
const cfg = writeBenchConfig(
  dataDir,
  [
    '[log]\nlevel = "warn"',
    '[imap]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
    '[pop3]\nlisten = ""\ntls_listen = ""',
    '[qmqp]\nlisten = ""',
    '[lmtp]\nlisten = ""',
    '[admin]\nlisten = "127.0.0.1:0"',
    '[auth]\nallow_plaintext = "loopback"',
    '[replication]\nlisten = ""',
  ],
  path.join(work, 'roost.toml'),
);

function run(args, stdin = '') {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--config', cfg], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout: out, stderr: err }));
    child.stdin.end(stdin);
  });
}

function populate(maildir, n) {
  for (const sub of ['new', 'cur', 'tmp']) mkdirSync(path.join(maildir, sub), { recursive: true });
  const tpl = path.join(maildir, 'template');
  let size = 0;
  for (let i = 0; i < n; i++) {
    // A new inode every 10,000 links (ext4 allows 65,000 names per file).
    if (i % 10_000 === 0) {
      rmSync(tpl, { force: true });
      const head = `From: Sender ${i} <s${i}@example.net>\r\nTo: ${USER}\r\nSubject: bulk message ${i}\r\nMessage-ID: <${i}@bench>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n`;
      writeFileSync(tpl, head + `Body line of a bulk message number ${i}.\r\n`.repeat(Math.max(1, Math.ceil((BODY_BYTES - head.length) / 40))));
      size = statSync(tpl).size;
    }
    linkSync(tpl, path.join(maildir, 'cur', `${1_700_000_000 + Math.floor(i / 1000)}.M${i}P1Q${i}.gen,S=${size},W=${size}:2,S`));
  }
  rmSync(tpl, { force: true });
}

const KB = (re, text) => Number(re.exec(text)?.[1] ?? NaN) / 1024;
const round = (x) => Math.round(x * 10) / 10;
const rssMB = (pid) => KB(/VmRSS:\s+(\d+) kB/, readFileSync(`/proc/${pid}/status`, 'utf8'));
function smaps(pid) {
  const t = readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8');
  return { anonMB: round(KB(/Anonymous:\s+(\d+) kB/, t)), fileMB: round(KB(/^Rss:\s+(\d+) kB/m, t) - KB(/Anonymous:\s+(\d+) kB/, t)) };
}
/** utime + stime of the process, in seconds. */
function cpuSeconds(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) / 100;
}

function metrics(port) {
  return new Promise((resolve) => {
    http
      .get({ host: '127.0.0.1', port, path: '/metrics' }, (res) => {
        let body = '';
        res.on('data', (d) => (body += d));
        res.on('end', () => {
          const g = (name) => Number(new RegExp(`^${name} (\\S+)`, 'm').exec(body)?.[1] ?? NaN) / 1048576;
          resolve({ heapUsedMB: round(g('nodejs_heap_size_used_bytes')), heapTotalMB: round(g('nodejs_heap_size_total_bytes')), externalMB: round(g('nodejs_external_memory_bytes')) });
        });
      })
      .on('error', () => resolve({}));
  });
}

/** Wait until the node used < 2 % of a CPU for QUIET_S s in a row (background work done), at most SETTLE_MAX_S. */
async function settle(pid) {
  const t0 = Date.now();
  let quiet = 0;
  let last = cpuSeconds(pid);
  while (Date.now() - t0 < SETTLE_MAX_S * 1000) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = cpuSeconds(pid);
    quiet = now - last < 0.02 ? quiet + 1 : 0;
    last = now;
    if (quiet >= QUIET_S) return Math.round((Date.now() - t0) / 1000);
  }
  return -Math.round((Date.now() - t0) / 1000);
}


async function heapSnapshot(pid, label) {
  if (!SNAPSHOTS) return undefined;
  const seen = new Set(readdirSync(work).filter((n) => n.endsWith('.heapsnapshot')));
  process.kill(pid, 'SIGUSR2');
  for (let i = 0; i < 600; i++) {
    await new Promise((r) => setTimeout(r, 500));
    const fresh = readdirSync(work).find((n) => n.endsWith('.heapsnapshot') && !seen.has(n));
    // Written once its size stops changing.
    if (fresh) {
      const a = statSync(path.join(work, fresh)).size;
      await new Promise((r) => setTimeout(r, 1000));
      if (statSync(path.join(work, fresh)).size === a && a > 0) {
        const top = summarise(path.join(work, fresh), 8);
        process.stderr.write(`  heap snapshot after ${label}: ${top.join('; ')}\n`);
        // BENCH_KEEP_SNAPSHOTS=DIR keeps them there (for a retainers view in DevTools).
        if (process.env.BENCH_KEEP_SNAPSHOTS) renameSync(path.join(work, fresh), path.join(process.env.BENCH_KEEP_SNAPSHOTS, `${label.replace(/\W+/g, '-')}.heapsnapshot`));
        else rmSync(path.join(work, fresh));
        return top;
      }
    }
  }
  return undefined;
}

function startNode() {
  const nodeArgs = SNAPSHOTS ? ['--heapsnapshot-signal=SIGUSR2'] : [];
  // Up to 10 minutes: a node opening a journal of 300,000 fresh records on a loaded machine is slow to listen.
  return spawnRoost(dataDir, cfg, { stdio: ['ignore', 'ignore', 'inherit'], nodeArgs, timeoutMs: 600_000, cwd: work, env: { ...process.env, ...extraEnv, ROOST_CONFIG: '' } });
}

const rows = [];
async function step(node, label, action) {
  const pid = node.child.pid;
  const before = { rssMB: round(rssMB(pid)), ...(await metrics(node.ports.admin)), ...smaps(pid) };
  let peak = before.rssMB;
  const cpu0 = cpuSeconds(pid);
  const sampler = setInterval(() => (peak = Math.max(peak, rssMB(pid))), 100);
  const t0 = performance.now();
  await action();
  const seconds = round((performance.now() - t0) / 1000);
  const settleS = await settle(pid);
  clearInterval(sampler);
  const after = { rssMB: round(rssMB(pid)), ...(await metrics(node.ports.admin)), ...smaps(pid) };
  const nodeCpuS = round(cpuSeconds(pid) - cpu0);
  const r = { step: label, seconds, settleS, nodeCpuS, rssBeforeMB: before.rssMB, rssPeakMB: round(Math.max(peak, after.rssMB)), rssAfterMB: after.rssMB, before, after, loadavg: readFileSync('/proc/loadavg', 'utf8').trim() };
  r.heapTop = await heapSnapshot(pid, label);
  if (TRIM_PROBE) {
    await new Promise((resolve) => spawn('gdb', ['-p', String(pid), '-batch', '-ex', 'call (int)malloc_trim(0)'], { stdio: 'ignore' }).on('close', resolve));
    r.rssAfterMallocTrimMB = round(rssMB(pid));
    process.stderr.write(`  after malloc_trim(0) from gdb: RSS ${r.rssAfterMallocTrimMB} MB\n`);
  }
  rows.push(r);
  process.stderr.write(`  ${label}: ${seconds} s (+${settleS} s to settle, node CPU ${nodeCpuS} s); RSS ${r.rssBeforeMB} / ${r.rssPeakMB} / ${r.rssAfterMB} MB; heap used ${before.heapUsedMB} → ${after.heapUsedMB} MB; anon ${before.anonMB} → ${after.anonMB} MB; load ${r.loadavg}\n`);
}

let node = null;
try {
  if ((await run(['user', 'add', USER, '--password-stdin'], `${PASS}\n`)).code !== 0) throw new Error('user add failed');
  const shown = await run(['user', 'show', USER]);
  const maildir = /^maildir:\s+(\S+)/m.exec(shown.stdout)?.[1];
  if (!maildir) throw new Error(`no maildir in: ${shown.stdout}`);
  process.stderr.write(`writing ${COUNT} messages into ${maildir}…\n`);
  populate(maildir, COUNT);
  if (!FIRST_OPEN) {
    process.stderr.write('indexing it with roost reindex (no node)…\n');
    const r = await run(['reindex', USER]);
    if (r.code !== 0) throw new Error(`reindex failed: ${r.stderr}`);
  }
  node = await startNode();
  await new Promise((r) => setTimeout(r, 2000));
  const pid = node.child.pid;
  await settle(pid);
  rows.push({ step: 'node started, settled', rssAfterMB: round(rssMB(pid)), after: { rssMB: round(rssMB(pid)), ...(await metrics(node.ports.admin)), ...smaps(pid) }, loadavg: readFileSync('/proc/loadavg', 'utf8').trim() });
  if (FIRST_OPEN) await step(node, `first login + SELECT (${COUNT} indexed at first open), LOGOUT`, async () => {
    const c = await Raw.connect(node.ports.imap);
    await c.wait(/^\* OK/);
    await c.cmd(`LOGIN ${USER} ${PASS}`);
    await c.cmd('SELECT INBOX');
    await c.cmd('LOGOUT').catch(() => undefined);
    c.s.destroy();
  });
  for (let i = 1; i <= ROUNDS; i++) {
    await step(node, `roost reindex in the node, round ${i}`, async () => {
      const r = await run(['reindex', USER]);
      if (r.code !== 0) throw new Error(`reindex failed: ${r.stderr}`);
    });
  }
} catch (err) {
  process.stderr.write(`bench failed: ${err?.stack ?? err}\n`);
  process.exitCode = 1;
} finally {
  if (node) {
    node.child.kill('SIGTERM');
    await new Promise((r) => (node.child.exitCode !== null ? r() : node.child.once('exit', r)));
  }
  rmSync(work, { recursive: true, force: true, maxRetries: 5 });
}

const stamp = new Date().toISOString().replace(/[:.]/g, '-');
mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
const out = path.join(ROOT, 'bench', 'results', `reindex-memory-${stamp}.json`);
writeFileSync(out, JSON.stringify({ at: new Date().toISOString(), node: process.version, count: COUNT, quietS: QUIET_S, snapshots: SNAPSHOTS, bodyBytes: BODY_BYTES, env: extraEnv, cpus: os.cpus().length, rows }, null, 2));
console.log(`\n${COUNT} messages in one folder, Node ${process.version}, env ${JSON.stringify(extraEnv)}\n`);
console.log('| step | s | settle s | node CPU s | RSS before / peak / after MB | heap used before → after MB | anon before → after MB | load |');
console.log('|---|---:|---:|---:|---:|---:|---:|---|');
for (const r of rows.slice(1)) console.log(`| ${r.step} | ${r.seconds} | ${r.settleS} | ${r.nodeCpuS} | ${r.rssBeforeMB} / ${r.rssPeakMB} / ${r.rssAfterMB} | ${r.before.heapUsedMB} → ${r.after.heapUsedMB} | ${r.before.anonMB} → ${r.after.anonMB} | ${r.loadavg} |`);
console.log(`\n(started and settled: RSS ${rows[0].rssAfterMB} MB, heap used ${rows[0].after.heapUsedMB} MB)\nJSON: ${path.relative(ROOT, out)}`);
