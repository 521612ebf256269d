#!/usr/bin/env node
// First logins and APPEND latency against one Roost node, split into their
// parts (issue 16 §6, §7): connect / LOGIN / SELECT of never-used accounts
// (20 messages each, unindexed), then APPENDs with a synchronizing literal,
// timed to the "+" continuation and from the literal to the tagged OK, into
// an INBOX of BENCH_INBOX messages.
//
//   npx tsc -p tsconfig.json && node bench/append-login.js
//   BENCH_ROOT=/path/to/other/checkout node bench/append-login.js   # the same run against another build
//   BENCH_INBOX=4000 BENCH_FRESH=3 BENCH_APPENDS=200 PROF=1 node bench/append-login.js   # PROF=1: --cpu-prof of the node
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeBenchConfig } from './lib/node.js';

const HERE = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ROOT = process.env.BENCH_ROOT ?? HERE;
const { message } = await import(path.join(ROOT, 'bench/lib/corpus.js'));
const { Imap } = await import(path.join(ROOT, 'bench/compare/clients.js'));
const { spawnRoost } = await import(path.join(ROOT, 'bench/lib/node.js'));
const { openSqliteDirectory } = await import(path.join(ROOT, 'dist/accounts/sqlite.js'));

const FRESH = Number(process.env.BENCH_FRESH ?? 5);
const INBOX = Number(process.env.BENCH_INBOX ?? 4000);
const APPENDS = Number(process.env.BENCH_APPENDS ?? 200);
const PASS = 'bench-secret';
const now = () => performance.now();
const p = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

const work = mkdtempSync(path.join(os.tmpdir(), 'roost-append-login-'));
const dataDir = path.join(work, 'data');
mkdirSync(dataDir, { recursive: true });
const directory = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
const users = ['ingest', ...Array.from({ length: FRESH }, (_, i) => `fresh${i}`)];
for (const u of users) {
  const { maildir } = await directory.addUser({ address: `${u}@example.org`, password: PASS });
  for (const d of ['cur', 'new', 'tmp']) mkdirSync(path.join(maildir, d), { recursive: true });
  const count = u === 'ingest' ? INBOX : 20;
  for (let i = 0; i < count; i++) {
    const m = message(10, i, `${u}@example.org`);
    writeFileSync(path.join(maildir, 'new', `${1767225600 + i}.M${i}P1.bench,S=${m.length}`), m);
  }
}
await directory.close();
const cfg = writeBenchConfig(
  dataDir,
  [
    '[log]\nlevel = "warn"',
    '[imap]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
    '[pop3]\nlisten = ""\ntls_listen = ""',
    '[qmqp]\nlisten = ""',
    '[lmtp]\nlisten = ""',
    '[admin]\nlisten = "127.0.0.1:0"',
    '[auth]\nallow_plaintext = "always"',
    '[replication]\nlisten = ""',
  ],
  path.join(work, 'roost.toml'),
);
const nodeArgs = process.env.PROF ? ['--cpu-prof', `--cpu-prof-dir=${path.join(HERE, 'bench/results/profiles')}`] : [];
const { child, ports } = await spawnRoost(dataDir, cfg, { nodeArgs });
const out = { root: ROOT, loadavg: os.loadavg()[0], logins: [], append: null };
try {
  for (let k = 0; k < FRESH; k++) {
    const a = now();
    const c = await Imap.connect(ports.imap);
    const b = now();
    await c.cmd(`LOGIN fresh${k}@example.org ${PASS}`);
    const d = now();
    await c.cmd('SELECT INBOX');
    const e = now();
    out.logins.push({ connect: b - a, login: d - b, select: e - d, total: e - a });
    c.close();
  }
  const c = await Imap.connect(ports.imap);
  await c.cmd(`LOGIN ingest@example.org ${PASS}`);
  // Index the prefilled INBOX before timing (its first open is not what this row measures).
  await c.cmd('STATUS INBOX (MESSAGES)');
  const total = [];
  const toPlus = [];
  const toOk = [];
  for (let i = 0; i < APPENDS; i++) {
    const m = message(11, i, 'ingest@example.org');
    const crlf = Buffer.from(m.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    const a = now();
    let b = a;
    await c.cmd(`APPEND INBOX {${crlf.length}}`, {
      onContinue: () => {
        b = now();
        c.s.write(Buffer.concat([crlf, Buffer.from('\r\n')]));
      },
    });
    const e = now();
    total.push(e - a);
    toPlus.push(b - a);
    toOk.push(e - b);
  }
  c.close();
  out.append = { p50: p(total, 0.5), p99: p(total, 0.99), continuationP50: p(toPlus, 0.5), literalToOkP50: p(toOk, 0.5) };
} finally {
  child.kill('SIGTERM');
  await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
  rmSync(work, { recursive: true, force: true });
}
const f = (x) => x.toFixed(2);
for (const [k, l] of out.logins.entries()) console.log(`first login fresh${k}: connect ${f(l.connect)} LOGIN ${f(l.login)} SELECT ${f(l.select)} total ${f(l.total)} ms`);
const a = out.append;
console.log(`APPEND into ${INBOX}+: p50 ${f(a.p50)} p99 ${f(a.p99)} ms; to "+" p50 ${f(a.continuationP50)}, literal to OK p50 ${f(a.literalToOkP50)} ms (load ${f(out.loadavg)})`);
