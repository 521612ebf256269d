#!/usr/bin/env node
// SORT and THREAD over a big INBOX (issue 16 §5: SORT on 100k under 100 ms,
// THREAD=REFERENCES under 300 ms), timed with the raw IMAP client of
// bench/imap.js's kind on a spawned `roost serve` from dist/.
//
//   npm run build && node bench/sort.js
//   BENCH_MESSAGES=20000 node bench/sort.js
//   BENCH_DATA=/tmp/sortbench node bench/sort.js      # keep (and reuse) the populated data dir
//   BENCH_PROF=/tmp/prof node bench/sort.js           # run the node under --cpu-prof into that dir
//
// Each query runs once cold (first after the node started) and then
// BENCH_REPEAT times warm; the table gives the cold time and the warm median.
// Writes bench/results/sort-<timestamp>.json.
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { message } from './lib/corpus.js';
import { Raw } from './lib/imap.js';
import { spawnRoost, writeBenchConfig } from './lib/node.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const REPEAT = Math.max(1, Number(process.env.BENCH_REPEAT ?? 5));
const SEED = 42;
const USER = 'bench@example.org';
const PASS = 'bench-password';
const QUERIES = [
  'SORT (ARRIVAL) UTF-8 ALL',
  'SORT (REVERSE ARRIVAL) UTF-8 ALL',
  'SORT (SUBJECT) UTF-8 ALL',
  'SORT (REVERSE SUBJECT) UTF-8 ALL',
  'SORT (FROM) UTF-8 ALL',
  'SORT (DATE) UTF-8 ALL',
  'SORT (REVERSE DATE) UTF-8 ALL',
  'SORT (SIZE) UTF-8 ALL',
  'SORT (DISPLAYFROM) UTF-8 ALL',
  'SORT (SUBJECT DATE) UTF-8 UNSEEN',
  'UID SORT (REVERSE DATE) UTF-8 ALL',
  'SORT RETURN (PARTIAL 1:100) (REVERSE DATE) UTF-8 ALL',
  'THREAD REFERENCES UTF-8 ALL',
  'THREAD ORDEREDSUBJECT UTF-8 ALL',
];

if (!existsSync(path.join(ROOT, 'dist', 'store', 'open.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { openSqliteDirectory } = await import(path.join(ROOT, 'dist', 'accounts', 'sqlite.js'));
const { openStore } = await import(path.join(ROOT, 'dist', 'store', 'open.js'));


async function populate(dataDir) {
  const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  const account = await dir.addUser({ address: USER, password: PASS });
  await dir.close();
  const store = await openStore({ dataDir, mailDir: path.join(dataDir, 'mail'), hostname: 'bench.example.org' });
  let next = 0;
  const worker = async () => {
    while (next < MESSAGES) {
      const i = next++;
      const draft = await store.createDraft();
      await draft.write(message(SEED, i, USER));
      await draft.finish();
      await store.deliver([account], draft, { sender: 'bench@example.net', internalDate: new Date(Date.UTC(2026, 0, 1) + i * 61_000) });
      if (i % 10_000 === 0) process.stderr.write(`  populated ${i}/${MESSAGES}\n`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, worker));
  await store.close();
}

const keep = process.env.BENCH_DATA;
const dataDir = keep ?? mkdtempSync(path.join(os.tmpdir(), 'roost-bench-sort-'));
if (!existsSync(path.join(dataDir, 'populated'))) {
  mkdirSync(dataDir, { recursive: true });
  process.stderr.write(`populating ${MESSAGES} messages through the store API…\n`);
  await populate(dataDir);
  writeFileSync(path.join(dataDir, 'populated'), String(MESSAGES));
}
const cfg = writeBenchConfig(
  dataDir,
  [
    '[log]\nlevel = "warn"',
    '[imap]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
    '[pop3]\nlisten = ""\ntls_listen = ""',
    '[qmqp]\nlisten = ""',
    '[lmtp]\nlisten = ""',
    '[admin]\nlisten = ""',
    '[auth]\nallow_plaintext = "loopback"',
    '[replication]\nlisten = ""',
  ],
);
const prof = process.env.BENCH_PROF;
const nodeArgs = prof ? ['--cpu-prof', `--cpu-prof-dir=${prof}`] : [];
const { child, ports } = await spawnRoost(dataDir, cfg, { nodeArgs });
const rows = [];
try {
  const c = await Raw.connect(ports.imap);
  await c.wait(/^\* OK/);
  await c.cmd(`LOGIN ${USER} ${PASS}`);
  await c.cmd('SELECT INBOX');
  for (const q of QUERIES) {
    const cold = await c.cmd(q);
    const warm = [];
    for (let i = 0; i < REPEAT; i++) warm.push((await c.cmd(q)).ms);
    warm.sort((a, b) => a - b);
    const row = { query: q, coldMs: Number(cold.ms.toFixed(1)), warmMedianMs: Number(warm[warm.length >> 1].toFixed(1)), bytes: cold.bytes };
    rows.push(row);
    process.stderr.write(`  ${q}: cold ${row.coldMs} ms, warm ${row.warmMedianMs} ms, ${row.bytes} bytes\n`);
  }
  c.close();
} finally {
  child.kill('SIGINT');
  await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  if (!keep) rmSync(dataDir, { recursive: true, force: true });
}
console.log(`| query (${MESSAGES} messages) | cold ms | warm median ms |`);
console.log('|---|---:|---:|');
for (const r of rows) console.log(`| ${r.query} | ${r.coldMs} | ${r.warmMedianMs} |`);
const out = path.join(ROOT, 'bench', 'results');
mkdirSync(out, { recursive: true });
writeFileSync(path.join(out, `sort-${new Date().toISOString().replace(/[:.]/g, '-')}.json`), JSON.stringify({ messages: MESSAGES, rows }, null, 2));
