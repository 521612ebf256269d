/**
 * POP3 (raw socket) and IMAP (imapflow) logins against a node whose directory
 * is a real slapd, for every userPassword scheme, in bind mode and in
 * compare mode. The password has non-ASCII bytes, a space and a backslash.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { answered } from '../helpers/imapflow.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { READER_DN, READER_PW, SUFFIX, Slapd } from '../helpers/slapd.js';
import { RawClient } from '../helpers/pop3-client.js';
import { PW, SCHEMES, schemeLdif } from './scheme-fixtures.js';

let slapd: Slapd;
const nodes: Partial<Record<'bind' | 'compare', TestNode>> = {};

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(schemeLdif());
  for (const auth_mode of ['bind', 'compare'] as const) {
    nodes[auth_mode] = await startTestNode({
      directory: {
        backend: 'ldap',
        ldap: { url: slapd.url, bind_dn: READER_DN, bind_password: READER_PW, base: SUFFIX, auth_mode, timeout_ms: 2000 },
      },
    });
  }
});
afterAll(async () => {
  for (const n of Object.values(nodes)) await n?.stop();
  await slapd?.destroy();
});

async function pop3(t: TestNode, user: string, pass: string): Promise<string> {
  const c = await RawClient.connect(t.ports.pop3!);
  try {
    expect(await c.line()).toMatch(/^\+OK/);
    const r = await c.login(user, pass);
    if (r.startsWith('+OK')) expect(await c.cmd('STAT')).toMatch(/^\+OK 0 0/);
    return r;
  } finally {
    c.destroy();
  }
}

async function imap(t: TestNode, user: string, pass: string): Promise<boolean> {
  const client = new ImapFlow({
    host: '127.0.0.1',
    port: t.ports.imap!,
    secure: false,
    doSTARTTLS: false,
    auth: { user, pass },
    logger: false,
  });
  client.on('error', () => undefined);
  try {
    await client.connect();
  } catch {
    return false;
  }
  try {
    const status = answered(await client.status('INBOX', { messages: true }), 'STATUS');
    expect(status.messages).toBe(0);
    return true;
  } finally {
    await client.logout().catch(() => undefined);
  }
}

describe.each(['bind', 'compare'] as const)('%s mode: POP3 and IMAP logins', (mode) => {
  for (const [uid, [, inBind]] of Object.entries(SCHEMES)) {
    const ok = mode === 'compare' || inBind;
    it(`${uid}: ${ok ? 'logs in' : 'is refused (bare crypt is cleartext to slapd)'}`, async () => {
      const t = nodes[mode]!;
      expect(await pop3(t, uid, PW)).toMatch(ok ? /^\+OK/ : /^-ERR \[AUTH\]/);
      expect(await imap(t, uid, PW)).toBe(ok);
    });
  }
});
