/**
 * Pure parts of the LDAP backend: message store path rules, accountStatus,
 * and the recipient cache bound (LIMITS.ldap, at N and N+1).
 */
import { describe, expect, it } from 'vitest';
import { parseStatus, resolveStore } from '../../src/accounts/ldap-entry.js';
import { TtlCache, fillFilter } from '../../src/accounts/ldap.js';
import { LIMITS } from '../../src/limits.js';

const policy = { base: '/var/mail/', allowedPrefixes: ['/srv/mail/', '/home'] };

describe('resolveStore', () => {
  it('puts relative paths under the base and strips the trailing slash', () => {
    expect(resolveStore('alice/Maildir/', policy)).toEqual({ path: '/var/mail/alice/Maildir' });
    expect(resolveStore('./a/./b/', policy)).toEqual({ path: '/var/mail/a/b' });
  });

  it('accepts absolute paths strictly below an allowed prefix or the base', () => {
    expect(resolveStore('/srv/mail/bob/Maildir/', policy)).toEqual({ path: '/srv/mail/bob/Maildir' });
    expect(resolveStore('/home/carol/Maildir/', policy)).toEqual({ path: '/home/carol/Maildir' });
    expect(resolveStore('/var/mail/dave/', policy)).toEqual({ path: '/var/mail/dave' });
  });

  it('refuses escapes, siblings of a prefix, the prefix itself, control characters and empty values', () => {
    for (const v of [
      '../x/',
      'a/../../x',
      'a/..',
      '/srv/mail/../etc/',
      '/srv/mailx/evil/',
      '/homer/x',
      '/srv/mail/',
      '/srv/mail',
      '/var/mail',
      '.',
      '/etc/Maildir/',
      'a\0b/',
      'a\nb/',
      '',
    ])
      expect('error' in resolveStore(v, policy), JSON.stringify(v)).toBe(true);
  });

  it('accepts a value of LIMITS.ldap.maxStorePathLength characters and refuses one more', () => {
    const n = LIMITS.ldap.maxStorePathLength;
    expect(resolveStore('a'.repeat(n), policy)).toEqual({ path: `/var/mail/${'a'.repeat(n)}` });
    expect('error' in resolveStore('a'.repeat(n + 1), policy)).toBe(true);
  });
});

describe('parseStatus', () => {
  it('reads qmail-ldap values case-insensitively; absent and unknown are active; nopop is noaccess', () => {
    expect(parseStatus(undefined)).toBe('active');
    expect(parseStatus('Active')).toBe('active');
    expect(parseStatus('whatever')).toBe('active');
    expect(parseStatus('NOACCESS')).toBe('noaccess');
    expect(parseStatus('nopop')).toBe('noaccess');
    expect(parseStatus(' disabled ')).toBe('disabled');
    expect(parseStatus('Deleted')).toBe('deleted');
  });
});

describe('filter templates', () => {
  it('replace every %s with the escaped value', () => {
    expect(fillFilter('(|(mail=%s)(mailAlternateAddress=%s))', 'a*(b)')).toBe('(|(mail=a\\2a\\28b\\29)(mailAlternateAddress=a\\2a\\28b\\29))');
    expect(fillFilter('(uid=%s)', '$&')).toBe('(uid=$&)');
  });
});

describe('TtlCache', () => {
  it('keeps LIMITS.ldap.maxCacheEntries entries and drops the oldest at one more', () => {
    const c = new TtlCache(60_000);
    const r = { kind: 'rejected', text: 'x' } as const;
    const n = LIMITS.ldap.maxCacheEntries;
    for (let i = 0; i < n; i++) c.set(`k${i}`, r, 0);
    expect(c.get('k0', 1)).toBe(r);
    c.set('k0', r, 0); // refresh: k0 becomes the newest
    c.set(`k${n}`, r, 0);
    expect(c.get('k0', 1)).toBe(r);
    expect(c.get('k1', 1)).toBeUndefined();
    expect(c.get(`k${n}`, 1)).toBe(r);
  });

  it('forgets entries after the TTL and stores nothing with TTL 0', () => {
    const c = new TtlCache(100);
    const r = { kind: 'rejected', text: 'x' } as const;
    c.set('a', r, 1000);
    expect(c.get('a', 1099)).toBe(r);
    expect(c.get('a', 1100)).toBeUndefined();
    const off = new TtlCache(0);
    off.set('a', r, 0);
    expect(off.get('a', 0)).toBeUndefined();
  });
});
