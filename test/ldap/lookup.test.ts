/**
 * Recipient lookups against a real slapd with the qmail-ldap schema:
 * addresses, aliases, catchall, account status, quota/size values, message
 * store paths, mailHost, ambiguity, and filter injection.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { register } from 'prom-client';
import type { LdapDirectory } from '../../src/accounts/ldap.js';
import { TEXTS, escapeFilterValue } from '../../src/accounts/ldap.js';
import { Slapd } from '../helpers/slapd.js';
import { ALLOWED, RECIPIENTS, STORE_BASE, makeDirectory, type Captured } from './fixtures.js';

let slapd: Slapd;
let dir: LdapDirectory;
let captured: Captured;

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(RECIPIENTS);
  ({ dir, captured } = makeDirectory(slapd, { cache_ttl_ms: 0, negative_cache_ttl_ms: 0 }));
});
afterAll(async () => {
  await dir?.close();
  await slapd?.destroy();
});

const found = async (addr: string) => {
  const r = await dir.lookupRecipient(addr);
  if (r.kind !== 'found') throw new Error(`${addr}: ${JSON.stringify(r)}`);
  return r.account;
};

describe('recipient lookup', () => {
  it('finds the primary address with every value from the entry', async () => {
    const a = await found('alice@example.org');
    expect(a).toEqual({
      id: 'alice@example.org',
      address: 'alice@example.org',
      login: 'alice',
      maildir: `${STORE_BASE}/alice/Maildir`,
      quotaBytes: 1_000_000,
      quotaMessages: 1000,
      maxMessageSize: 200_000,
      status: 'active',
    });
  });

  it('finds alternate addresses, case-insensitively, to the same account', async () => {
    expect((await found('al@example.org')).id).toBe('alice@example.org');
    expect((await found('alice.liddell@example.net')).id).toBe('alice@example.org');
    expect((await found('<ALICE@Example.ORG>')).id).toBe('alice@example.org');
  });

  it('absent status/quota/size mean active and unlimited; 0 means unlimited', async () => {
    const b = await found('bob@example.org');
    expect(b).toMatchObject({ status: 'active', quotaBytes: 0, quotaMessages: 0, maxMessageSize: 0, maildir: `${ALLOWED}/bob/Maildir` });
    expect(await found('zero@example.org')).toMatchObject({ quotaBytes: 0, quotaMessages: 0, maxMessageSize: 0 });
  });

  it('unknown address in a domain without catchall is rejected with #5.1.1', async () => {
    expect(await dir.lookupRecipient('nobody@example.org')).toEqual({ kind: 'rejected', text: TEXTS.noMailbox });
  });

  it('falls back to catchall@domain', async () => {
    expect((await found('anything@example.com')).id).toBe('catchall@example.com');
    expect((await found('catchall@example.com')).id).toBe('catchall@example.com');
  });

  it('catchall can be switched off', async () => {
    const { dir: d } = makeDirectory(slapd, { catchall: false });
    try {
      expect((await d.lookupRecipient('anything@example.com')).kind).toBe('rejected');
    } finally {
      await d.close();
    }
  });

  it('accountStatus: disabled and deleted bounce with qmail-ldap texts; noaccess, nopop, unknown values receive', async () => {
    expect(await dir.lookupRecipient('dis@example.org')).toEqual({ kind: 'rejected', text: 'Mailaddress is administratively disabled. (#5.2.1)' });
    expect(await dir.lookupRecipient('del@example.org')).toEqual({ kind: 'rejected', text: 'Sorry, no mailbox here by that name. (#5.1.1)' });
    expect((await found('noacc@example.org')).status).toBe('noaccess');
    expect((await found('nopop@example.org')).status).toBe('noaccess');
    expect((await found('odd@example.org')).status).toBe('active');
  });

  it('several matching entries defer and the log names both DNs', async () => {
    const r = await dir.lookupRecipient('shared@example.org');
    expect(r).toEqual({ kind: 'deferred', text: TEXTS.ambiguous });
    const line = captured.lines.find((l) => l.msg === 'recipient matches several LDAP entries');
    expect(line?.dns).toEqual(expect.arrayContaining(['cn=dup1,ou=people,dc=example,dc=org', 'cn=dup2,ou=people,dc=example,dc=org']));
  });

  it('mailHost of another server defers by default, bounces when configured', async () => {
    expect(await dir.lookupRecipient('far@example.org')).toEqual({ kind: 'deferred', text: TEXTS.otherHostDefer });
    const { dir: bounce } = makeDirectory(slapd, { other_host: 'bounce' });
    const { dir: any } = makeDirectory(slapd, { mail_host: '' });
    try {
      expect(await bounce.lookupRecipient('far@example.org')).toEqual({ kind: 'rejected', text: TEXTS.otherHostBounce });
      expect((await any.lookupRecipient('far@example.org')).kind).toBe('found');
    } finally {
      await bounce.close();
      await any.close();
    }
  });

  it('message store paths that escape are refused and logged', async () => {
    for (const a of ['esc1@example.org', 'esc2@example.org', 'esc3@example.org', 'esc4@example.org', 'nostore@example.org']) {
      expect(await dir.lookupRecipient(a), a).toEqual({ kind: 'deferred', text: TEXTS.badEntry });
      expect(captured.lines.some((l) => l.msg === 'LDAP entry refused' && l.address === a), a).toBe(true);
    }
  });

  it('homeDirectory without mailMessageStore delivers to $HOME/Maildir', async () => {
    expect((await found('home@example.org')).maildir).toBe(`${ALLOWED}/home/Maildir`);
  });

  it('entries without objectClass qmailUser are not recipients', async () => {
    expect((await dir.lookupRecipient('plain@example.org')).kind).toBe('rejected');
  });

  it('filters and attribute names can be overridden', async () => {
    const { dir: onlyMail } = makeDirectory(slapd, { recipient_filter: '(mail=%s)' });
    const { dir: noClass } = makeDirectory(slapd, { object_class: '' });
    const { dir: renamed } = makeDirectory(slapd, { attr_quota_size: 'mailSizeMax', attr_alternate: 'mail' });
    try {
      expect((await onlyMail.lookupRecipient('alice@example.org')).kind).toBe('found');
      expect((await onlyMail.lookupRecipient('al@example.org')).kind).toBe('rejected');
      // Without the objectClass condition the plain inetOrgPerson entry is found (and refused: no store path).
      expect(await noClass.lookupRecipient('plain@example.org')).toEqual({ kind: 'deferred', text: TEXTS.badEntry });
      const r = await renamed.lookupRecipient('alice@example.org');
      expect(r.kind === 'found' && r.account.quotaBytes).toBe(200_000);
      expect((await renamed.lookupRecipient('al@example.org')).kind).toBe('rejected');
    } finally {
      for (const d of [onlyMail, noClass, renamed]) await d.close();
    }
  });

  it('concurrent lookups of one address all get the answer', async () => {
    const results = await Promise.all(Array.from({ length: 20 }, () => dir.lookupRecipient('bob@example.org')));
    expect(results.every((r) => r.kind === 'found' && r.account.id === 'bob@example.org')).toBe(true);
  });

  it('accountById reads the primary address back', async () => {
    expect((await dir.accountById('alice@example.org'))?.maildir).toBe(`${STORE_BASE}/alice/Maildir`);
    expect(await dir.accountById('al@example.org')).toBeNull();
    expect(await dir.accountById('nobody@example.org')).toBeNull();
  });
});

describe('filter injection (RFC 4515 escaping)', () => {
  it('escapes the five special characters', () => {
    expect(escapeFilterValue('a*b(c)d\\e\0f')).toBe('a\\2ab\\28c\\29d\\5ce\\00f');
  });

  it('addresses with * ( ) \\ find only the entry that literally has them', async () => {
    expect((await found('a*b@example.org')).maildir).toBe(`${STORE_BASE}/star`);
    expect((await found('p(x)@example.org')).maildir).toBe(`${STORE_BASE}/paren`);
    expect((await found('back\\slash@example.org')).maildir).toBe(`${STORE_BASE}/back`);
    for (const a of ['a*@example.org', '*@example.org', '*', 'al*', 'a*b*', '*)(mail=*', 'x)(|(mail=*', 'alice@example.org)(mail=*', 'p(*)@example.org', 'back\\2a@example.org'])
      expect((await dir.lookupRecipient(a)).kind, a).toBe('rejected');
  });

  it('a * in a domain with catchall reaches only the catchall', async () => {
    expect((await found('*@example.com')).id).toBe('catchall@example.com');
  });

  it('NUL and UTF-8 in addresses find nothing and do not fail', async () => {
    expect((await dir.lookupRecipient('alice\0@example.org')).kind).toBe('rejected');
    expect((await dir.lookupRecipient('alice@example.org\0')).kind).toBe('rejected');
    expect((await dir.lookupRecipient('jürgen@example.org')).kind).toBe('rejected');
    expect((await dir.lookupRecipient('älice@example.org')).kind).toBe('rejected');
  });
});

describe('cache and metrics', () => {
  it('serves repeated lookups from the positive and negative caches within the TTL', async () => {
    const { dir: cached } = makeDirectory(slapd, { cache_ttl_ms: 60_000, negative_cache_ttl_ms: 60_000 });
    try {
      const hits = async () => (await register.getSingleMetric('roost_directory_cache_hits_total')!.get()).values;
      const sum = async (cache: string) => (await hits()).filter((v) => v.labels.cache === cache).reduce((s, v) => s + v.value, 0);
      const p0 = await sum('positive');
      const n0 = await sum('negative');
      await cached.lookupRecipient('bob@example.org');
      await cached.lookupRecipient('bob@example.org');
      await cached.lookupRecipient('ghost@example.org');
      await cached.lookupRecipient('ghost@example.org');
      expect((await sum('positive')) - p0).toBe(1);
      expect((await sum('negative')) - n0).toBe(1);
      // A cached answer is still right after the entry changed, until the TTL or clearCache().
      await slapd.ldapmodify('dn: cn=bob,ou=people,dc=example,dc=org\nchangetype: modify\nreplace: mailQuotaSize\nmailQuotaSize: 5\n');
      const again = await cached.lookupRecipient('bob@example.org');
      expect(again.kind === 'found' && again.account.quotaBytes).toBe(0);
      cached.clearCache();
      const fresh = await cached.lookupRecipient('bob@example.org');
      expect(fresh.kind === 'found' && fresh.account.quotaBytes).toBe(5);
      const text = await register.metrics();
      expect(text).toMatch(/roost_directory_lookups_total\{backend="ldap",kind="recipient",result="found"\} \d+/);
    } finally {
      await cached.close();
    }
  });

  it('health reports ok while the server answers', () => {
    expect(dir.health()).toMatchObject({ ok: true, backend: 'ldap' });
  });
});
