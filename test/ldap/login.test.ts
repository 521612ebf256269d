/**
 * Logins (what POP3 and IMAP call) through the LDAP directory against a real slapd, with
 * every supported userPassword scheme in bind mode (slapd checks) and in
 * compare mode (schemes.ts checks). Hashes come from independent tools.
 */
import { createHash } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { LdapDirectory } from '../../src/accounts/ldap.js';
import { Slapd, userLdif } from '../helpers/slapd.js';
import { RECIPIENTS, makeDirectory } from './fixtures.js';
import { PW, SCHEMES, salted, schemeLdif } from './scheme-fixtures.js';

const OTHERS = [
  userLdif('alice2', { mail: 'alice2@example.org', uid: 'alice2', mailMessageStore: 'alice2/', userPassword: '{SSHA}' + salted('sha1', 'right') }),
  userLdif('nopw', { mail: 'nopw@example.org', uid: 'nopw', mailMessageStore: 'nopw/' }),
  userLdif('twice1', { mail: 'twice1@example.org', uid: 'twice', mailMessageStore: 't1/', userPassword: '{SHA}' + createHash('sha1').update('right').digest('base64') }),
  userLdif('twice2', { mail: 'twice2@example.org', uid: 'twice', mailMessageStore: 't2/', userPassword: '{SHA}' + createHash('sha1').update('right').digest('base64') }),
  userLdif('farlogin', { mail: 'farlogin@example.org', uid: 'farlogin', mailHost: 'mx9.example.org', mailMessageStore: 'fl/', userPassword: '{SHA}' + createHash('sha1').update('right').digest('base64') }),
];

let slapd: Slapd;
const dirs: LdapDirectory[] = [];
let bind: LdapDirectory;
let compare: LdapDirectory;

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(RECIPIENTS);
  await slapd.ldapadd(schemeLdif() + OTHERS.join(''));
  // Give the fixture accounts of RECIPIENTS a password for status checks.
  const sha = '{SHA}' + createHash('sha1').update('right').digest('base64');
  const set = (cn: string) => `dn: cn=${cn},ou=people,dc=example,dc=org\nchangetype: modify\nreplace: userPassword\nuserPassword: ${sha}\n`;
  await slapd.ldapmodify(['alice', 'dis', 'del', 'noacc', 'nopop', 'star', 'paren', 'back', 'juergen', 'ab'].map(set).join('\n'));
  bind = makeDirectory(slapd).dir;
  compare = makeDirectory(slapd, { auth_mode: 'compare' }).dir;
  dirs.push(bind, compare);
});
afterAll(async () => {
  for (const d of dirs) await d.close();
  await slapd?.destroy();
});

describe.each([
  ['bind', () => bind],
  ['compare', () => compare],
] as const)('%s mode', (mode, get) => {
  for (const [uid, [, inBind]] of Object.entries(SCHEMES)) {
    const expectOk = mode === 'compare' || inBind;
    it(`${uid}: right password ${expectOk ? 'logs in' : 'is refused'}, wrong password fails`, async () => {
      const r = await get().authenticate(uid, PW);
      if (expectOk) {
        expect(r.kind).toBe('ok');
        expect(r.kind === 'ok' && r.account).toMatchObject({ id: `${uid}@example.org`, login: uid });
      } else expect(r).toEqual({ kind: 'failed' });
      expect(await get().authenticate(uid, PW.slice(1))).toEqual({ kind: 'failed' });
      expect(await get().authenticate(uid, 'x' + PW)).toEqual({ kind: 'failed' });
    });
  }

  it('empty password is refused without asking the server; so is an entry without userPassword', async () => {
    expect(await get().authenticate('alice2', '')).toEqual({ kind: 'failed' });
    expect(await get().authenticate('nopw', 'anything')).toEqual({ kind: 'failed' });
    expect(await get().authenticate('', 'right')).toEqual({ kind: 'failed' });
    expect((await get().authenticate('alice2', 'right')).kind).toBe('ok');
  });

  it('unknown login and wrong password give the same answer', async () => {
    expect(await get().authenticate('ghost', 'right')).toEqual({ kind: 'failed' });
    expect(await get().authenticate('alice2', 'wrong')).toEqual({ kind: 'failed' });
  });

  it('status: noaccess and nopop, disabled, deleted are refused only with the right password', async () => {
    expect(await get().authenticate('noacc', 'right')).toEqual({ kind: 'refused', status: 'noaccess' });
    expect(await get().authenticate('nopop', 'right')).toEqual({ kind: 'refused', status: 'noaccess' });
    expect(await get().authenticate('dis', 'right')).toEqual({ kind: 'refused', status: 'disabled' });
    expect(await get().authenticate('del', 'right')).toEqual({ kind: 'refused', status: 'deleted' });
    for (const u of ['noacc', 'dis', 'del']) expect(await get().authenticate(u, 'wrong')).toEqual({ kind: 'failed' });
  });

  it('the login is uid; the mail address works only with login_by_mail', async () => {
    expect(await get().authenticate('alice@example.org', 'right')).toEqual({ kind: 'failed' });
    const byMail = makeDirectory(slapd, { auth_mode: mode, login_by_mail: true }).dir;
    dirs.push(byMail);
    expect((await byMail.authenticate('alice@example.org', 'right')).kind).toBe('ok');
    expect((await byMail.authenticate('alice', 'right')).kind).toBe('ok');
    expect(await byMail.authenticate('al@example.org', 'right')).toEqual({ kind: 'failed' });
  });

  it('a uid held by two entries fails', async () => {
    expect(await get().authenticate('twice', 'right')).toEqual({ kind: 'failed' });
  });

  it('an account on another mailHost is a temporary failure, not a wrong password', async () => {
    await expect(get().authenticate('farlogin', 'right')).rejects.toMatchObject({ code: 'TEMP' });
  });

  it('logins with * ( ) \\ NUL and UTF-8 match only what they literally name', async () => {
    expect((await get().authenticate('a*b', 'right')).kind).toBe('ok');
    expect((await get().authenticate('p(x)', 'right')).kind).toBe('ok');
    expect((await get().authenticate('back\\slash', 'right')).kind).toBe('ok');
    expect((await get().authenticate('jürgen', 'right')).kind).toBe('ok');
    for (const l of ['*', 'a*', '*b', 'al*', '*)(uid=*', 'alice)(|(uid=*', 'p(*)', 'back\\5c', 'back\\2aslash', 'alice\0', 'alice\0x', 'jurgen', 'j*rgen', 'ab\0'])
      expect(await get().authenticate(l, 'right'), JSON.stringify(l)).toEqual({ kind: 'failed' });
  });
});
