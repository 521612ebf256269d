/**
 * Bounds on the cost parameters read back from a stored hash, at N and N+1:
 * a tampered directory row must not make one login eat the memory or the
 * CPU. scrypt rows (embedded directory) are checked end to end: the hash is
 * written into the node's users table and the account logs in over IMAP.
 * sha-crypt ({CRYPT}$5$/$6$ from LDAP) is checked on the scheme code with
 * hashes made by the system's crypt(3) through slappasswd.
 *
 * Hashes are made by independent code (Python's hashlib.scrypt, libxcrypt).
 * The modules read these limits when loaded, so auth.maxScryptLogN and
 * auth.maxShaCryptRounds are lowered (2^20 scrypt or 10,000,000 rounds take
 * many seconds here) before they are imported; r and p keep their real values.
 */
import { execFileSync } from 'node:child_process';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';

const limits = LIMITS.auth as { maxScryptLogN: number; maxScryptR: number; maxScryptP: number; maxShaCryptRounds: number };
const saved = { ...limits };
const LOG_N = 8;
const ROUNDS = 2000;
limits.maxScryptLogN = LOG_N;
limits.maxShaCryptRounds = ROUNDS;
const { startImapNode } = await import('../imap/helpers/node.js');
const { login } = await import('../imap/helpers/client.js');
const { verifyPassword: verifyScheme } = await import('../../src/accounts/schemes.js');
type ImapTestNode = Awaited<ReturnType<typeof startImapNode>>;

const PW = 'tampered-row-pw';

/** `$scrypt$ln=…,r=…,p=…$salt$hash` made by Python's hashlib.scrypt. */
function pyScrypt(ln: number, r: number, p: number): string {
  const code = `import hashlib,base64,sys
salt=b'0123456789abcdef'
k=hashlib.scrypt(sys.argv[1].encode(), salt=salt, n=2**${ln}, r=${r}, p=${p}, maxmem=2**31-1, dklen=32)
print('$scrypt$ln=${ln},r=${r},p=${p}$'+base64.b64encode(salt).decode()+'$'+base64.b64encode(k).decode())`;
  return execFileSync('python3', ['-c', code, PW], { encoding: 'utf8' }).trim();
}

/** crypt(3) of PW with `setting`, through slappasswd -c (libxcrypt). */
const syscrypt = (setting: string): string =>
  execFileSync('/usr/sbin/slappasswd', ['-h', '{CRYPT}', '-c', setting.replace(/%/g, '%%'), '-s', PW], { encoding: 'utf8' }).trim();

let n: ImapTestNode;
let db: Database.Database;

beforeAll(async () => {
  n = await startImapNode();
  db = new Database(path.join(n.t.config.paths.dataDir, 'accounts.sqlite'));
});
afterAll(async () => {
  db?.close();
  Object.assign(limits, saved);
  await n?.stop();
});

/** An account whose stored hash is `hash`; its IMAP LOGIN answer with the right password. */
async function loginWithRow(name: string, hash: string): Promise<string> {
  const address = `${name}@example.org`;
  await n.t.addUser(address, 'placeholder');
  expect(db.prepare('UPDATE users SET password = ? WHERE address = ?').run(hash, address).changes).toBe(1);
  try {
    const c = await login(n.port, address, PW);
    await c.cmd('LOGOUT');
    return 'OK';
  } catch (err) {
    return (err as Error).message;
  }
}

describe('scrypt parameters of a stored hash (embedded directory, IMAP LOGIN)', () => {
  it(`auth.maxScryptLogN: ln=${LOG_N} logs in, ln=${LOG_N + 1} is refused as a failed login (never checked, never "unavailable")`, async () => {
    expect(await loginWithRow('ln-n', pyScrypt(LOG_N, 1, 1))).toBe('OK');
    expect(await loginWithRow('ln-n1', pyScrypt(LOG_N + 1, 1, 1))).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
  });

  it(`auth.maxScryptR: r=${LIMITS.auth.maxScryptR} logs in, r=${LIMITS.auth.maxScryptR + 1} is refused`, async () => {
    expect(await loginWithRow('r-n', pyScrypt(4, LIMITS.auth.maxScryptR, 1))).toBe('OK');
    expect(await loginWithRow('r-n1', pyScrypt(4, LIMITS.auth.maxScryptR + 1, 1))).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
  });

  it(`auth.maxScryptP: p=${LIMITS.auth.maxScryptP} logs in, p=${LIMITS.auth.maxScryptP + 1} is refused`, async () => {
    expect(await loginWithRow('p-n', pyScrypt(4, 1, LIMITS.auth.maxScryptP))).toBe('OK');
    expect(await loginWithRow('p-n1', pyScrypt(4, 1, LIMITS.auth.maxScryptP + 1))).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
  });
});

describe('sha-crypt rounds of a stored hash', () => {
  it(`auth.maxShaCryptRounds: ${ROUNDS} rounds verify, ${ROUNDS + 1} are refused even with the right password`, async () => {
    for (const id of ['5', '6']) {
      const atN = syscrypt(`$${id}$rounds=${ROUNDS}$roundsalt`);
      const over = syscrypt(`$${id}$rounds=${ROUNDS + 1}$roundsalt`);
      expect(atN).toContain(`rounds=${ROUNDS}$`);
      expect(over).toContain(`rounds=${ROUNDS + 1}$`);
      expect(await verifyScheme(atN, PW)).toBe(true);
      expect(await verifyScheme(atN, `${PW}x`)).toBe(false);
      expect(await verifyScheme(over, PW)).toBe(false);
    }
  });
});
