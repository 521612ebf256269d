/**
 * The \Recent boundary in the journal (store/recent.ts): a claiming SELECT
 * and a leaving owner write `recent` records; a replica applying the
 * primary's journal ends with the same boundary (so a promoted replica
 * reports the same STATUS RECENT), and applying an older record never moves
 * it back.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { IndexDb } from '../../src/store/index/db.js';
import { INDEX_VERSION } from '../../src/store/index/schema.js';
import { account, deliver, message, open, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('\\Recent boundary and replication', () => {
  it('claims and owner hand-offs are journaled; a replica ends with the primary boundary', async () => {
    const primary = await open(path.join(root, 'p'));
    fs.mkdirSync(path.join(root, 'r'), { recursive: true });
    const replica = await open(path.join(root, 'r'));
    replica.replication.setWritable(false);
    const pa = account(path.join(root, 'p'), 'rec');
    const ra = account(path.join(root, 'r'), 'rec');
    replica.user(ra);
    const pu = primary.user(pa);

    await deliver(primary, [pa], message('one'));
    await deliver(primary, [pa], message('two'));
    // SELECT: claims UIDs 1-2 and owns what arrives while it stays.
    const owner = await pu.openMailbox('INBOX', { recent: true });
    expect(owner.recent).toMatchObject({ from: 1, to: Infinity });
    await deliver(primary, [pa], message('three'));
    expect((await pu.status('INBOX')).recent).toBe(0);
    owner.close();
    // Nobody selected: the next one waits for the next SELECT.
    await deliver(primary, [pa], message('four'));
    expect((await pu.status('INBOX')).recent).toBe(1);
    await primary.settle();

    const recs = await primary.readJournal(0n, 1000);
    expect(recs.filter((r) => r.kind === 'recent').map((r) => r.data.uid)).toEqual([3, 4]);
    for (const r of recs) {
      const body = r.kind === 'deliver' ? await primary.replication.openDelivered(r).then(readAll, () => null) : null;
      await replica.replication.apply(r, body);
    }
    await replica.settle();
    const ru = replica.user(ra);
    expect((await ru.status('INBOX')).recent).toBe(1);

    // An older record applied again (replay, a resent stream) does not move the boundary back.
    const first = recs.find((r) => r.kind === 'recent')!;
    await replica.replication.apply({ ...first, lsn: primary.lastLsn() + 1n }, null);
    expect((await ru.status('INBOX')).recent).toBe(1);

    // EXAMINE claims nothing and writes nothing.
    const before = (await primary.readJournal(0n, 1000)).length;
    const ex = await pu.openMailbox('INBOX', { readOnly: true, recent: true });
    expect(ex.recent).toMatchObject({ from: 4, to: 5 });
    ex.close();
    await primary.settle();
    expect((await primary.readJournal(0n, 1000)).length).toBe(before);
    expect((await pu.status('INBOX')).recent).toBe(1);
    await primary.close();
    await replica.close();
  });
});

describe('index versions', () => {
  it('a new index is created at INDEX_VERSION with the boundary column; a newer file is left alone', () => {
    const file = path.join(root, 'versions.sqlite');
    const db = new IndexDb(file);
    expect(db.db.pragma('user_version', { simple: true })).toBe(INDEX_VERSION);
    const id = db.insertMailbox('INBOX', 1, null, true);
    expect(db.mailboxById(id)!.recent_uid).toBe(1);
    expect(db.raiseRecent(id, 5)).toBe(true);
    expect(db.raiseRecent(id, 3)).toBe(false);
    expect(db.mailboxById(id)!.recent_uid).toBe(5);
    db.db.pragma(`user_version = ${INDEX_VERSION + 1}`);
    db.close();
    const again = new IndexDb(file);
    expect(again.db.pragma('user_version', { simple: true })).toBe(INDEX_VERSION + 1);
    expect(again.mailboxById(id)!.recent_uid).toBe(5);
    again.close();
  });
});

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}
