/**
 * Directory fixtures shared by the LDAP tests: one entry per attribute case
 * of the qmail-ldap schema, plus a config builder for an LdapDirectory pointed at a test slapd.
 */
import { buildConfig } from '../../src/config/load.js';
import { LdapDirectory, type LdapConfig } from '../../src/accounts/ldap.js';
import { pino, type Logger } from 'pino';
import { Writable } from 'node:stream';
import { READER_DN, READER_PW, SUFFIX, Slapd, userLdif } from '../helpers/slapd.js';

export const MAIL_HOST = 'mx1.example.org';
export const STORE_BASE = '/var/roost-test/mail';
export const ALLOWED = '/srv/mail';

export const RECIPIENTS = [
  userLdif('alice', {
    mail: 'alice@example.org',
    mailAlternateAddress: ['al@example.org', 'Alice.Liddell@Example.NET'],
    uid: 'alice',
    mailMessageStore: 'alice/Maildir/',
    mailQuotaSize: '1000000',
    mailQuotaCount: '1000',
    mailSizeMax: '200000',
    accountStatus: 'active',
    mailHost: MAIL_HOST,
  }),
  userLdif('bob', { mail: 'bob@example.org', uid: 'bob', mailMessageStore: '/srv/mail/bob/Maildir/' }),
  userLdif('zero', { mail: 'zero@example.org', uid: 'zero', mailMessageStore: 'zero/', mailQuotaSize: '0', mailQuotaCount: '0', mailSizeMax: '0' }),
  userLdif('catchall', { mail: 'catchall@example.com', uid: 'catchall-com', mailMessageStore: 'catchall-com/' }),
  userLdif('dis', { mail: 'dis@example.org', uid: 'dis', mailMessageStore: 'dis/', accountStatus: 'disabled' }),
  userLdif('del', { mail: 'del@example.org', uid: 'del', mailMessageStore: 'del/', accountStatus: 'DELETED' }),
  userLdif('noacc', { mail: 'noacc@example.org', uid: 'noacc', mailMessageStore: 'noacc/', accountStatus: 'noaccess' }),
  userLdif('nopop', { mail: 'nopop@example.org', uid: 'nopop', mailMessageStore: 'nopop/', accountStatus: 'nopop' }),
  userLdif('odd', { mail: 'odd@example.org', uid: 'odd', mailMessageStore: 'odd/', accountStatus: 'vacation' }),
  userLdif('dup1', { mail: 'dup1@example.org', mailAlternateAddress: 'shared@example.org', mailMessageStore: 'dup1/' }),
  userLdif('dup2', { mail: 'dup2@example.org', mailAlternateAddress: 'shared@example.org', mailMessageStore: 'dup2/' }),
  userLdif('far', { mail: 'far@example.org', uid: 'far', mailMessageStore: 'far/', mailHost: 'mx2.example.org' }),
  userLdif('esc1', { mail: 'esc1@example.org', mailMessageStore: '../outside/Maildir/' }),
  userLdif('esc2', { mail: 'esc2@example.org', mailMessageStore: '/etc/Maildir/' }),
  userLdif('esc3', { mail: 'esc3@example.org', mailMessageStore: '/srv/mail/../../etc/' }),
  userLdif('esc4', { mail: 'esc4@example.org', mailMessageStore: '/srv/mailx/evil/' }),
  userLdif('nostore', { mail: 'nostore@example.org' }),
  userLdif('home', { mail: 'home@example.org', homeDirectory: '/srv/mail/home' }),
  userLdif('star', { mail: 'a*b@example.org', uid: 'a*b', mailMessageStore: 'star/' }),
  userLdif('ab', { mail: 'ab@example.org', uid: 'ab', mailMessageStore: 'ab/' }),
  userLdif('paren', { mail: 'p(x)@example.org', uid: 'p(x)', mailMessageStore: 'paren/' }),
  userLdif('back', { mail: 'back\\slash@example.org', uid: 'back\\slash', mailMessageStore: 'back/' }),
  userLdif('juergen', { mail: 'juergen@example.org', uid: 'jürgen', mailMessageStore: 'juergen/' }),
  // No objectClass qmailUser: must never be found with the default object_class filter.
  `dn: cn=plain,ou=people,${SUFFIX}\nobjectClass: inetOrgPerson\ncn: plain\nsn: plain\nmail: plain@example.org\nuid: plain\n\n`,
].join('');

export interface Captured {
  lines: Record<string, unknown>[];
}

/** A pino logger whose lines the test can read. */
export function captureLogger(): { log: Logger; captured: Captured } {
  const captured: Captured = { lines: [] };
  const sink = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l.trim()) captured.lines.push(JSON.parse(l));
      cb();
    },
  });
  return { log: pino({ level: 'debug' }, sink), captured };
}

export function ldapConfig(slapd: Slapd, over: Partial<LdapConfig> = {}): LdapConfig {
  const cfg = buildConfig(
    {
      directory: {
        backend: 'ldap',
        ldap: {
          url: slapd.url,
          bind_dn: READER_DN,
          bind_password: READER_PW,
          base: SUFFIX,
          message_store_base: STORE_BASE,
          allowed_store_prefixes: [ALLOWED],
          mail_host: MAIL_HOST,
          timeout_ms: 2000,
          ...over,
        },
      },
    },
    null,
  );
  return cfg.directory.ldap;
}

export function makeDirectory(slapd: Slapd, over: Partial<LdapConfig> = {}) {
  const { log, captured } = captureLogger();
  const dir = new LdapDirectory(ldapConfig(slapd, over), { mailDir: '/unused', log });
  return { dir, captured };
}
