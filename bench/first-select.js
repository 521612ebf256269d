#!/usr/bin/env node
// First open of a Maildir that has no index yet (issue 16 §4): a Maildir
// dropped into an account's place (restored from backup, pointed at with
// mail_dir, written by another tool), then `roost serve` and one client that
// logs in and SELECTs INBOX. Timed: LOGIN, the first SELECT (the index is
// built inside it), a second SELECT, and a SELECT after a restart (indexed,
// cold process). Each size of BENCH_SIZES runs in three shapes of file name:
// Dovecot's (S= and W= in the name, with a dovecot-uidlist), with S= only,
// and bare qmail names (no sizes: nothing to read the size from but the file).
// The second SELECT and the SELECT after a restart also report the server's
// CPU time over the command (/proc, 10 ms ticks), steadier than wall time under load.
//
//   npm run build && npm run bench:first-select
//   BENCH_SIZES=10000,100000 BENCH_SHAPES=dovecot,bare npm run bench:first-select
//
// Files are hard links of one file per 10,000 messages. Results:
// bench/results/first-select-<ts>.json and bench/results/first-select.md (latest).
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { execFileSync, spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { ROOT, BIN, spawnRoost } from './lib/node.js';
import { Raw } from './lib/imap.js';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000').split(',').map(Number).filter((n) => n > 0);
const SHAPES = (process.env.BENCH_SHAPES ?? 'dovecot,size-only,bare').split(',').filter(Boolean);
const BODY_BYTES = Number(process.env.BENCH_BODY_BYTES ?? 4000);
// e.g. BENCH_NODE_ARGS=--cpu-prof,--cpu-prof-dir=/tmp/prof to profile the server (the restarted one too).
const NODE_ARGS = (process.env.BENCH_NODE_ARGS ?? '').split(',').filter(Boolean);
if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'roost-bench-first-select-'));
const dataDir = path.join(work, 'data');
const cfg = path.join(work, 'roost.toml');
writeFileSync(
  cfg,
  [
    `data_dir = ${JSON.stringify(dataDir)}`,
    'hostname = "bench.example.org"',
    '[log]',
    'level = "warn"',
    '[imap]',
    'listen = "127.0.0.1:0"',
    'tls_listen = ""',
    '[pop3]',
    'listen = ""',
    'tls_listen = ""',
    '[qmqp]',
    'listen = ""',
    '[lmtp]',
    'listen = ""',
    '[admin]',
    'listen = ""',
    '[replication]',
    'listen = ""',
    'ack = "async"',
    '',
  ].join('\n'),
);

function cli(args, stdin = '') {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args, '--config', cfg], { stdio: ['pipe', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`roost ${args.join(' ')}: exit ${code} ${err}`))));
    child.stdin.end(stdin);
  });
}

function message(i, bareLf) {
  const nl = bareLf ? '\n' : '\r\n';
  const head = `From: Sender ${i} <s${i}@example.net>${nl}To: bench@example.org${nl}Subject: bulk message ${i}${nl}Message-ID: <${i}@bench>${nl}Date: Tue, 24 Nov 2026 10:00:00 +0000${nl}${nl}`;
  return head + `Body of a bulk message.${nl}`.repeat(Math.max(1, Math.ceil((BODY_BYTES - head.length) / 25)));
}

/** n messages in cur/ of `maildir`, names in `shape`; returns bytes. */
function populate(maildir, n, shape) {
  for (const sub of ['new', 'cur', 'tmp']) mkdirSync(path.join(maildir, sub), { recursive: true });
  const tpl = path.join(maildir, 'template');
  const lines = [`3 V1700000000 N${2 * n + 2} G0123456789abcdef0123456789abcdef`];
  let bytes = 0;
  let size = 0;
  let vsize = 0;
  for (let i = 0; i < n; i++) {
    if (i % 10_000 === 0) {
      rmSync(tpl, { force: true });
      // Bare qmail names come from qmail-local, which writes LF line ends.
      const text = message(i, shape === 'bare');
      writeFileSync(tpl, text);
      size = readFileSync(tpl).length;
      vsize = Buffer.byteLength(text.replace(/\r?\n/g, '\r\n'));
    }
    const stem = `${1_700_000_000 + Math.floor(i / 1000)}.M${i}P1Q${i}.gen`;
    const base = shape === 'dovecot' ? `${stem},S=${size},W=${vsize}` : shape === 'size-only' ? `${stem},S=${size}` : stem;
    linkSync(tpl, path.join(maildir, 'cur', `${base}:2,S`));
    lines.push(`${2 * i + 2} :${base}:2,S`);
    bytes += size;
  }
  rmSync(tpl, { force: true });
  if (shape === 'dovecot') writeFileSync(path.join(maildir, 'dovecot-uidlist'), lines.join('\n') + '\n');
  return bytes;
}

/** CPU ms a process has used (user + system from /proc/<pid>/stat; ticks of 10 ms): the server's own work, whatever the load. */
function cpuMs(pid) {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
}

/** `p`, or a rejection when the server closes the connection first (a wait would never end). */
function orClosed(c, p) {
  return Promise.race([p, new Promise((_, reject) => c.s.once('close', () => reject(new Error('the server closed the connection'))))]);
}

async function session(port, addr) {
  const c = await Raw.connect(port);
  await orClosed(c, c.wait(/^\* OK/));
  const login = await orClosed(c, c.cmd(`LOGIN ${addr} pw`));
  return { c, loginMs: login.ms, cmd: (text, opts) => orClosed(c, c.cmd(text, opts)) };
}

const rows = [];
try {
  // One start on the empty data directory first: the first start walks data_dir to make
  // every mode private (src/config/file-modes.ts), which must not run beside the timed SELECT.
  const warm = await spawnRoost(dataDir, cfg, { nodeArgs: NODE_ARGS });
  warm.child.kill('SIGTERM');
  await new Promise((r) => warm.child.once('exit', r));
  for (const shape of SHAPES) {
    for (const n of SIZES) {
      const addr = `${shape}-${n}@example.org`;
      await cli(['user', 'add', addr, '--password-stdin'], 'pw\n');
      const maildir = path.join(dataDir, 'mail', 'example.org', `${shape}-${n}`, 'Maildir');
      process.stderr.write(`writing a ${n}-message Maildir (${shape} names)…\n`);
      populate(maildir, n, shape);
      let node = await spawnRoost(dataDir, cfg, { nodeArgs: NODE_ARGS });
      const row = { shape, messages: n };
      const t0 = performance.now();
      try {
        const { c, loginMs, cmd } = await session(node.ports.imap, addr);
        row.loginMs = Math.round(loginMs);
        const first = await cmd('SELECT INBOX', { keep: true });
        row.firstSelectMs = Math.round(first.ms);
        row.firstOpenMs = Math.round(loginMs + first.ms);
        const exists = first.lines.find((l) => / EXISTS$/.test(l));
        if (exists !== `* ${n} EXISTS`) throw new Error(`first SELECT said ${exists}`);
        const at = cpuMs(node.child.pid);
        row.secondSelectMs = Math.round((await cmd('SELECT INBOX')).ms * 10) / 10;
        row.secondSelectCpuMs = cpuMs(node.child.pid) - at;
        // One RFC822.SIZE of a message whose size the first SELECT did not read (exact, CRLF).
        row.fetchSizeMs = Math.round((await cmd(`FETCH ${n} RFC822.SIZE`)).ms * 10) / 10;
        c.close();
      } catch (err) {
        // Kept as a row: e.g. a first open inside LOGIN that outlasts the pre-login autologout.
        row.error = `${err.message} after ${Math.round(performance.now() - t0)} ms`;
      } finally {
        node.child.kill('SIGTERM');
        await new Promise((r) => node.child.once('exit', r));
      }
      if (row.error) {
        rows.push(row);
        process.stderr.write(`  ${JSON.stringify(row)}\n`);
        rmSync(path.dirname(maildir), { recursive: true, force: true });
        continue;
      }
      node = await spawnRoost(dataDir, cfg, { nodeArgs: NODE_ARGS });
      try {
        const { c, cmd } = await session(node.ports.imap, addr);
        const at = cpuMs(node.child.pid);
        row.selectAfterRestartMs = Math.round((await cmd('SELECT INBOX')).ms * 10) / 10;
        row.selectAfterRestartCpuMs = cpuMs(node.child.pid) - at;
        c.close();
      } finally {
        node.child.kill('SIGTERM');
        await new Promise((r) => node.child.once('exit', r));
      }
      rows.push(row);
      process.stderr.write(`  ${JSON.stringify(row)}\n`);
      rmSync(path.dirname(maildir), { recursive: true, force: true });
    }
  }
} finally {
  if (rows.length > 0) save();
  rmSync(work, { recursive: true, force: true });
}

function save() {
  const outDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  let branch = '';
  try {
    branch = execFileSync('git', ['-C', ROOT, 'describe', '--always', '--dirty'], { encoding: 'utf8' }).trim();
  } catch {
    // Not a git checkout (an exported tree).
  }
  const result = { benchmark: 'first-select', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: load, bodyBytes: BODY_BYTES, checkout: branch, rows };
  writeFileSync(path.join(outDir, `first-select-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  const table = [
    '| file names | messages | LOGIN ms | first SELECT ms | LOGIN + first SELECT ms | second SELECT ms (server CPU) | FETCH n RFC822.SIZE ms | SELECT after restart ms (server CPU) |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => r.error ? `| ${r.shape} | ${r.messages} | ${r.error} ||||||` : `| ${r.shape} | ${r.messages} | ${r.loginMs} | ${r.firstSelectMs} | ${r.firstOpenMs} | ${r.secondSelectMs} (${r.secondSelectCpuMs}) | ${r.fetchSizeMs} | ${r.selectAfterRestartMs} (${r.selectAfterRestartCpuMs}) |`),
  ].join('\n');
  const md = `# first SELECT of a Maildir without an index (npm run bench:first-select)\n\n${result.date}, Node ${process.version}, ${result.cpus} CPUs, load average at the end ${load}, messages of about ${BODY_BYTES} bytes. Shapes: dovecot = S= and W= in names plus a dovecot-uidlist; size-only = S= only; bare = qmail names, LF line ends.\n\n${table}\n`;
  writeFileSync(path.join(outDir, 'first-select.md'), md);
  console.log(`\n${table}\n\nsaved bench/results/first-select-${stamp}.json and bench/results/first-select.md`);
}
