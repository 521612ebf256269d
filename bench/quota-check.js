#!/usr/bin/env node
// The Maildir++ quota check a delivery or APPEND makes (wouldExceed after
// addQuotaDelta: one stat and a read of the new tail of maildirsize) and
// GETQUOTA's usage(), for two builds of src/store/maildir/quota.ts side by
// side in one run, alternating rounds. Each side gets its own Maildir
// (20 messages with S=, a quota of 1 GB) and its own module instance.
//
//   node bench/quota-check.js A_DIR B_DIR   # each holds store/maildir/quota.js
//   node bench/quota-check.js               # dist/ against itself
//
// A_DIR / B_DIR: a dist/ (npm run build), or src/ transpiled as
// test/helpers/store-child.ts does. Prints a table (median of the rounds)
// and writes bench/results/quota-check-<timestamp>.json.
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 5);
const OPS = Number(process.env.BENCH_OPS ?? 2000);
/** Accounts checked at once in the concurrent column, as sessions of a busy node would. */
const CONCURRENT = 16;
const sides = [
  { name: 'A', dir: path.resolve(process.argv[2] ?? path.join(ROOT, 'dist')) },
  { name: 'B', dir: path.resolve(process.argv[3] ?? path.join(ROOT, 'dist')) },
];
const tmp = mkdtempSync(path.join(os.tmpdir(), 'roost-bench-quota-'));

for (const s of sides) {
  // A query string gives each side its own module instance (its own parse cache).
  s.q = await import(`${pathToFileURL(path.join(s.dir, 'store', 'maildir', 'quota.js')).href}?side=${s.name}`);
  s.accounts = Array.from({ length: CONCURRENT }, (_, k) => {
    const md = path.join(tmp, s.name, String(k));
    for (const sub of ['new', 'cur', 'tmp']) mkdirSync(path.join(md, sub), { recursive: true });
    for (let i = 0; i < 20; i++) writeFileSync(path.join(md, 'cur', `170000000${i}.M${i}P1.bench,S=4096:2,`), 'x');
    return { id: `${s.name}${k}`, address: `${s.name}${k}@bench`, login: `${s.name}${k}`, maildir: md, quotaBytes: 1_000_000_000, quotaMessages: 0, maxMessageSize: 0, status: 'active' };
  });
  s.account = s.accounts[0];
  s.results = { check: [], usage: [], check16: [] };
}

/** OPS deliveries' worth of quota work: a delta line, then the check for the next message. */
async function checks(s, account = s.account, ops = OPS) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < ops; i++) {
    // A line per delivery: maildirsize reaches the 5120-byte bound every ~640 lines and is
    // recounted there, as a real one is. Alternating signs keep the usage steady.
    await s.q.addQuotaDelta(account, i % 2 ? 4096 : -4096, i % 2 ? 1 : -1);
    if (await s.q.wouldExceed(account, 4096, 1)) throw new Error('over quota');
  }
  return ops / (Number(process.hrtime.bigint() - t0) / 1e9);
}

async function usages(s) {
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < OPS; i++) await s.q.usage(s.account);
  return OPS / (Number(process.hrtime.bigint() - t0) / 1e9);
}

/** The same work spread over CONCURRENT accounts at once; total ops/s. */
async function concurrentChecks(s) {
  const t0 = process.hrtime.bigint();
  await Promise.all(s.accounts.map((a) => checks(s, a, OPS / CONCURRENT)));
  return OPS / (Number(process.hrtime.bigint() - t0) / 1e9);
}

for (const s of sides) for (const a of s.accounts) await s.q.usage(a); // writes the first maildirsize (recount)
for (let r = 0; r < ROUNDS; r++) {
  for (const s of r % 2 ? [...sides].reverse() : sides) {
    s.results.check.push(await checks(s));
    s.results.usage.push(await usages(s));
    s.results.check16.push(await concurrentChecks(s));
  }
}

const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const load = readFileSync('/proc/loadavg', 'utf8').trim();
console.log(`quota check, ${ROUNDS} rounds of ${OPS} ops per side, alternating; load average ${load}`);
console.log(`side  dir                                     delta+wouldExceed/s  usage()/s  delta+wouldExceed/s, ${CONCURRENT} accounts at once`);
for (const s of sides)
  console.log(`${s.name}     ${s.dir.padEnd(38).slice(-38)}  ${median(s.results.check).toFixed(0).padStart(19)}  ${median(s.results.usage).toFixed(0).padStart(9)}  ${median(s.results.check16).toFixed(0).padStart(19)}`);
mkdirSync(path.join(ROOT, 'bench', 'results'), { recursive: true });
const out = path.join(ROOT, 'bench', 'results', `quota-check-${new Date().toISOString().replace(/[:.]/g, '-')}.json`);
writeFileSync(out, JSON.stringify({ rounds: ROUNDS, ops: OPS, load, sides: sides.map((s) => ({ name: s.name, dir: s.dir, ...s.results })) }, null, 2));
rmSync(tmp, { recursive: true, force: true });
