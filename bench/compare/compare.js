#!/usr/bin/env node
// Side-by-side benchmark: Roost and a private Dovecot on the same host, the
// same corpus (bench/lib/corpus.js) and the same client code (./clients.js),
// alternating A B A B … for BENCH_ROUNDS rounds; prints medians and ratios,
// writes bench/results/compare-<stamp>.json and .svg.
//
//   bash bench/compare/setup.sh      # installs Dovecot (and Postfix tools) if missing
//   npm run build && npm run bench:compare
//   BENCH_SCALE=0.1 npm run bench:compare   # a tenth of every size, for a quick look
//   BENCH_ONLY=pop3,imap-bodies npm run bench:compare   # only the workloads whose id starts with one of these
//
// Sizes at BENCH_SCALE=1 are the issue's: 5,000 ingested messages at 1 and 16
// clients, a 10,000-message POP3 maildrop, a 100,000-message IMAP INBOX,
// 2,000 idle IMAP connections, 200 mixed-load clients.
import { execFileSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { message, RARE_WORD } from '../lib/corpus.js';
import { Imap, Pop3, Lmtp, qmqpDeliver } from './clients.js';
import { startDovecot, dovecotVersion } from './dovecot.js';
import { renderSvg } from './chart.js';
import { spawnRoost, writeBenchConfig } from '../lib/node.js';
import { waitForLetter } from '../lib/maildir.js';
import { waitForTextIndex } from '../lib/text-index.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const SCALE = Number(process.env.BENCH_SCALE ?? 1);
const ROUNDS = Math.max(1, Number(process.env.BENCH_ROUNDS ?? 3));
const N = {
  ingest: Math.max(50, Math.round(5000 * SCALE)),
  pop: Math.max(100, Math.round(10_000 * SCALE)),
  big: Math.max(1000, Math.round(100_000 * SCALE)),
  idle: Math.max(50, Math.round(2000 * SCALE)),
  mixedClients: Math.max(10, Math.round(200 * SCALE)),
  mixedSeconds: Number(process.env.BENCH_MIXED_SECONDS ?? 10),
  append: Math.max(50, Math.round(500 * SCALE)),
};
const SEED = 7;
const PASS = 'bench-secret';
const USERS = {
  ingest: 'ingest',
  pop: 'pop',
  big: 'big',
  idle: 'idle',
  mixed: Array.from({ length: 10 }, (_, i) => `mix${i}`),
  // Never used before their round of the first-login row.
  fresh: Array.from({ length: ROUNDS }, (_, i) => `fresh${i}`),
};
const DOMAIN = 'example.org';

if (!dovecotVersion()) {
  console.error('dovecot is not installed: run `bash bench/compare/setup.sh` first');
  process.exit(1);
}
if (!existsSync(path.join(ROOT, 'dist', 'cli', 'main.js'))) {
  console.error('dist/ is missing: run `npm run build` first');
  process.exit(1);
}
const { openSqliteDirectory } = await import(path.join(ROOT, 'dist', 'accounts', 'sqlite.js'));

const log = (s) => process.stderr.write(`${s}\n`);
const now = () => performance.now();
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};
const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? 0;
};
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------ corpus files

/** Write the same corpus files into a Maildir's new/ (both servers index them on first open). */
function fillMaildir(maildir, count, seed, to) {
  for (const d of ['cur', 'new', 'tmp']) mkdirSync(path.join(maildir, d), { recursive: true });
  let bytes = 0;
  for (let i = 0; i < count; i++) {
    const m = message(seed, i, to);
    bytes += m.length;
    writeFileSync(path.join(maildir, 'new', `${1767225600 + i}.M${i}P1.bench,S=${m.length}`), m);
  }
  return bytes;
}

/** Bytes of every message file under a Maildir's new/ and cur/ (read, so it also times a cold or warm read). */
function maildirBytes(maildir) {
  let bytes = 0;
  for (const sub of ['new', 'cur']) {
    let names = [];
    try {
      names = readdirSync(path.join(maildir, sub));
    } catch {
      continue;
    }
    for (const n of names) bytes += readFileSync(path.join(maildir, sub, n)).length;
  }
  return bytes;
}

/** MB/s of `total` bytes sent through one loopback TCP connection in this process. */
async function loopbackMBps(total) {
  const server = net.createServer((sock) => sock.on('data', () => undefined));
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const sock = net.connect(server.address().port, '127.0.0.1');
  await new Promise((r) => sock.once('connect', r));
  const chunk = Buffer.alloc(64 * 1024, 0x61);
  const a = now();
  let sent = 0;
  while (sent < total) {
    sent += chunk.length;
    if (!sock.write(chunk)) await new Promise((r) => sock.once('drain', r));
  }
  await new Promise((r) => sock.end(r));
  const s = (now() - a) / 1000;
  sock.destroy();
  await new Promise((r) => server.close(r));
  return total / 1e6 / s;
}

// ------------------------------------------------------------ the two servers

async function startRoost(dir) {
  const dataDir = path.join(dir, 'data');
  mkdirSync(dataDir, { recursive: true });
  const directory = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  const maildirs = {};
  const all = [USERS.ingest, USERS.pop, USERS.big, USERS.idle, ...USERS.mixed, ...USERS.fresh];
  for (const u of all) {
    const acct = await directory.addUser({ address: `${u}@${DOMAIN}`, password: PASS });
    maildirs[u] = acct.maildir;
  }
  await directory.close();
  const cfg = writeBenchConfig(
    dataDir,
    [
      '[log]\nlevel = "warn"',
      // Many connections from one test client on loopback: the per-address caps (issue 13) would refuse the idle and mixed rows.
      '[imap]\nlisten = "127.0.0.1:0"\ntls_listen = ""\nmax_connections = 100000\nmax_connections_per_ip = 100000\nmax_userip_connections = 100000',
      '[pop3]\nlisten = "127.0.0.1:0"\ntls_listen = ""\nmax_connections_per_ip = 100000',
      '[qmqp]\nlisten = "127.0.0.1:0"\nmax_connections = 1000',
      '[lmtp]\nlisten = "127.0.0.1:0"\nmax_connections = 1000',
      '[admin]\nlisten = "127.0.0.1:0"',
      '[auth]\nallow_plaintext = "always"',
      '[replication]\nlisten = ""',
    ],
    path.join(dir, 'roost.toml'),
  );
  return {
    kind: 'roost',
    dataDir,
    cfg,
    maildir: (u) => maildirs[u],
    login: (u) => `${u}@${DOMAIN}`,
    async start() {
      const started = await spawnRoost(dataDir, cfg, { nodeArgs: ['--max-old-space-size=4096'], timeoutMs: 180_000 });
      this.child = started.child;
      this.ports = { imap: started.ports.imap, pop3: started.ports.pop3, qmqp: started.ports.qmqp, lmtp: started.ports.lmtp };
      this.lmtpPool = [];
    },
    pids() {
      return [this.child.pid];
    },
    deliver(msg, rcpt) {
      return qmqpDeliver(this.ports.qmqp, msg, 'bench@example.net', [rcpt]);
    },
    // The same LMTP client and connection reuse as Dovecot's side (one kept connection per client).
    async deliverLmtp(msg, rcpt) {
      const c = this.lmtpPool.pop() ?? (await Lmtp.connect(this.ports.lmtp));
      await c.deliver(msg, 'bench@example.net', [rcpt]);
      this.lmtpPool.push(c);
    },
    async stop() {
      for (const c of this.lmtpPool) c.close();
      this.child.kill('SIGTERM');
      await new Promise((r) => (this.child.exitCode !== null ? r() : this.child.once('exit', r)));
    },
  };
}

async function startDove(dir) {
  const users = [USERS.ingest, USERS.pop, USERS.big, USERS.idle, ...USERS.mixed, ...USERS.fresh].map((u) => ({ name: `${u}@${DOMAIN}`, password: PASS }));
  const dv = await startDovecot(dir, users);
  const lmtpPool = [];
  return {
    ...dv,
    maildir: (u) => dv.maildir(`${u}@${DOMAIN}`),
    login: (u) => `${u}@${DOMAIN}`,
    async deliverLmtp(msg, rcpt) {
      return this.deliver(msg, rcpt);
    },
    async deliver(msg, rcpt) {
      const c = lmtpPool.pop() ?? (await Lmtp.connect(dv.ports.lmtp));
      await c.deliver(msg, 'bench@example.net', [rcpt]);
      lmtpPool.push(c);
    },
    async stop() {
      for (const c of lmtpPool) c.close();
      await dv.stop();
    },
  };
}

function pss(pids) {
  let kb = 0;
  for (const pid of pids) {
    try {
      const m = /^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'));
      if (m) kb += Number(m[1]);
    } catch {
      // process gone
    }
  }
  return kb * 1024;
}

// ------------------------------------------------------------ workloads

async function imapLogin(t, user, select = 'INBOX') {
  const c = await Imap.connect(t.ports.imap);
  await c.login(t.login(user), PASS);
  if (select) await c.cmd(`SELECT ${select}`);
  return c;
}

async function timed(fn) {
  const a = now();
  await fn();
  return now() - a;
}

/** N.ingest corpus messages through `deliver` from `clients` senders at once; messages per second. */
async function ingestConcurrently(clients, seed, deliver) {
  let next = 0;
  const a = now();
  await Promise.all(
    Array.from({ length: clients }, async () => {
      while (next < N.ingest) await deliver(message(seed, next++), `${USERS.ingest}@${DOMAIN}`);
    }),
  );
  return N.ingest / ((now() - a) / 1000);
}

const WORKLOADS = [
  {
    id: 'ingest-1',
    label: `ingest ${N.ingest} msgs, 1 client (msg/s)`,
    better: 'higher',
    async run(t, round) {
      const a = now();
      for (let i = 0; i < N.ingest; i++) await t.deliver(message(SEED + 100 + round, i), `${USERS.ingest}@${DOMAIN}`);
      return N.ingest / ((now() - a) / 1000);
    },
  },
  {
    id: 'ingest-16',
    label: `ingest ${N.ingest} msgs, 16 clients (msg/s)`,
    better: 'higher',
    run: (t, round) => ingestConcurrently(16, SEED + 200 + round, (msg, rcpt) => t.deliver(msg, rcpt)),
  },
  {
    id: 'ingest-lmtp-16',
    label: `ingest ${N.ingest} msgs over LMTP on both sides, 16 clients (msg/s)`,
    better: 'higher',
    run: (t, round) => ingestConcurrently(16, SEED + 400 + round, (msg, rcpt) => t.deliverLmtp(msg, rcpt)),
  },
  {
    id: 'pop3-uidl',
    label: `POP3 login + UIDL, ${N.pop} msgs (ms)`,
    better: 'lower',
    async run(t) {
      const a = now();
      const c = await Pop3.connect(t.ports.pop3);
      await c.send(`USER ${t.login(USERS.pop)}`, false);
      await c.send(`PASS ${PASS}`, false);
      await c.send('UIDL', true);
      const ms = now() - a;
      await c.send('QUIT', false);
      c.close();
      return ms;
    },
  },
  {
    id: 'pop3-download',
    label: `POP3 download all ${N.pop} msgs (MB/s)`,
    better: 'higher',
    async run(t) {
      const c = await Pop3.connect(t.ports.pop3);
      await c.send(`USER ${t.login(USERS.pop)}`, false);
      await c.send(`PASS ${PASS}`, false);
      const stat = await c.send('STAT', false);
      const count = Number(stat.first.split(' ')[1]);
      const { bytes, seconds: s } = await c.retrieveAll(count);
      await c.send('QUIT', false);
      c.close();
      return bytes / 1e6 / s;
    },
  },
  {
    id: 'imap-select-flags',
    label: `IMAP SELECT + FETCH 1:* (FLAGS UID), ${N.big} msgs (ms)`,
    better: 'lower',
    async run(t) {
      const c = await imapLogin(t, USERS.big, null);
      const ms = await timed(async () => {
        await c.cmd('SELECT INBOX');
        await c.cmd('FETCH 1:* (FLAGS UID)');
      });
      c.close();
      return ms;
    },
  },
  {
    id: 'imap-envelope',
    label: 'IMAP UID FETCH 1:* (ENVELOPE BODYSTRUCTURE) (ms)',
    better: 'lower',
    async run(t) {
      const c = await imapLogin(t, USERS.big);
      const ms = await timed(() => c.cmd('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)'));
      c.close();
      return ms;
    },
  },
  {
    id: 'imap-bodies',
    label: 'IMAP 1,000 full bodies, one command (ms)',
    better: 'lower',
    async run(t) {
      const c = await imapLogin(t, USERS.big);
      const ms = await timed(() => c.cmd(`FETCH 1:${Math.min(1000, N.big)} (BODY.PEEK[])`));
      c.close();
      return ms;
    },
  },
  {
    id: 'imap-search-header',
    label: 'IMAP SEARCH HEADER Message-ID (ms)',
    better: 'lower',
    async run(t, round) {
      const c = await imapLogin(t, USERS.big);
      const ms = await timed(() => c.cmd(`SEARCH HEADER Message-ID "<${SEED}.${(round * 7919) % N.big}@corpus"`));
      c.close();
      return ms;
    },
  },
  {
    id: 'imap-search-subject',
    label: 'IMAP SEARCH SUBJECT (a common word), warm (ms)',
    better: 'lower',
    async run(t) {
      const c = await imapLogin(t, USERS.big);
      const ms = await timed(() => c.cmd('SEARCH SUBJECT migration'));
      c.close();
      return ms;
    },
  },
  {
    id: 'imap-search-from',
    label: 'IMAP SEARCH FROM (a display name), warm (ms)',
    better: 'lower',
    async run(t) {
      const c = await imapLogin(t, USERS.big);
      const ms = await timed(() => c.cmd('SEARCH FROM Diaz'));
      c.close();
      return ms;
    },
  },
  ...[
    ['imap-sort-arrival', 'SORT (ARRIVAL) UTF-8 ALL'],
    ['imap-sort-subject', 'SORT (SUBJECT) UTF-8 ALL'],
    ['imap-sort-from', 'SORT (FROM) UTF-8 ALL'],
    ['imap-thread-references', 'THREAD REFERENCES UTF-8 ALL'],
  ].map(([id, command]) => ({
    id,
    label: `IMAP ${command.replace(' UTF-8 ALL', '')}, ${N.big} msgs (ms)`,
    better: 'lower',
    async run(t) {
      const c = await imapLogin(t, USERS.big);
      const ms = await timed(() => c.cmd(command));
      c.close();
      return ms;
    },
  })),
  {
    id: 'pop3-mpop',
    // A real client that pipelines (mpop, RFC 2449 PIPELINING), keeping mail on the server, into a Maildir on the same disk.
    label: `POP3 download all ${N.pop} msgs with mpop (MB/s)`,
    better: 'higher',
    async run(t, round) {
      const dir = path.join(work, `mpop-${t.kind}-${round}`);
      for (const d of ['cur', 'new', 'tmp']) mkdirSync(path.join(dir, d), { recursive: true });
      const a = now();
      execFileSync(
        'mpop',
        [
          '--host=127.0.0.1',
          `--port=${t.ports.pop3}`,
          '--tls=off',
          '--auth=user',
          `--user=${t.login(USERS.pop)}`,
          `--passwordeval=echo ${PASS}`,
          '--keep=on',
          '--only-new=off',
          '--received-header=off',
          `--uidls-file=${path.join(dir, 'uidls')}`,
          `--delivery=maildir,${dir}`,
          '--quiet',
        ],
        { stdio: ['ignore', 'ignore', 'inherit'] },
      );
      const s = (now() - a) / 1000;
      const bytes = maildirBytes(dir);
      rmSync(dir, { recursive: true, force: true });
      return bytes / 1e6 / s;
    },
  },
  {
    id: 'limit-read-files',
    // The physical limit of the POP3 rows: reading the same message files (page cache warm), no server.
    label: `limit: read the ${N.pop} POP3 message files, no server (MB/s)`,
    better: 'higher',
    async run(t) {
      const a = now();
      const bytes = maildirBytes(t.maildir(USERS.pop));
      return bytes / 1e6 / ((now() - a) / 1000);
    },
  },
  {
    id: 'limit-loopback',
    // The other physical limit: one TCP stream over loopback, 64 KiB writes with back-pressure.
    label: 'limit: raw loopback TCP stream, 256 MB (MB/s)',
    better: 'higher',
    async run() {
      return loopbackMBps(256 * 1024 * 1024);
    },
  },
  {
    id: 'imap-first-login',
    label: 'IMAP first login of an account: connect, LOGIN, SELECT INBOX (ms)',
    better: 'lower',
    async run(t, round) {
      const a = now();
      const c = await imapLogin(t, USERS.fresh[round]);
      const ms = now() - a;
      c.close();
      return ms;
    },
  },
  {
    id: 'imap-append-p50',
    label: `IMAP APPEND ${N.append} msgs one by one, synchronizing literal, p50 (ms)`,
    better: 'lower',
    async run(t, round, st) {
      const c = await imapLogin(t, USERS.ingest, null);
      const samples = [];
      for (let i = 0; i < N.append; i++) {
        const m = message(SEED + 300 + round, i, `${USERS.ingest}@${DOMAIN}`);
        const crlf = Buffer.from(m.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
        const a = now();
        await c.cmd(`APPEND INBOX {${crlf.length}}`, { onContinue: () => c.s.write(Buffer.concat([crlf, Buffer.from('\r\n')])) });
        samples.push(now() - a);
      }
      c.close();
      // Per round: the p99 row runs after every round of this one.
      (st.appendP99 ??= [])[round] = pct(samples, 99);
      return median(samples);
    },
  },
  {
    id: 'imap-append-p99',
    label: 'IMAP APPEND p99 (ms, same run as the row above)',
    better: 'lower',
    async run(t, round, st) {
      return st.appendP99?.[round] ?? NaN;
    },
  },
  {
    id: 'imap-search-body',
    label: `IMAP SEARCH BODY (rare word) (ms)`,
    better: 'lower',
    async run(t) {
      const c = await imapLogin(t, USERS.big);
      const ms = await timed(() => c.cmd(`SEARCH BODY ${RARE_WORD}`));
      c.close();
      return ms;
    },
  },
  {
    id: 'imap-store',
    // Until the Maildir names carry the change: Roost renames after the tagged OK, Dovecot before it.
    label: 'IMAP STORE 1:* +/-FLAGS.SILENT (\\Seen), renames included (ms)',
    better: 'lower',
    async run(t, round) {
      const c = await imapLogin(t, USERS.big);
      const add = round % 2 === 0;
      const ms = await timed(async () => {
        await c.cmd(`STORE 1:* ${add ? '+' : '-'}FLAGS.SILENT (\\Seen)`);
        await waitForLetter(t.maildir(USERS.big), 'S', add);
      });
      c.close();
      return ms;
    },
  },
  {
    id: 'imap-idle-wake',
    label: 'IMAP IDLE wake-up after delivery, median of 10 (ms)',
    better: 'lower',
    async run(t, round) {
      const c = await imapLogin(t, USERS.idle);
      const samples = [];
      for (let i = 0; i < 10; i++) {
        let resolveExists;
        const exists = new Promise((r) => (resolveExists = r));
        c.onUntagged = (line) => {
          if (/^\* \d+ EXISTS/.test(line)) resolveExists(now());
        };
        const done = c.cmd('IDLE');
        await new Promise((r) => setTimeout(r, 20));
        const a = now();
        await t.deliver(message(SEED + 300 + round, i), `${USERS.idle}@${DOMAIN}`);
        const at = await Promise.race([exists, sleep(5000).then(() => null)]);
        samples.push(at === null ? 5000 : at - a);
        c.s.write('DONE\r\n');
        await done;
      }
      c.onUntagged = null;
      c.close();
      return median(samples);
    },
  },
  {
    id: 'imap-idle-memory',
    label: `memory per idle IMAP connection, ${N.idle} conns (KB, PSS)`,
    better: 'lower',
    async run(t) {
      await sleep(500);
      const before = pss(t.pids());
      const conns = [];
      for (let i = 0; i < N.idle; i += 50) {
        const batch = await Promise.all(
          Array.from({ length: Math.min(50, N.idle - i) }, async () => {
            const c = await imapLogin(t, USERS.idle);
            c.cmd('IDLE').catch(() => undefined);
            return c;
          }),
        );
        conns.push(...batch);
      }
      await sleep(2000);
      const after = pss(t.pids());
      for (const c of conns) c.close();
      await sleep(1000);
      return (after - before) / conns.length / 1024;
    },
  },
  {
    id: 'mixed-p50',
    label: `mixed load ${N.mixedClients} clients: p50 command latency (ms)`,
    better: 'lower',
    async run(t, round, state) {
      state.lat = await mixedLoad(t);
      return pct(state.lat, 50);
    },
  },
  {
    id: 'mixed-p99',
    label: `mixed load ${N.mixedClients} clients: p99 command latency (ms)`,
    better: 'lower',
    derived: true,
    async run(t, round, state) {
      return pct(state.lat, 99);
    },
  },
];

/** Thunderbird-like: NOOP, fetch headers of the newest 20, read one, flag it; a short think time. */
async function mixedLoad(t) {
  const lat = [];
  const end = now() + N.mixedSeconds * 1000;
  await Promise.all(
    Array.from({ length: N.mixedClients }, async (_, k) => {
      const c = await imapLogin(t, USERS.mixed[k % USERS.mixed.length]);
      let i = k;
      while (now() < end) {
        for (const cmd of [
          'NOOP',
          'FETCH 481:500 (UID FLAGS RFC822.SIZE ENVELOPE)',
          `FETCH ${(i % 500) + 1} (BODY.PEEK[])`,
          `STORE ${(i % 500) + 1} +FLAGS.SILENT (\\Seen)`,
        ]) {
          const a = now();
          await c.cmd(cmd);
          lat.push(now() - a);
        }
        i += 7;
        await sleep(20);
      }
      c.close();
    }),
  );
  return lat;
}

// ------------------------------------------------------------ main

const work = mkdtempSync(path.join(process.env.BENCH_DIR ?? os.tmpdir(), 'roost-compare-'));
// Dovecot's auth and mail processes run as other users and must reach their files.
chmodSync(work, 0o755);
const roost = await startRoost(path.join(work, 'roost'));
mkdirSync(path.join(work, 'dovecot'), { recursive: true });
const dovecot = await startDove(path.join(work, 'dovecot'));
// Never leave either server running when the benchmark fails.
process.on('exit', () => {
  roost.child?.kill('SIGKILL');
  for (const pid of dovecot.pids()) {
    try {
      process.kill(pid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
});

log(`corpus: ${N.pop} POP3 msgs, ${N.big} IMAP msgs, 10×500 mixed (seed ${SEED}) into both Maildirs`);
const setup = {};
for (const t of [roost, dovecot]) {
  const a = now();
  fillMaildir(t.maildir(USERS.pop), N.pop, SEED, `${USERS.pop}@${DOMAIN}`);
  fillMaildir(t.maildir(USERS.big), N.big, SEED, `${USERS.big}@${DOMAIN}`);
  for (const u of USERS.mixed) fillMaildir(t.maildir(u), 500, SEED + 1, `${u}@${DOMAIN}`);
  fillMaildir(t.maildir(USERS.idle), 10, SEED + 2, `${USERS.idle}@${DOMAIN}`);
  for (const u of USERS.fresh) fillMaildir(t.maildir(u), 20, SEED + 3, `${u}@${DOMAIN}`);
  fillMaildir(t.maildir(USERS.ingest), 0, SEED, '');
  setup[t.kind] = { writeMs: Math.round(now() - a) };
}
execFileSync('chown', ['-R', `${dovecot.uid}:${dovecot.gid}`, path.join(work, 'dovecot', 'mail')]);
await roost.start();

// First access: each server indexes the Maildirs it was handed (reported, not compared).
for (const t of [roost, dovecot]) {
  for (const u of [USERS.pop, USERS.big, USERS.idle, ...USERS.mixed]) {
    const a = now();
    const c = await imapLogin(t, u, null);
    await c.cmd('SELECT INBOX');
    if (u === USERS.big) await c.cmd('UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)');
    c.close();
    if (u === USERS.big) setup[t.kind].firstOpenBigMs = Math.round(now() - a);
  }
}
// Roost indexes opened mailboxes for SEARCH BODY in the background (src/store/text-indexer.ts); Dovecot
// has no full-text index here. Wait for it, so it does not run under the timed rows; its time is reported.
setup.roost.ftsBuildMs = await waitForTextIndex(roost.dataDir, N.pop + N.big + 10 + 500 * USERS.mixed.length);
log(`setup: ${JSON.stringify(setup)}`);

const results = [];
const state = { roost: {}, dovecot: {} };
const ONLY = process.env.BENCH_ONLY ? process.env.BENCH_ONLY.split(',') : null;
for (const w of WORKLOADS.filter((x) => !ONLY || ONLY.some((p) => x.id.startsWith(p)))) {
  const r = { id: w.id, label: w.label, better: w.better, roost: [], dovecot: [] };
  for (let round = 0; round < ROUNDS; round++) {
    for (const t of round % 2 ? [dovecot, roost] : [roost, dovecot]) {
      const v = await w.run(t, round, state[t.kind]);
      r[t.kind].push(Number(v.toFixed(3)));
    }
  }
  r.roostMedian = median(r.roost);
  r.dovecotMedian = median(r.dovecot);
  // "advantage": how many times better Roost is (>1 = Roost ahead).
  const adv = (a, b) => (w.better === 'higher' ? a / b : b / a);
  r.advantage = adv(r.roostMedian, r.dovecotMedian);
  r.roundAdvantage = r.roost.map((v, i) => Number(adv(v, r.dovecot[i]).toFixed(2)));
  // The machine may be shared: the load next to each figure says how far to trust it.
  r.loadavg = Number(os.loadavg()[0].toFixed(2));
  results.push(r);
  log(`  ${w.label}: roost ${r.roostMedian.toFixed(2)}, dovecot ${r.dovecotMedian.toFixed(2)}, ×${r.advantage.toFixed(2)} (rounds ${r.roundAdvantage.join(', ')}), load ${r.loadavg}`);
}

await roost.stop();
await dovecot.stop();
if (!process.env.BENCH_KEEP) rmSync(work, { recursive: true, force: true });

const machine = {
  cpus: os.cpus().length,
  cpuModel: os.cpus()[0]?.model,
  memGiB: Math.round(os.totalmem() / 2 ** 30),
  kernel: os.release(),
  node: process.version,
  dovecot: dovecotVersion(),
};
const header = ['metric', 'Roost', 'Dovecot', 'Roost advantage'];
const rows = results.map((r) => [r.label, r.roostMedian.toFixed(2), r.dovecotMedian.toFixed(2), `${r.advantage.toFixed(2)}×`]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells) => `| ${cells.map((c, i) => (i ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join(' | ')} |`;
const table = [line(header), `|${widths.map((w, i) => (i ? '-'.repeat(w + 1) + ':' : '-'.repeat(w + 2))).join('|')}|`, ...rows.map(line)].join('\n');
console.log(`\nRoost vs Dovecot — medians of ${ROUNDS} alternating rounds, scale ${SCALE}`);
console.log(`${machine.cpus} × ${machine.cpuModel}, kernel ${machine.kernel}, Node ${machine.node}, Dovecot ${machine.dovecot}\n`);
console.log(table);
console.log('\n"Roost advantage" > 1 means Roost is ahead (time: Dovecot/Roost; throughput: Roost/Dovecot).');

const outDir = path.join(ROOT, 'bench', 'results');
mkdirSync(outDir, { recursive: true });
const stamp = new Date().toISOString().replace(/[:.]/g, '-');
const json = path.join(outDir, `compare-${stamp}.json`);
writeFileSync(json, JSON.stringify({ benchmark: 'compare', date: new Date().toISOString(), scale: SCALE, rounds: ROUNDS, sizes: N, machine, setup, results }, null, 2) + '\n');
const svg = path.join(outDir, `compare-${stamp}.svg`);
writeFileSync(svg, renderSvg(results, `Roost vs Dovecot ${machine.dovecot?.split(' ')[0]} (scale ${SCALE}, ${machine.cpus} cores)`));
writeFileSync(path.join(outDir, 'compare-latest.md'), `${table}\n`);
console.log(`\nsaved ${path.relative(ROOT, json)} and ${path.relative(ROOT, svg)}`);
