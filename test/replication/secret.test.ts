/**
 * replication.secret must be strong once replication is on (a peer is set):
 * at least LIMITS.replication.minSecretLength characters (N-1 refused, N
 * accepted), not one character repeated, or replication.secret_file naming a
 * file others cannot read. A weak one stops the start with a message naming
 * the key; the default config (no peer, no secret) still starts. `roost
 * secret` prints a key that passes.
 */
import { chmod, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, buildConfig } from '../../src/config/load.js';
import { LIMITS } from '../../src/limits.js';
import { roost, roostProcess } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/node.js';

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir('roost-secret-');
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const N = LIMITS.replication.minSecretLength;
const withPeer = (replication: Record<string, unknown>): Record<string, unknown> => ({ replication: { peer: '127.0.0.1:7601', ...replication } });
const key = (n: number): string => 'abcdefghijklmnopqrstuvwxyz0123456789ABCDEFGHIJ'.repeat(4).slice(0, n);
const loaded = (doc: Record<string, unknown>): ReturnType<typeof buildConfig> => buildConfig(doc, null, dir);
const failure = (doc: Record<string, unknown>): ConfigError => {
  try {
    loaded(doc);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('accepted');
};

describe('replication.secret strength', () => {
  it(`accepts ${N} characters and refuses ${N - 1}, naming the key`, () => {
    expect(loaded(withPeer({ secret: key(N) })).replication.secret).toBe(key(N));
    const e = failure(withPeer({ secret: key(N - 1) }));
    expect(e.key).toBe('replication.secret');
    expect(e.message).toMatch(new RegExp(`replication\\.secret: too short: ${N - 1} characters, at least ${N} required`));
    expect(e.message).toMatch(/roost secret/);
  });

  it('refuses an empty or a repetitive secret when a peer is set', () => {
    expect(failure(withPeer({})).message).toMatch(/replication\.secret: required when replication\.peer is set/);
    expect(failure(withPeer({ secret: 'x' })).message).toMatch(/replication\.secret: too short: 1 characters/);
    expect(failure(withPeer({ secret: 'ab'.repeat(N) })).message).toMatch(/replication\.secret: too weak: only 2 different characters/);
  });

  it('accepts replication.minSecretDistinctChars different characters and refuses one fewer', () => {
    const d = LIMITS.replication.minSecretDistinctChars;
    const spread = (distinct: number): string => 'abcdefghijklmnopqrstuvwxyz'.slice(0, distinct).repeat(N).slice(0, N);
    expect(new Set(spread(d)).size).toBe(d);
    expect(loaded(withPeer({ secret: spread(d) })).replication.secret).toBe(spread(d));
    expect(failure(withPeer({ secret: spread(d - 1) })).message).toMatch(new RegExp(`replication\\.secret: too weak: only ${d - 1} different characters`));
  });

  it('leaves the default config alone: no peer, no secret starts', () => {
    expect(loaded({}).replication).toMatchObject({ peer: '', secret: '', secret_file: '' });
  });

  it('reads replication.secret_file (relative to the config), refusing one others can read, a weak one, a missing one, or both keys', async () => {
    const file = path.join(dir, 'repl.key');
    await writeFile(file, `${key(N)}\n`, { mode: 0o600 });
    await chmod(file, 0o600);
    expect(loaded(withPeer({ secret_file: 'repl.key' })).replication.secret).toBe(key(N));
    await chmod(file, 0o640);
    expect(loaded(withPeer({ secret_file: file })).replication.secret).toBe(key(N));
    await chmod(file, 0o644);
    expect(failure(withPeer({ secret_file: file })).message).toMatch(/replication\.secret_file: .* accessible to other users \(mode 644\); chmod 600/);
    await writeFile(file, key(N - 1));
    await chmod(file, 0o600);
    expect(failure(withPeer({ secret_file: file })).message).toMatch(/replication\.secret_file: too short/);
    expect(failure(withPeer({ secret_file: 'missing.key' })).message).toMatch(/replication\.secret_file: cannot read .*missing\.key: ENOENT/);
    expect(failure(withPeer({ secret_file: file, secret: key(N) })).message).toMatch(/replication\.secret_file: set replication\.secret or replication\.secret_file, not both/);
  });

  it('`roost secret` prints a new key that passes, different each time', async () => {
    const [a, b] = [await roost(['secret']), await roost(['secret'])];
    expect(a.code).toBe(0);
    const k = a.stdout.trim();
    expect(k).toMatch(/^[A-Za-z0-9_-]{43}$/);
    expect(b.stdout.trim()).not.toBe(k);
    expect(loaded(withPeer({ secret: k })).replication.secret).toBe(k);
  });

  it('`roost serve` with a weak secret exits 1 before listening, naming replication.secret', async () => {
    const f = path.join(dir, 'weak.toml');
    await writeFile(f, `data_dir = "${dir}/never"\n[replication]\npeer = "127.0.0.1:7601"\nsecret = "x"\n`);
    const r = await roostProcess(['serve', '--config', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/replication\.secret: too short/);
  }, 30_000);
});
