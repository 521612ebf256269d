#!/usr/bin/env node
// Read-path A/B benchmark (issue 16 §1): two built Roost checkouts side by
// side, each `roost serve` in its own process over its own data dir holding
// the same corpus (bench/lib/corpus.js), rounds alternating A B, B A, …
//
//   imap-bodies   FETCH 1:1000 (BODY.PEEK[]) in one command: ms, and the server's CPU ms
//   pop3-serial   RETR 1..N one at a time (the client waits for each reply): MB/s, server CPU ms
//   pop3-pipe     RETR 1..N all sent at once: MB/s, server CPU ms
//
// Server CPU is user + system of the node's process (/proc/PID/stat) over the
// command, so it counts every thread (libuv's pool, GC) but not the client.
//
//   node bench/bodies.js --a /path/to/base --b /path/to/branch [--messages 5000] [--rounds 3]
//   node bench/bodies.js --a … --b … --only pop3-serial,pop3-pipe   # some workloads
//   node bench/bodies.js --b . --profile imap-bodies   # one side, --cpu-prof; the profile's directory is printed
//   node bench/bodies.js --b . --strace pop3-serial    # one side, strace -f -c around that workload
//
// Prints a table (with the load average per round) and writes bench/results/bodies-<stamp>.json.
import { execFileSync, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { message } from './lib/corpus.js';
import { Imap, Pop3 } from './compare/clients.js';
import { ROOT, writeBenchConfig } from './lib/node.js';
import { waitForTextIndex } from './lib/text-index.js';

const arg = (name, dflt) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? process.argv[i + 1] : dflt;
};
const MESSAGES = Number(arg('messages', 5000));
const ROUNDS = Number(arg('rounds', 3));
const PROFILE = arg('profile', null);
const STRACE = arg('strace', null);
const SIDES = [
  ['a', arg('a', null)],
  ['b', arg('b', null)],
].filter(([, root]) => root);
const PASS = 'bench-secret';
const USER = 'reader@example.org';
const SEED = 7;

const now = () => performance.now();
const median = (xs) => {
  const s = [...xs].sort((x, y) => x - y);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const loadavg = () => Number(os.loadavg()[0].toFixed(2));
const clockTick = Number(execFileSync('getconf', ['CLK_TCK']).toString().trim());

/** User + system CPU of a process in ms (every thread). */
function cpuMs(pid) {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / clockTick;
}

const { openSqliteDirectory } = await import(path.join(ROOT, 'dist', 'accounts', 'sqlite.js'));

async function startSide(kind, root, work) {
  const dataDir = path.join(work, kind, 'data');
  mkdirSync(dataDir, { recursive: true });
  const directory = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  const acct = await directory.addUser({ address: USER, password: PASS });
  await directory.close();
  for (const d of ['cur', 'new', 'tmp']) mkdirSync(path.join(acct.maildir, d), { recursive: true });
  let bytes = 0;
  for (let i = 0; i < MESSAGES; i++) {
    const m = message(SEED, i, USER);
    bytes += m.length;
    writeFileSync(path.join(acct.maildir, 'new', `${1767225600 + i}.M${i}P1.bench,S=${m.length}`), m);
  }
  const cfg = writeBenchConfig(dataDir, [
    '[log]\nlevel = "warn"',
    '[imap]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
    '[pop3]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
    '[qmqp]\nlisten = ""',
    '[lmtp]\nlisten = ""',
    '[admin]\nlisten = ""',
    '[auth]\nallow_plaintext = "always"',
    '[replication]\nlisten = ""',
  ]);
  const profDir = path.join(work, kind, 'prof');
  const nodeArgs = PROFILE ? ['--cpu-prof', `--cpu-prof-dir=${profDir}`] : [];
  const child = spawn(process.execPath, [...nodeArgs, path.join(root, 'bin', 'roost'), 'serve', '--config', cfg], { stdio: ['ignore', 'inherit', 'inherit'] });
  let ports = null;
  const deadline = Date.now() + 60_000;
  while (!ports && Date.now() < deadline) {
    try {
      const info = JSON.parse(readFileSync(path.join(dataDir, 'node.json'), 'utf8'));
      if (info.pid === child.pid) ports = info.ports;
    } catch {
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  if (!ports) throw new Error(`${kind}: roost did not start`);
  // First open indexes the Maildir (not timed); the IMAP session is kept for imap-bodies.
  const imap = await Imap.connect(ports.imap);
  await imap.login(USER, PASS);
  await imap.cmd('SELECT INBOX');
  await imap.cmd('FETCH 1:* (RFC822.SIZE)');
  // The background text indexer (src/store/text-indexer.ts) works through the new mailbox: wait for it, so it does not run under the timed rows.
  const waited = await waitForTextIndex(dataDir, MESSAGES, 10 * 60_000);
  process.stderr.write(`${kind}: text index built in ${waited} ms\n`);
  return { kind, root, child, ports, imap, bytes, profDir };
}

async function pop3Session(t) {
  const c = await Pop3.connect(t.ports.pop3);
  await c.send(`USER ${USER}`, false);
  await c.send(`PASS ${PASS}`, false);
  const stat = await c.send('STAT', false);
  return { c, count: Number(stat.first.split(' ')[1]) };
}

const WORKLOADS = {
  async 'imap-bodies'(t) {
    const a = now();
    await t.imap.cmd(`FETCH 1:${Math.min(1000, MESSAGES)} (BODY.PEEK[])`);
    return { value: now() - a, unit: 'ms' };
  },
  async 'pop3-serial'(t) {
    const { c, count } = await pop3Session(t);
    const { bytes, seconds: s } = await c.retrieveAll(count);
    await c.send('QUIT', false);
    c.close();
    return { value: bytes / 1e6 / s, unit: 'MB/s' };
  },
  async 'pop3-pipe'(t) {
    const { c, count } = await pop3Session(t);
    const { bytes, seconds: s } = await c.retrieveAll(count, true);
    await c.send('QUIT', false);
    c.close();
    return { value: bytes / 1e6 / s, unit: 'MB/s' };
  },
};

const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'roost-bodies-'));
const sides = [];
process.on('exit', () => {
  for (const t of sides) t.child.kill('SIGKILL');
});
for (const [kind, root] of SIDES) sides.push(await startSide(kind, path.resolve(root), work));
process.stderr.write(`corpus: ${MESSAGES} messages, ${(sides[0].bytes / 1e6).toFixed(1)} MB per side\n`);

async function measure(t, id) {
  let tracer = null;
  if (STRACE === id) {
    tracer = spawn('strace', ['-f', '-c', '-o', path.join(work, `${t.kind}-${id}.strace`), '-p', String(t.child.pid)], { stdio: 'ignore' });
    await new Promise((r) => setTimeout(r, 1000));
  }
  const cpu0 = cpuMs(t.child.pid);
  const load = loadavg();
  const from = process.hrtime.bigint() / 1000n;
  const r = await WORKLOADS[id](t);
  const cpu = cpuMs(t.child.pid) - cpu0;
  // The profile's clock is the same monotonic one in µs: these bounds pick the workload's samples out of it.
  if (PROFILE) process.stderr.write(`window ${t.kind} ${id} ${from} ${process.hrtime.bigint() / 1000n}\n`);
  if (tracer) {
    tracer.kill('SIGINT');
    await new Promise((res) => tracer.once('exit', res));
    process.stderr.write(readFileSync(path.join(work, `${t.kind}-${id}.strace`), 'utf8'));
  }
  return { ...r, cpu, load };
}

const ONLY = arg('only', null);
const ids = PROFILE || STRACE ? [PROFILE ?? STRACE] : ONLY ? ONLY.split(',') : Object.keys(WORKLOADS);
const results = [];
for (const id of ids) {
  const row = { id, sides: Object.fromEntries(sides.map((t) => [t.kind, []])) };
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of round % 2 ? [...sides].reverse() : sides) {
      const r = await measure(t, id);
      row.sides[t.kind].push(r);
      process.stderr.write(`  ${id} ${t.kind} round ${round}: ${r.value.toFixed(1)} ${r.unit}, server CPU ${r.cpu.toFixed(0)} ms, load ${r.load}\n`);
    }
  }
  results.push(row);
}

for (const t of sides) {
  t.imap.close();
  t.child.kill('SIGTERM');
  await new Promise((r) => (t.child.exitCode !== null ? r() : t.child.once('exit', r)));
}
if (PROFILE) for (const t of sides) process.stderr.write(`profile of ${t.kind}: ${t.profDir}\n`);

console.log(`\n${MESSAGES} messages, ${ROUNDS} alternating rounds; ${sides.map((t) => `${t.kind} = ${t.root}`).join(', ')}\n`);
console.log(`| workload | ${sides.map((t) => `${t.kind}: value (rounds) | ${t.kind}: server CPU ms (rounds)`).join(' | ')} | load |`);
console.log(`|---|${sides.map(() => '---:|---:').join('|')}|---:|`);
for (const row of results) {
  const cells = sides.map((t) => {
    const rs = row.sides[t.kind];
    return `${median(rs.map((r) => r.value)).toFixed(1)} ${rs[0].unit} (${rs.map((r) => r.value.toFixed(1)).join(', ')}) | ${median(rs.map((r) => r.cpu)).toFixed(0)} (${rs.map((r) => r.cpu.toFixed(0)).join(', ')})`;
  });
  const loads = sides.flatMap((t) => row.sides[t.kind].map((r) => r.load));
  console.log(`| ${row.id} | ${cells.join(' | ')} | ${Math.min(...loads)}–${Math.max(...loads)} |`);
}
const out = path.join(ROOT, 'bench', 'results', `bodies-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ benchmark: 'bodies', date: new Date().toISOString(), messages: MESSAGES, rounds: ROUNDS, sides: sides.map((t) => ({ kind: t.kind, root: t.root })), results }, null, 2) + '\n');
console.log(`\nsaved ${path.relative(ROOT, out)}`);
if (!PROFILE && !STRACE && !process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });
