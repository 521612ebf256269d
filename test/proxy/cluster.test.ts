/**
 * Past one pair: a whole cluster on loopback. One real
 * slapd holds qmail-ldap entries on two mailHosts (mx1, mx2); each mailHost
 * is a Roost pair (two processes replicating, four nodes in all); nginx's
 * mail module sits in front with `auth_http` pointed at pair 1's primary and
 * `proxy_protocol on;` towards the backends. Every node names both pairs in
 * cluster.hosts by their nodes' admin listeners (no floating address), so the
 * service routes each login to its pair's current primary.
 *
 * Clients connect to nginx from 127.0.0.2 … while nginx reaches Roost from
 * 127.0.0.1, so a limit that counts the client is told apart from one that
 * counts nginx. The last test fails pair 2 over (kill -9 its primary, `roost
 * promote` its replica) while sessions on both pairs are in use; pair 2,
 * because pair 1's primary is the one auth_http service nginx is given here.
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { roost } from '../helpers/cli.js';
import { freePort as anyFreePort, mailProxyBlock, nginxAvailable, startNginx, type Nginx } from '../helpers/nginx.js';
import { rawConnect, type RawConn } from '../helpers/raw-conn.js';
import { READER_DN, READER_PW, ROOT_DN, ROOT_PW, SUFFIX, Slapd, userLdif } from '../helpers/slapd.js';
import { freePort, Pair, ports, qmqpSend, replStatus, testMessage, waitUntil, type PairNode } from '../replication/pair.js';

const run = promisify(execFile);
const SECRET = 'cluster-auth-secret';
/** Login (uid) → mailHost. ann, cat and eve live on pair 1 (cat and eve are moved to pair 2), bob and dan on pair 2. */
const USERS = { ann: 'mx1.test', cat: 'mx1.test', eve: 'mx1.test', bob: 'mx2.test', dan: 'mx2.test' } as const;
type User = keyof typeof USERS;
const pw = (u: User): string => `pw-${u}`;
/** Messages delivered to each account before the clients come. */
const PER_USER = 3;

let slapd: Slapd;
let writePasswordFile: string;
let pair1: Pair;
let pair2: Pair;
let nginx: Nginx;
let imapPort: number;
let pop3Port: number;
const open: net.Socket[] = [];
const connect = (from: string, port = imapPort): Promise<RawConn> => rawConnect(port, from, open);

function nodeOverrides(mailHost: string, admin: number, hosts: Record<string, string>, authListen: boolean): Record<string, unknown> {
  return {
    log: { level: 'info' },
    admin: { listen: `127.0.0.1:${admin}` },
    // One IMAP session per login and client address (Dovecot's mail_max_userip_connections): N = 1.
    imap: { proxy_listen: '127.0.0.1:0', max_userip_connections: 1 },
    pop3: { proxy_listen: '127.0.0.1:0' },
    proxy: { trusted: ['127.0.0.1'], ...(authListen ? { auth_listen: '127.0.0.1:0', auth_secret: SECRET } : {}) },
    cluster: { hosts },
    directory: {
      backend: 'ldap',
      ldap: {
        url: slapd.url,
        bind_dn: READER_DN,
        bind_password: READER_PW,
        // `roost account move --update-ldap` changes mailHost as the directory's manager.
        write_bind_dn: ROOT_DN,
        write_bind_password_file: writePasswordFile,
        base: SUFFIX,
        timeout_ms: 2000,
        cache_ttl_ms: 0,
        negative_cache_ttl_ms: 0,
        mail_host: mailHost,
      },
    },
  };
}

/** The tagged line for `tag` once it arrives. */
async function tagged(c: RawConn, tag: string): Promise<string> {
  const text = await c.until(new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r]*\\r\\n`));
  return text.split('\r\n').find((l) => l.startsWith(`${tag} `)) ?? `(no ${tag} line; got ${JSON.stringify(text)})`;
}

async function rawLogin(from: string, user: string, pass: string, tag: string): Promise<{ c: RawConn; line: string }> {
  const c = await connect(from);
  await c.until(/^\* OK[^\r]*\r\n/);
  c.s.write(`${tag} LOGIN ${user} ${pass}\r\n`);
  return { c, line: await tagged(c, tag) };
}

function imapflow(user: User): ImapFlow {
  const client = new ImapFlow({ host: '127.0.0.1', port: imapPort, secure: false, auth: { user, pass: pw(user) }, logger: false, connectionTimeout: 10_000, greetingTimeout: 10_000, socketTimeout: 30_000 });
  client.on('error', () => undefined);
  return client;
}

/** UIDVALIDITY and (UID, subject) of every INBOX message, over an open imapflow session. */
async function inbox(client: ImapFlow): Promise<{ uidValidity: string; messages: [number, string][] }> {
  const box = await client.mailboxOpen('INBOX');
  const messages: [number, string][] = [];
  for await (const m of client.fetch('1:*', { uid: true, envelope: true })) messages.push([m.uid, m.envelope?.subject ?? '']);
  return { uidValidity: String(box.uidValidity), messages };
}

const subjects = (u: User, n = PER_USER): string[] => Array.from({ length: n }, (_, i) => `${u} ${i}`);

/** The node's log lines (JSON) that match `msg`. */
function logged(n: PairNode, msg: string): Record<string, unknown>[] {
  return n
    .proc!.output()
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .filter((l) => l.msg === msg);
}

beforeAll(async () => {
  if (!nginxAvailable()) throw new Error('nginx with the mail module is needed (apt-get install nginx libnginx-mod-mail)');
  slapd = await Slapd.create();
  writePasswordFile = path.join(mkdtempSync(path.join(tmpdir(), 'roost-cluster-')), 'ldap-write-password');
  writeFileSync(writePasswordFile, `${ROOT_PW}\n`, { mode: 0o600 });
  const sha = (p: string): string => '{SHA}' + createHash('sha1').update(p).digest('base64');
  await slapd.ldapadd(
    Object.entries(USERS)
      .map(([u, host]) => userLdif(u, { mail: `${u}@example.org`, uid: u, mailMessageStore: `${u}/`, mailHost: host, userPassword: sha(pw(u as User)) }))
      .join(''),
  );
  // A primary whose replica is gone keeps taking mail after a second (on_sync_timeout "degrade"), as a promoted node must.
  const pairOptions = { users: [], syncTimeoutMs: 1000, onSyncTimeout: 'degrade' as const };
  [pair1, pair2] = await Promise.all([Pair.create(pairOptions), Pair.create(pairOptions)]);
  const admin = { a1: await freePort(), a2: await freePort(), b1: await freePort(), b2: await freePort() };
  const hosts = { 'mx1.test': `127.0.0.1:${admin.a1} 127.0.0.1:${admin.a2}`, 'mx2.test': `127.0.0.1:${admin.b1} 127.0.0.1:${admin.b2}` };
  await Promise.all([
    pair1.start(pair1.a, nodeOverrides('mx1.test', admin.a1, hosts, true)),
    pair1.start(pair1.b, nodeOverrides('mx1.test', admin.a2, hosts, false)),
    pair2.start(pair2.a, nodeOverrides('mx2.test', admin.b1, hosts, false)),
    pair2.start(pair2.b, nodeOverrides('mx2.test', admin.b2, hosts, false)),
  ]);
  // Mail goes to each pair's primary (ack: sync, so its replica holds it too).
  for (const [u, host] of Object.entries(USERS) as [User, string][]) {
    const primary = host === 'mx1.test' ? pair1.a : pair2.a;
    for (let i = 0; i < PER_USER; i++) {
      const reply = await qmqpSend(primary.proc!.ports.qmqp!, testMessage(i, u), 's@example.net', [`${u}@example.org`]);
      expect(reply, `delivery to ${u}`).toMatch(/^K/);
    }
  }
  imapPort = await anyFreePort();
  pop3Port = await anyFreePort();
  nginx = await startNginx(mailProxyBlock({ serverName: 'cluster.roost.invalid', authPort: (await ports(pair1.a)).proxyAuth!, secret: SECRET, imapPort, pop3Port }), [imapPort, pop3Port]);
}, 60_000);
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});
afterAll(async () => {
  await nginx?.stop();
  await Promise.all([pair1?.cleanup(), pair2?.cleanup()]);
  await slapd?.destroy();
});

describe('a cluster of two pairs behind nginx', () => {
  it('imapflow logins for accounts on either pair reach their own mailbox, served by the primary of their own pair', async () => {
    for (const u of ['ann', 'bob'] as const) {
      const client = imapflow(u);
      await client.connect();
      const { messages } = await inbox(client);
      expect(messages.map(([, s]) => s)).toEqual(subjects(u));
      await client.logout();
    }
    // bob's session ran on pair 2's primary, reached through nginx (`via`); pair 1 routed bob but never served him.
    const onB = logged(pair2.a, 'logged in').filter((l) => l.login === 'bob');
    expect(onB.length).toBe(1);
    expect(onB[0]!.via).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(logged(pair1.a, 'logged in').some((l) => l.login === 'bob')).toBe(false);
    expect(logged(pair1.a, 'auth_http: login routed').find((l) => l.login === 'bob')).toMatchObject({ backend: expect.stringMatching(/^127\.0\.0\.1:\d+$/) });
    expect(pair1.a.proc!.output()).not.toContain(pw('bob'));
  });

  it('Python imaplib and poplib, and mpop, through nginx: each account reads its own maildrop', async () => {
    const script = [
      'import imaplib, poplib, json, sys',
      'port, pport = int(sys.argv[1]), int(sys.argv[2])',
      'out = {}',
      'for user in sys.argv[3:]:',
      "    m = imaplib.IMAP4('127.0.0.1', port, timeout=20)",
      "    m.login(user, 'pw-' + user)",
      "    m.select('INBOX', readonly=True)",
      "    typ, data = m.fetch('1:*', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')",
      "    imap = [d[1].decode().strip() for d in data if isinstance(d, tuple)]",
      '    m.logout()',
      "    p = poplib.POP3('127.0.0.1', pport, timeout=20)",
      '    p.user(user)',
      "    p.pass_('pw-' + user)",
      '    count = p.stat()[0]',
      "    pop = [next(l.decode() for l in p.top(i, 0)[1] if l.startswith(b'Subject:')) for i in range(1, count + 1)]",
      '    p.quit()',
      '    out[user] = {"imap": imap, "pop": pop}',
      'print(json.dumps(out))',
    ].join('\n');
    const r = await run('python3', ['-c', script, String(imapPort), String(pop3Port), 'cat', 'dan'], { timeout: 60_000 });
    const out = JSON.parse(r.stdout) as Record<string, { imap: string[]; pop: string[] }>;
    for (const u of ['cat', 'dan'] as const) {
      const want = subjects(u).map((s) => `Subject: ${s}`);
      expect(out[u]).toEqual({ imap: want, pop: want });
    }

    const work = path.join(nginx.dir, 'mpop');
    const maildir = path.join(work, 'Maildir');
    for (const d of ['new', 'cur', 'tmp']) mkdirSync(path.join(maildir, d), { recursive: true });
    const conf = path.join(work, 'mpoprc');
    const account = (u: User): string[] => [`account ${u}`, 'host 127.0.0.1', `port ${pop3Port}`, `user ${u}`, `password ${pw(u)}`, 'auth user', 'tls off', 'keep on', `uidls_file ${path.join(work, `uidls-${u}`)}`, `delivery maildir ${maildir}`, 'timeout 20', ''];
    writeFileSync(conf, [...account('ann'), ...account('dan')].join('\n'), { mode: 0o600 });
    await run('mpop', ['--quiet', '-C', conf, 'ann', 'dan'], { timeout: 60_000 });
    const got = readdirSync(path.join(maildir, 'new'))
      .map((f) => /^Subject: (.*)$/m.exec(readFileSync(path.join(maildir, 'new', f), 'latin1'))?.[1]?.trim() ?? '')
      .sort();
    expect(got).toEqual([...subjects('ann'), ...subjects('dan')].sort());
  });

  it('max_userip_connections (1) on pair 2 counts the client behind nginx: a 2nd session from 127.0.0.2 is refused, one from 127.0.0.3 is not', async () => {
    const first = await rawLogin('127.0.0.2', 'bob', pw('bob'), 'u1');
    expect(first.line).toMatch(/^u1 OK/);
    const second = await rawLogin('127.0.0.2', 'bob', pw('bob'), 'u2');
    expect(second.line).toMatch(/^u2 NO .*Maximum number of connections from user\+IP/);
    const other = await rawLogin('127.0.0.3', 'bob', pw('bob'), 'u3');
    expect(other.line).toMatch(/^u3 OK/);
    const remotes = (): string[] =>
      logged(pair2.a, 'logged in')
        .filter((l) => l.login === 'bob' && typeof l.remote === 'string' && /^127\.0\.0\.[23]:/.test(l.remote))
        .map((l) => String(l.remote).split(':')[0]);
    // The node writes its log asynchronously: the third login's line may reach the file after its OK.
    await waitUntil('both logins logged', () => remotes().length >= 2, 30_000).catch(() => undefined);
    expect(remotes()).toEqual(['127.0.0.2', '127.0.0.3']);
  });

  it(`wrong passwords through nginx are refused; after ${LIMITS.auth.perUserFailures} the login is throttled, but not from where it logged in before`, { timeout: 60_000 }, async () => {
    // dan logged in from 127.0.0.1 above (Python, mpop). The guessers come from ten other addresses at once,
    // so the growing per-login delay (served by nginx as Auth-Wait) is waited out in parallel.
    const n = LIMITS.auth.perUserFailures;
    const guesses = await Promise.all(Array.from({ length: n }, (_, i) => rawLogin(`127.0.0.${10 + i}`, 'dan', 'wrong-password', `w${i}`)));
    for (const [i, g] of guesses.entries()) expect(g.line).toMatch(new RegExp(`^w${i} NO .*Invalid login or password`));
    // N + 1: refused without a password check, with the throttle's own words.
    const over = await rawLogin('127.0.0.30', 'dan', pw('dan'), 'w99');
    expect(over.line).toMatch(/^w99 NO .*Too many failed logins/);
    const owner = await rawLogin('127.0.0.1', 'dan', pw('dan'), 'o1');
    expect(owner.line).toMatch(/^o1 OK/);
    expect(logged(pair1.a, 'login throttled').length).toBeGreaterThan(0);
  });

  it('roost account move --update-ldap: after the final round the entry names the new mailHost and a login through nginx reaches pair 2; a failed change leaves both copies, prints it and exits 1', { timeout: 240_000 }, async () => {
    const mailHostOf = async (uid: string): Promise<string> => {
      const { stdout } = await run('/usr/bin/ldapsearch', ['-x', '-LLL', '-H', slapd.url, '-D', ROOT_DN, '-w', ROOT_PW, '-b', SUFFIX, `(uid=${uid})`, 'mailHost'], { timeout: 10_000 });
      return /^mailHost: (.*)$/m.exec(stdout)?.[1] ?? `(none in ${JSON.stringify(stdout)})`;
    };
    const moved = await roost(['account', 'move', 'cat@example.org', '--to', 'mx2.test', '--update-ldap', '--config', pair1.a.proc!.configFile]);
    expect(moved.code, moved.stderr).toBe(0);
    expect(moved.stdout).toMatch(/moved cat@example\.org to mx2\.test .*: 3 messages/);
    expect(moved.stdout).toMatch(/changed mailHost of cn=cat,\S+ to mx2\.test/);
    expect(await mailHostOf('cat')).toBe('mx2.test');
    // Through nginx: auth_http now sends cat to pair 2's primary, which holds the same mailbox.
    const client = imapflow('cat');
    await client.connect();
    const box = await inbox(client);
    await client.logout();
    expect(box.messages.map(([, subject]) => subject)).toEqual(subjects('cat'));
    expect(logged(pair2.a, 'logged in').some((l) => l.login === 'cat')).toBe(true);

    // A mailHost the directory refuses (mailHost is IA5 text): the move stands, the entry is unchanged.
    const failed = await roost(['account', 'move', 'eve@example.org', '--to', 'mx2.test', '--mail-host', 'mx2.t\u00e9st', '--update-ldap', '--config', pair1.a.proc!.configFile]);
    expect(failed.code).toBe(1);
    expect(failed.stdout).toMatch(/moved eve@example\.org to mx2\.t\u00e9st .*: 3 messages/);
    expect(failed.stderr).toMatch(/the account is moved \(both copies stay\), but the directory was not changed: LDAP modify of cn=eve,/);
    expect(failed.stderr).toContain('replace: mailHost\n  mailHost: mx2.t\u00e9st\n');
    expect(await mailHostOf('eve')).toBe('mx1.test');
    // Both copies: the source's, kept until purge, and the destination's.
    expect(existsSync(path.join(pair1.a.dataDir, 'mail', 'eve'))).toBe(true);
    expect(existsSync(path.join(pair2.a.dataDir, 'mail', 'eve'))).toBe(true);
  });

  it('failover of pair 2 under use: pair 1 sessions carry on; pair 2 clients reconnect through nginx to the new primary with the same UIDVALIDITY and UIDs', { timeout: 150_000 }, async () => {
    // The moves above re-seed pair 2's replica (a moved account's records are not in its journal):
    // the failover starts from a replica that is seeded and caught up, as an operator's would.
    await waitUntil('pair 2 replica re-seeded and caught up', async () => {
      const [b, a] = [await replStatus(pair2.b), await replStatus(pair2.a)];
      return b.replication.connected && !b.replication.needsResync && b.replication.snapshot === null && b.replication.appliedLsn === a.replication.lastLsn;
    }, 90_000);
    const ann = imapflow('ann');
    const bob = imapflow('bob');
    await Promise.all([ann.connect(), bob.connect()]);
    const annBefore = await inbox(ann);
    const bobBefore = await inbox(bob);
    expect(bobBefore.messages.length).toBe(PER_USER);
    let bobClosed = false;
    bob.on('close', () => (bobClosed = true));

    // Both sessions busy while pair 2 fails: a NOOP on each every 50 ms (at most 400 rounds, 20 s).
    let stop = false;
    const annErrors: string[] = [];
    let annNoopsAfterKill = 0;
    let killed = false;
    const annLoad = (async () => {
      for (let i = 0; i < 400 && !stop; i++) {
        try {
          await ann.noop();
          if (killed) annNoopsAfterKill++;
        } catch (err) {
          annErrors.push((err as Error).message);
        }
        await new Promise((r) => setTimeout(r, 50));
      }
    })();
    const bobLoad = (async () => {
      for (let i = 0; i < 400 && !stop && !bobClosed; i++) {
        await bob.noop().catch(() => undefined);
        await new Promise((r) => setTimeout(r, 50));
      }
    })();

    await pair2.kill(pair2.a);
    killed = true;
    const promoted = await roost(['promote', '--config', pair2.b.proc!.configFile]);
    expect(promoted.code, promoted.stderr).toBe(0);

    // bob's client reconnects through nginx until a login lands on the new primary (bounded: 60 tries, 20 s).
    let bobAfter: Awaited<ReturnType<typeof inbox>> | null = null;
    let again: ImapFlow | null = null;
    const tried: string[] = [];
    const deadline = Date.now() + 20_000;
    for (let i = 0; i < 60 && Date.now() < deadline && bobAfter === null; i++) {
      const c = imapflow('bob');
      try {
        await c.connect();
        bobAfter = await inbox(c);
        again = c;
      } catch (err) {
        tried.push((err as Error).message);
        c.close();
        await new Promise((r) => setTimeout(r, 300));
      }
    }
    expect(bobAfter, `bob never got back in: ${tried.join('; ')}`).not.toBeNull();
    expect(bobAfter).toEqual(bobBefore);
    expect(logged(pair2.b, 'logged in').some((l) => l.login === 'bob' && typeof l.via === 'string')).toBe(true);
    await bobLoad;
    expect(bobClosed).toBe(true);

    // New mail on the promoted node (alone now: degraded after the sync timeout): the next UID, in the same UIDVALIDITY.
    const reply = await qmqpSend((await ports(pair2.b)).qmqp!, testMessage(PER_USER, 'bob'), 's@example.net', ['bob@example.org']);
    expect(reply).toMatch(/^K/);
    await again!.logout();
    const fresh = imapflow('bob');
    await fresh.connect();
    const latest = await inbox(fresh);
    await fresh.logout();
    expect(latest.uidValidity).toBe(bobBefore.uidValidity);
    expect(latest.messages).toEqual([...bobBefore.messages, [bobBefore.messages.at(-1)![0] + 1, `bob ${PER_USER}`]]);

    // pair 1 never noticed: every NOOP answered, some after the kill, and the same mailbox.
    const waitMore = Date.now() + 10_000;
    while (annNoopsAfterKill < 5 && Date.now() < waitMore) await new Promise((r) => setTimeout(r, 50));
    stop = true;
    await annLoad;
    expect(annErrors).toEqual([]);
    expect(annNoopsAfterKill).toBeGreaterThanOrEqual(5);
    expect(await inbox(ann)).toEqual(annBefore);
    await ann.logout();
  });
});
