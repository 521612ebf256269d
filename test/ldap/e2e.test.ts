/**
 * A whole Roost node with `directory.backend = "ldap"` against a real slapd:
 * QMQP deliveries (K / D / Z), POP3 and IMAP logins, and a directory outage
 * in the middle (Z, -ERR [SYS/TEMP], NO [UNAVAILABLE]) that heals without
 * restarting the node.
 */
import net from 'node:net';
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboxMessages } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { qmqpSend } from '../helpers/qmqp.js';
import { RawClient } from '../helpers/pop3-client.js';
import { READER_DN, READER_PW, SUFFIX, Slapd, userLdif } from '../helpers/slapd.js';
import { TEXTS } from '../../src/accounts/ldap.js';

const sha = (pw: string) => '{SHA}' + createHash('sha1').update(pw).digest('base64');
const MSG = 'From: x@example.net\nSubject: hi\n\nhello\n';

let slapd: Slapd;
let t: TestNode;

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(
    userLdif('alice', { mail: 'alice@example.org', mailAlternateAddress: 'al@example.org', uid: 'alice', mailMessageStore: 'alice/Maildir/', userPassword: sha('right') }) +
      userLdif('small', { mail: 'small@example.org', uid: 'small', mailMessageStore: 'small/', mailSizeMax: '500', userPassword: sha('right') }) +
      userLdif('full', { mail: 'full@example.org', uid: 'full', mailMessageStore: 'full/', mailQuotaSize: '200', userPassword: sha('right') }) +
      userLdif('catchall', { mail: 'catchall@example.com', uid: 'catchall', mailMessageStore: 'catchall/' }) +
      userLdif('dis', { mail: 'dis@example.org', uid: 'dis', mailMessageStore: 'dis/', accountStatus: 'disabled', userPassword: sha('right') }) +
      userLdif('del', { mail: 'del@example.org', uid: 'del', mailMessageStore: 'del/', accountStatus: 'deleted' }) +
      userLdif('noacc', { mail: 'noacc@example.org', uid: 'noacc', mailMessageStore: 'noacc/', accountStatus: 'noaccess', userPassword: sha('right') }) +
      userLdif('dup1', { mail: 'dup1@example.org', mailAlternateAddress: 'shared@example.org', mailMessageStore: 'dup1/' }) +
      userLdif('dup2', { mail: 'dup2@example.org', mailAlternateAddress: 'shared@example.org', mailMessageStore: 'dup2/' }),
  );
  t = await startTestNode({
    qmqp: { over_quota: 'bounce' },
    directory: {
      backend: 'ldap',
      ldap: {
        url: slapd.url,
        bind_dn: READER_DN,
        bind_password: READER_PW,
        base: SUFFIX,
        timeout_ms: 1000,
        cache_ttl_ms: 0,
        negative_cache_ttl_ms: 0,
      },
    },
  });
});
afterAll(async () => {
  await t?.stop();
  await slapd?.destroy();
});

async function account(address: string) {
  const r = await t.ctx.directory.lookupRecipient(address);
  if (r.kind !== 'found') throw new Error(`${address}: ${JSON.stringify(r)}`);
  return r.account;
}

/** IMAP: greeting, then one LOGIN; returns the tagged reply line. */
async function imapLogin(user: string, pass: string): Promise<string> {
  const s = net.connect({ port: t.ports.imap!, host: '127.0.0.1' });
  let buf = '';
  s.on('data', (d: Buffer) => (buf += d.toString('latin1')));
  s.on('error', () => undefined);
  const waitFor = async (re: RegExp): Promise<string> => {
    const deadline = Date.now() + 15_000;
    while (Date.now() < deadline) {
      const m = re.exec(buf);
      if (m) return m[0];
      await new Promise((r) => setTimeout(r, 10));
    }
    throw new Error(`IMAP: no ${re} in ${JSON.stringify(buf)}`);
  };
  try {
    await waitFor(/^\* OK[^\r\n]*\r\n/m);
    s.write(`a1 LOGIN "${user}" "${pass}"\r\n`);
    return (await waitFor(/^a1 [^\r\n]*(?=\r\n)/m)).trim();
  } finally {
    s.destroy();
  }
}

async function health(): Promise<{ status: number; body: unknown }> {
  const r = await fetch(`http://127.0.0.1:${t.ports.admin}/health`);
  return { status: r.status, body: await r.json() };
}

async function metric(): Promise<string> {
  return (await fetch(`http://127.0.0.1:${t.ports.admin}/metrics`)).text();
}

async function pop3Login(user: string, pass: string): Promise<string> {
  const c = await RawClient.connect(t.ports.pop3!);
  try {
    expect(await c.line()).toMatch(/^\+OK/);
    return await c.login(user, pass);
  } finally {
    c.destroy();
  }
}

describe('node with the LDAP directory', () => {
  it('QMQP: K for mail, alternate and catchall addresses; the message lands in the Maildir from mailMessageStore', async () => {
    expect((await qmqpSend(t.ports.qmqp!, MSG, 'x@example.net', ['alice@example.org'])).code).toBe('K');
    expect((await qmqpSend(t.ports.qmqp!, MSG, 'x@example.net', ['AL@example.org'])).code).toBe('K');
    expect((await qmqpSend(t.ports.qmqp!, MSG, 'x@example.net', ['whoever@example.com'])).code).toBe('K');
    const alice = await account('alice@example.org');
    expect(alice.maildir).toBe(`${t.config.paths.mailDir}/alice/Maildir`);
    expect((await inboxMessages(t.ctx.store, alice)).length).toBe(2);
    expect((await inboxMessages(t.ctx.store, await account('catchall@example.com'))).length).toBe(1);
  });

  it('QMQP: D for disabled, deleted and unknown (qmail-ldap texts), K for noaccess', async () => {
    expect(await qmqpSend(t.ports.qmqp!, MSG, '', ['dis@example.org'])).toEqual({ code: 'D', text: TEXTS.disabled });
    expect(await qmqpSend(t.ports.qmqp!, MSG, '', ['del@example.org'])).toEqual({ code: 'D', text: TEXTS.noMailbox });
    expect(await qmqpSend(t.ports.qmqp!, MSG, '', ['nobody@example.org'])).toEqual({ code: 'D', text: TEXTS.noMailbox });
    expect((await qmqpSend(t.ports.qmqp!, MSG, '', ['noacc@example.org'])).code).toBe('K');
  });

  it('QMQP: over mailSizeMax and over mailQuotaSize bounce; ambiguous address defers', async () => {
    expect((await qmqpSend(t.ports.qmqp!, MSG + 'x'.repeat(600) + '\n', '', ['small@example.org'])).code).toBe('D');
    expect((await qmqpSend(t.ports.qmqp!, 'Subject: s\n\nok\n', '', ['small@example.org'])).code).toBe('K');
    expect((await qmqpSend(t.ports.qmqp!, MSG + 'y'.repeat(300) + '\n', '', ['full@example.org'])).code).toBe('D');
    expect(await qmqpSend(t.ports.qmqp!, MSG, '', ['shared@example.org'])).toEqual({ code: 'Z', text: TEXTS.ambiguous });
  });

  it('POP3 and IMAP: uid logins succeed, wrong passwords fail, noaccess and disabled are refused', async () => {
    expect(await pop3Login('alice', 'right')).toMatch(/^\+OK/);
    expect(await pop3Login('alice', 'wrong')).toMatch(/^-ERR \[AUTH\]/);
    expect(await pop3Login('noacc', 'right')).toMatch(/^-ERR/);
    expect(await imapLogin('alice', 'right')).toMatch(/^a1 OK/);
    expect(await imapLogin('alice', 'wrong')).toMatch(/^a1 NO \[AUTHENTICATIONFAILED\]/);
    expect(await imapLogin('dis', 'right')).toMatch(/^a1 NO/);
  });

  it('outage: Z, -ERR [SYS/TEMP], NO [UNAVAILABLE], /health not ok; after restart everything works again', async () => {
    await slapd.stop();
    try {
      const z = await qmqpSend(t.ports.qmqp!, MSG, '', ['alice@example.org']);
      expect(z.code).toBe('Z');
      expect((await qmqpSend(t.ports.qmqp!, MSG, '', ['nobody@example.org'])).code).toBe('Z');
      expect(await pop3Login('alice', 'right')).toMatch(/^-ERR \[SYS\/TEMP\]/);
      expect(await pop3Login('alice', 'wrong')).toMatch(/^-ERR \[SYS\/TEMP\]/);
      expect(await imapLogin('alice', 'right')).toMatch(/^a1 NO \[UNAVAILABLE\]/);
      const h = await health();
      expect(h.status).toBe(503);
      expect(JSON.stringify(h.body)).toMatch(/unreachable/);
      expect(await metric()).toMatch(/roost_directory_up\{backend="ldap"\} 0/);
    } finally {
      await slapd.start();
    }
    expect((await qmqpSend(t.ports.qmqp!, MSG, '', ['alice@example.org'])).code).toBe('K');
    expect(await pop3Login('alice', 'right')).toMatch(/^\+OK/);
    expect(await imapLogin('alice', 'right')).toMatch(/^a1 OK/);
    expect((await health()).status).toBe(200);
    expect(await metric()).toMatch(/roost_directory_errors_total\{backend="ldap",op="recipient"\} [1-9]/);
  });
});
