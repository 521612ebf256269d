/**
 * Account snapshots through the store API alone (src/store/account-snapshot.ts):
 * many accounts with a small open-index LRU on both sides (so indexes are
 * closed and reopened while snapshots are taken and installed), pending flag
 * renames and expunges settled on the way, and records the image already
 * holds skipped when the stream replays them.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { openStore } from '../../src/store/open.js';
import type { StoreImpl } from '../../src/store/store-impl.js';
import { account, deliver, message, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function openAt(sub: string, maxOpenIndexes: number): Promise<StoreImpl> {
  const base = path.join(root, sub);
  return (await openStore({ dataDir: path.join(base, 'data'), mailDir: path.join(base, 'mail'), hostname: 'test.host', maxOpenIndexes, log: () => undefined })) as StoreImpl;
}

async function listing(store: StoreImpl, a: Account): Promise<unknown[]> {
  const out: unknown[] = [];
  const user = store.user(a);
  for (const mb of await user.listMailboxes()) {
    const box = await user.openMailbox(mb.name, { readOnly: true });
    const snap = box.snapshot();
    const msgs = [];
    for (const m of snap.messages) msgs.push([m.uid, m.basename, [...m.flags].sort().join(' '), String(m.modseq), (await box.readMessage(m.uid)).toString('base64')]);
    out.push({ name: mb.name, uidvalidity: box.uidvalidity, uidnext: snap.uidnext, highestModseq: String(snap.highestModseq), msgs });
    box.close();
  }
  return out;
}

describe('account snapshots', () => {
  it('copy 40 accounts through a 4-index LRU with every UID, flag, modseq and byte, and skip what the images hold', async () => {
    const primary = await openAt('p', 4);
    const accounts = Array.from({ length: 40 }, (_v, i) => account(path.join(root, 'p'), `u${i}`));
    for (const [i, a] of accounts.entries()) {
      for (let k = 0; k < 3 + (i % 4); k++) await deliver(primary, [a], message(`m${i}-${k}`, `body ${i} ${k}\n`));
      const box = await primary.user(a).openMailbox('INBOX');
      await box.storeFlags([1], 'add', ['\\Seen', '$Label1']);
      if (i % 3 === 0) {
        await box.storeFlags([2], 'add', ['\\Deleted']);
        await box.expunge();
      }
      box.close();
    }
    const head = primary.lastLsn();

    const replica = await openAt('r', 4);
    replica.replication.setWritable(false);
    const rs = replica.replication;
    const local = (a: Account): Account => ({ ...a, maildir: a.maildir.replace(path.join(root, 'p'), path.join(root, 'r')) });
    for (const a of accounts) {
      const snap = (await primary.replication.snapshotAccount(a.id))!;
      expect(snap.firstAfter).toBeNull(); // nothing in flight: the index is caught up
      await rs.installSnapshot(local(a), snap.image);
      const items = [];
      for (const f of snap.files) items.push({ file: f, body: (await primary.replication.readSnapshotFile(a.id, f))! });
      await rs.installSnapshotFiles(local(a), items);
    }
    // Stream from well below the images: every record is already in them.
    const from = head - 50n;
    await rs.finishSnapshot(from);
    expect(rs.appliedLsn()).toBe(from);
    const tail = await primary.readJournal(from, 1000);
    expect(tail.length).toBe(50);
    for (const r of tail) {
      // An expunged message's bytes are gone; the primary ships it empty, as ShipSession does.
      const body = r.kind === 'deliver' ? await primary.replication.readDelivered(r).catch(() => Buffer.alloc(0)) : null;
      await rs.apply(r, body);
    }
    expect(rs.appliedLsn()).toBe(head);

    for (const a of accounts) expect(await listing(replica, local(a))).toEqual(await listing(primary, a));
    // Files sit under the names the index wants (flag renames settled).
    const sample = local(accounts[0]!);
    const cur = fs.readdirSync(path.join(sample.maildir, 'cur'));
    expect(cur.some((n) => /:2,[a-zA-Z]*S/.test(n))).toBe(true);
    await replica.close();
    await primary.close();
  });
});
