#!/usr/bin/env node
// Memory of one node with a big open mailbox (issue 12 scope 4): a Roost node
// from dist/ in this process, a Maildir of BENCH_MESSAGES (default 100,000)
// files made with hard links and indexed at first open, then IMAP commands
// over a raw socket; after each step a full GC and process.memoryUsage().
// The client only counts bytes, so what grows is the server.
//
//   npm run build && node --expose-gc bench/memory.js
//   BENCH_MESSAGES=50000 BENCH_HEAPSNAPSHOT=1 node --expose-gc bench/memory.js
//
// BENCH_SKIP=envelope,search leaves those steps out. BENCH_HEAPSNAPSHOT=1 writes a heap snapshot at the end and prints the
// largest retainers by constructor. Results: bench/results/memory-<ts>.json.
import { existsSync, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import v8 from 'node:v8';
import { ROOT } from './lib/node.js';
import { waitForLetter } from './lib/maildir.js';
import { summarise } from './lib/heap.js';

const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
/** Body size of the generated messages (the corpus of bench/imap.js averages about 15 KB). */
const BODY_BYTES = Number(process.env.BENCH_BODY_BYTES ?? 15_000);
const USER = 'bench@example.org';
const PASS = 'bench-password';
if (typeof globalThis.gc !== 'function') {
  console.error('run with node --expose-gc');
  process.exit(1);
}
if (!existsSync(path.join(ROOT, 'dist', 'node.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { startNode } = await import(path.join(ROOT, 'dist', 'node.js'));
const { buildConfig } = await import(path.join(ROOT, 'dist', 'config', 'load.js'));
const { openSqliteDirectory } = await import(path.join(ROOT, 'dist', 'accounts', 'sqlite.js'));

/** A counting IMAP client: resolves each command at its tagged line. */
class Raw {
  constructor(s) {
    this.s = s;
    this.buf = '';
    this.waiter = null;
    this.tag = 0;
    this.lines = [];
    s.setEncoding('latin1');
    s.on('data', (c) => {
      this.buf += c;
      let i;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        if (line.startsWith('* SEARCH')) this.lines.push(line);
        if (this.waiter && this.waiter.re.test(line)) {
          const w = this.waiter;
          this.waiter = null;
          w.resolve(line);
        }
      }
      // Literal bodies pass through the line splitter; keep the buffer small.
      if (this.buf.length > 1 << 20) this.buf = this.buf.slice(-4096);
    });
  }
  wait(re) {
    return new Promise((resolve) => (this.waiter = { re, resolve }));
  }
  async cmd(text) {
    const tag = `m${++this.tag}`;
    const done = this.wait(new RegExp(`^${tag} (OK|NO|BAD)`));
    this.s.write(`${tag} ${text}\r\n`);
    const line = await done;
    if (!/ OK/.test(line)) throw new Error(`${text}: ${line}`);
    return line;
  }
}

async function connect(port) {
  const s = await new Promise((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1' }, () => resolve(c));
    c.on('error', reject);
  });
  const c = new Raw(s);
  await c.wait(/^\* OK/);
  await c.cmd(`LOGIN ${USER} ${PASS}`);
  return c;
}

function populate(maildir, n) {
  for (const sub of ['new', 'cur', 'tmp']) mkdirSync(path.join(maildir, sub), { recursive: true });
  const src = path.join(maildir, 'tmp', 'template');
  for (let i = 0; i < n; i++) {
    if (i % 10_000 === 0) {
      rmSync(src, { force: true });
      const body = `From: Sender ${i} <s${i}@example.net>\r\nTo: ${USER}\r\nSubject: bulk message ${i}\r\nMessage-ID: <${i}@bench>\r\nDate: Tue, 24 Nov 2026 10:00:00 +0000\r\n\r\n${'Body of a bulk message.\r\n'.repeat(Math.ceil(BODY_BYTES / 25))}`;
      writeFileSync(src, body);
    }
    const size = readFileSync(src).length;
    linkSync(src, path.join(maildir, 'cur', `${1_700_000_000 + Math.floor(i / 1000)}.M${i}P1Q${i}.gen,S=${size},W=${size}:2,`));
  }
  rmSync(src, { force: true });
}

const rows = [];
function measure(step) {
  const before = process.memoryUsage().rss;
  globalThis.gc();
  globalThis.gc();
  const m = process.memoryUsage();
  const mb = (x) => Math.round((x / 1048576) * 10) / 10;
  const r = { step, rssBeforeGcMB: mb(before), rssMB: mb(m.rss), heapUsedMB: mb(m.heapUsed), externalMB: mb(m.external), arrayBuffersMB: mb(m.arrayBuffers) };
  rows.push(r);
  process.stderr.write(`  ${step}: rss ${r.rssBeforeGcMB} MB before GC, ${r.rssMB} MB after, heap ${r.heapUsedMB} MB, external ${r.externalMB} MB\n`);
}


const dataDir = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'roost-bench-mem-'));
let node;
try {
  const config = buildConfig(
    {
      data_dir: dataDir,
      hostname: 'bench.example.org',
      log: { level: 'warn' },
      imap: { listen: '127.0.0.1:0', tls_listen: '' },
      pop3: { listen: '', tls_listen: '' },
      qmqp: { listen: '' },
      admin: { listen: '' },
      auth: { allow_plaintext: 'loopback' },
      replication: { listen: '' },
    },
    null,
    dataDir,
  );
  const dir = openSqliteDirectory(config.paths.dataDir, config.paths.mailDir);
  const account = await dir.addUser({ address: USER, password: PASS });
  await dir.close();
  process.stderr.write(`populating ${MESSAGES} messages (hard links)…\n`);
  populate(account.maildir, MESSAGES);
  node = await startNode(config);
  const port = node.ports().imap;
  measure('node started');
  const c = await connect(port);
  await c.cmd('SELECT INBOX');
  measure(`SELECT INBOX (${MESSAGES} indexed at first open)`);
  await c.cmd('FETCH 1:* (FLAGS UID)');
  measure('FETCH 1:* (FLAGS UID)');
  // BENCH_SKIP=envelope leaves out the IMAP structure-text cache (to tell its share in a heap snapshot).
  const skip = new Set((process.env.BENCH_SKIP ?? '').split(',').filter(Boolean));
  if (!skip.has('envelope')) {
    await c.cmd('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
    measure('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
  }
  await c.cmd('STORE 1:* +FLAGS.SILENT (\\Flagged)');
  measure('STORE 1:* +FLAGS.SILENT (\\Flagged), renames pending');
  await waitForLetter(account.maildir, 'F', true);
  await node.ctx.store.settle();
  measure('... renames done');
  await c.cmd('STORE 1:* -FLAGS.SILENT (\\Flagged)');
  for (const r of ['1:1000', '40001:41000', `${MESSAGES - 999}:${MESSAGES}`]) await c.cmd(`FETCH ${r} BODY[]`);
  await node.ctx.store.settle();
  measure('STORE 1:* -FLAGS, 3 × FETCH 1,000 BODY[], renames done');
  await c.cmd('SEARCH FLAGGED');
  if (!skip.has('search')) await c.cmd('SEARCH HEADER Message-ID "<77@bench>"');
  measure(skip.has('search') ? 'SEARCH FLAGGED' : 'SEARCH FLAGGED, SEARCH HEADER');
  const c2 = await connect(port);
  await c2.cmd('SELECT INBOX');
  await c2.cmd('FETCH 1:* (FLAGS UID)');
  measure('second session: SELECT INBOX, FETCH 1:* (FLAGS UID)');
  await c2.cmd('LOGOUT').catch(() => undefined);
  await c.cmd('LOGOUT').catch(() => undefined);
  await new Promise((r) => setTimeout(r, 500));
  measure('both sessions logged out');
  let top = null;
  if (process.env.BENCH_HEAPSNAPSHOT) {
    const file = v8.writeHeapSnapshot(path.join(dataDir, 'end.heapsnapshot'));
    top = summarise(file);
    for (const t of top) process.stderr.write(`    ${t.MB} MB  ${t.count}  ${t.name}\n`);
  }
  const outDir = path.join(ROOT, 'bench', 'results');
  mkdirSync(outDir, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const out = path.join(outDir, `memory-${stamp}.json`);
  writeFileSync(out, `${JSON.stringify({ benchmark: 'memory', date: new Date().toISOString(), node: process.version, messages: MESSAGES, bodyBytes: BODY_BYTES, rows, top }, null, 2)}\n`);
  console.log(`\nRoost node memory, ${MESSAGES} messages of ${BODY_BYTES} bytes in INBOX (after full GC)`);
  for (const r of rows) console.log(`${r.step.padEnd(64)} rss ${String(r.rssBeforeGcMB).padStart(7)} → ${String(r.rssMB).padStart(7)} MB  heap ${String(r.heapUsedMB).padStart(7)} MB  external ${String(r.externalMB).padStart(6)} MB`);
  console.log(`\nsaved ${path.relative(ROOT, out)}`);
} finally {
  await node?.stop();
  rmSync(dataDir, { recursive: true, force: true });
}
