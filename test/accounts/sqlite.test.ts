import { rm } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteDirectory, SqliteDirectory } from '../../src/accounts/sqlite.js';
import { hashPassword, verifyPassword } from '../../src/accounts/password.js';
import { isRoostError } from '../../src/errors.js';
import { makeTempDir } from '../helpers/node.js';

describe('password hashes (scrypt)', () => {
  it('verifies the right password and refuses a wrong one', async () => {
    const h = await hashPassword('s3cret ünïcode');
    expect(h).toMatch(/^\$scrypt\$ln=14,r=8,p=1\$/);
    expect(await verifyPassword('s3cret ünïcode', h)).toBe(true);
    expect(await verifyPassword('s3cret unicode', h)).toBe(false);
    expect(await hashPassword('x')).not.toBe(await hashPassword('x')); // salted
  });
  it('remembers only successes, per stored hash: a new hash or a wrong password is checked in full', async () => {
    const old = await hashPassword('first');
    expect(await verifyPassword('first', old)).toBe(true);
    expect(await verifyPassword('first', old)).toBe(true); // from the cache
    expect(await verifyPassword('First', old)).toBe(false);
    expect(await verifyPassword('First', old)).toBe(false); // failures are not remembered as anything
    const changed = await hashPassword('second'); // `roost user passwd`
    expect(await verifyPassword('first', changed)).toBe(false);
    expect(await verifyPassword('second', changed)).toBe(true);
  });
  it('never matches an empty or foreign hash, or absurd parameters', async () => {
    expect(await verifyPassword('', '')).toBe(false);
    expect(await verifyPassword('x', '{SSHA}abcd')).toBe(false);
    expect(await verifyPassword('x', '$scrypt$ln=40,r=8,p=1$AAAA$AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA')).toBe(false);
  });
});

describe('embedded directory', () => {
  let dir: string;
  let d: SqliteDirectory;
  beforeAll(async () => {
    dir = await makeTempDir();
    d = openSqliteDirectory(dir, path.join(dir, 'mail'));
    await d.addUser({ address: 'Alice@Example.ORG', password: 'pw-alice', quotaBytes: 1000 });
    await d.addUser({ address: 'bob@example.org' });
    await d.addAlias('postmaster@example.org', 'alice@example.org');
  });
  afterAll(async () => {
    await d.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('finds users case-insensitively, with Maildir under mail_dir/<domain>/<local>/Maildir', async () => {
    const r = await d.lookupRecipient('<ALICE@example.org>');
    expect(r.kind).toBe('found');
    if (r.kind !== 'found') return;
    expect(r.account).toMatchObject({ id: 'alice@example.org', quotaBytes: 1000, status: 'active' });
    expect(r.account.maildir).toBe(path.join(dir, 'mail', 'example.org', 'alice', 'Maildir'));
  });

  it('resolves aliases, +extensions and catch-alls; unknown is a rejection with the qmail text', async () => {
    expect(await d.lookupRecipient('postmaster@example.org')).toMatchObject({ kind: 'found', account: { id: 'alice@example.org' } });
    expect(await d.lookupRecipient('alice+lists@example.org')).toMatchObject({ kind: 'found', account: { id: 'alice@example.org' } });
    expect(await d.lookupRecipient('nobody@example.org')).toEqual({ kind: 'rejected', text: 'Sorry, no mailbox here by that name. (#5.1.1)' });
    await d.addAlias('@catch.example', 'bob@example.org');
    expect(await d.lookupRecipient('anything@catch.example')).toMatchObject({ kind: 'found', account: { id: 'bob@example.org' } });
  });

  it('authenticates; wrong password and unknown user look the same; no password never logs in', async () => {
    expect(await d.authenticate('alice@example.org', 'pw-alice')).toMatchObject({ kind: 'ok' });
    expect(await d.authenticate('alice@example.org', 'nope')).toEqual({ kind: 'failed' });
    expect(await d.authenticate('ghost@example.org', 'pw-alice')).toEqual({ kind: 'failed' });
    expect(await d.authenticate('bob@example.org', '')).toEqual({ kind: 'failed' });
    await d.setPassword('bob@example.org', 'pw-bob');
    expect(await d.authenticate('bob@example.org', 'pw-bob')).toMatchObject({ kind: 'ok' });
  });

  it('refuses disabled accounts for mail and login, lets noaccess receive', async () => {
    await d.addUser({ address: 'carol@example.org', password: 'c' });
    await d.setStatus('carol@example.org', 'disabled');
    expect((await d.lookupRecipient('carol@example.org')).kind).toBe('rejected');
    expect(await d.authenticate('carol@example.org', 'c')).toEqual({ kind: 'refused', status: 'disabled' });
    await d.setStatus('carol@example.org', 'noaccess');
    expect((await d.lookupRecipient('carol@example.org')).kind).toBe('found');
  });

  it('refuses duplicate users, unsafe addresses and aliases to nobody with typed errors', async () => {
    const code = async (p: Promise<unknown>): Promise<string | null> =>
      p.then(
        () => null,
        (e: unknown) => (isRoostError(e) ? e.code : 'untyped'),
      );
    expect(await code(d.addUser({ address: 'alice@example.org' }))).toBe('EXISTS');
    expect(await code(d.addUser({ address: '../etc@example.org' }))).toBe('BADNAME');
    expect(await code(d.addUser({ address: 'a/b@example.org' }))).toBe('BADNAME');
    expect(await code(d.addUser({ address: 'nodomain' }))).toBe('BADNAME');
    expect(await code(d.addAlias('x@example.org', 'ghost@example.org'))).toBe('NOTFOUND');
    expect(await code(d.deleteUser('ghost@example.org'))).toBe('NOTFOUND');
  });

  it('deletes a user with its aliases; another process sees changes at once (shared file, WAL)', async () => {
    const other = openSqliteDirectory(dir, path.join(dir, 'mail'));
    await d.addUser({ address: 'dave@example.org' });
    expect((await other.lookupRecipient('dave@example.org')).kind).toBe('found');
    await d.addAlias('d@example.org', 'dave@example.org');
    await d.deleteUser('dave@example.org');
    expect((await other.lookupRecipient('d@example.org')).kind).toBe('rejected');
    await other.close();
    expect((await d.listUsers()).map((u) => u.account.address)).toEqual([
      'alice@example.org',
      'bob@example.org',
      'carol@example.org',
    ]);
  });
});
