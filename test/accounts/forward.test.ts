/**
 * Forwards and vacation text on the embedded directory (`roost user forward`,
 * `roost user vacation`): what qmail-ldap keeps in mailForwardingAddress and
 * deliveryMode reply + mailReplyText, journaled and replicated like every
 * other account change (src/accounts/journaled.ts). Real stores and real
 * accounts.sqlite files; records carried from the primary's journal to the
 * replica's ReplicationSupport.apply as the replication link does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JournaledDirectory, parseUserOp } from '../../src/accounts/journaled.js';
import { openSqliteDirectory, type SqliteDirectory } from '../../src/accounts/sqlite.js';
import { isRoostError } from '../../src/errors.js';
import { LIMITS } from '../../src/limits.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-fwd-'));
const opened: { close(): Promise<void> }[] = [];
afterAll(async () => {
  for (const o of opened.reverse()) await o.close().catch(() => undefined);
  fs.rmSync(root, { recursive: true, force: true });
});

async function node(name: string): Promise<{ store: Store; dir: SqliteDirectory }> {
  const dataDir = path.join(root, name, 'data');
  fs.mkdirSync(dataDir, { recursive: true });
  const store = await openStore({ dataDir, mailDir: path.join(root, name, 'mail'), hostname: 'test.host' });
  const dir = openSqliteDirectory(dataDir, path.join(root, name, 'mail'));
  opened.push(store, dir);
  return { store, dir };
}

async function ship(from: Store, to: Store): Promise<void> {
  for (const r of await from.readJournal(to.replication.appliedLsn(), 10_000)) await to.replication.apply(r, null);
}

const delivery = async (d: SqliteDirectory, address: string) => {
  const r = await d.lookupRecipient(address);
  if (r.kind !== 'found') throw new Error(`${address}: ${JSON.stringify(r)}`);
  return r.account.delivery;
};

const code = (c: string) => (e: unknown) => isRoostError(e, c as never);

describe('embedded forwards and vacation', () => {
  it('adds and removes forwards and a vacation text, and the replica gets the same', async () => {
    const p = await node('p');
    const r = await node('r');
    const jp = new JournaledDirectory(p.dir, p.store);
    r.store.replication.setWritable(false);
    const jr = new JournaledDirectory(r.dir, r.store, () => true);
    const errors: unknown[] = [];
    jr.follow((err) => errors.push(err));

    await jp.run({ op: 'add', address: 'carol@example.org', password: 'c1' });
    await jp.run({ op: 'alias-add', alias: 'info@example.org', address: 'carol@example.org' });
    expect(await delivery(p.dir, 'carol@example.org')).toBeUndefined();

    await jp.run({ op: 'forward-add', address: 'Carol@Example.org', target: ' carol@elsewhere.example ' });
    await jp.run({ op: 'forward-add', address: 'carol@example.org', target: 'Boss@Corp.Example' });
    // Case-insensitively the same target is refused, and so is one that is not a single address with a domain.
    await expect(jp.run({ op: 'forward-add', address: 'carol@example.org', target: 'boss@corp.example' })).rejects.toSatisfy(code('EXISTS'));
    for (const bad of ['nodomain', 'a@b@', 'x@y.example, z@w.example', '<x@y.example>', 'two words@x.example'])
      await expect(jp.run({ op: 'forward-add', address: 'carol@example.org', target: bad }), bad).rejects.toSatisfy(code('BADNAME'));
    await expect(jp.run({ op: 'forward-add', address: 'ghost@example.org', target: 'a@b.example' })).rejects.toSatisfy(code('NOTFOUND'));
    expect(await delivery(p.dir, 'info@example.org')).toEqual({ local: true, forwards: ['carol@elsewhere.example', 'Boss@Corp.Example'] });
    expect(await p.dir.forwardsOf('carol@example.org')).toEqual(['carol@elsewhere.example', 'Boss@Corp.Example']);

    const text = 'Away until the 14th.\nUrgent: %SUBJECT% goes to boss@corp.example.\n';
    await jp.run({ op: 'vacation', address: 'carol@example.org', text });
    await jp.run({ op: 'forward-del', address: 'carol@example.org', target: 'BOSS@corp.example' });
    await expect(jp.run({ op: 'forward-del', address: 'carol@example.org', target: 'boss@corp.example' })).rejects.toSatisfy(code('NOTFOUND'));
    const expected = { local: true, forwards: ['carol@elsewhere.example'], replyText: text };
    expect(await delivery(p.dir, 'carol@example.org')).toEqual(expected);

    await ship(p.store, r.store);
    expect(errors).toEqual([]);
    expect(await delivery(r.dir, 'carol@example.org')).toEqual(expected);
    expect(await delivery(r.dir, 'info@example.org')).toEqual(expected);

    await jp.run({ op: 'vacation', address: 'carol@example.org', text: '' });
    await jp.run({ op: 'forward-del', address: 'carol@example.org', target: 'carol@elsewhere.example' });
    await ship(p.store, r.store);
    expect(await delivery(p.dir, 'carol@example.org')).toBeUndefined();
    expect(await delivery(r.dir, 'carol@example.org')).toBeUndefined();
    // A replica refuses the change itself.
    await expect(jr.run({ op: 'forward-add', address: 'carol@example.org', target: 'a@b.example' })).rejects.toSatisfy(code('NOTPRIMARY'));
  });

  it(`keeps at most ${LIMITS.delivery.maxForwards} forwards per account`, async () => {
    const p = await node('limit');
    const jp = new JournaledDirectory(p.dir, p.store);
    await jp.run({ op: 'add', address: 'many@example.org' });
    for (let i = 0; i < LIMITS.delivery.maxForwards; i++) await jp.run({ op: 'forward-add', address: 'many@example.org', target: `t${i}@x.example` });
    expect((await delivery(p.dir, 'many@example.org'))?.forwards).toHaveLength(LIMITS.delivery.maxForwards);
    await expect(jp.run({ op: 'forward-add', address: 'many@example.org', target: 'one-more@x.example' })).rejects.toSatisfy(code('LIMIT'));
  });

  it(`vacation text: ${LIMITS.delivery.maxReplyTextBytes} bytes are taken, one more is refused at the control socket`, () => {
    const n = LIMITS.delivery.maxReplyTextBytes;
    expect(parseUserOp({ op: 'vacation', address: 'a@example.org', text: 'é'.repeat(n / 2) })).toMatchObject({ op: 'vacation' });
    expect(() => parseUserOp({ op: 'vacation', address: 'a@example.org', text: 'é'.repeat(n / 2) + 'x' })).toThrow(/longer than/);
    expect(() => parseUserOp({ op: 'vacation', address: 'a@example.org' })).toThrow(/must be a string/);
    expect(parseUserOp({ op: 'forward-add', address: 'a@example.org', target: 't@x.example' })).toEqual({ op: 'forward-add', address: 'a@example.org', target: 't@x.example' });
  });

  it('a directory made before the columns existed gains them when opened', async () => {
    const dataDir = path.join(root, 'old');
    fs.mkdirSync(dataDir, { recursive: true });
    const Database = (await import('better-sqlite3')).default;
    const db = new Database(path.join(dataDir, 'accounts.sqlite'));
    db.exec(`CREATE TABLE users (address TEXT PRIMARY KEY, password TEXT, maildir TEXT NOT NULL, quota_bytes INTEGER NOT NULL DEFAULT 0,
      quota_messages INTEGER NOT NULL DEFAULT 0, max_message_size INTEGER NOT NULL DEFAULT 0, status TEXT NOT NULL DEFAULT 'active', created INTEGER NOT NULL)`);
    db.prepare('INSERT INTO users (address, maildir, created) VALUES (?, ?, ?)').run('old@example.org', path.join(root, 'old', 'Maildir'), 1);
    db.close();
    const d = openSqliteDirectory(dataDir, path.join(root, 'old', 'mail'));
    opened.push(d);
    expect(await delivery(d, 'old@example.org')).toBeUndefined();
    await d.addForward('old@example.org', 'new@x.example');
    expect(await delivery(d, 'old@example.org')).toEqual({ local: true, forwards: ['new@x.example'] });
  });
});
