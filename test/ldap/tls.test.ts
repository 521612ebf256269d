/**
 * ldaps:// and StartTLS against a slapd that requires TLS for its data
 * (olcSecurity tls=1), refuses anonymous binds, and presents a certificate
 * from a test CA.
 */
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createHash } from 'node:crypto';
import { Slapd, userLdif } from '../helpers/slapd.js';
import { makeDirectory } from './fixtures.js';
import type { LdapConfig } from '../../src/accounts/ldap.js';

const run = promisify(execFile);
let slapd: Slapd;
beforeAll(async () => {
  slapd = await Slapd.create({ tls: true });
  await slapd.ldapadd(
    userLdif('t1', { mail: 't1@example.org', uid: 't1', mailMessageStore: 't1/', userPassword: '{SHA}' + createHash('sha1').update('right').digest('base64') }),
  );
});
afterAll(async () => {
  await slapd?.destroy();
});

async function withDir<T>(over: Partial<LdapConfig>, fn: (d: ReturnType<typeof makeDirectory>['dir']) => Promise<T>): Promise<T> {
  const { dir } = makeDirectory(slapd, { cache_ttl_ms: 0, negative_cache_ttl_ms: 0, ...over });
  try {
    return await fn(dir);
  } finally {
    await dir.close();
  }
}

describe('LDAP over TLS', () => {
  it('ldaps:// with the CA file: lookups and bind logins work', async () => {
    await withDir({ url: slapd.ldapsUrl, ca_file: slapd.caFile }, async (d) => {
      expect((await d.lookupRecipient('t1@example.org')).kind).toBe('found');
      expect((await d.authenticate('t1', 'right')).kind).toBe('ok');
      expect(await d.authenticate('t1', 'wrong')).toEqual({ kind: 'failed' });
    });
  });

  it('StartTLS on ldap:// with the CA file works in both auth modes', async () => {
    for (const auth_mode of ['bind', 'compare'] as const) {
      await withDir({ starttls: true, ca_file: slapd.caFile, auth_mode }, async (d) => {
        expect((await d.lookupRecipient('t1@example.org')).kind).toBe('found');
        expect((await d.authenticate('t1', 'right')).kind).toBe('ok');
      });
    }
  });

  it('bind-mode logins work on a server that refuses anonymous binds', async () => {
    // The server really refuses them (olcDisallows: bind_anon):
    await expect(
      run('/usr/bin/ldapsearch', ['-x', '-ZZ', '-H', slapd.url, '-b', '', '-s', 'base', '1.1'], { env: { ...process.env, LDAPTLS_CACERT: slapd.caFile } }),
    ).rejects.toThrow();
    await withDir({ starttls: true, ca_file: slapd.caFile }, async (d) => {
      expect((await d.authenticate('t1', 'right')).kind).toBe('ok');
      expect(await d.authenticate('t1', 'wrong')).toEqual({ kind: 'failed' });
      expect((await d.authenticate('t1', 'right')).kind).toBe('ok');
    });
  });

  it('an unverifiable certificate is a temporary failure, never "not found"', async () => {
    await withDir({ url: slapd.ldapsUrl }, async (d) => {
      await expect(d.lookupRecipient('t1@example.org')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      expect(d.health().ok).toBe(false);
    });
    await withDir({ starttls: true }, async (d) => {
      await expect(d.authenticate('t1', 'right')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });
  });

  it('an unreadable ca_file stops the start with a message naming the key', () => {
    expect(() => makeDirectory(slapd, { url: slapd.ldapsUrl, ca_file: '/nonexistent/ca.pem' })).toThrow(/directory\.ldap\.ca_file: cannot read \/nonexistent\/ca\.pem: ENOENT/);
  });

  it('tls_verify = false accepts the certificate (test rigs only)', async () => {
    await withDir({ url: slapd.ldapsUrl, tls_verify: false }, async (d) => {
      expect((await d.lookupRecipient('t1@example.org')).kind).toBe('found');
    });
  });

  it('without TLS the server refuses (confidentiality required): UNAVAILABLE, not "not found"', async () => {
    await withDir({}, async (d) => {
      await expect(d.lookupRecipient('t1@example.org')).rejects.toMatchObject({ code: 'UNAVAILABLE' });
    });
  });
});
