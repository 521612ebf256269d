#!/usr/bin/env node
/**
 * npm run bench:ldap — recipient lookups per second against a real OpenLDAP
 * slapd (cold: caches off, every lookup a search; cached: warm positive cache),
 * logins per second (bind and compare mode), and durable QMQP ingest through
 * a real node (`roost serve` in its own process, as bench/ingest.js runs it)
 * with the LDAP backend (cache warm) versus the embedded one.
 *
 * Uses the build in dist/ (npm run build). slapd runs on a free loopback port
 * with its own cn=config and mdb database in a temp dir, and is killed by PID.
 * Every loop is bounded by count and by time.
 */
import { execFile, spawn } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { qmqpPacket, qmqpSend, spawnRoost } from './lib/node.js';

const run = promisify(execFile);
const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const SUFFIX = 'dc=bench,dc=example';
const USERS = Number(process.env.BENCH_LDAP_USERS ?? 2000);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16);

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
  });
}

/** Same setup as test/helpers/slapd.ts (kept in plain JS so the bench runs from dist/ without a TS loader). */
async function startSlapd() {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roost-bench-slapd-'));
  mkdirSync(path.join(dir, 'conf'));
  mkdirSync(path.join(dir, 'db'));
  const S = '/etc/ldap/schema';
  writeFileSync(
    path.join(dir, 'config.ldif'),
    `dn: cn=config\nobjectClass: olcGlobal\ncn: config\nolcPidFile: ${dir}/slapd.pid\nolcLogLevel: none\n\n` +
      `dn: cn=module{0},cn=config\nobjectClass: olcModuleList\ncn: module{0}\nolcModulePath: /usr/lib/ldap\nolcModuleLoad: back_mdb\n\n` +
      `dn: cn=schema,cn=config\nobjectClass: olcSchemaConfig\ncn: schema\n\n` +
      ['core', 'cosine', 'nis', 'inetorgperson'].map((s) => `include: file://${S}/${s}.ldif\n\n`).join('') +
      `include: file://${REPO}/contrib/ldap/qmail.ldif\n\n` +
      `dn: olcDatabase={-1}frontend,cn=config\nobjectClass: olcDatabaseConfig\nobjectClass: olcFrontendConfig\nolcDatabase: {-1}frontend\nolcSizeLimit: 500\n\n` +
      `dn: olcDatabase={0}config,cn=config\nobjectClass: olcDatabaseConfig\nolcDatabase: {0}config\nolcAccess: {0}to * by * none\n\n` +
      `dn: olcDatabase={1}mdb,cn=config\nobjectClass: olcDatabaseConfig\nobjectClass: olcMdbConfig\nolcDatabase: {1}mdb\nolcSuffix: ${SUFFIX}\n` +
      `olcRootDN: cn=admin,${SUFFIX}\nolcRootPW: secret\nolcDbDirectory: ${dir}/db\nolcDbMaxSize: 268435456\nolcDbNoSync: TRUE\n` +
      `olcDbIndex: objectClass eq\nolcDbIndex: mail,mailAlternateAddress,uid eq\n` +
      `olcAccess: {0}to attrs=userPassword by dn.exact="cn=admin,${SUFFIX}" read by anonymous auth by * none\nolcAccess: {1}to * by * read\n`,
  );
  await run('/usr/sbin/slapadd', ['-n0', '-F', path.join(dir, 'conf'), '-l', path.join(dir, 'config.ldif')]);
  const port = await freePort();
  const url = `ldap://127.0.0.1:${port}`;
  const child = spawn('/usr/sbin/slapd', ['-d', '0', '-F', path.join(dir, 'conf'), '-h', `${url}/`], { stdio: 'ignore' });
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      await run('/usr/bin/ldapsearch', ['-x', '-H', url, '-b', '', '-s', 'base', '1.1'], { timeout: 2000 });
      break;
    } catch (err) {
      if (Date.now() > deadline || child.exitCode !== null) throw new Error(`slapd did not start: ${err}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return { dir, url, child };
}

async function addUsers(url, dir, n, passwordHash) {
  let ldif = `dn: ${SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: bench\no: bench\n\n`;
  ldif += `dn: ou=people,${SUFFIX}\nobjectClass: organizationalUnit\nou: people\n\n`;
  for (let i = 0; i < n; i++) {
    ldif += `dn: uid=u${i},ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\nobjectClass: qmailUser\ncn: u${i}\nsn: u${i}\nuid: u${i}\n`;
    ldif += `mail: u${i}@bench.example\nmailAlternateAddress: alias${i}@bench.example\nmailMessageStore: u${i}/\nmailQuotaSize: 100000000\n`;
    ldif += `userPassword: ${passwordHash}\n\n`;
  }
  const file = path.join(dir, 'users.ldif');
  writeFileSync(file, ldif);
  await run('/usr/bin/ldapadd', ['-x', '-H', url, '-D', `cn=admin,${SUFFIX}`, '-w', 'secret', '-f', file], { maxBuffer: 64 << 20 });
}

/** Run `op(i)` with `concurrency` workers for `seconds` (and at most `maxOps` calls); returns ops/s. */
async function rate(op, { seconds = SECONDS, concurrency = CONCURRENCY, maxOps = 5_000_000 } = {}) {
  let i = 0;
  let done = 0;
  const end = Date.now() + seconds * 1000;
  const t0 = process.hrtime.bigint();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (Date.now() < end && i < maxOps) {
        await op(i++);
        done++;
      }
    }),
  );
  const secs = Number(process.hrtime.bigint() - t0) / 1e9;
  return done / secs;
}

function ldapConfig(buildConfig, url, over = {}) {
  return buildConfig(
    {
      directory: {
        backend: 'ldap',
        ldap: { url, base: SUFFIX, bind_dn: `cn=admin,${SUFFIX}`, bind_password: 'secret', message_store_base: os.tmpdir(), ...over },
      },
    },
    null,
  ).directory.ldap;
}




/** Start `roost serve` on a temp data dir with the given directory backend; deliver for SECONDS; stop it by PID. */
async function ingest(backend, ldapUrl, rcpts) {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), `roost-bench-${backend}-`));
  const users = Array.from({ length: rcpts }, (_, i) => `u${i}@bench.example`);
  const cfg = [
    `data_dir = "${dataDir}"`,
    'hostname = "bench.example.org"',
    '[log]\nlevel = "warn"',
    '[imap]\nlisten = ""\ntls_listen = ""',
    '[pop3]\nlisten = ""\ntls_listen = ""',
    '[qmqp]\nlisten = "127.0.0.1:0"\nmax_connections = 1000',
    '[lmtp]\nlisten = ""',
    '[admin]\nlisten = "127.0.0.1:0"',
    '[replication]\nlisten = ""',
    `[directory]\nbackend = "${backend}"`,
  ];
  if (backend === 'ldap')
    cfg.push(`[directory.ldap]\nurl = "${ldapUrl}"\nbase = "${SUFFIX}"\nbind_dn = "cn=admin,${SUFFIX}"\nbind_password = "secret"`);
  else {
    const { openSqliteDirectory } = await import(path.join(REPO, 'dist/accounts/sqlite.js'));
    const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
    // Same quota as the LDAP entries (mailQuotaSize), so both nodes do the same Maildir++ accounting.
    for (const address of users) await dir.addUser({ address, quotaBytes: 100_000_000 });
    await dir.close();
  }
  writeFileSync(path.join(dataDir, 'roost.toml'), cfg.join('\n') + '\n');
  const { child, ports } = await spawnRoost(dataDir, path.join(dataDir, 'roost.toml'), { stdio: ['ignore', 'ignore', 'inherit'], timeoutMs: 20_000 });
  try {
    const port = ports.qmqp;
    const admin = ports.admin;
    const message = Buffer.from('From: bench@example.net\nSubject: ingest\n\n' + 'The quick brown fox jumps over the lazy dog.\n'.repeat(90), 'latin1').subarray(0, 4096);
    const pkt = qmqpPacket(message, 'bench@example.net', users);
    // Warm-up fills the directory cache; then measure.
    for (let i = 0; i < 20; i++) await qmqpSend(port, pkt);
    let failed = 0;
    const perSecond = await rate(async () => {
      if ((await qmqpSend(port, pkt)) !== 'K') failed++;
    });
    // How the directory answered during the run (from the node's own /metrics).
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    const sum = (re) => [...metrics.matchAll(re)].reduce((a, m) => a + Number(m[1]), 0);
    const lookups = sum(new RegExp(`roost_directory_lookups_total\\{backend="${backend}",kind="recipient"[^}]*\\} (\\d+)`, 'g'));
    const hits = sum(new RegExp(`roost_directory_cache_hits_total\\{backend="${backend}"[^}]*\\} (\\d+)`, 'g'));
    return { perSecond, failed, lookups, hits };
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r() : child.once('exit', r)));
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function main() {
  const { LdapDirectory } = await import(path.join(REPO, 'dist/accounts/ldap.js'));
  const { buildConfig } = await import(path.join(REPO, 'dist/config/load.js'));
  const { pino } = await import('pino');
  const log = pino({ level: 'silent' });
  const { stdout: hash } = await run('/usr/sbin/slappasswd', ['-h', '{SSHA}', '-s', 'benchpw']);
  const slapd = await startSlapd();
  const rows = [];
  try {
    await addUsers(slapd.url, slapd.dir, USERS, hash.trim());
    const pick = (i) => (i % 2 ? `u${(i * 7919) % USERS}@bench.example` : `alias${(i * 7919) % USERS}@bench.example`);

    const cold = new LdapDirectory(ldapConfig(buildConfig, slapd.url, { cache_ttl_ms: 0, negative_cache_ttl_ms: 0 }), { mailDir: os.tmpdir(), log });
    await cold.lookupRecipient(pick(0));
    rows.push(['recipient lookup, cold (every lookup searches slapd)', await rate(async (i) => {
      const r = await cold.lookupRecipient(pick(i));
      if (r.kind !== 'found') throw new Error(`lookup ${pick(i)}: ${JSON.stringify(r)}`);
    })]);
    rows.push(['recipient lookup, cold, unknown address (+ catchall search)', await rate(async (i) => {
      await cold.lookupRecipient(`nobody${i}@bench.example`);
    })]);
    await cold.close();

    const warm = new LdapDirectory(ldapConfig(buildConfig, slapd.url, { cache_ttl_ms: 600_000 }), { mailDir: os.tmpdir(), log });
    for (let i = 0; i < 2 * USERS; i++) await warm.lookupRecipient(pick(i));
    rows.push(['recipient lookup, cached (warm positive cache)', await rate(async (i) => {
      const r = await warm.lookupRecipient(pick(i));
      if (r.kind !== 'found') throw new Error('lookup failed');
    })]);
    await warm.close();

    for (const mode of ['bind', 'compare']) {
      const d = new LdapDirectory(ldapConfig(buildConfig, slapd.url, { auth_mode: mode }), { mailDir: os.tmpdir(), log });
      rows.push([`login (${mode} mode, {SSHA})`, await rate(async (i) => {
        const r = await d.authenticate(`u${i % USERS}`, 'benchpw');
        if (r.kind !== 'ok') throw new Error(`login: ${JSON.stringify(r)}`);
      })]);
      await d.close();
    }

    // Disk and CPU noise is large next to the directory's share: run A B B A and report the mean of each.
    for (const rcpts of [1, 5]) {
      const got = { sqlite: [], ldap: [] };
      for (const backend of ['sqlite', 'ldap', 'ldap', 'sqlite']) got[backend].push(await ingest(backend, slapd.url, rcpts));
      for (const backend of ['sqlite', 'ldap']) {
        const runs = got[backend];
        const mean = runs.reduce((a, r) => a + r.perSecond, 0) / runs.length;
        const failed = runs.reduce((a, r) => a + r.failed, 0);
        const lookups = runs.reduce((a, r) => a + r.lookups, 0);
        const hits = runs.reduce((a, r) => a + r.hits, 0);
        const cache = backend === 'ldap' ? `; directory lookups ${lookups}, cache hits ${hits}` : '';
        const note = `runs ${runs.map((r) => r.perSecond.toFixed(0)).join(', ')}${failed ? `; ${failed} not K` : ''}${cache}`;
        rows.push([`QMQP ingest 4 KB, ${rcpts} rcpt, ${CONCURRENCY} clients, ${backend} directory (deliveries)`, mean, note]);
      }
    }
  } finally {
    slapd.child.kill('SIGTERM');
    await new Promise((r) => (slapd.child.exitCode !== null ? r() : slapd.child.once('exit', r)));
    rmSync(slapd.dir, { recursive: true, force: true });
  }
  console.log(`LDAP directory bench: ${USERS} users, ${CONCURRENCY} concurrent callers, ${SECONDS} s per row, slapd ${slapd.url}, load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')}`);
  console.log('| workload | per second | note |\n| --- | ---: | --- |');
  for (const [name, v, note = ''] of rows) console.log(`| ${name} | ${typeof v === 'number' ? v.toFixed(0) : v} | ${note} |`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
