/**
 * Password schemes against hashes made by independent code: openssl passwd,
 * the system's crypt(3) through slappasswd -c, slappasswd, and node:crypto.
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { verifyPassword, splitScheme } from '../../src/accounts/schemes.js';

const openssl = (...args: string[]) => execFileSync('openssl', ['passwd', ...args], { encoding: 'utf8' }).trim();
const slappasswd = (scheme: string, pw: string, extra: string[] = []) =>
  execFileSync('/usr/sbin/slappasswd', ['-h', scheme, '-s', pw, ...extra], { encoding: 'utf8' }).trim();
/** The system's crypt(3) (libxcrypt) with a fixed salt, through slappasswd -c. */
const syscrypt = (pw: string, salt: string) =>
  execFileSync('/usr/sbin/slappasswd', ['-h', '{CRYPT}', '-c', salt.replace(/%/g, '%%'), '-s', pw], { encoding: 'utf8' })
    .trim()
    .replace(/^\{CRYPT\}/, '');
const salted = (algo: string, pw: string, salt: Buffer) =>
  Buffer.concat([createHash(algo).update(pw, 'utf8').update(salt).digest(), salt]).toString('base64');
const plain = (algo: string, pw: string) => createHash(algo).update(pw, 'utf8').digest('base64');

const PW = 'S3cret pässword';

describe('password schemes', () => {
  const cases: [string, () => string][] = [
    ['{SSHA} node:crypto', () => '{SSHA}' + salted('sha1', PW, randomBytes(8))],
    ['{SSHA} slappasswd', () => slappasswd('{SSHA}', PW)],
    ['{ssha} lower-case prefix', () => '{ssha}' + salted('sha1', PW, randomBytes(4))],
    ['{SSHA256}', () => '{SSHA256}' + salted('sha256', PW, randomBytes(8))],
    ['{SSHA512}', () => '{SSHA512}' + salted('sha512', PW, randomBytes(16))],
    ['{SMD5} slappasswd', () => slappasswd('{SMD5}', PW)],
    ['{SMD5} node:crypto', () => '{SMD5}' + salted('md5', PW, randomBytes(8))],
    ['{SHA} slappasswd', () => slappasswd('{SHA}', PW)],
    ['{SHA}', () => '{SHA}' + plain('sha1', PW)],
    ['{MD5} slappasswd', () => slappasswd('{MD5}', PW)],
    ['{MD5}', () => '{MD5}' + plain('md5', PW)],
    ['{CRYPT}$1$ openssl', () => '{CRYPT}' + openssl('-1', PW)],
    ['{CRYPT}$5$ openssl', () => '{CRYPT}' + openssl('-5', PW)],
    ['{CRYPT}$6$ openssl', () => '{CRYPT}' + openssl('-6', PW)],
    ['{CRYPT}$5$rounds= libc', () => '{CRYPT}' + syscrypt(PW, '$5$rounds=1500$abcdefgh12345678')],
    ['{CRYPT}$6$rounds= libc', () => '{CRYPT}' + syscrypt(PW, '$6$rounds=12000$saltsalt')],
    ['{CRYPT}$6$ short salt libc', () => '{CRYPT}' + syscrypt(PW, '$6$ab')],
    ['{CRYPT}$1$ libc', () => '{CRYPT}' + syscrypt(PW, '$1$12345678')],
    ['{CRYPT}$2b$ libc', () => '{CRYPT}' + syscrypt(PW, '$2b$05$abcdefghijklmnopqrstuu')],
    ['{CRYPT}$2y$ libc', () => '{CRYPT}' + syscrypt(PW, '$2y$05$abcdefghijklmnopqrstuu')],
    ['{CRYPT} DES libc', () => '{CRYPT}' + syscrypt(PW, 'ab')],
    ['{crypt} via slappasswd -c', () => slappasswd('{CRYPT}', PW, ['-c', '$6$%.16s'])],
    ['no prefix DES', () => syscrypt(PW, 'Zz')],
    ['no prefix $6$', () => syscrypt(PW, '$6$norounds')],
    ['no prefix $1$', () => openssl('-1', '-salt', 'x', PW)],
  ];
  for (const [name, make] of cases) {
    it(`${name}: right password matches, wrong one does not`, async () => {
      const stored = make();
      expect(await verifyPassword(stored, PW)).toBe(true);
      expect(await verifyPassword(Buffer.from(stored), PW)).toBe(true);
      expect(await verifyPassword(stored, 'x' + PW)).toBe(false);
      expect(await verifyPassword(stored, 'S3cre7 pässword')).toBe(false);
      expect(await verifyPassword(stored, '')).toBe(false);
    });
  }

  it('DES crypt looks at the first 8 bytes only, as crypt(3) does', async () => {
    const stored = syscrypt('abcdefgh-tail', 'ab');
    expect(await verifyPassword(stored, 'abcdefgh')).toBe(true);
    expect(await verifyPassword(stored, 'abcdefgX')).toBe(false);
  });

  it('unknown schemes, cleartext and garbage never match', async () => {
    expect(await verifyPassword('{CLEARTEXT}secret', 'secret')).toBe(false);
    expect(await verifyPassword('{PLAIN}secret', 'secret')).toBe(false);
    expect(await verifyPassword('{SSHA}', '')).toBe(false);
    expect(await verifyPassword('{SSHA}!!!!', 'x')).toBe(false);
    expect(await verifyPassword('{SHA}' + plain('sha1', 'x') + 'AAAA', 'x')).toBe(false);
    expect(await verifyPassword('secret', 'secret')).toBe(false);
    expect(await verifyPassword('$6$rounds=999999999$x$abc', 'x')).toBe(false);
  });

  it('splits the scheme case-insensitively', () => {
    expect(splitScheme('{sSha}abc')).toEqual({ scheme: 'SSHA', value: 'abc' });
    expect(splitScheme('$1$x$y')).toEqual({ scheme: 'CRYPT', value: '$1$x$y' });
  });
});
