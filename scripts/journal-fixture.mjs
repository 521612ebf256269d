#!/usr/bin/env node
// Writes test/fixtures/journal-v<N>.json: a journal with records of every
// kind this release writes, in its wire encoding (src/store/journal/codec.ts),
// with the bodies of the deliveries that survive and the end state the
// primary reached. test/store/journal-codec.test.ts decodes and applies it
// on a fresh store and compares, so a later release that changes the
// encoding still reads this one. Run once per encoding version, after
// `npm run build`:  node scripts/journal-fixture.mjs
// ('quota' is a reserved kind that no release writes; it has no record here.)
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { openStore } from '../dist/store/open.js';
import { RECORD_VERSION, toWire } from '../dist/store/journal/codec.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-fixture-'));
const maildir = path.join(root, 'mail', 'fixture', 'Maildir');
/** Stands for the generating machine's path in the records (a replica uses its own account's Maildir). */
const MAILDIR = '/var/mail/fixture/Maildir';
const account = {
  id: 'fixture@example.org',
  address: 'fixture@example.org',
  login: 'fixture@example.org',
  maildir,
  quotaBytes: 0,
  quotaMessages: 0,
  maxMessageSize: 0,
  status: 'active',
};
const message = (subject) => Buffer.from(`From: a@example.org\r\nTo: fixture@example.org\r\nSubject: ${subject}\r\nMessage-ID: <${subject}@fixture>\r\n\r\nBody of ${subject}\r\n`);

// A Maildir another server left: a message with a keyword letter, its dovecot-keywords
// and recorded POP3 UIDLs ('mailbox-create', 'keywords', 'deliver' external, 'pop3-uidls' at first open).
for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
fs.writeFileSync(path.join(maildir, 'cur', '1700000001.M1P1.old:2,Sa'), message('imported'));
fs.utimesSync(path.join(maildir, 'cur', '1700000001.M1P1.old:2,Sa'), 1700000001, 1700000001);
fs.writeFileSync(path.join(maildir, 'dovecot-keywords'), '0 $Forwarded\n');
fs.writeFileSync(path.join(maildir, 'roost-pop3-uidls'), 'V1\n1 old-uidl-1\n');

const store = await openStore({ dataDir: path.join(root, 'data'), mailDir: path.join(root, 'mail'), hostname: 'fixture.host', watch: false });
const us = store.user(account);
// The first open indexes the old message from its name alone; reading its facts at once (as a FETCH
// would, before the background pass journals its row) commits a 'facts' record.
const first = await us.openMailbox('INBOX');
await first.ensureFacts();
first.close();
/** Bytes of each delivery by LSN: the primary ships them as they arrive, before any later change moves the file. */
const bodies = new Map();
async function deliver(subject) {
  const d = await store.createDraft();
  await d.write(message(subject));
  await d.finish();
  const [saved] = await store.deliver([account], d, { sender: 'a@example.org' });
  bodies.set(saved.lsn, message(subject));
}

await deliver('one');
await deliver('two');
await deliver('three');
await us.createMailbox('Work');
await us.createMailbox('Work.Sub', { specialUse: '\\Archive' });
await us.setSubscribed('Work.Sub', false);
const inbox = await us.openMailbox('INBOX', { recent: true, origin: 'fixture-session' });
const uids = inbox.snapshot().messages.map((m) => m.uid);
await inbox.storeFlags([uids[1]], 'add', ['\\Seen', '$Label1']);
await inbox.copyTo([uids[1]], 'Work');
await inbox.copyTo([uids[2]], 'Work', { move: true });
await inbox.storeFlags([uids[0]], 'add', ['\\Deleted']);
await inbox.expunge();
inbox.close();
await us.renameMailbox('Work', 'Projects');
await us.createMailbox('Trash');
await us.deleteMailbox('Trash');
await store.journalAccountChange(account.id, {
  changes: [
    {
      op: 'user-put',
      user: { address: account.id, password: '{BLF-CRYPT}$2b$04$fixturefixturefixturefu', maildir: 'fixture/Maildir', quota_bytes: 0, quota_messages: 0, max_message_size: 0, status: 'active', created: 1700000000000, uidl_format: '', forwards: '', reply_text: '' },
    },
    { op: 'alias-put', alias: 'alias@example.org', address: account.id },
  ],
});
await store.journalAccountChange(account.id, { vacation: { sender: 'someone@example.net', hash: '0123456789abcdef0123456789abcdef', at: 1700000000000 } });
await us.renameMailbox('INBOX', 'Old INBOX');
await deliver('after rename');
await store.settle();

const records = await store.readJournal(0n, 100_000);
const out = [];
for (const r of records) {
  let body = null;
  // Copies are read from their files; a file gone since (the imported message, expunged) goes out empty, as the primary sends it.
  if (r.kind === 'deliver') body = (bodies.get(r.lsn) ?? (await store.replication.readDelivered(r).catch(() => null)))?.toString('base64') ?? null;
  const w = toWire(r);
  const data = w.data.maildir === maildir ? { ...w.data, maildir: MAILDIR } : w.data;
  out.push({ record: { ...w, data }, body });
}
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
    messages: s.messages.map((m) => ({ uid: m.uid, flags: m.flags, size: m.size, internalDate: m.internalDate })),
  });
  h.close();
}
const expected = {
  mailboxes,
  subscriptions: await us.subscriptions(),
  dovecotKeywords: fs.readFileSync(path.join(maildir, '.Projects', 'dovecot-keywords'), 'utf8'),
  pop3Uidls: fs.readFileSync(path.join(maildir, 'roost-pop3-uidls'), 'utf8'),
};
await store.close();
fs.rmSync(root, { recursive: true, force: true });

const file = new URL(`../test/fixtures/journal-v${RECORD_VERSION}.json`, import.meta.url);
fs.mkdirSync(new URL('.', file), { recursive: true });
const kinds = [...new Set(out.map((o) => o.record.kind))].sort();
fs.writeFileSync(file, JSON.stringify({ version: RECORD_VERSION, account: account.id, kinds, records: out, expected }, null, 1) + '\n');
console.log(`wrote ${file.pathname}: ${out.length} records; kinds ${kinds.join(', ')}`);
