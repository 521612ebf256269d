import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { isRoostError } from '../../src/errors.js';
import { parseUidList } from '../../src/store/maildir/uidlist-import.js';
import { account, deliver, files, message, open, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('Maildir++ quota', () => {
  it('keeps maildirsize and refuses deliveries over the limit without leaving a copy', async () => {
    const store = await open(root);
    const msg = message('q', 'x'.repeat(200));
    const a = account(root, 'quota', { quotaBytes: msg.length * 3 + 10, quotaMessages: 5 });
    for (let i = 0; i < 3; i++) await deliver(store, [a], msg);
    const text = fs.readFileSync(path.join(a.maildir, 'maildirsize'), 'utf8');
    expect(text.split('\n')[0]).toBe(`${a.quotaBytes}S,5C`);
    const q = await store.user(a).quota();
    expect(q).toEqual({ bytes: msg.length * 3, messages: 3, limitBytes: a.quotaBytes, limitMessages: 5 });

    const d = await store.createDraft();
    await d.write(msg);
    await d.finish();
    // The store reports OVERQUOTA; bounce or defer is the delivery's policy (src/delivery/verdict.ts).
    let err: unknown;
    try {
      await store.deliver([a], d, { sender: '' });
    } catch (e) {
      err = e;
    }
    expect(isRoostError(err, 'OVERQUOTA')).toBe(true);
    expect(files(a.maildir, 'new')).toHaveLength(3);
    expect(files(a.maildir, 'tmp').filter((n) => !n.startsWith('maildirsize'))).toEqual([]);

    const box = await store.user(a).openMailbox('INBOX');
    await box.expunge({ uids: [1], force: true });
    await store.settle();
    expect(fs.readFileSync(path.join(a.maildir, 'maildirsize'), 'utf8')).toContain(`-${msg.length} -1`);
    await deliver(store, [a], msg);
    expect((await store.user(a).quota()).messages).toBe(3);
    // A wrong maildirsize (limits changed) is recounted from the Maildir.
    const b = { ...a, quotaBytes: a.quotaBytes + 1 };
    expect((await store.user(b).quota()).bytes).toBe(msg.length * 3);
    expect(fs.readFileSync(path.join(a.maildir, 'maildirsize'), 'utf8').split('\n')[0]).toBe(`${b.quotaBytes}S,5C`);
    box.close();
    await store.close();
  });
});

describe('reindex and UID lists', () => {
  it('parses dovecot-uidlist v3 and v1 and courierimapuiddb', () => {
    const v3 = parseUidList('3 V1276528487 N25018 Gd6b5d3cbd8ff4c4c0a9d00000c0e1d5b\n25006 :1276528487.M364837P9451.kurkku,S=1355,W=1394:2,\n25017 W2481 :1276533073.M242911P3632.kurkku:2,F\n', 'dovecot-uidlist')!;
    expect(v3.uidvalidity).toBe(1276528487);
    expect(v3.uidnext).toBe(25018);
    expect(v3.uids.get('1276528487.M364837P9451.kurkku,S=1355,W=1394')).toBe(25006);
    expect(v3.uids.get('1276533073.M242911P3632.kurkku')).toBe(25017);
    const v1 = parseUidList('1 1100000000 12\n10 1100000001.123.host\n11 1100000002.124.host:2,S\n', 'courierimapuiddb')!;
    expect(v1).toMatchObject({ uidvalidity: 1100000000, uidnext: 12 });
    expect(v1.uids.get('1100000002.124.host')).toBe(11);
    expect(parseUidList('garbage', 'dovecot-uidlist')).toBeNull();
  });

  it('keeps UIDs, UIDVALIDITY and UIDNEXT from dovecot-uidlist and courierimapuiddb', async () => {
    const store = await open(root);
    const a = account(root, 'migrated');
    for (const d of ['', '.Old']) for (const s of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(a.maildir, d, s), { recursive: true });
    fs.writeFileSync(path.join(a.maildir, '.Old', 'maildirfolder'), '');
    const m = (s: string) => message(s);
    fs.writeFileSync(path.join(a.maildir, 'cur', '1600000000.M1P1.old,S=58:2,S'), m('a'));
    fs.writeFileSync(path.join(a.maildir, 'cur', '1600000001.M1P1.old:2,RS'), m('b'));
    fs.writeFileSync(path.join(a.maildir, 'new', '1600000002.M1P1.old'), m('c'));
    fs.writeFileSync(
      path.join(a.maildir, 'dovecot-uidlist'),
      '3 V1500000000 N300 G0123\n100 :1600000000.M1P1.old,S=58:2,S\n205 W99 :1600000001.M1P1.old:2,RS\n',
    );
    fs.writeFileSync(path.join(a.maildir, '.Old', 'cur', '1400000000.1.x:2,'), m('old'));
    fs.writeFileSync(path.join(a.maildir, '.Old', 'courierimapuiddb'), '1 1300000000 9\n7 1400000000.1.x\n');

    const r = await store.reindex(a);
    expect(r).toEqual({ mailboxes: 2, messages: 4 });
    const u = store.user(a);
    const inbox = await u.openMailbox('INBOX');
    let snap = inbox.snapshot();
    expect(snap.uidvalidity).toBe(1500000000);
    expect(snap.messages.map((x) => [x.uid, x.basename, x.flags])).toEqual([
      [100, '1600000000.M1P1.old,S=58', ['\\Seen']],
      [205, '1600000001.M1P1.old', ['\\Answered', '\\Seen']],
      [300, '1600000002.M1P1.old', []],
    ]);
    expect(snap.uidnext).toBe(301);
    // RFC822.SIZE of a name without W= is read from the file after the rebuild (store/facts.ts).
    await inbox.ensureFacts();
    expect(snap.messages[1]!.vsize).toBe(m('b').length + m('b').toString().split('\n').length - 1);
    const old = await u.status('Old');
    expect(old).toMatchObject({ uidvalidity: 1300000000, uidnext: 9, messages: 1 });

    // Keywords live only in the index; a reindex keeps them and the UIDs.
    await inbox.storeFlags([300], 'add', ['$Label1']);
    inbox.close();
    const again = await store.reindex(a);
    expect(again.messages).toBe(4);
    const i2 = await u.openMailbox('INBOX');
    snap = i2.snapshot();
    expect(snap.messages.map((x) => x.uid)).toEqual([100, 205, 300]);
    expect(snap.messages[2]!.flags).toEqual(['$Label1']);
    expect(snap.uidvalidity).toBe(1500000000);
    i2.close();
    await store.close();
  });
});
