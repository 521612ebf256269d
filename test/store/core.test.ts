import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { MailboxEvent } from '../../src/store/store.js';
import { account, spoolWithData, deliver, files, message, open, tempDir } from './helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('store core', () => {
  it('delivers to several recipients with one inode, indexes and journals', async () => {
    const store = await open(root);
    const alice = account(root, 'alice');
    const bob = account(root, 'bob');
    const msg = message('hi\r\nthere');
    const saved = await deliver(store, [alice, bob, alice], msg);
    expect(saved).toHaveLength(3);
    expect(saved[2]).toBe(saved[0]);
    expect(saved[0]!.uid).toBe(1);
    const fa = files(alice.maildir, 'new');
    const fb = files(bob.maildir, 'new');
    expect(fa).toHaveLength(1);
    expect(fb).toHaveLength(1);
    expect(fa[0]).toMatch(/^\d+\.M\d+P\d+Q\d+\.test\.host,S=\d+,W=\d+$/);
    const sa = fs.statSync(path.join(alice.maildir, 'new', fa[0]!));
    const sb = fs.statSync(path.join(bob.maildir, 'new', fb[0]!));
    expect(sa.ino).toBe(sb.ino);
    expect(fs.readFileSync(path.join(alice.maildir, 'new', fa[0]!))).toEqual(msg);
    expect(files(alice.maildir, 'tmp')).toEqual([]);
    await store.settle();
    expect(spoolWithData(store.spoolDir)).toEqual([]);
    const box = await store.user(alice).openMailbox('inbox');
    const snap = box.snapshot();
    expect(snap.messages.map((m) => m.uid)).toEqual([1]);
    expect(snap.messages[0]!.size).toBe(msg.length);
    const bare = msg.toString().split('\n').length - 1 - (msg.toString().match(/\r\n/g)?.length ?? 0);
    expect(snap.messages[0]!.vsize).toBe(msg.length + bare);
    expect(snap.messages[0]!.basename).toBe(fa[0]);
    expect((await box.readMessage(1)).equals(msg)).toBe(true);
    expect((await box.readMessage(1, { start: 6, end: 10 })).toString()).toBe(msg.subarray(6, 10).toString());
    const st = await box.structure(1);
    expect(st.type).toBe('text');
    const recs = await store.readJournal(0n, 100);
    const delivers = recs.filter((r) => r.kind === 'deliver');
    expect(delivers).toHaveLength(2);
    expect(delivers[0]!.data).toMatchObject({ mailbox: 'INBOX', uid: 1, basename: fa[0] });
    expect(store.lastLsn()).toBe(recs[recs.length - 1]!.lsn);
    box.close();
    await store.close();
  });

  it('changes flags, renames files, emits events, expunges', async () => {
    const store = await open(root);
    const carol = account(root, 'carol');
    for (let i = 0; i < 3; i++) await deliver(store, [carol], message(`m${i}`));
    const user = store.user(carol);
    const a = await user.openMailbox('INBOX', { origin: 'A' });
    const b = await user.openMailbox('INBOX', { origin: 'B' });
    const seen: MailboxEvent[] = [];
    b.onChange((e) => seen.push(e));
    const before = a.snapshot();
    const r = await a.storeFlags([1, 2], 'add', ['\\Seen', '\\flagged', '$Junk']);
    expect(r.updated.map((u) => u.uid)).toEqual([1, 2]);
    expect(r.updated[0]!.flags).toEqual(['$Junk', '\\Flagged', '\\Seen']);
    expect(r.updated[0]!.modseq).toBeGreaterThan(before.highestModseq);
    expect(before.messages[0]!.flags).toEqual([]);
    expect(seen[0]).toMatchObject({ type: 'flags', origin: 'A' });
    const snap = b.snapshot();
    expect(snap.messages[0]!.flags).toContain('\\Seen');
    expect(snap.highestModseq).toBe(r.updated[0]!.modseq);
    await store.settle();
    const cur = files(carol.maildir, 'cur');
    // $Junk is keyword letter a (dovecot-keywords "0 $Junk"), after the system flags as Dovecot writes it.
    expect(cur.filter((n) => n.endsWith(':2,FSa'))).toHaveLength(2);
    expect(fs.readFileSync(path.join(carol.maildir, 'dovecot-keywords'), 'utf8')).toBe('0 $Junk\n');
    expect(files(carol.maildir, 'new')).toHaveLength(1);
    // UNCHANGEDSINCE
    const r2 = await a.storeFlags([1, 3], 'add', ['\\Answered'], { unchangedSince: before.highestModseq });
    expect(r2.modified).toEqual([1]);
    expect(r2.updated.map((u) => u.uid)).toEqual([3]);
    // expunge only \Deleted
    await a.storeFlags([2], 'add', ['\\Deleted']);
    const gone = await a.expunge();
    expect(gone).toEqual([2]);
    expect(seen.some((e) => e.type === 'expunge' && e.uids.includes(2))).toBe(true);
    expect(b.snapshot().messages.map((m) => m.uid)).toEqual([1, 3]);
    await store.settle();
    expect(files(carol.maildir, 'cur').length + files(carol.maildir, 'new').length).toBe(2);
    const forced = await a.expunge({ uids: [3], force: true });
    expect(forced).toEqual([3]);
    const kinds = (await store.readJournal(0n, 1000)).filter((x) => x.accountId === carol.id).map((x) => x.kind);
    // $Junk's new letter is journaled before the flags record that uses it (store/side-files.ts).
    expect(kinds).toEqual(['mailbox-create', 'deliver', 'deliver', 'deliver', 'keywords', 'flags', 'flags', 'flags', 'expunge', 'expunge']);
    a.close();
    b.close();
    await store.close();
    // Reopen: state persists.
    const again = await open(root);
    const box = await again.user(carol).openMailbox('INBOX');
    expect(box.snapshot().messages.map((m) => [m.uid, m.flags])).toEqual([[1, ['$Junk', '\\Flagged', '\\Seen']]]);
    expect(box.snapshot().uidnext).toBe(4);
    box.close();
    await again.close();
  });
});
