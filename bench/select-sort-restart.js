#!/usr/bin/env node
// The first commands after a restart on a big indexed INBOX (issue 16 §4, §5):
// SELECT, then at once the first SORT (SUBJECT) (which waits for the mailbox's
// sort columns: read from their image, or built from the key rows), then the
// same SORT warm. Server CPU time (utime + stime of `roost serve` over the
// command, /proc, 10 ms ticks) beside the wall time, and the load average with
// every row: on a shared VM the CPU time is the steadier figure. A second
// session NOOPs meanwhile; its longest wait for an answer shows how long the
// SELECT and the SORT held the other sessions of the process.
//
// Two checkouts in alternating rounds, each on its own copy of a data dir that
// bench/sort.js filled (BENCH_DATA=DIR node bench/sort.js): before the first
// round each copy is opened once, SELECTed and sorted, so both sides start
// with what a node that has run keeps in its index (the packed list, the
// sort column image).
//
//   BENCH_DATA=/tmp/sortbench BENCH_SIDES=base=/path/to/base,branch=. node bench/select-sort-restart.js
//   BENCH_ROUNDS=3 (default)   BENCH_DROP_COLUMNS=1: delete the sort column images before every start
//   (a mailbox never sorted: the first SORT waits for the build from the key rows)
//
// Prints a markdown table; writes bench/results/select-sort-restart-<ts>.json.
import { execFileSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const { Raw } = await import(path.join(here, 'bench', 'lib', 'imap.js'));
const source = process.env.BENCH_DATA;
if (!source || !existsSync(path.join(source, 'populated'))) {
  console.error('BENCH_DATA must name a data dir filled by bench/sort.js');
  process.exit(1);
}
const SIDES = (process.env.BENCH_SIDES ?? `branch=${here}`).split(',').map((s) => {
  const [name, root] = s.split('=');
  return { name, root: path.resolve(root) };
});
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const DROP = process.env.BENCH_DROP_COLUMNS === '1';
const WARM = 5;
const QUERY = 'SORT (SUBJECT) UTF-8 ALL';
const work = path.join(process.env.BENCH_DIR ?? os.tmpdir(), `roost-bench-ssr-${process.pid}`);

const cpu = (pid) => {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(f[11]) + Number(f[12])) * 10;
};
const load = () => readFileSync('/proc/loadavg', 'utf8').split(' ').slice(0, 3).join(' ');

/** The data dir copy of a side, with its roost.toml pointing at it. */
function copyFor(side) {
  const dir = path.join(work, side.name);
  // The message files as hard links (a flag rename in one copy renames its own link only), the rest copied.
  cpSync(source, dir, { recursive: true, filter: (src) => src !== path.join(source, 'mail') });
  execFileSync('cp', ['-al', path.join(source, 'mail'), path.join(dir, 'mail')]);
  for (const f of ['control.sock']) rmSync(path.join(dir, f), { force: true });
  const toml = readFileSync(path.join(source, 'roost.toml'), 'utf8').split(source).join(dir);
  writeFileSync(path.join(dir, 'roost.toml'), toml);
  return dir;
}

function dropColumns(dir) {
  const idx = path.join(dir, 'index');
  for (const f of readdirSync(idx).filter((n) => n.endsWith('.sqlite'))) execFileSync('sqlite3', [path.join(idx, f), 'DELETE FROM sort_columns;']);
}

/** Until the server has used under 30 ms of CPU in a second (its background work done: the SEARCH BODY index, facts), at most `maxMs`. */
async function idle(pid, maxMs) {
  const end = Date.now() + maxMs;
  for (let at = cpu(pid); Date.now() < end; ) {
    await new Promise((r) => setTimeout(r, 1000));
    const now = cpu(pid);
    if (now - at < 30) return true;
    at = now;
  }
  return false;
}

/** One start of `side`: SELECT, first SORT, warm SORTs; `prepare`: then wait for its background work to end. */
async function round(side, dir, prepare = false) {
  const { spawnRoost } = await import(path.join(side.root, 'bench', 'lib', 'node.js'));
  if (DROP) dropColumns(dir);
  const { child, ports } = await spawnRoost(dir, path.join(dir, 'roost.toml'));
  try {
    const c = await Raw.connect(ports.imap);
    await c.wait(/^\* OK/);
    await c.cmd('LOGIN bench@example.org bench-password');
    // A second session NOOPs one after another while SELECT and the first SORT run: the longest wait for
    // an answer is how long those commands held everyone else's.
    const other = await Raw.connect(ports.imap);
    await other.wait(/^\* OK/);
    await other.cmd('LOGIN bench@example.org bench-password');
    let busy = true;
    let longestNoop = 0;
    const pinger = (async () => {
      for (let i = 0; i < 100_000 && busy; i++) longestNoop = Math.max(longestNoop, (await other.cmd('NOOP')).ms);
    })();
    let at = cpu(child.pid);
    const sel = await c.cmd('SELECT INBOX', { keep: true });
    const selectCpu = cpu(child.pid) - at;
    const exists = sel.lines.find((l) => / EXISTS$/.test(l));
    at = cpu(child.pid);
    const first = await c.cmd(QUERY);
    const firstCpu = cpu(child.pid) - at;
    busy = false;
    await pinger;
    await other.cmd('LOGOUT');
    at = cpu(child.pid);
    const warm = [];
    for (let i = 0; i < WARM; i++) warm.push((await c.cmd(QUERY)).ms);
    const warmCpu = (cpu(child.pid) - at) / WARM;
    warm.sort((a, b) => a - b);
    if (prepare && !(await idle(child.pid, 20 * 60_000))) process.stderr.write(`${side.name}: still busy after 20 minutes\n`);
    await c.cmd('LOGOUT');
    return {
      side: side.name, exists, load: load(),
      selectMs: Math.round(sel.ms * 10) / 10, selectCpuMs: selectCpu,
      firstSortMs: Math.round(first.ms), firstSortCpuMs: firstCpu, longestNoopMs: Math.round(longestNoop),
      warmSortMs: Math.round(warm[WARM >> 1]), warmSortCpuMs: warmCpu,
    };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  }
}

mkdirSync(work, { recursive: true });
const rows = [];
try {
  const dirs = new Map(SIDES.map((s) => [s.name, copyFor(s)]));
  // Each side once before timing: it keeps its packed list and column image as a node that has run does.
  for (const s of SIDES) {
    const r = await round(s, dirs.get(s.name), true);
    process.stderr.write(`prepared ${s.name}: ${r.exists}\n`);
  }
  for (let k = 0; k < ROUNDS; k++) {
    const order = k % 2 === 0 ? SIDES : [...SIDES].reverse();
    for (const s of order) {
      const r = { round: k + 1, ...(await round(s, dirs.get(s.name))) };
      rows.push(r);
      process.stderr.write(`${JSON.stringify(r)}\n`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
const table = [
  `| round | side | SELECT after restart ms (server CPU) | first ${QUERY} ms (server CPU) | warm median ms (mean server CPU) | longest NOOP wait meanwhile ms | load average |`,
  '|---:|---|---:|---:|---:|---:|---|',
  ...rows.map((r) => `| ${r.round} | ${r.side} | ${r.selectMs} (${r.selectCpuMs}) | ${r.firstSortMs} (${r.firstSortCpuMs}) | ${r.warmSortMs} (${r.warmSortCpuMs}) | ${r.longestNoopMs} | ${r.load} |`),
].join('\n');
console.log(table);
const outDir = path.join(here, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
writeFileSync(
  path.join(outDir, `select-sort-restart-${stamp}.json`),
  `${JSON.stringify({ benchmark: 'select-sort-restart', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, dropColumns: DROP, sides: SIDES, rows }, null, 2)}\n`,
);
