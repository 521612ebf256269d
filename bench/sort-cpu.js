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
// Each query runs once cold (the first after the node started: for SORT on a
// key, the columns are read from the image in the index, or built from the
// key rows when there is none yet) and then 8 times warm (mean CPU).
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { Raw } from './lib/imap.js';
import { spawnRoost } from './lib/node.js';

const dataDir = process.env.BENCH_DATA;
if (!dataDir || !existsSync(path.join(dataDir, 'roost.toml'))) {
  console.error('BENCH_DATA must name a data dir filled by bench/sort.js (with its roost.toml)');
  process.exit(1);
}
const QUERIES = ['SORT (SUBJECT) UTF-8 ALL', 'SORT (DATE) UTF-8 ALL', 'SORT (FROM) UTF-8 ALL', 'THREAD REFERENCES UTF-8 ALL'];
const WARM = 8;

/** CPU ms the process has used (user + system; /proc ticks are 10 ms). */
const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};

const { child, ports } = await spawnRoost(dataDir, path.join(dataDir, 'roost.toml'));
const rows = [];
try {
  const c = await Raw.connect(ports.imap);
  await c.wait(/^\* OK/);
  await c.cmd('LOGIN bench@example.org bench-password');
  await c.cmd('SELECT INBOX');
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
console.log(`| query | cold wall ms | cold CPU ms | warm median wall ms | warm mean CPU ms |`);
console.log('|---|---:|---:|---:|---:|');
for (const r of rows) console.log(`| ${r.query} | ${r.coldMs} | ${r.coldCpuMs} | ${r.warmMedianMs} | ${r.warmCpuMs} |`);
