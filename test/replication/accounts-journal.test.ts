/**
 * JournaledDirectory in one process (src/accounts/journaled.ts): real stores
 * and real accounts.sqlite files, records carried by hand from the primary's
 * journal to the replica's ReplicationSupport.apply. Covers what the two-node
 * test cannot provoke: a crash between the journal commit and the directory
 * commit, seeding once, a replica refusing changes, and a full resync.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { JournaledDirectory } from '../../src/accounts/journaled.js';
import { openSqliteDirectory, type SqliteDirectory } from '../../src/accounts/sqlite.js';
import { isRoostError } from '../../src/errors.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-acctj-'));
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

/** Ship every record after `after` to the replica, as the replication link does. */
async function ship(from: Store, to: Store, after = to.replication.appliedLsn()): Promise<void> {
  for (const r of await from.readJournal(after, 10_000)) await to.replication.apply(r, null);
}

const listed = async (d: SqliteDirectory): Promise<unknown> =>
  (await d.listUsers()).map((u) => ({ address: u.account.address, quota: u.account.quotaBytes, status: u.account.status, aliases: u.aliases, pw: u.hasPassword }));

describe('journaled embedded directory', () => {
  it('replays changes on a replica, catches up after a crash, seeds once and survives a full resync', async () => {
    const p = await node('p');
    const r = await node('r');
    await p.dir.addUser({ address: 'old@example.org', password: 'pw-old' });
    const jp = new JournaledDirectory(p.dir, p.store);
    r.store.replication.setWritable(false);
    const jr = new JournaledDirectory(r.dir, r.store, () => true);
    const errors: unknown[] = [];
    jr.follow((err) => errors.push(err));

    expect(await jp.seed()).toBe(1);
    expect(await jp.seed()).toBe(0);
    await jp.run({ op: 'add', address: 'Carol@Example.org', password: 'c1', quotaBytes: 1000, quotaMessages: 0 });
    await jp.run({ op: 'alias-add', alias: 'info@example.org', address: 'carol@example.org' });
    await jp.run({ op: 'add', address: 'dave@example.org', password: 'd1' });
    await jp.run({ op: 'passwd', address: 'carol@example.org', password: 'c2' });
    await jp.run({ op: 'status', address: 'old@example.org', status: 'noaccess' });
    await jp.run({ op: 'del', address: 'dave@example.org' });
    // A refused change journals nothing.
    const before = p.store.lastLsn();
    await expect(jp.run({ op: 'add', address: 'carol@example.org' })).rejects.toSatisfy((e) => isRoostError(e, 'EXISTS'));
    expect(p.store.lastLsn()).toBe(before);

    await ship(p.store, r.store);
    expect(errors).toEqual([]);
    expect(await listed(r.dir)).toEqual(await listed(p.dir));
    expect(await listed(r.dir)).toEqual([
      { address: 'carol@example.org', quota: 1000, status: 'active', aliases: ['info@example.org'], pw: true },
      { address: 'old@example.org', quota: 0, status: 'noaccess', aliases: [], pw: true },
    ]);
    expect((await r.dir.authenticate('carol@example.org', 'c2')).kind).toBe('ok');
    expect((await r.dir.authenticate('carol@example.org', 'c1')).kind).toBe('failed');
    const viaAlias = await r.dir.lookupRecipient('info@example.org');
    expect(viaAlias.kind === 'found' && viaAlias.account.maildir).toBe(path.join(root, 'r', 'mail', 'example.org', 'carol', 'Maildir'));
    // The replica's store maps the account to the replica's own Maildir path.
    expect(r.store.user((await r.dir.accountById('carol@example.org'))!).account.maildir).toContain(path.join(root, 'r'));

    // The replica refuses changes and keeps its directory as it was.
    await expect(jr.run({ op: 'add', address: 'x@example.org' })).rejects.toSatisfy((e) => isRoostError(e, 'NOTPRIMARY'));
    expect(await r.dir.accountById('x@example.org')).toBeNull();

    // Crash after the journal commit, before the directory commit: the next start applies it.
    const row = p.dir.currentState({ users: ['carol@example.org'] })[0]!;
    if (row.op !== 'user-put') throw new Error('carol missing');
    const lost = { ...row.user, address: 'erin@example.org', maildir: 'example.org/erin/Maildir' };
    await p.store.journalAccountChange('erin@example.org', { changes: [{ op: 'user-put', user: lost }] });
    expect(await p.dir.accountById('erin@example.org')).toBeNull();
    expect(await new JournaledDirectory(p.dir, p.store).catchUp()).toBe(1);
    expect((await p.dir.authenticate('erin@example.org', 'c2')).kind).toBe('ok');
    expect(await new JournaledDirectory(p.dir, p.store).catchUp()).toBe(0);

    // Full resync: the replica's journal starts again at LSN 1 and the whole history replays.
    await r.store.replication.reset!();
    await r.dir.deleteUser('carol@example.org');
    await ship(p.store, r.store, 0n);
    expect(errors).toEqual([]);
    expect(await listed(r.dir)).toEqual(await listed(p.dir));
    expect(r.dir.journalLsn()).toBe(p.store.lastLsn());
  });
});
