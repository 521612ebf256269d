#!/usr/bin/env node
// Migration throughput (issue 15, Benchmark): the real CLI from dist/, one
// process per step, as an operator runs it.
//
//  1. `roost import ADDRESS MAILDIR` of a Dovecot-style Maildir (one folder,
//     dovecot-uidlist with UID gaps) at each size of BENCH_SIZES, then
//     `roost reindex ADDRESS` of the result, then `roost import --link`: wall time, messages/s, MB/s,
//     peak RSS of the process (/usr/bin/time %M). The curve must stay linear.
//     Then the same folder's `roost reindex` through a running `roost serve`
//     (the node rebuilds it in slices), twice: the node's RSS before and
//     after each (/proc/PID/status, sampled every 100 ms for the peak) and
//     the largest gap between another user's IMAP NOOP answers meanwhile.
//  2. `roost import ADDRESS imap://…` from a private Dovecot (bench/compare/
//     dovecot.js) holding BENCH_LIVE_MESSAGES messages, and the reference
//     the issue names: imapsync is not in Debian 12, so mbsync (isync)
//     copying the same folder between two private Dovecots on this machine.
//
//   npm run build && npm run bench:import
//   BENCH_SIZES=10000,100000,300000 BENCH_LIVE_MESSAGES=20000 BENCH_BODY_BYTES=4000 npm run bench:import
//
// Source files are hard links of one file per 10,000 messages (the source
// is read from the page cache; the import writes every copy). Results:
// bench/results/import-<ts>.json and bench/results/import.md (latest).
import { spawn, execFileSync } from 'node:child_process';
import { existsSync, linkSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ROOT, BIN, spawnRoost } from './lib/node.js';
import { Raw } from './lib/imap.js';
import { dovecotVersion, startDovecot } from './compare/dovecot.js';

const SIZES = (process.env.BENCH_SIZES ?? '10000,100000,300000').split(',').map(Number).filter((n) => n > 0);
const LIVE = Number(process.env.BENCH_LIVE_MESSAGES ?? 20_000);
const BODY_BYTES = Number(process.env.BENCH_BODY_BYTES ?? 4000);
if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}

const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'roost-bench-import-'));
const cfg = path.join(work, 'roost.toml');
writeFileSync(cfg, `data_dir = ${JSON.stringify(path.join(work, 'data'))}\nhostname = "bench.example.org"\n[log]\nlevel = "warn"\n`);

/** Run `roost ARGS` under /usr/bin/time; resolves {code, seconds, peakMB, stdout, stderr}. */
function roost(args, stdin = '') {
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %M %e %U %S', process.execPath, BIN, ...args, '--config', cfg], { stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /TIME (\d+) ([\d.]+) ([\d.]+) ([\d.]+)\s*$/.exec(err);
      // CPU seconds (user + system, every thread): steadier than wall time on a shared machine.
      const cpuSeconds = m ? Math.round((Number(m[3]) + Number(m[4])) * 100) / 100 : NaN;
      resolve({ code, seconds: m ? Number(m[2]) : NaN, cpuSeconds, peakMB: m ? Math.round(Number(m[1]) / 1024) : NaN, stdout: out, stderr: err });
    });
    child.stdin.end(stdin);
  });
}

function message(i) {
  const head = `From: Sender ${i} <s${i}@example.net>\r\nTo: bench@example.org\r\nSubject: bulk message ${i}\r\nMessage-ID: <${i}@bench>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n`;
  return head + 'Body of a bulk message.\r\n'.repeat(Math.max(1, Math.ceil((BODY_BYTES - head.length) / 25)));
}

/** A Dovecot-style Maildir of n messages in INBOX (UIDs 2, 4, 6, … so the list matters). Returns its bytes. */
function populate(maildir, n, uidlist = true) {
  for (const sub of ['new', 'cur', 'tmp']) mkdirSync(path.join(maildir, sub), { recursive: true });
  const tpl = path.join(maildir, 'template');
  const lines = [`3 V1700000000 N${2 * n + 2} G0123456789abcdef0123456789abcdef`];
  let bytes = 0;
  let size = 0;
  for (let i = 0; i < n; i++) {
    if (i % 10_000 === 0) {
      rmSync(tpl, { force: true });
      writeFileSync(tpl, message(i));
      size = readFileSync(tpl).length;
    }
    const base = `${1_700_000_000 + Math.floor(i / 1000)}.M${i}P1Q${i}.gen,S=${size},W=${size}`;
    linkSync(tpl, path.join(maildir, 'cur', `${base}:2,S`));
    lines.push(`${2 * i + 2} :${base}:2,S`);
    bytes += size;
  }
  rmSync(tpl, { force: true });
  if (uidlist) writeFileSync(path.join(maildir, 'dovecot-uidlist'), lines.join('\n') + '\n');
  return bytes;
}

const mb = (b) => b / 1048576;
const rows = [];
function row(step, messages, bytes, r, extra = {}) {
  if (r.code !== 0) throw new Error(`${step}: exit ${r.code}\n${r.stderr.slice(-2000)}`);
  const x = { step, messages, MB: Math.round(mb(bytes)), seconds: r.seconds, cpuSeconds: r.cpuSeconds, perSecond: Math.round(messages / r.seconds), MBps: Math.round((mb(bytes) / r.seconds) * 10) / 10, peakRssMB: r.peakMB, ...extra };
  rows.push(x);
  const more = Object.entries(extra).map(([k, v]) => `, ${k} ${v}`).join('');
  process.stderr.write(`  ${step}: ${x.messages} messages in ${x.seconds} s (CPU ${x.cpuSeconds} s) = ${x.perSecond}/s, ${x.MBps} MB/s, peak RSS ${x.peakRssMB} MB${more}\n`);
}

const rssMB = (pid) => Math.round(Number(/VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 1024);

/** A `roost serve` on this bench's data dir (loopback, port 0): `roost reindex` then runs in it (control socket). */
async function startNode() {
  const dataDir = path.join(work, 'data');
  const nodeCfg = path.join(work, 'node.toml');
  writeFileSync(
    nodeCfg,
    [
      `data_dir = ${JSON.stringify(dataDir)}`,
      'hostname = "bench.example.org"',
      '[log]\nlevel = "warn"',
      '[imap]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
      '[pop3]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
      '[qmqp]\nlisten = "127.0.0.1:0"',
      '[lmtp]\nlisten = ""',
      '[admin]\nlisten = ""',
      '[auth]\nallow_plaintext = "loopback"',
      '[replication]\nlisten = ""',
      '',
    ].join('\n'),
  );
  return spawnRoost(dataDir, nodeCfg, { stdio: ['ignore', 'ignore', 'inherit'] });
}

/**
 * `roost reindex addr` through the running node while `quiet` sends NOOPs:
 * the CLI row plus the node's RSS before, at its peak and after, and the
 * NOOP answers' largest gap and count.
 */
async function reindexInNode(node, addr, n, bytes, label) {
  const quiet = await Raw.connect(node.ports.imap);
  await quiet.wait(/^\* OK/);
  await quiet.cmd('LOGIN quiet@example.org quiet-pw');
  const before = rssMB(node.child.pid);
  let peak = before;
  const sampler = setInterval(() => (peak = Math.max(peak, rssMB(node.child.pid))), 100);
  let done = false;
  let noops = 0;
  let maxGap = 0;
  const loop = (async () => {
    let last = performance.now();
    while (!done) {
      await quiet.cmd('NOOP');
      const now = performance.now();
      maxGap = Math.max(maxGap, now - last);
      last = now;
      noops++;
    }
  })();
  const r = await roost(['reindex', addr]).finally(() => (done = true));
  await loop;
  clearInterval(sampler);
  const after = rssMB(node.child.pid);
  quiet.s.destroy();
  row(label, n, bytes, r, { nodeRssBeforeMB: before, nodeRssPeakMB: Math.max(peak, after), nodeRssAfterMB: after, noopMaxGapMs: Math.round(maxGap), noops });
}

/** mbsync (isync) copying every folder of `from` into `to`, both private Dovecots: the live-import reference. */
async function mbsyncCopy(from, to) {
  const dir = path.join(work, 'mbsync');
  mkdirSync(path.join(dir, 'state'), { recursive: true });
  const conf = path.join(dir, 'mbsyncrc');
  const account = (name, port, user, pass) =>
    `IMAPAccount ${name}\nHost 127.0.0.1\nPort ${port}\nUser ${user}\nPass ${pass}\nSSLType None\nAuthMechs LOGIN\n\nIMAPStore ${name}\nAccount ${name}\n\n`;
  writeFileSync(
    conf,
    account('far', from.ports.imap, 'old', 'oldpw') +
      account('near', to.ports.imap, 'new', 'newpw') +
      // Flags and INTERNALDATE come across, as `roost import imap://` carries them.
      `Channel copy\nFar :far:\nNear :near:\nPatterns *\nCreate Near\nSync Pull\nCopyArrivalDate yes\nSyncState ${dir}/state/\n`,
  );
  return new Promise((resolve, reject) => {
    const child = spawn('/usr/bin/time', ['-f', 'TIME %M %e', 'mbsync', '-q', '-c', conf, '-a'], { stdio: ['ignore', 'pipe', 'pipe'] });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    child.stdout.resume();
    child.on('error', reject);
    child.on('close', (code) => {
      const m = /TIME (\d+) ([\d.]+)\s*$/.exec(err);
      resolve({ code, seconds: m ? Number(m[2]) : NaN, peakMB: m ? Math.round(Number(m[1]) / 1024) : NaN, stdout: '', stderr: err });
    });
  });
}

function mbsyncVersion() {
  try {
    return execFileSync('mbsync', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

let dovecot = null;
let dovecot2 = null;
try {
  if ((await roost(['user', 'add', 'quiet@example.org', '--password-stdin'], 'quiet-pw\n')).code !== 0) throw new Error('user add failed');
  for (const n of SIZES) {
    const addr = `m${n}@example.org`;
    const src = path.join(work, `src-${n}`, 'Maildir');
    process.stderr.write(`writing a ${n}-message Maildir…\n`);
    const bytes = populate(src, n);
    if ((await roost(['user', 'add', addr])).code !== 0) throw new Error('user add failed');
    row(`import Maildir ${n}`, n, bytes, await roost(['import', addr, src]));
    row(`reindex ${n}`, n, bytes, await roost(['reindex', addr]));
    const linked = `l${n}@example.org`;
    if ((await roost(['user', 'add', linked])).code !== 0) throw new Error('user add failed');
    row(`import Maildir --link ${n}`, n, bytes, await roost(['import', linked, src, '--link']));
    const node = await startNode();
    try {
      await reindexInNode(node, addr, n, bytes, `reindex in the node ${n}`);
      await reindexInNode(node, addr, n, bytes, `reindex in the node ${n}, again`);
    } finally {
      node.child.kill('SIGTERM');
      await new Promise((r) => (node.child.exitCode !== null ? r() : node.child.once('exit', r)));
    }
    rmSync(path.dirname(src), { recursive: true, force: true });
    // The copies too, as we go: a million files left for the end take minutes to remove.
    for (const u of [`m${n}`, `l${n}`]) rmSync(path.join(work, 'data', 'mail', 'example.org', u), { recursive: true, force: true });
  }

  if (LIVE > 0 && dovecotVersion()) {
    process.stderr.write(`private Dovecot with ${LIVE} messages…\n`);
    const dvDir = path.join(work, 'dovecot');
    mkdirSync(dvDir);
    dovecot = await startDovecot(dvDir, [{ name: 'old', password: 'oldpw' }]);
    const bytes = populate(dovecot.maildir('old'), LIVE);
    if (process.getuid() === 0) execFileSync('chown', ['-R', `${dovecot.uid}:${dovecot.gid}`, path.join(dvDir, 'mail')]);
    if ((await roost(['user', 'add', 'live@example.org'])).code !== 0) throw new Error('user add failed');
    row(`import imap:// ${LIVE} (Dovecot ${dovecotVersion().split(' ')[0]})`, LIVE, bytes, await roost(['import', 'live@example.org', `imap://old@127.0.0.1:${dovecot.ports.imap}`], 'oldpw\n'));
    if (mbsyncVersion()) {
      const dv2 = path.join(work, 'dovecot2');
      mkdirSync(dv2);
      dovecot2 = await startDovecot(dv2, [{ name: 'new', password: 'newpw' }]);
      if (process.getuid() === 0) execFileSync('chown', ['-R', `${dovecot2.uid}:${dovecot2.gid}`, path.join(dv2, 'mail')]);
      const ref = await mbsyncCopy(dovecot, dovecot2);
      const copied = ['cur', 'new'].reduce((k, sub) => k + readdirSync(path.join(dovecot2.maildir('new'), sub)).length, 0);
      if (ref.code === 0 && copied !== LIVE) throw new Error(`mbsync copied ${copied} of ${LIVE} messages`);
      row(`reference: ${mbsyncVersion()} Dovecot → Dovecot ${LIVE}`, LIVE, bytes, ref);
    } else process.stderr.write('mbsync is not installed: the live-import reference is skipped\n');
  } else if (LIVE > 0) process.stderr.write('dovecot is not installed: live import skipped\n');
} finally {
  await dovecot?.stop();
  await dovecot2?.stop();
  // Figures first: removing a million files takes minutes on a busy disk.
  if (rows.length > 0) save();
  process.stderr.write('removing the work directory…\n');
  rmSync(work, { recursive: true, force: true });
}

function save() {
  const outDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const load = os.loadavg().map((l) => l.toFixed(1)).join(' ');
  const result = { benchmark: 'import', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, loadavg: load, bodyBytes: BODY_BYTES, rows };
  const dash = (v) => (v === undefined ? '–' : v);
  const table = [
    '| step | messages | MB | seconds | CLI CPU s | messages/s | MB/s | peak RSS MB (CLI) | node RSS MB before / peak / after | NOOP answers, largest gap ms |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...rows.map(
      (r) =>
        `| ${r.step} | ${r.messages} | ${r.MB} | ${r.seconds} | ${dash(r.cpuSeconds)} | ${r.perSecond} | ${r.MBps} | ${r.peakRssMB} | ${r.nodeRssBeforeMB === undefined ? '–' : `${r.nodeRssBeforeMB} / ${r.nodeRssPeakMB} / ${r.nodeRssAfterMB}`} | ${r.noops === undefined ? '–' : `${r.noops}, ${dash(r.noopMaxGapMs)}`} |`,
    ),
  ].join('\n');
  // Issue 15: the reindex curve must stay linear — its cost per message at each size, against the smallest.
  const reindexRows = rows.filter((r) => /^reindex \d+$/.test(r.step));
  const perMsg = (r) => (r.seconds * 1e6) / r.messages;
  // CPU time too: on a shared disk one fsync stall can double a small run's wall time.
  const cpuPerMsg = (r) => (r.cpuSeconds * 1e6) / r.messages;
  const linear = reindexRows.length === 0 ? '' : [
    '| reindex (CLI) | messages | seconds | µs per message | × the smallest size\'s | CPU µs per message | × the smallest size\'s |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...reindexRows.map(
      (r) =>
        `| ${r.step} | ${r.messages} | ${r.seconds} | ${Math.round(perMsg(r))} | ${(perMsg(r) / perMsg(reindexRows[0])).toFixed(2)} | ${Math.round(cpuPerMsg(r))} | ${(cpuPerMsg(r) / cpuPerMsg(reindexRows[0])).toFixed(2)} |`,
    ),
  ].join('\n');
  result.reindexLinearity = reindexRows.map((r) => ({ messages: r.messages, seconds: r.seconds, usPerMessage: Math.round(perMsg(r)), cpuUsPerMessage: Math.round(cpuPerMsg(r)) }));
  const md = `# roost import / reindex (npm run bench:import)\n\n${result.date}, Node ${process.version}, ${result.cpus} CPUs, load average at the end ${load}, messages of about ${BODY_BYTES} bytes.\n\n${table}\n${linear ? `\n${linear}\n` : ''}`;
  writeFileSync(path.join(outDir, `import-${stamp}.json`), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(path.join(outDir, 'import.md'), md);
  console.log(`\n${table}\n\n${linear}\n\nsaved bench/results/import-${stamp}.json and bench/results/import.md`);
}
