import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRoostError } from '../../src/errors.js';
import { safeFileName } from '../../src/store/maildir/names.js';
import { account, spoolWithData, deliver, files, message, open, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('crash recovery', () => {
  it('replays lost index applies, adopts dropped files, expunges vanished ones, ignores uncommitted tmp links', async () => {
    const a = account(root, 'gina');
    let store = await open(root);
    await deliver(store, [a], message('one'));
    const [two] = await deliver(store, [a], message('two'));
    await store.close();

    // 1. The journal has "two" but the index apply was lost, and the crash
    //    came before the rename out of tmp/.
    const idx = new Database(path.join(root, 'data', 'index', safeFileName(a.id) + '.sqlite'));
    idx.prepare('DELETE FROM messages WHERE uid = 2').run();
    idx.prepare("UPDATE meta SET value = ? WHERE key = 'applied_lsn'").run(String(two!.lsn - 1n));
    idx.close();
    const name2 = files(a.maildir, 'new').find((n) => n.startsWith(two!.basename))!;
    fs.renameSync(path.join(a.maildir, 'new', name2), path.join(a.maildir, 'tmp', two!.basename));
    // 2. Message one's file was removed by another program.
    const name1 = files(a.maildir, 'new').find((n) => n !== name2)!;
    fs.unlinkSync(path.join(a.maildir, 'new', name1));
    // 3. Another MDA dropped a file into new/ (and one into cur/ with flags).
    fs.writeFileSync(path.join(a.maildir, 'new', '1700000000.M1P99.other'), message('dropped'));
    fs.writeFileSync(path.join(a.maildir, 'cur', '1700000001.M1P99.other:2,FS'), message('seen one'));
    // 4. A delivery that crashed before its journal commit left a tmp/ link.
    fs.writeFileSync(path.join(a.maildir, 'tmp', '1700000002.M5P4194303Q1.test.host,S=10,W=10'), 'half done');

    store = await open(root);
    const box = await store.user(a).openMailbox('INBOX');
    const snap = box.snapshot();
    expect(snap.messages.map((m) => m.uid)).toEqual([2, 3, 4]);
    expect(snap.messages[0]!.basename).toBe(two!.basename);
    expect((await box.readMessage(2)).toString()).toContain('Subject: two');
    expect(snap.messages.map((m) => m.basename).slice(1)).toEqual(['1700000000.M1P99.other', '1700000001.M1P99.other']);
    expect(snap.messages[2]!.flags).toEqual(['\\Flagged', '\\Seen']);
    expect((await box.readMessage(3)).toString()).toContain('dropped');
    expect(files(a.maildir, 'new').concat(files(a.maildir, 'cur'))).toHaveLength(3);
    // The dead delivery's tmp/ link is cleaned (its process is gone).
    expect(files(a.maildir, 'tmp')).toEqual([]);
    const recs = (await store.readJournal(two!.lsn, 100)).filter((r) => r.accountId === a.id);
    expect(recs.map((r) => r.kind)).toEqual(['expunge', 'deliver', 'deliver']);
    expect(recs[1]!.data).toMatchObject({ external: true, basename: '1700000000.M1P99.other', uid: 3 });
    // UIDs are never reused: the next delivery gets 5.
    const [next] = await deliver(store, [a], message('after'));
    expect(next!.uid).toBe(5);
    box.close();
    await store.close();

    // Reopening again changes nothing (idempotent).
    store = await open(root);
    const again = await store.user(a).openMailbox('INBOX');
    expect(again.snapshot().messages.map((m) => m.uid)).toEqual([2, 3, 4, 5]);
    again.close();
    await store.close();
  });

  it('a file another program drops into a mailbox already open gets its structure and search fields when reconcile indexes it', async () => {
    const a = account(root, 'hugo');
    const store = await open(root);
    await deliver(store, [a], message('first'));
    (await store.user(a).openMailbox('INBOX')).close();
    fs.writeFileSync(
      path.join(a.maildir, 'new', '1700000100.M1P99.other'),
      'From: Dora <dora@example.org>\nSubject: =?UTF-8?B?R3LDvMOfZQ==?=\nMessage-ID: <drop@x>\n\nbody\n',
    );
    const box = await store.user(a).openMailbox('INBOX');
    expect(box.snapshot().messages.map((m) => m.basename)).toContain('1700000100.M1P99.other');
    const uid = box.snapshot().messages.find((m) => m.basename === '1700000100.M1P99.other')!.uid;
    const idx = new Database(path.join(root, 'data', 'index', safeFileName(a.id) + '.sqlite'), { readonly: true });
    const structure = idx.prepare('SELECT json FROM structures WHERE uid = ?').pluck().get(uid) as string | undefined;
    const fields = idx.prepare('SELECT fields FROM search_fields WHERE uid = ?').pluck().get(uid) as string | undefined;
    idx.close();
    expect(JSON.parse(structure!)).toMatchObject({ type: 'text', subtype: 'plain' });
    expect(fields).toContain('subject: grüße');
    expect(fields).toContain('<drop@x>');
    box.close();
    await store.close();
  });

  it('resumes flag renames and unlinks that a crash interrupted', async () => {
    const a = account(root, 'hank');
    let store = await open(root);
    for (let i = 0; i < 3; i++) await deliver(store, [a], message(`m${i}`));
    const box = await store.user(a).openMailbox('INBOX');
    await box.storeFlags([1, 2, 3], 'add', ['\\Seen']);
    await box.storeFlags([3], 'add', ['\\Deleted']);
    await box.expunge();
    box.close();
    await store.close();
    // Pretend the background work never ran: put the index back to "pending".
    const idx = new Database(path.join(root, 'data', 'index', safeFileName(a.id) + '.sqlite'));
    const rows = idx.prepare('SELECT uid, disk_name FROM messages').all() as { uid: number; disk_name: string }[];
    expect(rows).toHaveLength(2);
    for (const r of rows) {
      const base = r.disk_name.slice(4).split(':')[0]!;
      fs.renameSync(path.join(a.maildir, r.disk_name), path.join(a.maildir, 'new', base));
      idx.prepare("UPDATE messages SET disk_name = ?, state = 1 WHERE uid = ?").run(`new/${base}`, r.uid);
    }
    idx.close();
    store = await open(root);
    const b2 = await store.user(a).openMailbox('INBOX');
    await store.settle();
    expect(b2.snapshot().messages.map((m) => [m.uid, m.flags])).toEqual([
      [1, ['\\Seen']],
      [2, ['\\Seen']],
    ]);
    expect(files(a.maildir, 'new')).toEqual([]);
    expect(files(a.maildir, 'cur').every((n) => n.endsWith(':2,S'))).toBe(true);
    b2.close();
    await store.close();
  });
});

describe('all-or-nothing delivery', () => {
  it('leaves no copy anywhere when one recipient fails', async () => {
    const store = await open(root);
    const ok = account(root, 'ivan');
    const broken = account(root, 'judy');
    await deliver(store, [broken], message('init'));
    // judy's tmp/ becomes unusable: linking into it fails.
    fs.rmSync(path.join(broken.maildir, 'tmp'), { recursive: true });
    fs.writeFileSync(path.join(broken.maildir, 'tmp'), 'not a directory');
    const lsn = store.lastLsn();
    let err: unknown = null;
    try {
      await deliver(store, [ok, broken], message('both'));
    } catch (e) {
      err = e;
    }
    expect(isRoostError(err, 'TEMP')).toBe(true);
    expect(files(ok.maildir, 'new')).toEqual([]);
    expect(files(ok.maildir, 'tmp')).toEqual([]);
    expect(files(broken.maildir, 'new')).toHaveLength(1);
    expect((await store.readJournal(lsn, 10)).filter((r) => r.kind === 'deliver')).toEqual([]);
    await store.settle();
    expect(spoolWithData(store.spoolDir)).toEqual([]);
    const box = await store.user(ok).openMailbox('INBOX');
    expect(box.snapshot().messages).toEqual([]);
    box.close();
    await store.close();
  });

  it('refuses writes on a replica and oversized drafts', async () => {
    const store = await open(root);
    const d = await store.createDraft({ maxSize: 10 });
    await expect(d.write(Buffer.alloc(11))).rejects.toMatchObject({ code: 'TOOBIG' });
    await d.discard();
    await d.discard();
    store.replication.setWritable(false);
    const d2 = await store.createDraft();
    await d2.write(message('x'));
    await d2.finish();
    await expect(store.deliver([account(root, 'kim')], d2, { sender: '' })).rejects.toMatchObject({ code: 'NOTPRIMARY' });
    await d2.discard();
    store.replication.setWritable(true);
    await store.close();
  });
});
