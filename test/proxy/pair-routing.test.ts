/**
 * auth_http for a pair without a floating address: its
 * cluster.hosts value lists the nodes' admin listeners, the service asks
 * each /health and routes to the one ready primary, on the port that node
 * reports. Two real Roost processes replicating, an LDAP account on their
 * mailHost, and a failover: after the replica is promoted, logins go there;
 * with no primary left, a temporary error.
 */
import { createHash } from 'node:crypto';
import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { READER_DN, READER_PW, SUFFIX, Slapd, userLdif } from '../helpers/slapd.js';
import { control, Pair, ports, waitUntil } from '../replication/pair.js';

const limits = LIMITS.proxyAuth as { primaryCacheMs: number };
const saved = { ...limits };
const PW = 'right';
let slapd: Slapd;
let pair: Pair;
let t: TestNode;
let portsA: { imap?: number; pop3?: number; admin?: number };
let portsB: { imap?: number; pop3?: number; admin?: number };

beforeAll(async () => {
  // Ask the pair on every login here, so the test sees the failover without waiting out the cache.
  limits.primaryCacheMs = 0;
  slapd = await Slapd.create();
  await slapd.ldapadd(userLdif('far', { mail: 'far@example.org', uid: 'far', mailMessageStore: 'far/', mailHost: 'mx2.example.org', userPassword: '{SHA}' + createHash('sha1').update(PW).digest('base64') }));
  pair = await Pair.create();
  await pair.startBoth();
  portsA = await ports(pair.a);
  portsB = await ports(pair.b);
  t = await startTestNode({
    proxy: { trusted: ['127.0.0.1'], auth_listen: '127.0.0.1:0' },
    cluster: { hosts: { 'mx2.example.org': `127.0.0.1:${portsA.admin} 127.0.0.1:${portsB.admin}` } },
    directory: {
      backend: 'ldap',
      ldap: { url: slapd.url, bind_dn: READER_DN, bind_password: READER_PW, base: SUFFIX, timeout_ms: 2000, mail_host: 'mx1.example.org' },
    },
  });
});
afterAll(async () => {
  Object.assign(limits, saved);
  await t?.stop();
  await pair?.cleanup();
  await slapd?.destroy();
});

function ask(protocol: 'imap' | 'pop3' = 'imap'): Promise<http.IncomingHttpHeaders> {
  return new Promise((resolve, reject) => {
    const headers = { 'Auth-Method': 'plain', 'Auth-User': 'far', 'Auth-Pass': PW, 'Auth-Protocol': protocol, 'Auth-Login-Attempt': '1', 'Client-IP': '192.0.2.88' };
    const req = http.request({ host: '127.0.0.1', port: t.node.ports().proxyAuth!, path: '/auth', headers, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.headers));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('a pair given by its nodes', () => {
  it('routes to the primary, on the ports its /health reports', async () => {
    expect(await ask()).toMatchObject({ 'auth-status': 'OK', 'auth-server': '127.0.0.1', 'auth-port': String(portsA.imap) });
    expect(await ask('pop3')).toMatchObject({ 'auth-status': 'OK', 'auth-port': String(portsA.pop3) });
  });

  it('after a failover (primary killed, replica promoted) routes to the new primary', async () => {
    await pair.kill(pair.a);
    const promoted = await control(pair.b, 'promote');
    expect(promoted.ok).toBe(true);
    const imapB = (await ports(pair.b)).imap;
    expect(imapB).toBeDefined();
    let last: http.IncomingHttpHeaders = {};
    await waitUntil('auth_http to answer the promoted node', async () => {
      last = await ask();
      return last['auth-port'] === String(imapB);
    });
    expect(last).toMatchObject({ 'auth-status': 'OK', 'auth-server': '127.0.0.1' });
  });

  it('with no ready primary: a temporary error, with Auth-Wait', async () => {
    await pair.kill(pair.b);
    expect(await ask()).toMatchObject({ 'auth-status': 'Temporary server problem, try again later', 'auth-wait': '1' });
  });
});
