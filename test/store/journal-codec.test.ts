/**
 * The journal's record encoding (src/store/journal/codec.ts): the version 1
 * fixture (records of every kind as this release writes them, made by
 * scripts/journal-fixture.mjs) decodes and, applied on a fresh replica
 * store, gives the primary's end state; and a record this release cannot
 * read is a RecordDecodeError naming its LSN, kind and field, from the wire
 * and from SQLite alike.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { fromWire, isRecordDecodeError, RECORD_VERSION, toWire, type WireRecord } from '../../src/store/journal/codec.js';
import { RECORD_KINDS, type RecordDraft } from '../../src/store/journal/records.js';
import { account, open, tempDir } from './helpers.js';

const root = tempDir('roost-journal-codec-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

interface Fixture {
  version: number;
  account: string;
  kinds: string[];
  records: { record: WireRecord; body: string | null }[];
  expected: {
    mailboxes: { name: string; specialUse: string | null; uidvalidity: number; uidnext: number; highestModseq: string; messages: { uid: number; flags: string[]; size: number; internalDate: number }[] }[];
    subscriptions: string[];
    dovecotKeywords: string;
    pop3Uidls: string;
  };
}

const fixture = JSON.parse(fs.readFileSync(new URL('../fixtures/journal-v1.json', import.meta.url), 'utf8')) as Fixture;

/** What decoding `raw` throws (the test fails if it does not). */
function decodeError(raw: unknown): Error {
  try {
    fromWire(raw);
  } catch (err) {
    return err as Error;
  }
  throw new Error(`decoded: ${JSON.stringify(raw)}`);
}

describe('journal record encoding, version 1', () => {
  it('the fixture holds every kind this release writes, and encodes back to itself', () => {
    expect(fixture.version).toBe(1);
    expect(RECORD_VERSION).toBeGreaterThanOrEqual(fixture.version);
    expect(fixture.kinds).toEqual(RECORD_KINDS.filter((k) => k !== 'quota').sort());
    for (const { record } of fixture.records) expect(toWire(fromWire(record))).toEqual({ ...record, v: RECORD_VERSION });
    // A record of a release before encoding versions has no `v`: version 1.
    const { v: _v, ...unversioned } = fixture.records[0]!.record;
    expect(fromWire(unversioned).kind).toBe(fixture.records[0]!.record.kind);
  });

  it('decoded and applied on a fresh replica store, it gives the primary its end state', async () => {
    const dir = path.join(root, 'replica');
    fs.mkdirSync(dir, { recursive: true });
    const store = await open(dir);
    try {
      store.replication.setWritable(false);
      const a = account(dir, 'fixture');
      expect(a.id).toBe(fixture.account);
      store.user(a);
      for (const { record, body } of fixture.records) await store.replication.apply(fromWire(record), body === null ? null : Buffer.from(body, 'base64'));
      await store.settle();
      const last = fixture.records[fixture.records.length - 1]!.record;
      expect(store.replication.appliedLsn()).toBe(BigInt(last.lsn));

      const us = store.user(a);
      const mailboxes = [];
      for (const mb of await us.listMailboxes()) {
        if (!mb.selectable) continue;
        const h = await us.openMailbox(mb.name, { readOnly: true });
        const s = h.snapshot();
        mailboxes.push({
          name: mb.name,
          specialUse: mb.specialUse,
          uidvalidity: s.uidvalidity,
          uidnext: s.uidnext,
          highestModseq: s.highestModseq.toString(),
          messages: s.messages.map((m) => ({ uid: m.uid, flags: [...m.flags], size: m.size, internalDate: m.internalDate })),
        });
        h.close();
      }
      expect(mailboxes).toEqual(fixture.expected.mailboxes);
      expect(await us.subscriptions()).toEqual(fixture.expected.subscriptions);
      // The message bytes too, and the side files a replica writes from its index.
      const inbox = await us.openMailbox('INBOX', { readOnly: true });
      expect((await inbox.readMessage(inbox.snapshot().messages[0]!.uid)).toString()).toContain('Subject: after rename');
      inbox.close();
      expect(fs.readFileSync(path.join(a.maildir, '.Projects', 'dovecot-keywords'), 'utf8')).toBe(fixture.expected.dovecotKeywords);
      expect(fs.readFileSync(path.join(a.maildir, 'roost-pop3-uidls'), 'utf8')).toBe(fixture.expected.pop3Uidls);
      // Directory and vacation records: journaled with their typed data, for the directory and the vacation memory to follow.
      const accountRecs = await store.readAccountRecords(0n, 100);
      expect(accountRecs.map((r) => r.data.changes?.map((c) => c.op) ?? 'vacation')).toEqual([['user-put', 'alias-put'], 'vacation']);
      expect(accountRecs[1]!.data.vacation).toEqual({ sender: 'someone@example.net', hash: '0123456789abcdef0123456789abcdef', at: 1700000000000 });
      expect((await store.readJournal(0n, 1000)).map((r) => r.kind)).toEqual(fixture.records.map((e) => e.record.kind));
    } finally {
      await store.close();
    }
  });
});

describe('a record this release cannot read', () => {
  const deliver = fixture.records.find((e) => e.record.kind === 'deliver' && e.body !== null)!.record;
  const flags = fixture.records.find((e) => e.record.kind === 'flags')!.record;
  const directory = fixture.records.find((e) => e.record.kind === 'account')!.record;
  const data = (r: WireRecord): Record<string, unknown> => r.data as Record<string, unknown>;

  it('is a RecordDecodeError naming its LSN, kind and what is wrong', () => {
    const cases: [unknown, RegExp][] = [
      [{ ...deliver, kind: 'from-the-future' }, new RegExp(`^journal record ${deliver.lsn} \\(from-the-future\\): unknown record kind$`)],
      [{ ...deliver, data: { ...data(deliver), uid: '3' } }, /\(deliver\): data\.uid must be a non-negative integer$/],
      // A misspelt field name is a missing field.
      [{ ...deliver, data: { ...data(deliver), fileName: data(deliver).filename, filename: undefined } }, /data\.filename must be a string$/],
      [{ ...deliver, data: { ...data(deliver), modseq: 12 } }, /data\.modseq must be a decimal mod-sequence string$/],
      [{ ...flags, data: { ...data(flags), updates: [{ flags: ['\\Seen'], ranges: [[1]] }] } }, /\(flags\): data\.updates\[0\]\.ranges\[0\] must be a list of 2$/],
      [{ ...directory, data: { changes: [{ op: 'user-rename', address: 'x' }] } }, /\(account\): data\.changes\[0\]\.op "user-rename" is not a directory change$/],
      [{ ...directory, data: { changes: [{ op: 'user-put', user: { address: 'x' } }] } }, /data\.changes\[0\]\.user\.password must be a string$/],
      [{ ...deliver, data: null }, /\(deliver\): data must be an object$/],
      [{ ...deliver, v: RECORD_VERSION + 1 }, /encoded by a newer release \(version 2; this release reads up to 1\): upgrade this node$/],
      [{ ...deliver, v: 0 }, /encoding version 0 is not valid$/],
      [{ ...deliver, lsn: 7 }, /^journal record \? \(deliver\): lsn must be a decimal string$/],
      [{ ...deliver, epoch: -1 }, /record\.epoch must be a non-negative integer$/],
    ];
    for (const [raw, message] of cases) {
      const err = decodeError(raw);
      expect(isRecordDecodeError(err), String(err)).toBe(true);
      expect(err.message).toMatch(message);
    }
  });

  it('read from the SQLite journal, is the same error (the shipper stops at it instead of sending it)', async () => {
    const dir = path.join(root, 'sqlite');
    fs.mkdirSync(dir, { recursive: true });
    const store = await open(dir);
    try {
      const a = account(dir, 'someone');
      const good: RecordDraft = { accountId: a.id, kind: 'subscribe', data: { maildir: a.maildir, mailbox: 'INBOX', subscribed: true } };
      // What no draft of this release can be (the types refuse it): written past them, as a corrupt or foreign row.
      const bad = { accountId: a.id, kind: 'from-the-future', data: { maildir: a.maildir } } as unknown as RecordDraft;
      store.journal.append([good, bad], 1);
      const err = await store.readJournal(0n, 10).then(
        () => null,
        (e: unknown) => e as Error,
      );
      expect(isRecordDecodeError(err)).toBe(true);
      expect(err!.message).toBe('journal record 2 (from-the-future): unknown record kind');
      expect((await store.readJournal(0n, 1)).map((r) => r.kind)).toEqual(['subscribe']);
      // A row written by a newer release (a journal taken back to an older binary).
      store.journal.db.prepare('UPDATE records SET kind = ?, v = ? WHERE lsn = 2').run('subscribe', RECORD_VERSION + 1);
      await expect(store.readJournal(1n, 10)).rejects.toThrow(/journal record 2 \(subscribe\): encoded by a newer release/);
      store.journal.db.prepare('UPDATE records SET v = NULL, data = ? WHERE lsn = 2').run(JSON.stringify({ maildir: a.maildir, mailbox: 'INBOX', subscribed: true }));
      expect((await store.readJournal(1n, 10)).map((r) => r.kind)).toEqual(['subscribe']);
    } finally {
      await store.close();
    }
  });
});
