/**
 * One directory entry per userPassword scheme, hashed by independent tools
 * (openssl passwd, slappasswd incl. crypt(3) through -c, node:crypto).
 */
import { execFileSync } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { userLdif } from '../helpers/slapd.js';

export const PW = 'pä$s wörd*()\\';
const openssl = (...a: string[]) => execFileSync('openssl', ['passwd', ...a], { encoding: 'utf8' }).trim();
const syscrypt = (pw: string, salt: string) =>
  execFileSync('/usr/sbin/slappasswd', ['-h', '{CRYPT}', '-c', salt.replace(/%/g, '%%'), '-s', pw], { encoding: 'utf8' })
    .trim()
    .replace(/^\{CRYPT\}/, '');
const slappasswd = (scheme: string, pw: string) => execFileSync('/usr/sbin/slappasswd', ['-h', scheme, '-s', pw], { encoding: 'utf8' }).trim();
export const salted = (algo: string, pw: string) => {
  const salt = randomBytes(8);
  return Buffer.concat([createHash(algo).update(pw, 'utf8').update(salt).digest(), salt]).toString('base64');
};

/** uid → [userPassword, works in bind mode] */
export const SCHEMES: Record<string, [() => string, boolean]> = {
  's-ssha': [() => '{SSHA}' + salted('sha1', PW), true],
  's-ssha-slap': [() => slappasswd('{SSHA}', PW), true],
  's-sha': [() => '{SHA}' + createHash('sha1').update(PW).digest('base64'), true],
  's-ssha256': [() => '{SSHA256}' + salted('sha256', PW), true],
  's-ssha512': [() => '{SSHA512}' + salted('sha512', PW), true],
  's-smd5': [() => slappasswd('{SMD5}', PW), true],
  's-md5': [() => '{MD5}' + createHash('md5').update(PW).digest('base64'), true],
  's-crypt1': [() => '{CRYPT}' + openssl('-1', PW), true],
  's-crypt5': [() => '{CRYPT}' + openssl('-5', PW), true],
  's-crypt5r': [() => '{CRYPT}' + syscrypt(PW, '$5$rounds=2000$roundsalt'), true],
  's-crypt6': [() => '{CRYPT}' + openssl('-6', PW), true],
  's-crypt2b': [() => '{CRYPT}' + syscrypt(PW, '$2b$05$abcdefghijklmnopqrstuu'), true],
  's-crypt2y': [() => '{CRYPT}' + syscrypt(PW, '$2y$05$ABCDEFGHIJKLMNOPQRSTUu'), true],
  's-des': [() => '{CRYPT}' + syscrypt(PW, 'xy'), true],
  // No prefix: qmail-ldap treats it as crypt(3); slapd takes it as cleartext, so only compare mode accepts it.
  's-bare6': [() => syscrypt(PW, '$6$baresalt'), false],
  's-baredes': [() => syscrypt(PW, 'Ab'), false],
};


/** LDIF for every scheme user: uid = mail local part = scheme key. */
export function schemeLdif(): string {
  return Object.entries(SCHEMES)
    .map(([uid, [make]]) => userLdif(uid, { mail: `${uid}@example.org`, uid, mailMessageStore: `${uid}/`, userPassword: make() }))
    .join('');
}
