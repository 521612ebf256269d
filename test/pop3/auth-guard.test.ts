import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SqliteDirectory } from '../../src/accounts/sqlite.js';
import { AuthGuard, createSaslExchange, decodeSaslPlain, isLoopback } from '../../src/net/auth-guard.js';

const log = pino({ level: 'silent' });
const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');

describe('AuthGuard', () => {
  let dir: string;
  let directory: SqliteDirectory;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'roost-guard-'));
    directory = new SqliteDirectory(path.join(dir, 'accounts.sqlite'), path.join(dir, 'mail'));
    for (const u of ['alice', 'bob', 'carol', 'dave']) await directory.addUser({ address: `${u}@example.org`, password: `${u}-pw` });
    await directory.addUser({ address: 'off@example.org', password: 'off-pw', status: 'disabled' });
  });
  afterAll(async () => {
    await directory.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const guard = (opts = {}): AuthGuard =>
    new AuthGuard(directory, { allow_plaintext: 'loopback' }, log, { failureDelayBaseMs: 20, failureDelayMaxMs: 80, ...opts });

  it('plaintext policy: never / loopback / always, always allowed over TLS', () => {
    const mk = (allow: string): AuthGuard => new AuthGuard(directory, { allow_plaintext: allow }, log);
    expect(mk('never').allowPlaintext(false, '127.0.0.1')).toBe(false);
    expect(mk('never').allowPlaintext(true, '192.0.2.1')).toBe(true);
    expect(mk('loopback').allowPlaintext(false, '127.0.0.1')).toBe(true);
    expect(mk('loopback').allowPlaintext(false, '::ffff:127.0.0.2')).toBe(true);
    expect(mk('loopback').allowPlaintext(false, '::1')).toBe(true);
    expect(mk('loopback').allowPlaintext(false, '192.0.2.1')).toBe(false);
    expect(mk('always').allowPlaintext(false, '192.0.2.1')).toBe(true);
    expect(isLoopback('128.0.0.1')).toBe(false);
  });

  it('ok, failed (after the growing delay), refused for a disabled account', async () => {
    const g = guard();
    const ok = await g.login('alice@example.org', 'alice-pw', '192.0.2.1');
    expect(ok.kind).toBe('ok');
    expect(ok.kind === 'ok' && ok.account.id).toBe('alice@example.org');
    expect((await g.login('off@example.org', 'off-pw', '192.0.2.1')).kind).toBe('refused');
    const delays: number[] = [];
    for (let i = 0; i < 3; i++) {
      const t = performance.now();
      expect((await g.login('bob@example.org', 'wrong', '192.0.2.1')).kind).toBe('failed');
      delays.push(performance.now() - t);
    }
    // 20, 40, 80 ms (minus timer slack)
    expect(delays[0]).toBeGreaterThanOrEqual(18);
    expect(delays[1]).toBeGreaterThanOrEqual(38);
    expect(delays[2]).toBeGreaterThanOrEqual(78);
    expect(g.failureDelayMs(10)).toBe(80);
    expect((await g.login('nobody@example.org', 'x', '192.0.2.1')).kind).toBe('failed');
    expect((await g.login('alice@example.org', '', '192.0.2.1')).kind).toBe('failed');
    expect((await g.login('alice@example.org', 'x'.repeat(1025), '192.0.2.1')).kind).toBe('failed');
  });

  /** The real directory, watched: how many checks ran and how many at once. */
  function watched(): { dir: SqliteDirectory; calls: () => number; peak: () => number } {
    let calls = 0;
    let now = 0;
    let peak = 0;
    const real = directory;
    const dir = Object.create(real) as SqliteDirectory;
    dir.authenticate = async (login: string, password: string) => {
      calls++;
      peak = Math.max(peak, ++now);
      try {
        return await real.authenticate(login, password);
      } finally {
        now--;
      }
    };
    return { dir, calls: () => calls, peak: () => peak };
  }

  it('150 concurrent wrong LOGINs for one name: only the first perUserFailures reach the directory', async () => {
    const w = watched();
    const g = new AuthGuard(w.dir, { allow_plaintext: 'loopback' }, log, { perUserFailures: 10, perAddressFailures: 1000, failureDelayBaseMs: 1, failureDelayMaxMs: 1 });
    const results = await Promise.all(Array.from({ length: 150 }, (_, i) => g.login('bob@example.org', `guess${i}`, `203.0.113.${i % 200}`)));
    expect(w.calls()).toBe(10);
    expect(results.filter((r) => r.kind === 'failed').length).toBe(10);
    expect(results.filter((r) => r.kind === 'throttled').length).toBe(140);
  });

  it('60 concurrent wrong LOGINs from one address for 60 names: only the first perAddressFailures reach the directory', async () => {
    // The waiters here are blocked by their address, not their name: the
    // attempts ending must wake them through the address.
    const w = watched();
    const g = new AuthGuard(w.dir, { allow_plaintext: 'loopback' }, log, { perUserFailures: 1000, perAddressFailures: 5, failureDelayBaseMs: 1, failureDelayMaxMs: 1 });
    const results = await Promise.all(Array.from({ length: 60 }, (_, i) => g.login(`user${i}@example.org`, 'guess', '203.0.113.77')));
    expect(w.calls()).toBe(5);
    expect(results.filter((r) => r.kind === 'failed').length).toBe(5);
    expect(results.filter((r) => r.kind === 'throttled').length).toBe(55);
  });

  it('the throttle keys on the login the directory uses: spaces, case and angle brackets do not escape it', async () => {
    const g = guard({ perUserFailures: 2, perAddressFailures: 1000, failureDelayBaseMs: 1, failureDelayMaxMs: 1 });
    for (let i = 0; i < 2; i++) expect((await g.login('dave@example.org', 'guess' + i, '203.0.113.50')).kind).toBe('failed');
    for (const variant of [' dave@example.org', 'dave@example.org ', '<dave@example.org>', 'DAVE@Example.Org'])
      expect((await g.login(variant, 'dave-pw', '203.0.113.51')).kind).toBe('throttled');
  });

  it('password checks: at most maxConcurrentChecks node-wide (N allowed, never N+1), one per address', async () => {
    const w = watched();
    const g = new AuthGuard(w.dir, { allow_plaintext: 'loopback' }, log, { maxConcurrentChecks: 2, maxConcurrentChecksPerAddress: 1, failureDelayBaseMs: 1, failureDelayMaxMs: 1 });
    // Twelve good logins from four addresses: all succeed, never more than two hashing at once.
    const r = await Promise.all(Array.from({ length: 12 }, (_, i) => g.login('alice@example.org', 'alice-pw', `198.51.100.${i % 4}`)));
    expect(r.every((x) => x.kind === 'ok')).toBe(true);
    expect(w.calls()).toBe(12);
    expect(w.peak()).toBe(2);
    // From one address the checks run one at a time.
    const w1 = watched();
    const g1 = new AuthGuard(w1.dir, { allow_plaintext: 'loopback' }, log, { maxConcurrentChecks: 2, maxConcurrentChecksPerAddress: 1 });
    await Promise.all(Array.from({ length: 4 }, () => g1.login('alice@example.org', 'alice-pw', '198.51.100.9')));
    expect(w1.peak()).toBe(1);
  });

  it('per-user throttling: N failures allowed, then throttled even with the right password, except from a known address', async () => {
    const g = guard({ perUserFailures: 3, perAddressFailures: 1000, failureDelayBaseMs: 1, failureDelayMaxMs: 1 });
    // carol logged in from her office before
    expect((await g.login('carol@example.org', 'carol-pw', '198.51.100.7')).kind).toBe('ok');
    for (let i = 0; i < 3; i++) expect((await g.login('carol@example.org', 'guess' + i, `203.0.113.${i}`)).kind).toBe('failed');
    // the 4th attempt from anywhere else is throttled without checking the password
    expect((await g.login('carol@example.org', 'carol-pw', '203.0.113.99')).kind).toBe('throttled');
    expect((await g.login('CAROL@example.org', 'carol-pw', '203.0.113.99')).kind).toBe('throttled');
    // the owner at the known address is not locked out by the guesser
    expect((await g.login('carol@example.org', 'carol-pw', '198.51.100.7')).kind).toBe('ok');
    // other users are unaffected
    expect((await g.login('dave@example.org', 'dave-pw', '203.0.113.99')).kind).toBe('ok');
  });

  it('per-address throttling spares users who logged in from that address before (NAT office)', async () => {
    const g = guard({ perAddressFailures: 5, perUserFailures: 1000, failureDelayBaseMs: 1, failureDelayMaxMs: 1 });
    const office = '192.0.2.50';
    expect((await g.login('dave@example.org', 'dave-pw', office)).kind).toBe('ok');
    for (let i = 0; i < 5; i++) expect((await g.login(`guess${i}@example.org`, 'x', office)).kind).toBe('failed');
    expect((await g.login('alice@example.org', 'alice-pw', office)).kind).toBe('throttled');
    expect((await g.login('dave@example.org', 'dave-pw', office)).kind).toBe('ok');
    expect((await g.login('alice@example.org', 'alice-pw', '192.0.2.51')).kind).toBe('ok');
  });

  it('throttle window expires', async () => {
    let now = 1_000_000;
    const g = guard({ perUserFailures: 2, failureDelayBaseMs: 1, failureDelayMaxMs: 1, throttleWindowMs: 1000, now: () => now });
    for (let i = 0; i < 2; i++) await g.login('bob@example.org', 'bad', '203.0.113.5');
    expect((await g.login('bob@example.org', 'bob-pw', '203.0.113.5')).kind).toBe('throttled');
    now += 1001;
    expect((await g.login('bob@example.org', 'bob-pw', '203.0.113.5')).kind).toBe('ok');
  });

  it('a directory outage is unavailable, never failed', async () => {
    const d2dir = mkdtempSync(path.join(os.tmpdir(), 'roost-guard-out-'));
    const d2 = new SqliteDirectory(path.join(d2dir, 'accounts.sqlite'), d2dir);
    await d2.addUser({ address: 'eve@example.org', password: 'eve-pw' });
    const g = new AuthGuard(d2, { allow_plaintext: 'always' }, log, { failureDelayBaseMs: 1 });
    expect((await g.login('eve@example.org', 'eve-pw', '127.0.0.1')).kind).toBe('ok');
    await d2.close(); // the backend is really gone: every query throws
    expect((await g.login('eve@example.org', 'eve-pw', '127.0.0.1')).kind).toBe('unavailable');
    expect((await g.login('eve@example.org', 'wrong', '127.0.0.1')).kind).toBe('unavailable');
    rmSync(d2dir, { recursive: true, force: true });
  });
});

describe('SASL', () => {
  it('PLAIN: with and without authzid, refused proxy authorization, malformed input', () => {
    expect(decodeSaslPlain(b64('\0alice\0pw'))).toEqual({ authzid: '', authcid: 'alice', password: 'pw' });
    expect(decodeSaslPlain(b64('alice\0alice\0p w'))).toEqual({ authzid: 'alice', authcid: 'alice', password: 'p w' });
    expect(decodeSaslPlain(b64('admin\0alice\0pw'))).toHaveProperty('error');
    expect(decodeSaslPlain(b64('alice\0pw'))).toHaveProperty('error');
    expect(decodeSaslPlain(b64('\0alice\0pw\0x'))).toHaveProperty('error');
    expect(decodeSaslPlain(b64('\0\0pw'))).toHaveProperty('error');
    expect(decodeSaslPlain('not base64!')).toHaveProperty('error');
    expect(decodeSaslPlain('YWJj')).toHaveProperty('error');
    expect(decodeSaslPlain(Buffer.from([0, 0x61, 0, 0xff]).toString('base64'))).toHaveProperty('error');
    expect(decodeSaslPlain(b64('\0jürgen\0pässword'))).toEqual({ authzid: '', authcid: 'jürgen', password: 'pässword' });
  });

  it('PLAIN exchange: initial response, empty challenge, cancel', () => {
    const a = createSaslExchange('plain')!;
    expect(a.start(b64('\0u\0p'))).toEqual({ kind: 'done', credentials: { authzid: '', authcid: 'u', password: 'p' } });
    const b = createSaslExchange('PLAIN')!;
    expect(b.start(null)).toEqual({ kind: 'challenge', challenge: '' });
    expect(b.next('*')).toEqual({ kind: 'cancelled' });
    expect(createSaslExchange('PLAIN')!.start('=').kind).toBe('error');
    expect(createSaslExchange('CRAM-MD5')).toBeNull();
  });

  it('takes an initial response the wire layer already decoded (IMAP SASL-IR): no second base64 pass', () => {
    expect(createSaslExchange('PLAIN')!.start(Buffer.from('\0u\0p'))).toEqual({ kind: 'done', credentials: { authzid: '', authcid: 'u', password: 'p' } });
    // The bytes are not base64 text: "=" as bytes is a one-byte PLAIN message, not "empty".
    expect(createSaslExchange('PLAIN')!.start(Buffer.from('='))).toEqual({ kind: 'error', reason: 'malformed PLAIN message' });
    const login = createSaslExchange('LOGIN')!;
    expect(login.start(Buffer.from('u'))).toEqual({ kind: 'challenge', challenge: b64('Password:') });
    expect(login.next(b64('p'))).toEqual({ kind: 'done', credentials: { authzid: '', authcid: 'u', password: 'p' } });
  });

  it('LOGIN exchange: Username:/Password: challenges, initial response = user name', () => {
    const a = createSaslExchange('LOGIN')!;
    expect(a.start(null)).toEqual({ kind: 'challenge', challenge: b64('Username:') });
    expect(a.next(b64('alice'))).toEqual({ kind: 'challenge', challenge: b64('Password:') });
    expect(a.next(b64('secret pw'))).toEqual({ kind: 'done', credentials: { authzid: '', authcid: 'alice', password: 'secret pw' } });
    const b = createSaslExchange('LOGIN')!;
    expect(b.start(b64('bob'))).toEqual({ kind: 'challenge', challenge: b64('Password:') });
    expect(b.next('*')).toEqual({ kind: 'cancelled' });
    expect(createSaslExchange('LOGIN')!.start('%%%%').kind).toBe('error');
  });
});
