#!/usr/bin/env node
// CPU cost of the SORT keys' case mappings (src/imap/search/casemap.ts) over
// the stored sort keys of a real index, in this process: the part of a
// mailbox's first SORT/THREAD that turns every message's keys into column
// values (sort-column-set.ts rowOf). Best of 30 passes, so a shared VM's
// load mostly drops out. Compares this checkout's dist/ with BENCH_ROOT's.
//
//   BENCH_MESSAGES=10000 BENCH_DATA=/tmp/sortbench node bench/sort.js   # fills the data dir once
//   BENCH_DATA=/tmp/sortbench BENCH_ROOT=/path/to/base/checkout node bench/sort-casemap.js
import { readdirSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import Database from 'better-sqlite3';

const here = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const other = path.resolve(process.env.BENCH_ROOT ?? here);
const dataDir = process.env.BENCH_DATA;
if (!dataDir) {
  console.error('BENCH_DATA must name a data dir filled by bench/sort.js');
  process.exit(1);
}
const mine = await import(path.join(here, 'dist/imap/search/casemap.js'));
const theirs = await import(path.join(other, 'dist/imap/search/casemap.js'));
const keys = [];
for (const f of readdirSync(path.join(dataDir, 'index')).filter((n) => n.endsWith('.sqlite'))) {
  const db = new Database(path.join(dataDir, 'index', f), { readonly: true });
  for (const j of db.prepare('SELECT json FROM sort_keys').pluck().all()) keys.push(JSON.parse(j));
  db.close();
}
const names = keys.flatMap((k) => [k.displayFrom ?? '', k.displayTo ?? '']);
const addrs = keys.flatMap((k) => [k.subject ?? '', k.from ?? '', k.to ?? '', k.cc ?? '']);
const best = (f, xs) => {
  let b = Infinity;
  for (let r = 0; r < 30; r++) {
    const a = performance.now();
    for (const s of xs) f(s);
    b = Math.min(b, performance.now() - a);
  }
  return b;
};
const differ = names.filter((s) => mine.unicodeCasemap(s) !== theirs.unicodeCasemap(s)).length;
console.log(`${keys.length} messages: ${names.length} display names (${names.filter((s) => /[^\x00-\x7f]/.test(s)).length} non-ASCII), ${addrs.length} subjects and addresses; keys differing between the two builds: ${differ}`);
console.log('| ms, best of 30 | this checkout | BENCH_ROOT | load |');
console.log('|---|---:|---:|---:|');
for (const [label, fn, xs] of [
  ['unicodeCasemap (DISPLAYFROM, DISPLAYTO)', 'unicodeCasemap', names],
  ['asciiCasemap (SUBJECT, FROM, TO, CC)', 'asciiCasemap', addrs],
]) {
  console.log(`| ${label} | ${best(mine[fn], xs).toFixed(2)} | ${best(theirs[fn], xs).toFixed(2)} | ${os.loadavg()[0].toFixed(1)} |`);
}
