/**
 * POP3 continuity: matching an old server's POP3 listing to
 * its IMAP INBOX, recording the UIDLs, and Roost's maildrop answering them
 * (only under the UIDVALIDITY they were recorded for). The live path against
 * a real Dovecot is in test/migrate/dovecot.test.ts.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { parsePop3Url, recordPop3Uidls } from '../../src/cli/commands/import-pop3.js';
import { UsageError } from '../../src/cli/command.js';
import { Maildrop } from '../../src/pop3/maildrop.js';
import { POP3_UIDLS_FILE, parseRecordedUidls, readRecordedUidls } from '../../src/store/maildir/pop3-uidls.js';
import type { MailboxSnapshot, MessageRecord } from '../../src/store/store.js';

let dir = '';
afterEach(() => {
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
  dir = '';
});
const temp = (): string => (dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-pop3uidl-')));

const inbox = { uidvalidity: 1700000000, messages: [{ uid: 1, size: 100 }, { uid: 4, size: 200 }, { uid: 9, size: 300 }] };
const listing = [
  { uidl: 'a1b2', size: 100 },
  { uidl: 'c3d4', size: 200 },
  { uidl: 'e5f6', size: 300 },
];

describe('pop3:// URLs', () => {
  it('takes user, host and port; pop3s defaults to 995', () => {
    expect(parsePop3Url('pop3://old%40example.org@mail.example.org:1110')).toEqual({ secure: false, user: 'old@example.org', host: 'mail.example.org', port: 1110 });
    expect(parsePop3Url('pop3s://u@h')).toMatchObject({ secure: true, port: 995 });
    expect(() => parsePop3Url('pop3://u:pw@h')).toThrow(UsageError);
    expect(() => parsePop3Url('imap://u@h')).toThrow(UsageError);
  });
});

describe('recording the old server UIDLs', () => {
  it('matches by position and records by UID', async () => {
    const d = temp();
    expect(await recordPop3Uidls(d, inbox, listing)).toBe(3);
    const r = await readRecordedUidls(d);
    expect(r?.uidvalidity).toBe(1700000000);
    expect([...r!.byUid]).toEqual([
      [1, 'a1b2'],
      [4, 'c3d4'],
      [9, 'e5f6'],
    ]);
  });

  it('records nothing when the counts, a size or uniqueness disagree', async () => {
    const d = temp();
    await expect(recordPop3Uidls(d, inbox, listing.slice(0, 2))).rejects.toThrow(/lists 2 messages and its IMAP INBOX 3/);
    await expect(recordPop3Uidls(d, inbox, [listing[0]!, { uidl: 'c3d4', size: 201 }, listing[2]!])).rejects.toThrow(/POP3 message 2 has 201 octets, IMAP UID 4 200/);
    await expect(recordPop3Uidls(d, inbox, [listing[0]!, { uidl: 'a1b2', size: 200 }, listing[2]!])).rejects.toThrow(/twice/);
    expect(fs.existsSync(path.join(d, POP3_UIDLS_FILE))).toBe(false);
  });

  it('a later run keeps records of messages gone from the source; a new UIDVALIDITY starts over', async () => {
    const d = temp();
    await recordPop3Uidls(d, inbox, listing);
    await recordPop3Uidls(d, { ...inbox, messages: inbox.messages.slice(1) }, listing.slice(1));
    expect((await readRecordedUidls(d))!.byUid.get(1)).toBe('a1b2');
    await recordPop3Uidls(d, { uidvalidity: 5, messages: [{ uid: 1, size: 100 }] }, [{ uidl: 'zz', size: 100 }]);
    expect([...(await readRecordedUidls(d))!.byUid]).toEqual([[1, 'zz']]);
  });

  it('skips lines that are not RFC 1939 unique-ids (1-70 printable characters)', () => {
    const r = parseRecordedUidls(`V7\n1 ok\n2 ${'x'.repeat(70)}\n3 ${'x'.repeat(71)}\n4 two words\n`);
    expect([...r!.byUid.keys()]).toEqual([1, 2]);
    expect(parseRecordedUidls('7\n1 ok\n')).toBeNull();
  });
});

describe("the maildrop answers recorded UIDLs", () => {
  const rec = (uid: number): MessageRecord => ({ uid, modseq: 1n, flags: [], internalDate: 0, size: 10, vsize: 10, basename: `b${uid}` });
  const snap = (uidvalidity: number): MailboxSnapshot => ({ uidvalidity, messages: [rec(1), rec(4), rec(10)] }) as unknown as MailboxSnapshot;
  const recorded = { uidvalidity: 1700000000, byUid: new Map([[1, 'a1b2'], [4, 'c3d4']]) };

  it('for the messages recorded; the account form for the rest', () => {
    const m = new Maildrop(snap(1700000000), (r) => r.basename, recorded);
    expect([...m.live()].map(([, r]) => m.uidl(r))).toEqual(['a1b2', 'c3d4', 'b10']);
  });

  it('not under another UIDVALIDITY (the UIDs name other messages then)', () => {
    const m = new Maildrop(snap(42), (r) => r.basename, recorded);
    expect([...m.live()].map(([, r]) => m.uidl(r))).toEqual(['b1', 'b4', 'b10']);
  });
});
