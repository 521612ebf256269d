#!/usr/bin/env node
// IMAP server benchmark over a big INBOX, timed with a raw socket client
// (a full client library spends more time parsing than the server answering):
//
//   1. populate INBOX with BENCH_MESSAGES (default 100,000) corpus messages
//      through the store API (bench/lib/corpus.js, the same bytes Dovecot gets);
//   2. start `roost serve` from dist/ in its own process;
//   3. time SELECT, FETCH 1:* (FLAGS UID), UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)
//      twice, 1,000 full bodies in one command, SEARCH HEADER (twice) and
//      SEARCH BODY (full-text index first build, warm, and a full scan), SORT by
//      DATE/SUBJECT, THREAD REFERENCES, a QRESYNC SELECT after 1% of the
//      messages changed, STORE 1:* +FLAGS.SILENT (\Seen), IDLE wake-up latency after
//      a QMQP delivery, and server RSS per authenticated IDLE connection.
//
//   npm run build && npm run bench:imap
//   BENCH_MESSAGES=20000 BENCH_IDLE_CONNECTIONS=1000 npm run bench:imap
//   BENCH_ONLY=header-search BENCH_MESSAGES=100000 npm run bench:imap
//
// BENCH_ONLY=header-search times only SEARCH SUBJECT / HEADER Message-ID /
// FROM, each cold (the first header search after a restart of the node) and
// warm (again), SUBJECT right after UID FETCH 1:* ENVELOPE, and SORT
// (ARRIVAL, SUBJECT, FROM) and THREAD REFERENCES cold and warm.
//
// Prints a table and writes bench/results/imap-<timestamp>.json.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { message, RARE_WORD } from './lib/corpus.js';
import { Raw } from './lib/imap.js';
import { qmqpPacket, spawnRoost, writeBenchConfig } from './lib/node.js';
import { waitForLetter } from './lib/maildir.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const MESSAGES = Number(process.env.BENCH_MESSAGES ?? 100_000);
const IDLE_CONNECTIONS = Number(process.env.BENCH_IDLE_CONNECTIONS ?? 5000);
const IDLE_SAMPLES = 20;
/**
 * `idle-memory`: only the idle-connection memory phase, on a fresh node with a small INBOX (no 100,000-message churn in the baseline).
 * `header-search`: only header SEARCH, cold (right after a restart) and warm.
 */
const ONLY = process.env.BENCH_ONLY ?? '';
const SEED = 42;
const USER = 'bench@example.org';
const PASS = 'bench-password';

if (!existsSync(path.join(ROOT, 'dist', 'store', 'open.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { openSqliteDirectory } = await import(path.join(ROOT, 'dist', 'accounts', 'sqlite.js'));
const { openStore } = await import(path.join(ROOT, 'dist', 'store', 'open.js'));

// ---------------------------------------------------------------- raw client

/**
 * Minimal IMAP reader: counts bytes, skips literal contents without copying
 * them, and resolves a command when its tagged line arrives.
 */

async function login(port) {
  const c = await Raw.connect(port);
  await c.wait(/^\* OK/);
  await c.cmd(`LOGIN ${USER} ${PASS}`);
  return c;
}

// ---------------------------------------------------------------- setup

function qmqpDeliver(port, msg) {
  const pkt = qmqpPacket(msg, 'bench@example.net', [USER]);
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true }, () => s.write(pkt));
    const got = [];
    s.on('data', (c) => got.push(c));
    s.on('error', reject);
    s.on('close', () => resolve(Buffer.concat(got).toString('latin1')));
  });
}

async function populate(dataDir) {
  const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  const account = await dir.addUser({ address: USER, password: PASS });
  await dir.close();
  const store = await openStore({ dataDir, mailDir: path.join(dataDir, 'mail'), hostname: 'bench.example.org' });
  const t0 = performance.now();
  let next = 0;
  let bytes = 0;
  const worker = async () => {
    while (next < MESSAGES) {
      const i = next++;
      const m = message(SEED, i, USER);
      bytes += m.length;
      const draft = await store.createDraft();
      await draft.write(m);
      await draft.finish();
      await store.deliver([account], draft, { sender: 'bench@example.net', internalDate: new Date(Date.UTC(2026, 0, 1) + i * 61_000) });
      if (i % 10_000 === 0) process.stderr.write(`  populated ${i}/${MESSAGES}\n`);
    }
  };
  await Promise.all(Array.from({ length: 64 }, worker));
  const ms = performance.now() - t0;
  await store.close();
  return { ms, bytes, maildir: account.maildir };
}

async function startNode(dataDir) {
  const cfg = writeBenchConfig(
    dataDir,
    [
      '[log]\nlevel = "warn"',
      '[imap]\nlisten = "127.0.0.1:0"\ntls_listen = ""\nmax_connections = 100000',
      '[pop3]\nlisten = ""\ntls_listen = ""',
      '[qmqp]\nlisten = "127.0.0.1:0"',
      '[lmtp]\nlisten = ""',
      '[admin]\nlisten = ""',
      '[auth]\nallow_plaintext = "loopback"',
      '[replication]\nlisten = ""',
    ],
  );
  const { child, ports } = await spawnRoost(dataDir, cfg);
  return { child, imap: ports.imap, qmqp: ports.qmqp };
}

/** Resident and proportional set size of a process, in KiB (Linux /proc). */
function memoryKiB(pid) {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const rss = Number(/VmRSS:\s+(\d+)/.exec(status)?.[1] ?? 0);
  let pss = 0;
  try {
    pss = Number(/Pss:\s+(\d+)/.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0);
  } catch {
    // smaps_rollup needs Linux 4.14+
  }
  return { rss, pss };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))];
};

// ---------------------------------------------------------------- run

const dataDir = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'roost-bench-imap-'));
const rows = [];
const row = (name, ms, extra = '') => {
  rows.push({ name, ms: Number(ms.toFixed(1)), extra });
  process.stderr.write(`  ${name}: ${ms.toFixed(1)} ms ${extra}\n`);
};

let child;
try {
  process.stderr.write(`populating ${MESSAGES} messages through the store API…\n`);
  const pop = await populate(dataDir);
  process.stderr.write(`  ${MESSAGES} messages, ${(pop.bytes / 1e6).toFixed(0)} MB in ${(pop.ms / 1000).toFixed(1)} s\n`);
  let node = await startNode(dataDir);
  child = node.child;
  if (ONLY === 'header-search') {
    const restart = async () => {
      child.kill('SIGTERM');
      await new Promise((r) => child.on('exit', r));
      child = undefined;
      node = await startNode(dataDir);
      child = node.child;
      const k = await login(node.imap);
      await k.cmd('SELECT INBOX');
      return k;
    };
    const hitsOf = (r) => `${Math.max(0, (r.lines.find((l) => l.startsWith('* SEARCH')) ?? '* SEARCH').split(' ').length - 2)} hits`;
    // Each query once cold (first header search of a freshly started node) and once warm.
    const queries = [
      ['SEARCH SUBJECT', 'UID SEARCH SUBJECT "budget"'],
      ['SEARCH HEADER Message-ID', 'UID SEARCH HEADER Message-ID "<42.7777@"'],
      ['SEARCH FROM', 'UID SEARCH FROM "grace"'],
    ];
    let k = await login(node.imap);
    await k.cmd('SELECT INBOX');
    for (let qi = 0; qi < queries.length; qi++) {
      if (qi > 0) {
        k.close();
        k = await restart();
      }
      const [name, q] = queries[qi];
      const cold = await k.cmd(q, { keep: true });
      row(`${name}, cold (first after restart)`, cold.ms, hitsOf(cold));
      const warm = await k.cmd(q, { keep: true });
      row(`${name}, warm (again)`, warm.ms, hitsOf(warm));
    }
    await k.cmd('UID FETCH 1:* (ENVELOPE)');
    const afterEnv = await k.cmd(queries[0][1], { keep: true });
    row('SEARCH SUBJECT right after UID FETCH 1:* (ENVELOPE)', afterEnv.ms, hitsOf(afterEnv));
    // SORT and THREAD, cold (after a restart) then warm, in one session.
    k.close();
    k = await restart();
    for (const round of ['cold (first after restart)', 'warm (again)']) {
      for (const q of ['SORT (ARRIVAL) UTF-8 ALL', 'SORT (SUBJECT) UTF-8 ALL', 'SORT (FROM) UTF-8 ALL', 'THREAD REFERENCES UTF-8 ALL']) {
        const r = await k.cmd(q);
        row(`${q}, ${round}`, r.ms, `${(r.bytes / 1e6).toFixed(1)} MB`);
      }
    }
    k.close();
  }
  if (ONLY !== 'header-search') {

  const c = await login(node.imap);
  if (ONLY === 'idle-memory') await c.cmd('SELECT INBOX');
  else {
  const sel = await c.cmd('SELECT INBOX', { keep: true });
  row('SELECT INBOX', sel.ms, sel.lines.find((l) => / EXISTS$/.test(l)) ?? '');
  const flags = await c.cmd('FETCH 1:* (FLAGS UID)');
  row('FETCH 1:* (FLAGS UID)', flags.ms, `${(flags.bytes / 1e6).toFixed(1)} MB`);
  const env1 = await c.cmd('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
  row('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE), first', env1.ms, `${(env1.bytes / 1e6).toFixed(1)} MB`);
  const env2 = await c.cmd('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
  row('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE), again', env2.ms);
  const bodies = await c.cmd('FETCH 1:1000 BODY.PEEK[]');
  row('FETCH 1:1000 BODY.PEEK[] (1,000 full bodies)', bodies.ms, `${(bodies.bytes / 1e6).toFixed(1)} MB`);
  const sh1 = await c.cmd('SEARCH HEADER Message-ID "<42.77777@"', { keep: true });
  row('SEARCH HEADER Message-ID, first', sh1.ms, sh1.lines.find((l) => l.startsWith('* SEARCH')) ?? '');
  const sh2 = await c.cmd('SEARCH HEADER Message-ID "<42.77777@"');
  row('SEARCH HEADER Message-ID, again', sh2.ms);
  const sb = await c.cmd(`SEARCH BODY ${RARE_WORD}`, { keep: true });
  const hits = (sb.lines.find((l) => l.startsWith('* SEARCH')) ?? '').split(' ').length - 2;
  row(`SEARCH BODY ${RARE_WORD}`, sb.ms, `${hits} hits`);

  // Issue 7: full-text index vs a full scan, SORT/THREAD from index keys, QRESYNC after 1% changed.
  if (ONLY === '' || ONLY === 'modern') {
    // The first SEARCH BODY started indexing the mailbox in the background (and scanned); wait until the index answers.
    const tIdx = performance.now();
    let fts = await c.cmd(`SEARCH BODY ${RARE_WORD}`, { keep: true });
    while (fts.ms > 1000 && performance.now() - tIdx < 15 * 60_000) {
      await new Promise((r) => setTimeout(r, 5000));
      fts = await c.cmd(`SEARCH BODY ${RARE_WORD}`, { keep: true });
    }
    row('full-text index ready (background build after the first SEARCH BODY)', performance.now() - tIdx);
    row(`SEARCH BODY ${RARE_WORD}, full-text index`, fts.ms, fts.lines.find((l) => l.startsWith('* SEARCH'))?.slice(0, 40) ?? '');
    // An OR of the same key is not narrowed by the index: the evaluator decodes every message (a full scan, same answer).
    const scan = await c.cmd(`SEARCH OR BODY ${RARE_WORD} BODY ${RARE_WORD}`, { keep: true });
    row(`SEARCH BODY ${RARE_WORD}, full scan (OR of the key, no index)`, scan.ms, scan.lines.find((l) => l.startsWith('* SEARCH'))?.slice(0, 40) ?? '');
    for (const q of ['SORT (DATE) UTF-8 ALL', 'SORT (SUBJECT) UTF-8 ALL', 'THREAD REFERENCES UTF-8 ALL']) {
      const r1 = await c.cmd(q);
      row(q, r1.ms, `${(r1.bytes / 1e6).toFixed(1)} MB`);
    }
    const q0 = await login(node.imap);
    await q0.cmd('ENABLE QRESYNC');
    const sel0 = await q0.cmd('EXAMINE INBOX', { keep: true });
    const uv = /UIDVALIDITY (\d+)/.exec(sel0.lines.join('\n'))[1];
    const ms0 = /HIGHESTMODSEQ (\d+)/.exec(sel0.lines.join('\n'))[1];
    q0.close();
    // 1% of the messages change: flags on every 200th, expunge every 200th offset by 100.
    const ch = await login(node.imap);
    await ch.cmd('SELECT INBOX');
    const flagged = Array.from({ length: Math.floor(MESSAGES / 200) }, (_, k) => 1 + k * 200).join(',');
    await ch.cmd(`UID STORE ${flagged} +FLAGS.SILENT (\\Flagged)`);
    const gone = Array.from({ length: Math.floor(MESSAGES / 200) }, (_, k) => 101 + k * 200).join(',');
    await ch.cmd(`UID STORE ${gone} +FLAGS.SILENT (\\Deleted)`);
    await ch.cmd(`UID EXPUNGE ${gone}`);
    ch.close();
    const q1 = await login(node.imap);
    await q1.cmd('ENABLE QRESYNC');
    const rs = await q1.cmd(`EXAMINE INBOX (QRESYNC (${uv} ${ms0}))`, { keep: true });
    const fetches = rs.lines.filter((l) => / FETCH /.test(l)).length;
    row('QRESYNC SELECT after 1% changed (0.5% flags, 0.5% expunged)', rs.ms, `${(rs.bytes / 1e3).toFixed(0)} kB sent, ${fetches} FETCH + VANISHED (EARLIER)`);
    const full = await q1.cmd('FETCH 1:* (UID FLAGS)');
    row('  vs. full FETCH 1:* (UID FLAGS) resync', full.ms, `${(full.bytes / 1e6).toFixed(1)} MB sent`);
    q1.close();
    // The main session learns of the expunges before its sequence-number STORE at the end.
    await c.cmd('NOOP');
  }

  // IDLE wake-up: a QMQP delivery, timed from the moment the packet is sent
  // and from the moment the node answers K, to the EXISTS at the idle client.
  const idler = await login(node.imap);
  await idler.cmd('SELECT INBOX');
  idler.s.write('i1 IDLE\r\n');
  await idler.wait(/^\+ /);
  const fromSend = [];
  const fromK = [];
  for (let i = 0; i < IDLE_SAMPLES; i++) {
    const exists = idler.wait(/ EXISTS$/);
    const t0 = performance.now();
    let tK = 0;
    const k = qmqpDeliver(node.qmqp, message(SEED + 1, i, USER)).then((r) => {
      tK = performance.now();
      return r;
    });
    await exists;
    const tE = performance.now();
    const reply = await k;
    if (!/^\d+:K/.test(reply)) throw new Error(`QMQP: ${reply}`);
    fromSend.push(tE - t0);
    fromK.push(tE - tK);
    await new Promise((r) => setTimeout(r, 50));
  }
  idler.s.write('DONE\r\n');
  row('IDLE wake-up after QMQP delivery, p50 (from send)', pct(fromSend, 50), `p90 ${pct(fromSend, 90).toFixed(1)} ms`);
  row('IDLE EXISTS relative to QMQP K, p50', pct(fromK, 50), '(negative: EXISTS arrived before K)');
  idler.close();
  }

  // Idle memory: N authenticated connections in IDLE on INBOX.
  await new Promise((r) => setTimeout(r, 1000));
  if (global.gc) global.gc();
  const before = memoryKiB(child.pid);
  const conns = [];
  const t0 = performance.now();
  let opened = 0;
  const opener = async () => {
    while (opened < IDLE_CONNECTIONS) {
      opened++;
      const k = await login(node.imap);
      await k.cmd('SELECT INBOX');
      k.s.write('i IDLE\r\n');
      await k.wait(/^\+ /);
      conns.push(k);
      if (conns.length % 500 === 0) process.stderr.write(`  ${conns.length} idle connections\n`);
    }
  };
  await Promise.all(Array.from({ length: 32 }, opener));
  process.stderr.write(`  ${conns.length} IDLE connections opened in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);
  await new Promise((r) => setTimeout(r, 3000));
  const after = memoryKiB(child.pid);
  const perRss = ((after.rss - before.rss) * 1024) / conns.length;
  const perPss = ((after.pss - before.pss) * 1024) / conns.length;
  rows.push({ name: `server memory per IDLE connection (${conns.length}, INBOX selected)`, ms: null, extra: `RSS ${(perRss / 1024).toFixed(1)} KB, PSS ${(perPss / 1024).toFixed(1)} KB` });
  process.stderr.write(`  memory before ${before.rss} KiB RSS, after ${after.rss} KiB RSS\n`);
  // A delivery while they all idle: time until the last one hears of it.
  const waits = conns.map((k) => k.wait(/ EXISTS$/));
  const tAll = performance.now();
  await qmqpDeliver(node.qmqp, message(SEED + 2, 0, USER));
  await Promise.all(waits);
  row(`IDLE wake-up of all ${conns.length} idle clients (last one)`, performance.now() - tAll);
  for (const k of conns) k.close();

  // Last, because renaming 100,000 files for the new flag keeps the store busy afterwards.
  // The STORE figure includes the renames it causes (no hidden debt): until every file name has S.
  if (ONLY !== 'idle-memory') {
    // The deliveries above reach this session's view first, so 1:* is every file.
    await c.cmd('NOOP');
    const st = await c.cmd('STORE 1:* +FLAGS.SILENT (\\Seen)');
    row('STORE 1:* +FLAGS.SILENT (\\Seen), tagged OK', st.ms);
    const drained = await waitForLetter(pop.maildir, 'S', true);
    row('STORE 1:* +FLAGS.SILENT (\\Seen), until every file name has S', st.ms + drained);
    // The inverse, with 1,000 bodies fetched while its renames run (compare with the row above).
    const back = await c.cmd('STORE 1:* -FLAGS.SILENT (\\Seen)');
    const during = await c.cmd('FETCH 1:1000 BODY.PEEK[]');
    row('FETCH 1:1000 BODY.PEEK[] while the renames of a STORE 1:* run', during.ms);
    const drained2 = await waitForLetter(pop.maildir, 'S', false);
    row('STORE 1:* -FLAGS.SILENT (\\Seen), until no file name has S', back.ms + during.ms + drained2);
  }
  c.close();
  }
} finally {
  if (child) {
    child.kill('SIGTERM');
    await new Promise((r) => child.on('exit', r));
  }
  rmSync(dataDir, { recursive: true, force: true });
}

console.log(`\nRoost IMAP, ${MESSAGES} messages in INBOX, raw socket client`);
console.log(`${os.cpus().length} × ${os.cpus()[0]?.model ?? 'cpu'}, Node ${process.version}\n`);
const w = Math.max(...rows.map((r) => r.name.length));
for (const r of rows) console.log(`${r.name.padEnd(w)}  ${r.ms === null ? '' : `${r.ms.toFixed(1).padStart(9)} ms`}  ${r.extra}`);

const outDir = path.join(ROOT, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const file = path.join(outDir, `imap-${stamp}.json`);
writeFileSync(file, `${JSON.stringify({ benchmark: 'imap', date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, messages: MESSAGES, idleConnections: IDLE_CONNECTIONS, rows }, null, 2)}\n`);
console.log(`\nsaved ${path.relative(ROOT, file)}`);
