#!/usr/bin/env node
// The server's CPU time per SORT/THREAD command (issue 16 §5), beside the
// wall time bench/sort.js gives: on a VM shared with other work, wall time
// at 100,000 messages is mostly time spent waiting for a core; the CPU time
// the `roost serve` process used (utime + stime from /proc/<pid>/stat, in
// 10 ms ticks) is what the command itself cost.
//
//   BENCH_DATA=/tmp/sortbench node bench/sort.js      # fills and keeps the data dir (and its roost.toml)
//   BENCH_DATA=/tmp/sortbench node bench/sort-cpu.js  # then this, any number of times
//
//   BENCH_ROOT=/path/to/other/checkout   spawn that checkout's bin/roost (its dist/), for before/after runs
//   BENCH_DROP_COLUMNS=1                 delete the saved sort column images first (a mailbox never sorted)
//   BENCH_SETTLE_MS=5000                 wait this long after SELECT before the first query
//   BENCH_PROF=/tmp/prof                 run the node under --cpu-prof into that dir
//
// Each query runs once cold (the first after the node started: for SORT on a
// key, the columns are read from the image in the index, or built from the
// key rows when there is none yet) and then 8 times warm (mean CPU).
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const root = path.resolve(process.env.BENCH_ROOT ?? here);
const { Raw } = await import(path.join(here, 'bench', 'lib', 'imap.js'));
const { spawnRoost } = await import(path.join(root, 'bench', 'lib', 'node.js'));

const dataDir = process.env.BENCH_DATA;
if (!dataDir || !existsSync(path.join(dataDir, 'roost.toml'))) {
  console.error('BENCH_DATA must name a data dir filled by bench/sort.js (with its roost.toml)');
  process.exit(1);
}
const QUERIES = [
  'SORT (SUBJECT) UTF-8 ALL',
  'SORT (ARRIVAL) UTF-8 ALL',
  'SORT (DATE) UTF-8 ALL',
  'SORT (FROM) UTF-8 ALL',
  'SORT (DISPLAYFROM) UTF-8 ALL',
  'SORT (SUBJECT DATE) UTF-8 UNSEEN',
  'SORT (REVERSE DATE) UTF-8 SEEN',
  'THREAD REFERENCES UTF-8 ALL',
  'THREAD ORDEREDSUBJECT UTF-8 ALL',
];
const WARM = 8;

if (process.env.BENCH_DROP_COLUMNS === '1') {
  const dir = path.join(dataDir, 'index');
  for (const f of readdirSync(dir).filter((n) => n.endsWith('.sqlite'))) {
    execFileSync('sqlite3', [path.join(dir, f), 'DELETE FROM sort_columns;']);
  }
}

/** CPU ms the process has used (user + system; /proc ticks are 10 ms). */
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};

const prof = process.env.BENCH_PROF;
const nodeArgs = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
const { child, ports } = await spawnRoost(dataDir, path.join(dataDir, 'roost.toml'), { nodeArgs });
const rows = [];
try {
  const c = await Raw.connect(ports.imap);
  await c.wait(/^\* OK/);
  await c.cmd('LOGIN bench@example.org bench-password');
  await c.cmd('SELECT INBOX');
  const settle = Number(process.env.BENCH_SETTLE_MS ?? 0);
  if (settle > 0) await new Promise((r) => setTimeout(r, settle));
  for (const q of QUERIES) {
    let at = cpu(child.pid);
    const cold = (await c.cmd(q)).ms;
    const coldCpu = cpu(child.pid) - at;
    at = cpu(child.pid);
    const warm = [];
    for (let i = 0; i < WARM; i++) warm.push((await c.cmd(q)).ms);
    const warmCpu = (cpu(child.pid) - at) / WARM;
    warm.sort((a, b) => a - b);
    rows.push({ query: q, coldMs: Math.round(cold), coldCpuMs: coldCpu, warmMedianMs: Math.round(warm[WARM >> 1]), warmCpuMs: warmCpu });
  }
  c.close();
} finally {
  child.kill('SIGINT');
  await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
}
console.log(`| query (${root}) | cold wall ms | cold CPU ms | warm median wall ms | warm mean CPU ms |`);
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.query} | ${r.coldMs} | ${r.coldCpuMs} | ${r.warmMedianMs} | ${r.warmCpuMs} |`);
