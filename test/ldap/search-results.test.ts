/**
 * ldap.maxSearchResults at N and N+1: a recipient address that N entries of
 * a real slapd carry is ambiguous and deferred; one that N+1 carry is
 * deferred the same way with only N of them read (slapd stops at the size
 * limit), and the directory is not taken for down: it is an answer about the data, not an
 * outage.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LdapDirectory } from '../../src/accounts/ldap.js';
import { TEXTS } from '../../src/accounts/ldap.js';
import { LIMITS } from '../../src/limits.js';
import { Slapd, userLdif } from '../helpers/slapd.js';
import { makeDirectory, type Captured } from './fixtures.js';

const N = LIMITS.ldap.maxSearchResults;
let slapd: Slapd;
let dir: LdapDirectory;
let captured: Captured;

const entries = (prefix: string, count: number, mail: string): string =>
  Array.from({ length: count }, (_, i) => userLdif(`${prefix}${i}`, { mail: i === 0 ? mail : `${prefix}${i}@example.org`, mailAlternateAddress: mail, uid: `${prefix}${i}`, mailMessageStore: `${prefix}${i}/` })).join('');

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(entries('atn', N, 'many-n@example.org') + entries('over', N + 1, 'many-n1@example.org') + userLdif('solo', { mail: 'solo@example.org', uid: 'solo', mailMessageStore: 'solo/' }));
  ({ dir, captured } = makeDirectory(slapd, { cache_ttl_ms: 0, negative_cache_ttl_ms: 0 }));
});
afterAll(async () => {
  await dir?.close();
  await slapd?.destroy();
});

describe('ldap.maxSearchResults', () => {
  it(`an address on ${N} entries is ambiguous (deferred); on ${N + 1} it is deferred the same way and the directory stays up`, async () => {
    const logged = (): string[][] => captured.lines.filter((l) => l.msg === 'recipient matches several LDAP entries').map((l) => l.dns as string[]);
    expect(await dir.lookupRecipient('many-n@example.org')).toEqual({ kind: 'deferred', text: TEXTS.ambiguous });
    expect(logged().at(-1)?.length).toBe(N);
    expect(await dir.lookupRecipient('many-n1@example.org')).toEqual({ kind: 'deferred', text: TEXTS.ambiguous });
    // Only N entries were read (the log names the ones read), and the size limit is no outage.
    expect(logged().at(-1)?.length).toBe(N);
    expect(dir.health()).toMatchObject({ ok: true });
    expect((await dir.lookupRecipient('solo@example.org')).kind).toBe('found');
  });
});
