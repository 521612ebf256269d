/**
 * Login policy shared by POP3 and IMAP: when plaintext credentials may be
 * sent, how a login attempt is checked against the directory, how failures
 * are slowed down and throttled, and SASL PLAIN / LOGIN decoding
 * (RFC 4616, draft-murchison-sasl-login) for POP3 AUTH (RFC 5034) and IMAP
 * AUTHENTICATE (RFC 3501 §6.2.2, RFC 4959 SASL-IR).
 *
 * Outcomes are distinct on purpose (src/accounts/directory.ts): a directory
 * outage is 'unavailable' (POP3 -ERR [SYS/TEMP], IMAP NO [UNAVAILABLE]) and is
 * never reported as a wrong password.
 *
 * Throttling (failures counted within LIMITS.auth.throttleWindowMs):
 *  - per login name: after `perUserFailures` failures the name is throttled,
 *    except from addresses where that name logged in successfully before
 *    (so an attacker elsewhere cannot lock the owner out);
 *  - per remote address: after `perAddressFailures` failures the address is
 *    throttled, except for login names that succeeded from that address
 *    before (so one office behind NAT is not locked out by one user with a
 *    stale password, while a guesser there is slowed to a stop).
 * A throttled attempt is not checked against the directory at all (so the
 * guesser learns nothing) and is answered after the longest delay.
 *
 * Attempts in flight count as failures until they are decided: the check
 * and the reservation happen in the same tick, so 150 concurrent LOGINs for
 * one name cannot all pass a threshold of 10 while the first is still being
 * hashed. Keys are the login as the directory will look it up
 * (normalizeAddress: trimmed, lower-cased, angle brackets stripped), so
 * `" name@dom"` and `"<name@dom>"` share the throttle of `name@dom`.
 * Password checks run at most `maxConcurrentChecks` at a time for the whole
 * node and `maxConcurrentChecksPerAddress` per remote address; the rest wait
 * in line. scrypt runs on libuv's thread pool (16 threads, set in bin/roost), which file I/O
 * needs too: hashing must never hold all of it.
 */
import { isIP } from 'node:net';
import { normalizeAddress } from '../accounts/address.js';
import type { Account, AccountStatus, AuthenticateOptions, Directory } from '../accounts/directory.js';
import type { Config } from '../config/schema.js';
import { isRoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';

export type LoginOutcome =
  | { kind: 'ok'; account: Account }
  /** Unknown login or wrong password (never told apart). `waitMs`: the failure delay, when the caller serves it (LoginOptions.serveDelay false). */
  | { kind: 'failed'; waitMs?: number }
  /** Right password, account may not log in (noaccess, disabled, deleted). */
  | { kind: 'refused'; status: AccountStatus }
  /** Directory outage: a temporary failure, never "bad password". */
  | { kind: 'unavailable' }
  /** Too many recent failures for this address or login name. */
  | { kind: 'throttled'; waitMs?: number };

export interface LoginOptions extends AuthenticateOptions {
  /**
   * False: do not sleep out the failure delay here but report it as
   * `waitMs`, for a caller that has the client wait elsewhere (auth_http
   * answers nginx at once with Auth-Wait, so no HTTP request is held open).
   */
  serveDelay?: boolean;
}

/** Timing knobs; defaults from LIMITS.auth. Tests shorten them. */
export interface AuthGuardOptions {
  failureDelayBaseMs?: number;
  failureDelayMaxMs?: number;
  perAddressFailures?: number;
  perUserFailures?: number;
  throttleWindowMs?: number;
  /** Clock for the throttle windows (ms). */
  now?: () => number;
  /** Password checks under way at once, node-wide and per remote address. */
  maxConcurrentChecks?: number;
  maxConcurrentChecksPerAddress?: number;
}

/** Failure timestamps for one key, oldest first, pruned to the window. */
interface FailureLog {
  times: number[];
}

export class AuthGuard {
  private readonly byAddress = new Map<string, FailureLog>();
  private readonly byUser = new Map<string, FailureLog>();
  /** "address\0login" pairs that logged in successfully (value: last success time). */
  private readonly trusted = new Map<string, number>();
  /** Attempts reserved but not yet decided, by address and by login name. */
  private readonly inFlightByAddress = new Map<string, number>();
  private readonly inFlightByUser = new Map<string, number>();
  /** Password checks: node-wide and per-address slots. */
  private readonly checks: Slots;
  private readonly checksByAddress = new Map<string, Slots>();
  /**
   * Attempts waiting for in-flight ones to be decided, under "u\0login" and
   * "a\0address": an attempt is only ever busy because of in-flight ones with
   * its name or address, so an ending attempt wakes just those (a flood of
   * waiters on one name is not woken by every other login).
   */
  private readonly waiters = new Map<string, Set<() => void>>();
  private readonly opt: Required<AuthGuardOptions>;

  constructor(
    private readonly directory: Directory,
    private readonly auth: Config['auth'],
    private readonly log: Logger,
    options: AuthGuardOptions = {},
  ) {
    this.opt = {
      failureDelayBaseMs: options.failureDelayBaseMs ?? LIMITS.auth.failureDelayBaseMs,
      failureDelayMaxMs: options.failureDelayMaxMs ?? LIMITS.auth.failureDelayMaxMs,
      perAddressFailures: options.perAddressFailures ?? LIMITS.auth.perAddressFailures,
      perUserFailures: options.perUserFailures ?? LIMITS.auth.perUserFailures,
      throttleWindowMs: options.throttleWindowMs ?? LIMITS.auth.throttleWindowMs,
      now: options.now ?? Date.now,
      maxConcurrentChecks: options.maxConcurrentChecks ?? LIMITS.auth.maxConcurrentChecks,
      maxConcurrentChecksPerAddress: options.maxConcurrentChecksPerAddress ?? LIMITS.auth.maxConcurrentChecksPerAddress,
    };
    this.checks = new Slots(this.opt.maxConcurrentChecks);
  }

  /**
   * May credentials be sent on this connection? Always over TLS; otherwise as
   * `auth.allow_plaintext` says ("loopback" = only from 127.0.0.0/8 and ::1).
   * RFC 2595 §2.2 / RFC 8314 §5: refuse before TLS, advertise STLS instead.
   * `viaProxy`: the connection came through a proxy in `proxy.trusted` on a
   * proxied listener. The client's leg is the proxy's to secure (nginx's
   * `ssl`/`starttls`), and the proxy's leg is one the operator declared
   * trusted, as loopback is; nginx can only log in with plaintext, so such a
   * connection counts as loopback (refused only under "never").
   */
  allowPlaintext(secure: boolean, remoteAddress: string, viaProxy = false): boolean {
    if (secure) return true;
    switch (this.auth.allow_plaintext) {
      case 'always':
        return true;
      case 'loopback':
        return viaProxy || isLoopback(remoteAddress);
      default:
        return false;
    }
  }

  /**
   * Check one login attempt. Resolves after the failure delay when it fails,
   * so callers simply await it and answer.
   */
  async login(login: string, password: string, remoteAddress: string, options: LoginOptions = {}): Promise<LoginOutcome> {
    const serve = options.serveDelay !== false;
    const now = this.opt.now();
    const userKey = normalizeAddress(login);
    const pairKey = `${remoteAddress}\0${userKey}`;
    const trusted = this.isTrusted(pairKey, now);

    // RFC 4513 §5.1.2: an empty password would be an unauthenticated bind on
    // LDAP; over-long input is refused before it reaches the directory.
    const malformed = password === '' || userKey === '' || login.length > LIMITS.auth.maxLoginLength || password.length > LIMITS.auth.maxPasswordLength || login.includes('\0');
    // Decide and reserve in one tick (no await between the check and the
    // count). While attempts in flight could take a name or address past its
    // threshold, later ones wait for them to be decided instead of racing.
    for (;;) {
      const over = this.budget(userKey, remoteAddress, this.opt.now());
      if (!trusted && over === 'throttled') {
        this.log.warn({ login: userKey }, 'login throttled');
        if (!serve) return { kind: 'throttled', waitMs: this.opt.failureDelayMaxMs };
        await sleep(this.opt.failureDelayMaxMs);
        return { kind: 'throttled' };
      }
      if (trusted || over === 'free') break;
      await this.waitFor(userKey, remoteAddress);
    }
    if (malformed) return this.fail(userKey, remoteAddress, this.opt.now(), serve);
    bump(this.inFlightByUser, userKey, 1);
    bump(this.inFlightByAddress, remoteAddress, 1);
    let outcome: LoginOutcome;
    try {
      outcome = await this.check(login, password, remoteAddress, pairKey, options);
    } finally {
      bump(this.inFlightByUser, userKey, -1);
      bump(this.inFlightByAddress, remoteAddress, -1);
    }
    // The failure is recorded as the reservation ends (same tick, no gap),
    // then waiting attempts look again; the delay is served outside the
    // check slots, so a stale password does not hold up an office behind one
    // NAT address.
    const failed = outcome.kind === 'failed' ? this.fail(userKey, remoteAddress, this.opt.now(), serve) : null;
    this.wakeWaiters(userKey, remoteAddress);
    return failed ?? outcome;
  }

  /**
   * 'throttled' when recorded failures alone reach a threshold, 'busy' when
   * failures plus attempts still in flight do (wait for those), else 'free'.
   */
  private budget(userKey: string, address: string, now: number): 'free' | 'busy' | 'throttled' {
    const failedAddress = this.count(this.byAddress, address, now);
    const failedUser = this.count(this.byUser, userKey, now);
    if (failedAddress >= this.opt.perAddressFailures || failedUser >= this.opt.perUserFailures) return 'throttled';
    const busy = failedAddress + (this.inFlightByAddress.get(address) ?? 0) >= this.opt.perAddressFailures || failedUser + (this.inFlightByUser.get(userKey) ?? 0) >= this.opt.perUserFailures;
    return busy ? 'busy' : 'free';
  }

  private waitFor(userKey: string, address: string): Promise<void> {
    const keys = [`u\0${userKey}`, `a\0${address}`];
    return new Promise<void>((resolve) => {
      const wake = (): void => {
        for (const k of keys) {
          const set = this.waiters.get(k);
          set?.delete(wake);
          if (set?.size === 0) this.waiters.delete(k);
        }
        resolve();
      };
      for (const k of keys) {
        let set = this.waiters.get(k);
        if (!set) this.waiters.set(k, (set = new Set()));
        set.add(wake);
      }
    });
  }

  /** Wake the attempts waiting on this name or address; they look at their budget again. */
  private wakeWaiters(userKey: string, address: string): void {
    for (const k of [`u\0${userKey}`, `a\0${address}`]) {
      const set = this.waiters.get(k);
      if (set) for (const w of [...set]) w();
    }
  }

  /** The password check itself, in the node-wide and per-address slots. */
  private async check(login: string, password: string, address: string, pairKey: string, options: AuthenticateOptions): Promise<LoginOutcome> {
    let perAddress = this.checksByAddress.get(address);
    if (!perAddress) this.checksByAddress.set(address, (perAddress = new Slots(this.opt.maxConcurrentChecksPerAddress)));
    await perAddress.acquire();
    try {
      await this.checks.acquire();
      let result: Awaited<ReturnType<Directory['authenticate']>>;
      try {
        result = await this.directory.authenticate(login, password, options);
      } catch (err) {
        if (isRoostError(err, 'UNAVAILABLE')) this.log.error({ err: err.message }, 'directory unavailable during login');
        else this.log.error({ err }, 'directory error during login');
        return { kind: 'unavailable' };
      } finally {
        this.checks.release();
      }
      switch (result.kind) {
        case 'ok':
          this.trusted.set(pairKey, this.opt.now());
          this.bound(this.trusted);
          return { kind: 'ok', account: result.account };
        case 'refused':
          // The password was right: no failure is counted, the status is told.
          return { kind: 'refused', status: result.status };
      }
      return { kind: 'failed' };
    } finally {
      perAddress.release();
      if (perAddress.idle) this.checksByAddress.delete(address);
    }
  }

  /** Milliseconds of delay the n-th consecutive failure gets: base * 2^(n-1), capped. */
  failureDelayMs(n: number): number {
    return Math.min(this.opt.failureDelayMaxMs, this.opt.failureDelayBaseMs * 2 ** Math.max(0, Math.min(n - 1, 30)));
  }

  private async fail(userKey: string, address: string, now: number, serve: boolean): Promise<LoginOutcome> {
    this.record(this.byAddress, address, now);
    const n = this.record(this.byUser, userKey, now);
    this.log.info({ login: userKey, failures: n }, 'login failed');
    // The delay grows with the failures of this name, so guessing one
    // account is slow even when the guesser opens a new connection each time.
    if (!serve) return { kind: 'failed', waitMs: this.failureDelayMs(n) };
    await sleep(this.failureDelayMs(n));
    return { kind: 'failed' };
  }

  private isTrusted(pairKey: string, now: number): boolean {
    const t = this.trusted.get(pairKey);
    // A success stays trusted for a day: long enough to outlast any throttle window.
    return t !== undefined && now - t < Math.max(this.opt.throttleWindowMs, 24 * 3600_000);
  }

  private count(map: Map<string, FailureLog>, key: string, now: number): number {
    const entry = map.get(key);
    if (!entry) return 0;
    prune(entry, now - this.opt.throttleWindowMs);
    if (entry.times.length === 0) map.delete(key);
    return entry.times.length;
  }

  private record(map: Map<string, FailureLog>, key: string, now: number): number {
    let entry = map.get(key);
    if (!entry) {
      entry = { times: [] };
      map.set(key, entry);
      this.bound(map);
    }
    prune(entry, now - this.opt.throttleWindowMs);
    entry.times.push(now);
    // Only the count up to the highest threshold matters.
    const cap = Math.max(this.opt.perAddressFailures, this.opt.perUserFailures) + 1;
    if (entry.times.length > cap) entry.times.splice(0, entry.times.length - cap);
    return entry.times.length;
  }

  /** Keep the tables bounded: drop the oldest keys (Map keeps insertion order). */
  private bound(map: Map<string, unknown>): void {
    while (map.size > LIMITS.auth.maxTrackedKeys) {
      const first = map.keys().next().value as string;
      map.delete(first);
    }
  }
}

const shared = new WeakMap<Directory, AuthGuard>();

/**
 * The node's one guard per directory, so IMAP and POP3 count failures
 * together (a guesser cannot double the rate by using both protocols).
 */
export function sharedAuthGuard(directory: Directory, auth: Config['auth'], log: Logger): AuthGuard {
  let g = shared.get(directory);
  if (!g) {
    g = new AuthGuard(directory, auth, log);
    shared.set(directory, g);
  }
  return g;
}

/** A counting semaphore: at most `size` holders, the rest wait in FIFO order. */
class Slots {
  private used = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(private readonly size: number) {}
  get idle(): boolean {
    return this.used === 0 && this.waiting.length === 0;
  }
  acquire(): Promise<void> {
    if (this.used < this.size) {
      this.used++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }
  release(): void {
    const next = this.waiting.shift();
    // The slot passes straight to the next in line (used stays the same).
    if (next) next();
    else this.used--;
  }
}

function bump(map: Map<string, number>, key: string, by: number): void {
  const n = (map.get(key) ?? 0) + by;
  if (n > 0) map.set(key, n);
  else map.delete(key);
}

function prune(entry: FailureLog, since: number): void {
  let i = 0;
  while (i < entry.times.length && entry.times[i]! <= since) i++;
  if (i > 0) entry.times.splice(0, i);
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}

/** 127.0.0.0/8, ::1 and IPv4-mapped loopback. */
export function isLoopback(address: string): boolean {
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  if (isIP(a) === 4) return a.startsWith('127.');
  return a === '::1';
}

// ---------------------------------------------------------------------------
// SASL PLAIN and LOGIN

export const SASL_MECHANISMS = ['PLAIN', 'LOGIN'] as const;
export type SaslMechanism = (typeof SASL_MECHANISMS)[number];

export interface SaslCredentials {
  /** Authorization identity; '' when the client sent none. */
  authzid: string;
  /** Authentication identity (the login name). */
  authcid: string;
  password: string;
}

/**
 * One step of a server-side SASL exchange. Challenges are already base64
 * (what goes after "+ " on the wire).
 */
export type SaslStep =
  | { kind: 'challenge'; challenge: string }
  | { kind: 'done'; credentials: SaslCredentials }
  /** Client sent "*" (RFC 5034 §4, RFC 3501 §6.2.2). */
  | { kind: 'cancelled' }
  | { kind: 'error'; reason: string };

/** A server-side exchange; the protocol module moves the lines. */
export interface SaslExchange {
  readonly mechanism: SaslMechanism;
  /**
   * Start, with the initial response if the client sent one: as sent, base64
   * with "=" for empty (RFC 5034 §4), or as bytes a wire layer already
   * decoded with decodeBase64 (IMAP SASL-IR, RFC 4959 §3).
   */
  start(initialResponse: string | Buffer | null): SaslStep;
  /** The client's next line. */
  next(response: string): SaslStep;
}

/** An exchange for a mechanism name (case-insensitive), or null if unknown. */
export function createSaslExchange(mechanism: string): SaslExchange | null {
  switch (mechanism.toUpperCase()) {
    case 'PLAIN':
      return new PlainExchange();
    case 'LOGIN':
      return new LoginExchange();
    default:
      return null;
  }
}

/** Strict base64 (RFC 4648 §4, padding required); null when malformed. */
export function decodeBase64(text: string): Buffer | null {
  if (text.length % 4 !== 0 || !/^[A-Za-z0-9+/]*={0,2}$/.test(text)) return null;
  return Buffer.from(text, 'base64');
}

const utf8 = new TextDecoder('utf-8', { fatal: true });
function decodeUtf8(bytes: Uint8Array): string | null {
  try {
    return utf8.decode(bytes);
  } catch {
    return null;
  }
}

/** Decode a base64 client response ("=" = empty); null when malformed. Bytes already decoded pass as they are. */
function responseBytes(response: string | Buffer): Buffer | null {
  if (Buffer.isBuffer(response)) return response;
  return response === '=' ? Buffer.alloc(0) : decodeBase64(response);
}

/**
 * RFC 4616 §2: message = [authzid] NUL authcid NUL passwd, UTF-8. Roost does
 * not let one user act as another: an authzid other than empty or the authcid
 * itself is refused.
 */
export function decodeSaslPlain(response: string | Buffer): SaslCredentials | { error: string } {
  const bytes = responseBytes(response);
  if (!bytes) return { error: 'invalid base64' };
  const first = bytes.indexOf(0);
  const second = first < 0 ? -1 : bytes.indexOf(0, first + 1);
  if (first < 0 || second < 0 || bytes.indexOf(0, second + 1) >= 0) return { error: 'malformed PLAIN message' };
  const authzid = decodeUtf8(bytes.subarray(0, first));
  const authcid = decodeUtf8(bytes.subarray(first + 1, second));
  const password = decodeUtf8(bytes.subarray(second + 1));
  if (authzid === null || authcid === null || password === null) return { error: 'invalid UTF-8' };
  if (authcid === '') return { error: 'empty authentication identity' };
  if (authzid !== '' && authzid !== authcid) return { error: 'authorization identity not permitted' };
  return { authzid, authcid, password };
}

class PlainExchange implements SaslExchange {
  readonly mechanism = 'PLAIN' as const;
  start(initialResponse: string | Buffer | null): SaslStep {
    // RFC 4616: the server sends an empty challenge when there is no initial response.
    return initialResponse === null ? { kind: 'challenge', challenge: '' } : this.next(initialResponse);
  }
  next(response: string | Buffer): SaslStep {
    if (response === '*') return { kind: 'cancelled' };
    const r = decodeSaslPlain(response);
    return 'error' in r ? { kind: 'error', reason: r.error } : { kind: 'done', credentials: r };
  }
}

/** LOGIN: "Username:" then "Password:" challenges, one value each. */
class LoginExchange implements SaslExchange {
  readonly mechanism = 'LOGIN' as const;
  private user: string | null = null;
  start(initialResponse: string | Buffer | null): SaslStep {
    return initialResponse === null ? { kind: 'challenge', challenge: b64('Username:') } : this.next(initialResponse);
  }
  next(response: string | Buffer): SaslStep {
    if (response === '*') return { kind: 'cancelled' };
    const bytes = responseBytes(response);
    if (!bytes) return { kind: 'error', reason: 'invalid base64' };
    const value = decodeUtf8(bytes);
    if (value === null) return { kind: 'error', reason: 'invalid UTF-8' };
    if (this.user === null) {
      if (value === '') return { kind: 'error', reason: 'empty user name' };
      this.user = value;
      return { kind: 'challenge', challenge: b64('Password:') };
    }
    return { kind: 'done', credentials: { authzid: '', authcid: this.user, password: value } };
  }
}

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
