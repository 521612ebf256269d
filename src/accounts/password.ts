/**
 * Password hashes for the embedded directory: scrypt (RFC 7914) from
 * node:crypto, stored as `$scrypt$ln=<log2 N>,r=<r>,p=<p>$<salt b64>$<hash b64>`
 * so the cost can be raised later without breaking stored hashes.
 */
import { createHmac, randomBytes, scrypt, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { LIMITS } from '../limits.js';

/** N = 2^14, r = 8, p = 1: ~16 MiB and a few tens of ms per check on this class of machine. */
const DEFAULT_LOG_N = 14;
const DEFAULT_R = 8;
const DEFAULT_P = 1;
const KEY_LENGTH = 32;
const SALT_LENGTH = 16;
const MAX_LOG_N = LIMITS.auth.maxScryptLogN;
const MAX_R = LIMITS.auth.maxScryptR;
const MAX_P = LIMITS.auth.maxScryptP;

function scryptAsync(password: string, salt: Buffer, keylen: number, opts: ScryptOptions): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, opts, (err, key) => (err ? reject(err) : resolve(key)));
  });
}

/**
 * maxmem for node:crypto (OpenSSL counts 128·r·(N + 2) for V plus 128·r·p
 * for B), doubled for headroom. Leaving p out refused valid hashes with a
 * high p and a small N (memory limit exceeded, answered as "unavailable").
 */
const memFor = (logN: number, r: number, p: number): number => 2 * 128 * r * (2 ** logN + 2 + p);

export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_LENGTH);
  const opts = { N: 2 ** DEFAULT_LOG_N, r: DEFAULT_R, p: DEFAULT_P, maxmem: memFor(DEFAULT_LOG_N, DEFAULT_R, DEFAULT_P) };
  const key = await scryptAsync(password, salt, KEY_LENGTH, opts);
  return `$scrypt$ln=${DEFAULT_LOG_N},r=${DEFAULT_R},p=${DEFAULT_P}$${salt.toString('base64')}$${key.toString('base64')}`;
}

const HASH_RE = /^\$scrypt\$ln=(\d+),r=(\d+),p=(\d+)\$([A-Za-z0-9+/=]+)\$([A-Za-z0-9+/=]+)$/;

/**
 * Successful checks, remembered for a while (as Dovecot's auth_cache does), so
 * a mail client that logs in every few seconds with five connections does not
 * pay scrypt's tens of milliseconds each time. The key is an HMAC, under a
 * per-process random key, of the stored hash and the password: a password
 * change (new hash) misses at once, and nothing in memory is a reusable
 * password check. Only successes are kept, so guessing still pays full cost.
 */
const cacheKey = randomBytes(32);
const verified = new Map<string, number>();

function cacheId(password: string, stored: string): string {
  return createHmac('sha256', cacheKey).update(stored).update('\0').update(password).digest('base64');
}

/** True when `password` matches `stored`. An unparseable or empty hash never matches (account without password). */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const id = cacheId(password, stored);
  const until = verified.get(id);
  if (until !== undefined && until > Date.now()) return true;
  if (until !== undefined) verified.delete(id);
  const ok = await verifyScrypt(password, stored);
  if (ok) {
    if (verified.size >= LIMITS.auth.verifiedCacheEntries) verified.delete(verified.keys().next().value!);
    verified.set(id, Date.now() + LIMITS.auth.verifiedCacheTtlMs);
  }
  return ok;
}

async function verifyScrypt(password: string, stored: string): Promise<boolean> {
  const m = HASH_RE.exec(stored);
  if (!m) return false;
  const [logN, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  if (logN < 1 || logN > MAX_LOG_N || r < 1 || r > MAX_R || p < 1 || p > MAX_P) return false;
  const salt = Buffer.from(m[4]!, 'base64');
  const expected = Buffer.from(m[5]!, 'base64');
  if (expected.length < 16) return false;
  const key = await scryptAsync(password, salt, expected.length, { N: 2 ** logN, r, p, maxmem: memFor(logN, r, p) });
  return timingSafeEqual(key, expected);
}
