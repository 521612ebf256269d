import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MailboxEvent } from '../../src/store/store.js';
import { account, deliver, files, message, open, tempDir, waitFor } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function readAll(s: NodeJS.ReadableStream): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const c of s) parts.push(c as Buffer);
  return Buffer.concat(parts);
}

describe('watcher', () => {
  it('indexes files other programs drop into new/, and notices removals and renames', async () => {
    const store = await open(root, true);
    const a = account(root, 'watched');
    await deliver(store, [a], message('ours'));
    const box = await store.user(a).openMailbox('INBOX');
    const events: MailboxEvent[] = [];
    box.onChange((e) => events.push(e));
    // An MDA writes into tmp/ and renames into new/ (maildir(5)).
    const name = '1700000100.M1P4242.otherhost';
    fs.writeFileSync(path.join(a.maildir, 'tmp', name), message('from procmail'));
    fs.renameSync(path.join(a.maildir, 'tmp', name), path.join(a.maildir, 'new', name));
    await waitFor(() => events.some((e) => e.type === 'append'));
    const ap = events.find((e) => e.type === 'append')!;
    expect(ap.type === 'append' && ap.messages.map((m) => [m.uid, m.basename])).toEqual([[2, name]]);
    expect((await box.readMessage(2)).toString()).toContain('from procmail');
    const rec = (await store.readJournal(0n, 100)).filter((r) => r.kind === 'deliver').pop()!;
    expect(rec.data).toMatchObject({ basename: name, external: true, uid: 2 });

    // mutt marks it seen by renaming into cur/.
    fs.renameSync(path.join(a.maildir, 'new', name), path.join(a.maildir, 'cur', `${name}:2,S`));
    await waitFor(() => events.some((e) => e.type === 'flags'));
    expect(box.snapshot().messages[1]!.flags).toEqual(['\\Seen']);

    // Our own flag change does not look external.
    const before = events.length;
    await box.storeFlags([1], 'add', ['\\Flagged']);
    await store.settle();
    await new Promise((r) => setTimeout(r, 150));
    expect(events.slice(before).map((e) => e.type)).toEqual(['flags']);

    // Another program deletes it.
    fs.unlinkSync(path.join(a.maildir, 'cur', `${name}:2,S`));
    await waitFor(() => events.some((e) => e.type === 'expunge'));
    expect(box.snapshot().messages.map((m) => m.uid)).toEqual([1]);
    box.close();
    await store.close();
  });

  it('sees deliveries another process (roost deliver) made into the same store', async () => {
    const server = await open(root, true);
    const a = account(root, 'shared');
    await deliver(server, [a], message('first'));
    const box = await server.user(a).openMailbox('INBOX');
    const events: MailboxEvent[] = [];
    box.onChange((e) => events.push(e));
    await new Promise((r) => setTimeout(r, 100));
    const cli = await open(root);
    const [saved] = await deliver(cli, [a], message('from the cli'));
    await cli.close();
    expect(saved!.uid).toBe(2);
    await waitFor(() => events.some((e) => e.type === 'append'));
    expect(box.snapshot().messages.map((m) => m.uid)).toEqual([1, 2]);
    const [third] = await deliver(server, [a], message('third'));
    expect(third!.uid).toBe(3);
    box.close();
    await server.close();
  });

  it('notices changes to an unwatched mailbox when it is opened (mtime check)', async () => {
    const store = await open(root);
    const a = account(root, 'unwatched');
    await deliver(store, [a], message('x'));
    fs.writeFileSync(path.join(a.maildir, 'new', '1700000200.M1P1.elsewhere'), message('y'));
    const st = await store.user(a).status('INBOX');
    expect(st.messages).toBe(2);
    await store.close();
  });
});

describe('replication support', () => {
  it('applies the primary journal on a replica with the same names, UIDs and modseqs', async () => {
    const primary = await open(path.join(root, 'p'));
    fs.mkdirSync(path.join(root, 'r'), { recursive: true });
    const replica = await open(path.join(root, 'r'));
    replica.replication.setWritable(false);
    const pa = account(path.join(root, 'p'), 'rep');
    const ra = account(path.join(root, 'r'), 'rep');
    replica.user(ra);

    await deliver(primary, [pa], message('one'));
    await deliver(primary, [pa], message('two'));
    const pu = primary.user(pa);
    await pu.createMailbox('Folder');
    const pb = await pu.openMailbox('INBOX');
    await pb.storeFlags([1, 2], 'add', ['\\Seen', '$X']);
    await pb.copyTo([1], 'Folder');
    await pb.storeFlags([2], 'add', ['\\Deleted']);
    await pb.expunge();
    await pu.renameMailbox('Folder', 'Renamed');
    await primary.settle();

    const recs = await primary.readJournal(0n, 1000);
    for (const r of recs) {
      // A message expunged since is NOTFOUND on the primary: applied without bytes.
      const body = r.kind === 'deliver' ? await primary.replication.openDelivered(r).then(readAll, () => null) : null;
      await replica.replication.apply(r, body);
    }
    // Idempotent: applying again changes nothing.
    for (const r of recs) await replica.replication.apply(r, null);
    await replica.settle();
    expect(replica.replication.appliedLsn()).toBe(primary.lastLsn());
    expect(replica.lastLsn()).toBe(primary.lastLsn());
    expect((await replica.readJournal(0n, 1000)).map((r) => r.lsn)).toEqual(recs.map((r) => r.lsn));

    const ru = replica.user(ra);
    const rb = await ru.openMailbox('INBOX');
    const ps = pb.snapshot();
    const rs = rb.snapshot();
    expect(rs.uidvalidity).toBe(ps.uidvalidity);
    expect(rs.highestModseq).toBe(ps.highestModseq);
    expect(rs.messages).toEqual(ps.messages.map((m) => ({ ...m, diskName: expect.any(String) })));
    expect(files(ra.maildir, 'cur')).toEqual(files(pa.maildir, 'cur'));
    expect((await rb.readMessage(1)).toString()).toContain('Subject: one');
    const rf = await ru.status('Renamed');
    expect(rf).toMatchObject({ messages: 1, uidvalidity: (await pu.status('Renamed')).uidvalidity });
    expect((await ru.listMailboxes()).map((m) => m.name)).toEqual((await pu.listMailboxes()).map((m) => m.name));
    await expect(ru.createMailbox('Nope')).rejects.toMatchObject({ code: 'NOTPRIMARY' });
    expect(await replica.replication.listAccountIds()).toEqual([ra.id]);
    replica.replication.setEpoch(7);
    expect(replica.epoch()).toBe(7);
    rb.close();

    // Full resync: the replica forgets everything and applies from LSN 1 again.
    await replica.replication.reset!();
    expect(replica.replication.appliedLsn()).toBe(0n);
    expect(replica.lastLsn()).toBe(0n);
    expect(fs.existsSync(ra.maildir)).toBe(false);
    replica.user(ra);
    for (const r of recs) {
      const body = r.kind === 'deliver' ? await primary.replication.openDelivered(r).then(readAll, () => null) : null;
      await replica.replication.apply(r, body);
    }
    const rb2 = await replica.user(ra).openMailbox('INBOX');
    expect(rb2.snapshot().messages.map((m) => [m.uid, m.flags])).toEqual(ps.messages.map((m) => [m.uid, m.flags]));
    rb2.close();
    pb.close();
    await primary.close();
    await replica.close();
  });
});
