import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRoostError } from '../../src/errors.js';
import type { MailboxEvent } from '../../src/store/store.js';
import { account, deliver, files, message, open, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

async function code(p: Promise<unknown>): Promise<string | null> {
  try {
    await p;
    return null;
  } catch (e) {
    return isRoostError(e) ? e.code : String(e);
  }
}

describe('mailboxes', () => {
  it('creates, lists, renames with children, deletes, subscribes', async () => {
    const store = await open(root);
    const a = account(root, 'dora');
    const u = store.user(a);
    await u.createMailbox('Work');
    await u.createMailbox('Work.Projects');
    await u.createMailbox('Entwürfe');
    expect(await code(u.createMailbox('Work.Projects'))).toBe('EXISTS');
    expect(await code(u.createMailbox('a..b'))).toBe('BADNAME');
    expect(fs.existsSync(path.join(a.maildir, '.Work', 'maildirfolder'))).toBe(true);
    expect(fs.existsSync(path.join(a.maildir, '.Work.Projects', 'cur'))).toBe(true);
    expect(fs.existsSync(path.join(a.maildir, '.Entw&APw-rfe', 'new'))).toBe(true);
    await u.createMailbox('Deep.A.B');
    let list = await u.listMailboxes();
    expect(list.map((m) => m.name)).toEqual(['INBOX', 'Deep', 'Deep.A', 'Deep.A.B', 'Entwürfe', 'Work', 'Work.Projects']);
    expect(list.find((m) => m.name === 'Deep')).toMatchObject({ selectable: false, hasChildren: true });
    expect(list.find((m) => m.name === 'Work')).toMatchObject({ selectable: true, hasChildren: true, subscribed: true });

    const st0 = await u.status('Work.Projects');
    const box = await u.openMailbox('Work.Projects');
    const events: MailboxEvent[] = [];
    box.onChange((e) => events.push(e));
    await u.renameMailbox('Work', 'Jobs');
    expect(events.map((e) => e.type)).toEqual(['gone']);
    box.close();
    list = await u.listMailboxes();
    expect(list.map((m) => m.name)).toContain('Jobs.Projects');
    expect(list.map((m) => m.name)).not.toContain('Work');
    expect(fs.existsSync(path.join(a.maildir, '.Jobs.Projects', 'cur'))).toBe(true);
    expect((await u.status('Jobs.Projects')).uidvalidity).toBe(st0.uidvalidity);
    expect(await code(u.renameMailbox('Jobs', 'Jobs.Sub'))).toBe('BADNAME');
    expect(await code(u.renameMailbox('Nope', 'X'))).toBe('NOTFOUND');
    expect(await code(u.renameMailbox('Jobs', 'Entwürfe'))).toBe('EXISTS');

    await u.setSubscribed('Jobs', false);
    expect((await u.listMailboxes()).find((m) => m.name === 'Jobs')!.subscribed).toBe(false);

    await u.deleteMailbox('Jobs.Projects');
    expect(fs.existsSync(path.join(a.maildir, '.Jobs.Projects'))).toBe(false);
    expect(await code(u.deleteMailbox('INBOX'))).toBe('NOPERM');
    expect(await code(u.deleteMailbox('Jobs.Projects'))).toBe('NOTFOUND');
    // Recreated mailbox gets a greater UIDVALIDITY (RFC 3501 §2.3.1.1).
    await u.createMailbox('Jobs.Projects');
    expect((await u.status('Jobs.Projects')).uidvalidity).toBeGreaterThan(st0.uidvalidity);

    await u.ensureSpecialMailboxes();
    list = await u.listMailboxes();
    expect(list.find((m) => m.name === 'Trash')!.specialUse).toBe('\\Trash');
    expect(list.find((m) => m.name === 'Sent')!.specialUse).toBe('\\Sent');

    const kinds = (await store.readJournal(0n, 1000)).filter((r) => r.accountId === a.id).map((r) => r.kind);
    expect(kinds).toContain('mailbox-rename');
    expect(kinds).toContain('mailbox-delete');
    expect(kinds).toContain('subscribe');
    const ren = (await store.readJournal(0n, 1000)).find((r) => r.kind === 'mailbox-rename')!;
    expect(ren.data).toMatchObject({ from: 'Work', to: 'Jobs', pairs: [['Work', 'Jobs'], ['Work.Projects', 'Jobs.Projects']] });
    await store.close();
  });

  it('subscriptions outlive DELETE (RFC 3501 §6.3.6), through a reindex, and apply to a re-created mailbox', async () => {
    const store = await open(root);
    const a = account(root, 'subs');
    const u = store.user(a);
    await u.createMailbox('Kept');
    await u.createMailbox('Plain', { subscribed: false });
    expect(await u.subscriptions()).toEqual(['INBOX', 'Kept']);
    expect(await code(u.setSubscribed('Never', true))).toBe('NOTFOUND');
    await u.deleteMailbox('Kept');
    expect((await u.listMailboxes()).map((m) => m.name)).not.toContain('Kept');
    expect(await u.subscriptions()).toEqual(['INBOX', 'Kept']);
    await store.reindex(a);
    expect(await u.subscriptions()).toEqual(['INBOX', 'Kept']);
    await u.createMailbox('Kept', { subscribed: false });
    expect((await u.listMailboxes()).find((m) => m.name === 'Kept')!.subscribed).toBe(true);
    await u.deleteMailbox('Kept');
    await u.setSubscribed('Kept', false);
    expect(await u.subscriptions()).toEqual(['INBOX']);
    expect(await code(u.setSubscribed('Kept', false))).toBe('NOTFOUND');
    await store.close();
  });

  it('a handle open across a RENAME of its mailbox still reads its messages (the directory it remembered is looked up again)', async () => {
    const store = await open(root);
    const a = account(root, 'rena');
    const u = store.user(a);
    await u.createMailbox('Work');
    const box = await u.openMailbox('Work');
    const draft = await store.createDraft();
    await draft.write(message('kept'));
    await draft.finish();
    const { uid } = await u.append('Work', draft);
    // The first read resolves the directory (.Work); the rename moves it to .Jobs.
    expect((await box.readMessage(uid)).toString()).toContain('Subject: kept');
    await u.renameMailbox('Work', 'Jobs');
    expect(fs.existsSync(path.join(a.maildir, '.Work'))).toBe(false);
    expect((await box.readMessage(uid)).toString()).toContain('Subject: kept');
    const file = await box.openMessageFile(uid);
    expect((await file.read(0, 4)).toString()).toBe('From');
    await file.close();
    // Deleted: the remembered directory is gone and the index says so.
    box.close();
    const again = await u.openMailbox('Jobs');
    expect((await again.readMessage(uid)).toString()).toContain('Subject: kept');
    await u.deleteMailbox('Jobs');
    expect(await code(again.readMessage(uid))).toBe('NOTFOUND');
    again.close();
    await store.close();
  });

  it('renaming INBOX moves its messages and leaves INBOX empty', async () => {
    const store = await open(root);
    const a = account(root, 'eve');
    await deliver(store, [a], message('one'));
    await deliver(store, [a], message('two'));
    const u = store.user(a);
    const inbox = await u.openMailbox('INBOX');
    const events: MailboxEvent[] = [];
    inbox.onChange((e) => events.push(e));
    const before = await u.status('INBOX');
    await u.renameMailbox('INBOX', 'Old');
    expect(events[0]).toMatchObject({ type: 'expunge', uids: [1, 2] });
    expect(inbox.snapshot().messages).toHaveLength(0);
    const after = await u.status('INBOX');
    expect(after.uidnext).toBe(before.uidnext);
    const old = await u.openMailbox('Old');
    expect(old.snapshot().messages.map((m) => m.uid)).toEqual([1, 2]);
    expect((await old.readMessage(2)).toString()).toContain('Subject: two');
    expect(files(a.maildir, 'new')).toHaveLength(0);
    expect(files(path.join(a.maildir, '.Old'), 'new')).toHaveLength(2);
    const saved = await deliver(store, [a], message('three'));
    expect(saved[0]!.uid).toBe(3);
    inbox.close();
    old.close();
    await store.close();
  });

  it('appends with flags and date, copies and moves with COPYUID pairs', async () => {
    const store = await open(root);
    const a = account(root, 'fred');
    const u = store.user(a);
    await u.createMailbox('Archive');
    const d = await store.createDraft();
    await d.write(message('appended'));
    await d.finish();
    const date = new Date('2020-02-03T04:05:06Z');
    const pre = await u.openMailbox('INBOX');
    const seen: MailboxEvent[] = [];
    pre.onChange((e) => seen.push(e));
    const saved = await u.append('INBOX', d, { flags: ['\\Seen', '$Work'], internalDate: date, origin: 'S1' });
    expect(seen).toMatchObject([{ type: 'append', origin: 'S1' }]);
    pre.close();
    expect(saved.uid).toBe(1);
    const cur = files(a.maildir, 'cur');
    expect(cur).toHaveLength(1);
    // $Work is Dovecot keyword 0, letter a.
    expect(cur[0]).toMatch(/:2,Sa$/);
    expect(fs.readFileSync(path.join(a.maildir, 'dovecot-keywords'), 'utf8')).toBe('0 $Work\n');
    expect(fs.statSync(path.join(a.maildir, 'cur', cur[0]!)).mtimeMs).toBe(date.getTime());
    await deliver(store, [a], message('second'));
    const inbox = await u.openMailbox('INBOX');
    const m = inbox.snapshot().messages[0]!;
    expect(m.flags).toEqual(['$Work', '\\Seen']);
    expect(m.internalDate).toBe(date.getTime());

    const copy = await inbox.copyTo([2, 1, 99], 'Archive');
    const arch = await u.status('Archive');
    expect(copy.uidvalidity).toBe(arch.uidvalidity);
    expect(copy.pairs).toEqual([
      [1, 1],
      [2, 2],
    ]);
    const abox = await u.openMailbox('Archive');
    expect(abox.snapshot().messages[0]!.flags).toEqual(['$Work', '\\Seen']);
    expect((await abox.readMessage(1)).toString()).toContain('appended');
    expect((await abox.structure(1)).type).toBe('text');

    const moved = await inbox.copyTo([2], 'Archive', { move: true });
    expect(moved.pairs).toEqual([[2, 3]]);
    expect(inbox.snapshot().messages.map((x) => x.uid)).toEqual([1]);
    expect(abox.snapshot().messages.map((x) => x.uid)).toEqual([1, 2, 3]);
    await store.settle();
    expect(files(a.maildir, 'new').length + files(a.maildir, 'cur').length).toBe(1);
    expect(await code(inbox.copyTo([1], 'Nope'))).toBe('NOTFOUND');

    const ro = await u.openMailbox('INBOX', { readOnly: true });
    expect(await code(ro.storeFlags([1], 'add', ['\\Deleted']))).toBe('READONLY');
    expect(await code(ro.expunge())).toBe('READONLY');
    expect(await code(ro.copyTo([1], 'Archive', { move: true }))).toBe('READONLY');
    // COPY out of a mailbox opened read-only writes only the destination (RFC 3501 §6.3.2 EXAMINE).
    expect((await ro.copyTo([1], 'Archive')).pairs).toEqual([[1, 4]]);
    expect(await code(ro.readMessage(42))).toBe('NOTFOUND');
    ro.close();

    const release = u.lockMaildrop('pop-1');
    expect(() => store.user(a).lockMaildrop('pop-2')).toThrow(/locked/);
    release();
    store.user(a).lockMaildrop('pop-2')();
    inbox.close();
    abox.close();
    await store.close();
  });
});
