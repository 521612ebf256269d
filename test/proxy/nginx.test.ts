/**
 * Roost behind real nginx: nginx's mail module asks
 * Roost's auth_http service where each login goes and connects there with
 * `proxy_protocol on;`, so the node sees the client's address. Clients
 * connect from 127.0.0.2 / 127.0.0.3 while nginx reaches Roost from
 * 127.0.0.1, so "Roost sees the client" is told apart from "Roost sees nginx".
 */
import { execFile } from 'node:child_process';
import http from 'node:http';
import { promisify } from 'node:util';
import { Writable } from 'node:stream';
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { message } from '../imap/helpers/node.js';
import { freePort, mailProxyBlock, nginxAvailable, startNginx, type Nginx } from '../helpers/nginx.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { rawConnect, type RawConn } from '../helpers/raw-conn.js';

const auth = LIMITS.auth as { failureDelayBaseMs: number; failureDelayMaxMs: number; perUserFailures: number };
const saved = { ...auth };
const PER_USER = 3;
const SECRET = 's3cret-for-nginx';
const USER = 'alice@example.org';
const PASS = 'secret-pw';

let t: TestNode;
let nginx: Nginx;
let imapPort: number;
let pop3Port: number;
let authPort: number;
const logLines: Record<string, unknown>[] = [];
const open: net.Socket[] = [];
const connect = (port: number, from: string): Promise<RawConn> => rawConnect(port, from, open);

/** The tagged line for `tag` once it arrives. */
async function tagged(c: RawConn, tag: string): Promise<string> {
  const text = await c.until(new RegExp(`(^|\\r\\n)${tag} (OK|NO|BAD)[^\\r]*\\r\\n`));
  return text.split('\r\n').find((l) => l.startsWith(`${tag} `)) ?? `(no ${tag} line; got ${JSON.stringify(text)})`;
}

async function imapLogin(from: string, pass: string, tag = 'a1'): Promise<{ c: RawConn; line: string }> {
  const c = await connect(imapPort, from);
  await c.until(/^\* OK[^\r]*\r\n/);
  c.s.write(`${tag} LOGIN ${USER} ${pass}\r\n`);
  return { c, line: await tagged(c, tag) };
}

beforeAll(async () => {
  if (!nginxAvailable()) throw new Error('nginx with the mail module is needed (apt-get install nginx libnginx-mod-mail)');
  Object.assign(auth, { failureDelayBaseMs: 1, failureDelayMaxMs: 1, perUserFailures: PER_USER });
  const sink = new Writable({
    write(chunk: Buffer, _enc, done) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) logLines.push(JSON.parse(l) as Record<string, unknown>);
      done();
    },
  });
  t = await startTestNode(
    {
      log: { level: 'info' },
      imap: { proxy_listen: '127.0.0.1:0', max_userip_connections: 1 },
      pop3: { proxy_listen: '127.0.0.1:0' },
      proxy: { trusted: ['127.0.0.1/32'], auth_listen: '127.0.0.1:0', auth_secret: SECRET },
    },
    { logDestination: sink },
  );
  const account = await t.addUser(USER, PASS);
  const draft = await t.ctx.store.createDraft();
  await draft.write(Buffer.from(message(1, { subject: 'Through nginx' })));
  await draft.finish();
  await t.ctx.store.deliver([account], draft, { sender: 'test@example.org' });
  authPort = t.node.ports().proxyAuth!;
  imapPort = await freePort();
  pop3Port = await freePort();
  nginx = await startNginx(mailProxyBlock({ serverName: 'test.roost.invalid', authPort, secret: SECRET, imapPort, pop3Port }), [imapPort, pop3Port]);
});
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});
afterAll(async () => {
  Object.assign(auth, saved);
  await nginx?.stop();
  await t?.stop();
});

describe('IMAP and POP3 through nginx', () => {
  it('an IMAP login through nginx reaches the mailbox, and Roost logs the client address with nginx as `via`', async () => {
    const { c, line } = await imapLogin('127.0.0.2', PASS);
    expect(line).toMatch(/^a1 OK/);
    c.s.write('a2 SELECT INBOX\r\n');
    expect(await tagged(c, 'a2')).toMatch(/^a2 OK/);
    expect(c.text()).toMatch(/\* 1 EXISTS/);
    c.s.write('a3 FETCH 1 BODY.PEEK[HEADER.FIELDS (SUBJECT)]\r\n');
    expect(await tagged(c, 'a3')).toMatch(/^a3 OK/);
    expect(c.text()).toMatch(/Subject: Through nginx/);
    const seen = logLines.find((l) => l.msg === 'logged in' && l.proto === 'imap');
    expect(seen?.remote).toMatch(/^127\.0\.0\.2:\d+$/);
    expect(seen?.via).toMatch(/^127\.0\.0\.1:\d+$/);
    const routed = logLines.find((l) => l.msg === 'auth_http: login routed');
    expect(routed).toMatchObject({ client: '127.0.0.2', protocol: 'imap', login: USER, ssl: false });
    expect(JSON.stringify(logLines)).not.toContain(PASS);
  });

  it('max_userip_connections (1) counts the client behind nginx: a 2nd session from 127.0.0.2 is refused, 127.0.0.3 is not', async () => {
    const first = await imapLogin('127.0.0.2', PASS, 'u1');
    expect(first.line).toMatch(/^u1 OK/);
    const second = await imapLogin('127.0.0.2', PASS, 'u2');
    expect(second.line).toMatch(/^u2 NO .*Maximum number of connections from user\+IP/);
    const other = await imapLogin('127.0.0.3', PASS, 'u3');
    expect(other.line).toMatch(/^u3 OK/);
  });

  it('a POP3 login through nginx reaches the maildrop', async () => {
    const c = await connect(pop3Port, '127.0.0.2');
    await c.until(/^\+OK[^\r]*\r\n/);
    c.s.write(`USER ${USER}\r\n`);
    await c.until(/^\+OK[^\r]*\r\n\+OK[^\r]*\r\n/);
    c.s.write(`PASS ${PASS}\r\n`);
    await c.until(/^(?:[^\r]*\r\n){3}/);
    c.s.write('STAT\r\n');
    const text = await c.until(/^(?:[^\r]*\r\n){4}/);
    expect(text.split('\r\n')[3]).toMatch(/^\+OK 1 \d+$/);
    expect(logLines.some((l) => l.proto === 'pop3' && typeof l.remote === 'string' && l.remote.startsWith('127.0.0.2') && typeof l.via === 'string')).toBe(true);
  });

  it('Python imaplib and poplib through nginx log in and read the message', async () => {
    const script = [
      'import imaplib, poplib, json, sys',
      'port, pport, user, pw = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3], sys.argv[4]',
      'out = {}',
      "m = imaplib.IMAP4('127.0.0.1', port, timeout=20)",
      "out['login'] = m.login(user, pw)[0]",
      "out['select'] = m.select('INBOX', readonly=True)[1][0].decode()",
      "typ, data = m.fetch('1', '(BODY.PEEK[HEADER.FIELDS (SUBJECT)])')",
      "out['subject'] = data[0][1].decode().strip()",
      'm.logout()',
      "p = poplib.POP3('127.0.0.1', pport, timeout=20)",
      'p.user(user)',
      "out['pass'] = p.pass_(pw).decode()",
      "out['retr'] = b'\\n'.join(p.retr(1)[1]).decode('latin-1')",
      'p.quit()',
      'print(json.dumps(out))',
    ].join('\n');
    const r = await promisify(execFile)('python3', ['-c', script, String(imapPort), String(pop3Port), USER, PASS], { timeout: 60_000 });
    const out = JSON.parse(r.stdout) as Record<string, string>;
    expect(out.login).toBe('OK');
    expect(out.select).toBe('1');
    expect(out.subject).toBe('Subject: Through nginx');
    expect(out.pass).toMatch(/^\+OK/);
    expect(out.retr).toContain('Subject: Through nginx');
  });

  it(`wrong passwords through nginx are refused; after ${PER_USER} the name is throttled, for direct logins too, but not from where it logged in before`, async () => {
    // 127.0.0.5 never logged in as this name (127.0.0.2 and .3 did above, which exempts them).
    for (let i = 1; i <= PER_USER; i++) {
      const { c, line } = await imapLogin('127.0.0.5', 'wrong-password', `w${i}`);
      expect(line).toMatch(new RegExp(`^w${i} NO .*Invalid login or password`));
      c.s.destroy();
    }
    const over = await imapLogin('127.0.0.5', 'wrong-password', 'w9');
    expect(over.line).toMatch(/^w9 NO .*Too many failed logins/);
    // The same guard behind the direct listener: a direct guess for the name is throttled as well.
    const direct = await connect(t.ports.imap!, '127.0.0.4');
    await direct.until(/^\* OK[^\r]*\r\n/);
    direct.s.write(`d1 LOGIN ${USER} wrong-password\r\n`);
    expect(await tagged(direct, 'd1')).toMatch(/^d1 NO \[UNAVAILABLE\] Too many failed logins/);
    // 127.0.0.2 logged in as this name before: the owner is not locked out.
    const owner = await imapLogin('127.0.0.2', PASS, 'o1');
    expect(owner.line).toMatch(/^o1 OK/);
    const throttled = logLines.filter((l) => l.msg === 'login throttled');
    expect(throttled.length).toBeGreaterThan(0);
  });
});

describe('the auth_http endpoint itself', () => {
  const ask = (headers: Record<string, string>, localAddress = '127.0.0.1'): Promise<{ status: number; headers: http.IncomingHttpHeaders }> =>
    new Promise((resolve, reject) => {
      const req = http.request({ host: '127.0.0.1', port: authPort, path: '/auth', localAddress, headers, agent: false }, (res) => {
        res.resume();
        res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
      });
      req.on('error', reject);
      req.end();
    });
  const attempt = (over: Record<string, string> = {}): Record<string, string> => ({
    'X-Roost-Secret': SECRET,
    'Auth-Method': 'plain',
    'Auth-User': 'alice%40example.org',
    'Auth-Pass': PASS,
    'Auth-Protocol': 'imap',
    'Auth-Login-Attempt': '1',
    'Client-IP': '127.0.0.2',
    ...over,
  });

  it('answers OK with this node\'s proxied IMAP and POP3 listeners (Auth-User percent-decoded)', async () => {
    const r = await ask(attempt());
    expect(r.status).toBe(200);
    expect(r.headers).toMatchObject({ 'auth-status': 'OK', 'auth-server': '127.0.0.1', 'auth-port': String(t.node.ports().imapProxy) });
    const p = await ask(attempt({ 'Auth-Protocol': 'pop3' }));
    expect(p.headers).toMatchObject({ 'auth-status': 'OK', 'auth-port': String(t.node.ports().pop3Proxy) });
  });

  it('a wrong password: the error text with Auth-Wait; on the connection\'s last attempt no Auth-Wait, so nginx closes', async () => {
    const r = await ask(attempt({ 'Auth-Pass': 'wrong-password' }));
    expect(r.headers).toMatchObject({ 'auth-status': 'Invalid login or password', 'auth-wait': '1' });
    const last = await ask(attempt({ 'Auth-Pass': 'wrong-password', 'Auth-Login-Attempt': String(LIMITS.auth.maxFailuresPerConnection) }));
    expect(last.headers['auth-status']).toBe('Invalid login or password');
    expect(last.headers['auth-wait']).toBeUndefined();
  });

  it('refuses peers outside proxy.trusted and requests without the secret (403)', async () => {
    expect((await ask(attempt(), '127.0.0.2')).status).toBe(403);
    expect((await ask(attempt({ 'X-Roost-Secret': 'not-it' }))).status).toBe(403);
    const { 'X-Roost-Secret': _drop, ...noSecret } = attempt();
    expect((await ask(noSecret)).status).toBe(403);
  });

  it(`proxyAuth.maxConnections: a request on the N-th open connection is answered; on the N+1-th a temporary error with Auth-Wait, which nginx hands the client`, { timeout: 60_000 }, async () => {
    const limit = LIMITS.proxyAuth as { maxConnections: number };
    const savedMax = limit.maxConnections;
    const N = 3;
    // One request on a connection we keep open (HTTP/1.1 keep-alive), so the server's count is exactly ours.
    const request = async (c: RawConn): Promise<Record<string, string>> => {
      const head = Object.entries(attempt()).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      c.s.write(`GET /auth HTTP/1.1\r\nHost: roost\r\nConnection: keep-alive\r\n${head}\r\n`);
      const text = await c.until(/\r\n\r\n/);
      return Object.fromEntries(text.split('\r\n').slice(1).filter((l) => l.includes(':')).map((l) => [l.slice(0, l.indexOf(':')).toLowerCase(), l.slice(l.indexOf(':') + 1).trim()]));
    };
    const held: RawConn[] = [];
    try {
      // Earlier requests' sockets may still be closing: with a limit of 1, wait (20 tries) until one connection alone is answered.
      limit.maxConnections = 1;
      for (let i = 0; i < 20 && held.length === 0; i++) {
        const c = await connect(authPort, '127.0.0.1');
        if ((await request(c))['auth-status'] === 'OK') held.push(c);
        else {
          c.s.destroy();
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(held.length).toBe(1);
      limit.maxConnections = N;
      while (held.length < N) held.push(await connect(authPort, '127.0.0.1'));
      expect(await request(held[N - 1]!)).toMatchObject({ 'auth-status': 'OK', 'auth-port': String(t.node.ports().imapProxy) });
      const over = await connect(authPort, '127.0.0.1');
      const refused = await request(over);
      expect(over.text()).toMatch(/^HTTP\/1\.1 200 /);
      expect(refused).toMatchObject({ 'auth-status': 'Temporary server problem, try again later', 'auth-wait': '1' });
      // Through nginx (its connection to the service is past the limit as well): the client is told to try again.
      const viaNginx = await imapLogin('127.0.0.3', PASS, 'b1');
      expect(viaNginx.line).toMatch(/^b1 NO .*Temporary server problem, try again later/);
    } finally {
      for (const c of held) c.s.destroy();
      limit.maxConnections = savedMax;
    }
    const again = await imapLogin('127.0.0.3', PASS, 'b2');
    expect(again.line).toMatch(/^b2 OK/);
  });

  it('proxyAuth.maxSockets: the N-th socket is held and answered; the N+1-th is closed at accept, unanswered, and the service serves again once sockets close', { timeout: 60_000 }, async () => {
    const limit = LIMITS.proxyAuth as { maxConnections: number; maxSockets: number };
    const saved = { ...limit };
    const held: RawConn[] = [];
    try {
      // Sockets from earlier tests may still be closing, so the server may hold a few already: open sockets,
      // each with a keep-alive request, until one is closed unanswered. Each one held was answered.
      const N = 4;
      limit.maxSockets = N;
      limit.maxConnections = N;
      const head = Object.entries(attempt()).map(([k, v]) => `${k}: ${v}\r\n`).join('');
      let over: RawConn | null = null;
      for (let i = 0; i < N + 20 && over === null; i++) {
        const c = await connect(authPort, '127.0.0.1');
        c.s.write(`GET /auth HTTP/1.1\r\nHost: roost\r\nConnection: keep-alive\r\n${head}\r\n`);
        const said = await c.until(/\r\n\r\n/);
        if (said === '' && c.s.destroyed) over = c;
        else {
          expect(said).toMatch(/Auth-Status: OK/);
          held.push(c);
        }
      }
      expect(over).not.toBeNull();
      expect(held.length).toBeGreaterThan(0);
      expect(held.length).toBeLessThanOrEqual(N);
    } finally {
      for (const c of held) c.s.destroy();
      Object.assign(limit, saved);
    }
    const again = await imapLogin('127.0.0.3', PASS, 's2');
    expect(again.line).toMatch(/^s2 OK/);
  });

  it('says no to what it cannot check: APOP / CRAM-MD5, SMTP, a missing Client-IP', async () => {
    expect((await ask(attempt({ 'Auth-Method': 'apop' }))).headers['auth-status']).toBe('Authentication method not supported');
    expect((await ask(attempt({ 'Auth-Method': 'cram-md5' }))).headers['auth-status']).toBe('Authentication method not supported');
    expect((await ask(attempt({ 'Auth-Protocol': 'smtp' }))).headers['auth-status']).toBe('Protocol not served here');
    const { 'Client-IP': _ip, ...noIp } = attempt();
    const r = await ask(noIp);
    expect(r.headers['auth-status']).toMatch(/Temporary/);
    expect(r.headers['auth-wait']).toBe('1');
  });
});
