/**
 * Verification of the password hashes found in `userPassword` of qmail-ldap
 * directories (qmail-ldap's checkpassword.c; RFC 2307 §5.3 "{scheme}value" form, the
 * scheme name matched case-insensitively).
 *
 *   {SSHA} {SSHA256} {SSHA512} {SMD5}   base64(digest(pw ‖ salt) ‖ salt)
 *   {SHA} {SHA256} {SHA512} {MD5}       base64(digest(pw))
 *   {CRYPT}…  or no prefix              crypt(3): $1$ md5-crypt, $5$/$6$ sha-crypt,
 *                                       $2a$/$2b$/$2y$ bcrypt, else traditional DES
 *
 * Digests are compared in constant time. Unknown schemes (and cleartext, which
 * qmail-ldap only accepts when built with -DCLEARTEXTPASSWD) never match.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import bcrypt from 'bcryptjs';
import { createRequire } from 'node:module';
import { LIMITS } from '../limits.js';

const require = createRequire(import.meta.url);
/** Traditional DES crypt(3) in plain JavaScript (Seventh Edition algorithm). */
const desCrypt = require('unix-crypt-td-js') as (pw: number[] | string, salt: string) => string;

const MAX_SHA_CRYPT_ROUNDS = LIMITS.auth.maxShaCryptRounds;

export type SchemeName =
  | 'SSHA'
  | 'SSHA256'
  | 'SSHA512'
  | 'SMD5'
  | 'SHA'
  | 'SHA256'
  | 'SHA512'
  | 'MD5'
  | 'CRYPT';

const DIGESTS: Record<string, { algo: string; len: number; salted: boolean }> = {
  SSHA: { algo: 'sha1', len: 20, salted: true },
  SSHA256: { algo: 'sha256', len: 32, salted: true },
  SSHA512: { algo: 'sha512', len: 64, salted: true },
  SMD5: { algo: 'md5', len: 16, salted: true },
  SHA: { algo: 'sha1', len: 20, salted: false },
  SHA256: { algo: 'sha256', len: 32, salted: false },
  SHA512: { algo: 'sha512', len: 64, salted: false },
  MD5: { algo: 'md5', len: 16, salted: false },
};

/** Equal-length constant-time compare; a length mismatch still costs one compare. */
export function constantTimeEqual(a: Buffer, b: Buffer): boolean {
  if (a.length !== b.length) {
    timingSafeEqual(a, a);
    return false;
  }
  return timingSafeEqual(a, b);
}

/** Split "{SCHEME}rest"; no braces → scheme CRYPT (qmail-ldap: no prefix = crypt(3)). */
export function splitScheme(stored: string): { scheme: string; value: string } {
  const m = /^\{([A-Za-z0-9.-]+)\}([\s\S]*)$/.exec(stored);
  if (!m) return { scheme: 'CRYPT', value: stored };
  return { scheme: m[1]!.toUpperCase(), value: m[2]! };
}

/** True if `password` matches the stored userPassword value. */
export async function verifyPassword(stored: string | Buffer, password: string): Promise<boolean> {
  const text = Buffer.isBuffer(stored) ? stored.toString('utf8') : stored;
  const pw = Buffer.from(password, 'utf8');
  const { scheme, value } = splitScheme(text);
  const d = DIGESTS[scheme];
  if (d) {
    const b64 = value.trim();
    if (b64.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(b64)) return false;
    const raw = Buffer.from(b64, 'base64');
    if (raw.length < d.len || (!d.salted && raw.length !== d.len)) return false;
    const digest = raw.subarray(0, d.len);
    const salt = raw.subarray(d.len);
    const h = createHash(d.algo).update(pw).update(salt).digest();
    return constantTimeEqual(h, digest);
  }
  if (scheme === 'CRYPT') return verifyCrypt(value, pw);
  return false;
}

/** crypt(3) in the variants glibc/libxcrypt produce. */
export async function verifyCrypt(hash: string, pw: Buffer): Promise<boolean> {
  let computed: string | null;
  if (hash.startsWith('$1$')) computed = md5Crypt(pw, hash);
  else if (hash.startsWith('$5$')) computed = shaCrypt(pw, hash, 'sha256');
  else if (hash.startsWith('$6$')) computed = shaCrypt(pw, hash, 'sha512');
  else if (/^\$2[aby]\$\d\d\$[./A-Za-z0-9]{53}$/.test(hash)) {
    // $2y$ (PHP/crypt_blowfish) and $2b$ are the same algorithm with fixed 8-bit handling; bcryptjs knows $2a$/$2b$.
    return bcrypt.compare(pw.toString('utf8'), '$2b$' + hash.slice(4));
  } else if (/^[./A-Za-z0-9]{13}$/.test(hash)) {
    // Traditional DES: 2 salt chars + 11 hash chars; only the first 8 bytes of the password count.
    computed = desCrypt(Array.from(pw.subarray(0, 8)), hash.slice(0, 2));
  } else computed = null;
  if (computed === null) return false;
  return constantTimeEqual(Buffer.from(computed), Buffer.from(hash));
}

const ITOA64 = './0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** n characters of the crypt base64 alphabet for the 24-bit value w, least significant 6 bits first. */
function to64(w: number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) {
    s += ITOA64[w & 0x3f];
    w >>>= 6;
  }
  return s;
}

/** Poul-Henning Kamp's md5-crypt ("$1$salt$hash"), as FreeBSD and glibc compute it. */
export function md5Crypt(pw: Buffer, setting: string): string | null {
  const m = /^\$1\$([^$]{0,8})/.exec(setting);
  if (!m) return null;
  const salt = Buffer.from(m[1]!, 'latin1');
  const md5 = () => createHash('md5');
  let alt = md5().update(pw).update(salt).update(pw).digest();
  const ctx = md5().update(pw).update('$1$').update(salt);
  for (let pl = pw.length; pl > 0; pl -= 16) ctx.update(alt.subarray(0, Math.min(16, pl)));
  for (let i = pw.length; i; i >>>= 1) ctx.update(i & 1 ? Buffer.of(0) : pw.subarray(0, 1));
  let fin = ctx.digest();
  for (let i = 0; i < 1000; i++) {
    const c = md5();
    c.update(i & 1 ? pw : fin);
    if (i % 3) c.update(salt);
    if (i % 7) c.update(pw);
    c.update(i & 1 ? fin : pw);
    fin = c.digest();
  }
  alt = fin;
  const f = alt;
  const out =
    to64((f[0]! << 16) | (f[6]! << 8) | f[12]!, 4) +
    to64((f[1]! << 16) | (f[7]! << 8) | f[13]!, 4) +
    to64((f[2]! << 16) | (f[8]! << 8) | f[14]!, 4) +
    to64((f[3]! << 16) | (f[9]! << 8) | f[15]!, 4) +
    to64((f[4]! << 16) | (f[10]! << 8) | f[5]!, 4) +
    to64(f[11]!, 2);
  return `$1$${m[1]}$${out}`;
}

/** Byte order of the final encoding (Drepper, "Unix crypt using SHA-256 and SHA-512"). */
function shaCryptOrder(algo: 'sha256' | 'sha512'): number[][] {
  const groups: number[][] = [];
  if (algo === 'sha256') {
    for (let i = 0; i < 10; i++) {
      const t = [i, i + 10, i + 20];
      // rotate right by i mod 3: (a,b,c), (c,a,b), (b,c,a)
      const r = i % 3;
      groups.push(r === 0 ? t : r === 1 ? [t[2]!, t[0]!, t[1]!] : [t[1]!, t[2]!, t[0]!]);
    }
  } else {
    for (let i = 0; i < 21; i++) {
      const t = [i, i + 21, i + 42];
      // rotate left by i mod 3: (a,b,c), (b,c,a), (c,a,b)
      const r = i % 3;
      groups.push(r === 0 ? t : r === 1 ? [t[1]!, t[2]!, t[0]!] : [t[2]!, t[0]!, t[1]!]);
    }
  }
  return groups;
}

/** SHA-crypt ($5$ = SHA-256, $6$ = SHA-512), with the optional "rounds=N$" parameter. */
export function shaCrypt(pw: Buffer, setting: string, algo: 'sha256' | 'sha512'): string | null {
  const id = algo === 'sha256' ? '5' : '6';
  const m = new RegExp(`^\\$${id}\\$(?:rounds=(\\d{1,10})\\$)?([^$]{0,16})`).exec(setting);
  if (!m) return null;
  const roundsGiven = m[1] !== undefined;
  let rounds = roundsGiven ? Number(m[1]) : 5000;
  rounds = Math.max(1000, Math.min(999_999_999, rounds));
  if (rounds > MAX_SHA_CRYPT_ROUNDS) return null;
  const salt = Buffer.from(m[2]!, 'latin1');
  const H = () => createHash(algo);
  const hlen = algo === 'sha256' ? 32 : 64;

  const B = H().update(pw).update(salt).update(pw).digest();
  const a = H().update(pw).update(salt);
  let pl = pw.length;
  for (; pl > hlen; pl -= hlen) a.update(B);
  a.update(B.subarray(0, pl));
  for (let i = pw.length; i > 0; i >>>= 1) a.update(i & 1 ? B : pw);
  const A = a.digest();

  const dp = H();
  for (let i = 0; i < pw.length; i++) dp.update(pw);
  const DP = dp.digest();
  const P = Buffer.alloc(pw.length);
  for (let i = 0; i < pw.length; i++) P[i] = DP[i % hlen]!;

  const ds = H();
  for (let i = 0; i < 16 + A[0]!; i++) ds.update(salt);
  const DS = ds.digest();
  const S = Buffer.alloc(salt.length);
  for (let i = 0; i < salt.length; i++) S[i] = DS[i % hlen]!;

  let C = A;
  for (let i = 0; i < rounds; i++) {
    const c = H();
    c.update(i & 1 ? P : C);
    if (i % 3) c.update(S);
    if (i % 7) c.update(P);
    c.update(i & 1 ? C : P);
    C = c.digest();
  }

  let out = '';
  for (const [x, y, z] of shaCryptOrder(algo)) out += to64((C[x!]! << 16) | (C[y!]! << 8) | C[z!]!, 4);
  out += algo === 'sha256' ? to64((C[31]! << 8) | C[30]!, 3) : to64(C[63]!, 2);
  return `$${id}$${roundsGiven ? `rounds=${rounds}$` : ''}${m[2]}$${out}`;
}
