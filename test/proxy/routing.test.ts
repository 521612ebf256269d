/**
 * auth_http routing by LDAP mailHost, asked over HTTP the way
 * nginx asks, against a node whose directory is a real slapd: an account on
 * this node's mailHost (or with none) goes to this node's proxied listener,
 * one on another pair to that pair's address from cluster.hosts (a name is
 * resolved, as nginx takes only an IP), one on an unknown mailHost gets a
 * temporary error; a wrong password is refused wherever the account lives.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { isIP } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { rawConnect } from '../helpers/raw-conn.js';
import { READER_DN, READER_PW, SUFFIX, Slapd, userLdif } from '../helpers/slapd.js';

const PW = 'right';
const SHA = '{SHA}' + createHash('sha1').update(PW).digest('base64');
let slapd: Slapd;
let t: TestNode;

const entry = (uid: string, mailHost?: string): string =>
  userLdif(uid, { mail: `${uid}@example.org`, uid, mailMessageStore: `${uid}/`, userPassword: SHA, ...(mailHost ? { mailHost } : {}) });

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(
    [entry('here', 'MX1.example.org'), entry('nohost'), entry('far', 'mx2.example.org'), entry('named', 'mx3.example.org'), entry('lost', 'mx4.example.org')].join(''),
  );
  t = await startTestNode({
    imap: { proxy_listen: '127.0.0.1:0' },
    pop3: { proxy_listen: '127.0.0.1:0' },
    proxy: { trusted: ['127.0.0.1'], auth_listen: '127.0.0.1:0' },
    cluster: { hosts: { 'mx2.example.org': '192.0.2.2', 'mx3.example.org': 'localhost' }, imap_port: 1143, pop3_port: 1110 },
    directory: {
      backend: 'ldap',
      ldap: { url: slapd.url, bind_dn: READER_DN, bind_password: READER_PW, base: SUFFIX, timeout_ms: 2000, mail_host: 'mx1.example.org' },
    },
  });
});
afterAll(async () => {
  await t?.stop();
  await slapd?.destroy();
});

function ask(user: string, pass: string, protocol: 'imap' | 'pop3' = 'imap'): Promise<http.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const headers = { 'Auth-Method': 'plain', 'Auth-User': user, 'Auth-Pass': pass, 'Auth-Protocol': protocol, 'Auth-Login-Attempt': '1', 'Client-IP': '192.0.2.77' };
    const req = http.request({ host: '127.0.0.1', port: t.node.ports().proxyAuth!, path: '/auth', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('auth_http routes by mailHost', () => {
  it('this node\'s mailHost (any case) and no mailHost: this node\'s proxied listeners', async () => {
    const ports = t.node.ports();
    expect(await ask('here', PW)).toMatchObject({ 'auth-status': 'OK', 'auth-server': '127.0.0.1', 'auth-port': String(ports.imapProxy) });
    expect(await ask('nohost', PW, 'pop3')).toMatchObject({ 'auth-status': 'OK', 'auth-server': '127.0.0.1', 'auth-port': String(ports.pop3Proxy) });
  });

  it('another pair: its cluster.hosts address and cluster.imap_port / pop3_port', async () => {
    expect(await ask('far', PW)).toMatchObject({ 'auth-status': 'OK', 'auth-server': '192.0.2.2', 'auth-port': '1143' });
    expect(await ask('far', PW, 'pop3')).toMatchObject({ 'auth-status': 'OK', 'auth-server': '192.0.2.2', 'auth-port': '1110' });
  });

  it('a pair given by name is answered as an address', async () => {
    const h = await ask('named', PW);
    expect(h['auth-status']).toBe('OK');
    expect(isIP(String(h['auth-server']))).not.toBe(0);
  });

  it('a mailHost missing from cluster.hosts is a temporary error with Auth-Wait, not a wrong password', async () => {
    expect(await ask('lost', PW)).toMatchObject({ 'auth-status': 'Temporary server problem, try again later', 'auth-wait': '1' });
  });

  it('a wrong password is refused for an account on another pair too', async () => {
    expect(await ask('far', 'wrong')).toMatchObject({ 'auth-status': 'Invalid login or password' });
  });

  it('direct logins on this node still refuse an account of another pair (temporary, not a bad password)', async () => {
    const c = await rawConnect(t.ports.imap!);
    await c.until(/^\* OK[^\r]*\r\n/);
    c.s.write(`a1 LOGIN far ${PW}\r\n`);
    const text = await c.until(/a1 (OK|NO|BAD)[^\r]*\r\n/);
    c.s.destroy();
    expect(text).toMatch(/a1 NO \[UNAVAILABLE\]/);
  });
});
