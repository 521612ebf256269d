#!/usr/bin/env node
// First access of an unindexed Maildir (issue 16 §4): N messages (default
// 10,000; text/plain and multipart, RFC 2047 subjects, bare qmail names) are
// written straight into an account's Maildir, a node is started on it, and
// one client times LOGIN, SELECT and UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)
// — the lazy open, then the fill the FETCH waits for (src/store/facts.ts).
// Also reports the server's CPU ms over LOGIN+SELECT and over the FETCH
// (/proc, 10 ms ticks), steadier than wall time on a loaded machine.
//
//   npm run build && node bench/first-fetch.js
//   N=2000 NODE_ARGS=--cpu-prof,--cpu-prof-dir=/tmp/prof node bench/first-fetch.js
//   ROOST_ROOT=/path/to/other/checkout node bench/first-fetch.js   (that checkout's dist/)
//   DOVECOT=1 node bench/first-fetch.js                             (the same corpus on a private Dovecot)
//   WRAP="strace -c -f -o /tmp/st.txt" node bench/first-fetch.js
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
const ROOT = process.env.ROOST_ROOT ?? path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const BIN = path.join(ROOT, 'bin', 'roost');
const { Raw } = await import(path.join(ROOT, 'bench/lib/imap.js'));
const N = Number(process.env.N ?? 10000);
const NODE_ARGS = (process.env.NODE_ARGS ?? '').split(',').filter(Boolean);
const WRAP = (process.env.WRAP ?? '').split(' ').filter(Boolean);
const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'roost-bench-first-fetch-'));
const dataDir = path.join(work, 'data');
const cfg = path.join(work, 'roost.toml');
writeFileSync(cfg, [`data_dir = ${JSON.stringify(dataDir)}`, 'hostname = "bench.example.org"', '[log]', 'level = "warn"', '[imap]', 'listen = "127.0.0.1:0"', 'tls_listen = ""', '[pop3]', 'listen = ""', 'tls_listen = ""', '[qmqp]', 'listen = ""', '[lmtp]', 'listen = ""', '[admin]', 'listen = ""', '[replication]', 'listen = ""', 'ack = "async"', ''].join('\n'));
function run(args, stdin = '') {
  return new Promise((res, rej) => { const c = spawn(process.execPath, [BIN, ...args, '--config', cfg], { stdio: ['pipe', 'ignore', 'inherit'] }); c.on('close', (k) => (k === 0 ? res() : rej(new Error('exit ' + k)))); c.stdin.end(stdin); });
}
async function start() {
  const argv = [...NODE_ARGS, BIN, 'serve', '--config', cfg];
  const child = WRAP.length ? spawn(WRAP[0], [...WRAP.slice(1), process.execPath, ...argv], { stdio: 'inherit' }) : spawn(process.execPath, argv, { stdio: 'inherit' });
  for (let i = 0; i < 2400; i++) {
    try { const info = JSON.parse(readFileSync(path.join(dataDir, 'node.json'), 'utf8')); if (WRAP.length || info.pid === child.pid) return { child, ports: info.ports, pid: info.pid }; } catch {}
    await new Promise((r) => setTimeout(r, 25));
  }
  throw new Error('no start');
}
function cpuMs(pid) { const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' '); return (Number(f[11]) + Number(f[12])) * 10; }
function msg(i) {
  const kind = i % 3;
  const h = `From: Sender ${i} <s${i}@example.net>\r\nTo: bench@example.org, Other <o${i}@example.com>\r\nSubject: bulk message ${i} =?UTF-8?Q?caf=C3=A9?=\r\nMessage-ID: <${i}@bench>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\nMIME-Version: 1.0\r\n`;
  const text = `Body of a bulk message number ${i}.\r\n`.repeat(100);
  if (kind === 0) return h + 'Content-Type: text/plain; charset=utf-8\r\n\r\n' + text;
  return h + `Content-Type: multipart/mixed; boundary="b${i}"\r\n\r\n--b${i}\r\nContent-Type: text/plain\r\n\r\n${text}\r\n--b${i}\r\nContent-Type: text/html\r\n\r\n<p>${text}</p>\r\n--b${i}--\r\n`;
}
const stop = async (n) => { n.child.kill('SIGTERM'); await new Promise((r) => n.child.once('exit', r)); };
if (process.env.DOVECOT) {
  const { startDovecot } = await import(path.join(ROOT, 'bench/compare/dovecot.js'));
  const { spawnSync } = await import('node:child_process');
  const dv = await startDovecot(work, [{ name: 'ff@example.org', password: 'pw' }]);
  try {
    const md = dv.maildir('ff@example.org');
    for (const s of ['new', 'cur', 'tmp']) mkdirSync(path.join(md, s), { recursive: true });
    for (let i = 0; i < N; i++) writeFileSync(path.join(md, 'cur', `${1_700_000_000 + Math.floor(i / 1000)}.M${i}P1Q${i}.gen:2,S`), msg(i));
    if (process.getuid() === 0) spawnSync('chown', ['-R', '65534:65534', path.dirname(md)]);
    const c = await Raw.connect(dv.ports.imap);
    await c.wait(/^\* OK/);
    const t0 = performance.now();
    const login = await c.cmd('LOGIN ff@example.org pw');
    const sel = await c.cmd('SELECT INBOX');
    const f = await c.cmd('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
    const total = performance.now() - t0;
    const f2 = await c.cmd('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
    console.log(JSON.stringify({ server: 'dovecot', n: N, loginMs: Math.round(login.ms), selectMs: Math.round(sel.ms), fetchMs: Math.round(f.ms), totalMs: Math.round(total), secondFetchMs: Math.round(f2.ms), bytes: c.bytes }));
    c.close();
  } finally { await dv.stop(); rmSync(work, { recursive: true, force: true }); }
  process.exit(0);
}
try {
  const w = await start(); await stop(w);
  const addr = 'ff@example.org';
  await run(['user', 'add', addr, '--password-stdin'], 'pw\n');
  const md = path.join(dataDir, 'mail', 'example.org', 'ff', 'Maildir');
  for (const s of ['new', 'cur', 'tmp']) mkdirSync(path.join(md, s), { recursive: true });
  for (let i = 0; i < N; i++) writeFileSync(path.join(md, 'cur', `${1_700_000_000 + Math.floor(i / 1000)}.M${i}P1Q${i}.gen:2,S`), msg(i));
  const node = await start();
  const c = await Raw.connect(node.ports.imap);
  await c.wait(/^\* OK/);
  const cpu0 = cpuMs(node.pid);
  const t0 = performance.now();
  const login = await c.cmd(`LOGIN ${addr} pw`);
  const sel = await c.cmd('SELECT INBOX');
  const cpu1 = cpuMs(node.pid);
  const f = await c.cmd('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
  const cpu2 = cpuMs(node.pid);
  const total = performance.now() - t0;
  const f2 = await c.cmd('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
  console.log(JSON.stringify({ root: ROOT, n: N, loginMs: Math.round(login.ms), selectMs: Math.round(sel.ms), fetchMs: Math.round(f.ms), totalMs: Math.round(total), cpuLoginSelect: cpu1 - cpu0, cpuFetch: cpu2 - cpu1, secondFetchMs: Math.round(f2.ms), bytes: c.bytes }));
  c.close();
  if (process.env.HOLD) await new Promise((r) => setTimeout(r, Number(process.env.HOLD)));
  await stop(node);
} finally { if (!process.env.KEEP) rmSync(work, { recursive: true, force: true }); }
