#!/usr/bin/env node
// `roost account move`'s freeze, two builds in one run (issue 18, goal under
// 2 s at 10,000 messages): this checkout and another one (a worktree at the
// commit to compare with, built with `npx tsc -p tsconfig.json`), in
// alternating rounds (A B, B A, …) so drift in the machine's load falls on
// both. Each round is bench/lib/move.js's move between two fresh primaries;
// the source account is delivered once and restored, byte for byte and at
// the same paths, before every move. The load average is taken before and
// after each move and printed with its figures.
//
//   node bench/move-ab.js /work/wt/base-checkout
//   BENCH_ROUNDS=3 BENCH_MOVE_MESSAGES=10000 BENCH_MOVE_WORK=/var/tmp/move-ab node bench/move-ab.js OTHER
//
// Prints a table and writes bench/results/cluster-move-ab-<timestamp>.json.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { benchMove } from './lib/move.js';
import { ROOT } from './lib/node.js';

const OTHER = process.argv[2] ? path.resolve(process.argv[2]) : null;
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const MESSAGES = Number(process.env.BENCH_MOVE_MESSAGES ?? 10_000);
const SEED = 18;

if (!OTHER || !existsSync(path.join(OTHER, 'dist', 'store', 'open.js')) || !existsSync(path.join(ROOT, 'dist', 'store', 'open.js'))) {
  console.error('usage: node bench/move-ab.js OTHER_CHECKOUT (both checkouts built: npx tsc -p tsconfig.json)');
  process.exit(1);
}
/** The checkout's commit; a tree exported without .git (git archive) goes by its folder's name. */
const commit = (dir) => {
  try {
    return execFileSync('git', ['-C', dir, 'rev-parse', '--short', 'HEAD'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
  } catch {
    return path.basename(dir);
  }
};
const sides = [
  { name: 'other', root: OTHER, commit: commit(OTHER) },
  { name: 'this', root: ROOT, commit: commit(ROOT) },
];
const load = () => os.loadavg().map((x) => Number(x.toFixed(1)));

// BENCH_MOVE_WORK: a folder kept between runs, so the source account is delivered only once.
const KEEP = process.env.BENCH_MOVE_WORK ? path.resolve(process.env.BENCH_MOVE_WORK) : null;
if (KEEP) mkdirSync(KEEP, { recursive: true });
const work = KEEP ?? mkdtempSync(path.join(os.tmpdir(), 'roost-bench-move-ab-'));
const runs = [];
try {
  for (let r = 0; r < ROUNDS; r++) {
    for (const side of r % 2 === 0 ? sides : [...sides].reverse()) {
      const before = load();
      const m = await benchMove(work, { messages: MESSAGES, seed: SEED, root: side.root, reuse: true });
      const run = { round: r + 1, side: side.name, commit: side.commit, loadBefore: before, loadAfter: load(), ...m };
      runs.push(run);
      const p = m.freezePhasesMs;
      process.stderr.write(
        `  round ${r + 1} ${side.commit}: frozen ${m.freezeMs} ms (snapshot ${p?.snapshot}, final round ${p?.finalRound}, destination install ${p?.destinationInstall}, verify ${p?.verify}); ${m.seconds} s in all; identical ${m.identical}; load ${before[0]} → ${run.loadAfter[0]}\n`,
      );
    }
  }
} finally {
  if (!KEEP) rmSync(work, { recursive: true, force: true });
}

const pad = (v, n) => String(v).padStart(n);
console.log(`\naccount move of ${MESSAGES} messages, ${ROUNDS} alternating rounds; freeze and its phases in ms; load average (1 min) before → after each move`);
console.log(`${'round'.padEnd(7)}${'commit'.padEnd(22)}${pad('freeze', 8)}${pad('snapshot', 10)}${pad('final', 8)}${pad('dst install', 13)}${pad('verify', 8)}${pad('move s', 8)}${pad('identical', 11)}   load`);
for (const x of runs) {
  const p = x.freezePhasesMs ?? {};
  console.log(
    `${String(x.round).padEnd(7)}${x.commit.padEnd(22)}${pad(x.freezeMs, 8)}${pad(p.snapshot, 10)}${pad(p.finalRound, 8)}${pad(p.destinationInstall, 13)}${pad(p.verify, 8)}${pad(x.seconds.toFixed(1), 8)}${pad(x.identical, 11)}   ${x.loadBefore[0]} → ${x.loadAfter[0]}`,
  );
}
const date = new Date().toISOString();
const out = path.join(ROOT, 'bench', 'results', `cluster-move-ab-${date.replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ bench: 'cluster-move-ab', date, host: { cpus: os.cpus().length, loadavg: os.loadavg() }, params: { messages: MESSAGES, rounds: ROUNDS }, sides, runs }, null, 2) + '\n');
console.log(`written to ${path.relative(ROOT, out)}`);
// The nodes are stopped by benchMove; nothing else may keep the process waiting.
process.exit(0);
