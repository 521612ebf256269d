/**
 * The Maildir's side files on a replica: a folder's
 * `dovecot-keywords`, INBOX's `roost-pop3-uidls` and the root's
 * `subscriptions` are not messages, yet after `roost promote` a POP3 client
 * must see the same UIDLs (RFC 1939 §7), an IMAP client the same keywords
 * (RFC 3501 §2.3.2) and LSUB the same list (§6.3.9), and the letters a–z in
 * the replica's file names must mean what its dovecot-keywords says.
 *
 * The index keeps what was last journaled (meta `keywords:<uidvalidity>` and
 * `pop3_uidls`, in the files' own text), so a change is journaled once and a
 * snapshot image carries it. On the primary the files are the source (the
 * CLI import writes them, Dovecot may change dovecot-keywords): when they
 * differ from the index, a 'keywords' or 'pop3-uidls' record goes out — a
 * 'keywords' record always before the first record whose file names use its
 * letters. On a replica the index is the source: applying a record writes
 * the file (tmp, fsync, rename), and the first open in a process writes any
 * file a crash left behind the index. A replica from before these kinds
 * journals them and applies nothing (applyFs and applyIndex skip kinds they
 * do not know; a replica of this release stops at a kind it does not know,
 * ./journal/codec.ts).
 */
import type Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { LIMITS } from '../limits.js';
import type { AccountView } from './account-view.js';
import type { IndexDb, MailboxRow } from './index/db.js';
import type { RecordDraft } from './journal/log.js';
import { formatDovecotKeywords, installKeywordTable, keywordTable, parseDovecotKeywords, readDovecotKeywords, reloadKeywordTable, type KeywordTable } from './maildir/keyword-letters.js';
import { INBOX, mailboxDir } from './maildir/names.js';
import { parseRecordedUidls, readRecordedUidlsTextSync, removeRecordedUidlsSync, sortedUidls, uidlsHead, uidlsLines, writeRecordedUidlsTextSync } from './maildir/pop3-uidls.js';
import { writeDovecotSubscriptions } from './maildir/subscriptions.js';
import type { RecordOf } from './journal/records.js';

export const POP3_META = 'pop3_uidls';
/** The pieces of a 'pop3-uidls' series received so far (moved to POP3_META by its last piece). */
const POP3_PARTIAL = 'pop3_uidls.partial';
export const keywordsMeta = (uidvalidity: number): string => `keywords:${uidvalidity}`;

/** A 'keywords' record for the folder when its table is not the one the index last journaled, else null. */
export function keywordsDraft(st: AccountView, mb: MailboxRow, table: KeywordTable = keywordTable(st.dir(mb.name))): RecordDraft | null {
  const text = formatDovecotKeywords(table);
  if (text === (st.db().meta(keywordsMeta(mb.uidvalidity)) ?? '')) return null;
  return {
    accountId: st.id,
    kind: 'keywords',
    data: { maildir: st.account.maildir, mailbox: mb.name, uidvalidity: mb.uidvalidity, table: table.map((k) => k ?? null) },
  };
}

/**
 * Journal the folder's table if it grew (a live flag change, APPEND or COPY
 * gave a keyword its letter): committed before the caller's own record, so
 * the replica has the letter before any name that carries it.
 */
export async function journalKeywords(st: AccountView, mailbox: string): Promise<void> {
  if (!st.core.isWritable()) return;
  const mb = st.db().mailbox(mailbox);
  const draft = mb ? keywordsDraft(st, mb) : null;
  if (!draft) return;
  await st.core.committer.submit({ build: () => [draft], finish: (recs) => st.applyIndex(recs) });
}

/**
 * 'pop3-uidls' records for INBOX's recorded UIDLs when the file differs from
 * what the index last journaled: the whole list again, in pieces of
 * LIMITS.replication.pop3UidlsPerRecord (the first replaces, the last
 * completes), so no frame outgrows its limit at any list size. A file
 * removed (or made unreadable, which POP3 answers the same way) after a
 * list was journaled is one record `removed`, so the replica's POP3 stops
 * answering the old UIDLs too.
 */
export function pop3UidlsDrafts(st: AccountView, text: string | null = readRecordedUidlsTextSync(st.account.maildir)): RecordDraft[] {
  const journaled = st.db().meta(POP3_META) ?? '';
  // The file as the import wrote it is the journaled text: no parse at each POP3 login.
  if (text !== null && text === journaled) return [];
  const parsed = text === null ? null : parseRecordedUidls(text);
  if (!parsed) return journaled === '' ? [] : [{ accountId: st.id, kind: 'pop3-uidls', data: { maildir: st.account.maildir, removed: true } }];
  // Sorted once: the same entries give the text compared and the records' pieces.
  const entries = sortedUidls(parsed);
  if (uidlsHead(parsed.uidvalidity) + uidlsLines(entries) === journaled) return [];
  const per = LIMITS.replication.pop3UidlsPerRecord;
  const drafts: RecordDraft[] = [];
  for (let at = 0; at === 0 || at < entries.length; at += per) {
    drafts.push({
      accountId: st.id,
      kind: 'pop3-uidls',
      data: { maildir: st.account.maildir, uidvalidity: parsed.uidvalidity, reset: at === 0, last: at + per >= entries.length, uidls: entries.slice(at, at + per) },
    });
  }
  return drafts;
}

/** The table a 'keywords' record carries (null entries are unused indexes). */
function tableOf(rec: RecordOf<'keywords'>): KeywordTable {
  return rec.data.table.map((k) => k ?? undefined);
}

/** File effect of a 'keywords' record on a replica (the primary wrote the file before journaling it). */
export function applyKeywordsFs(st: AccountView, rec: RecordOf<'keywords'>): void {
  if (st.core.isWritable()) return;
  const name = rec.data.mailbox;
  const row = st.db().mailbox(name);
  if (!row || row.uidvalidity !== rec.data.uidvalidity) return;
  installKeywordTable(st.dir(name), tableOf(rec));
}

/** Index effect of a 'keywords' record, inside applyIndex's transaction. */
export function applyKeywordsIndex(db: IndexDb, rec: RecordOf<'keywords'>): void {
  db.setMeta(keywordsMeta(rec.data.uidvalidity), formatDovecotKeywords(tableOf(rec)));
}

/**
 * Index effect of a 'pop3-uidls' record, inside applyIndex's transaction.
 * Returns true when its series is complete (then the replica writes the file).
 */
export function applyPop3UidlsIndex(db: IndexDb, rec: RecordOf<'pop3-uidls'>): boolean {
  const d = rec.data;
  if ('removed' in d) {
    db.setMeta(POP3_META, '');
    db.setMeta(POP3_PARTIAL, '');
    return true;
  }
  // Pieces arrive in order and gather under their own key; the first starts the text again, so a
  // repeat of the series is harmless. Only a complete series becomes POP3_META, so a series cut
  // short (a crash, a reconnect) never reaches the file a promoted replica answers UIDL from.
  let text = d.reset ? '' : (db.meta(POP3_PARTIAL) ?? '');
  if (text === '') text = uidlsHead(d.uidvalidity);
  // The pieces come in UID order (pop3UidlsDrafts): their lines make the file's text.
  text += uidlsLines(d.uidls);
  if (!d.last) {
    db.setMeta(POP3_PARTIAL, text);
    return false;
  }
  db.setMeta(POP3_META, text);
  db.setMeta(POP3_PARTIAL, '');
  return true;
}

/** Replica: write `roost-pop3-uidls` from the index (remove it when the primary removed its own). */
export function writePop3FromIndex(st: AccountView): void {
  const text = st.db().meta(POP3_META);
  if (text === null) return;
  try {
    if (text === '') removeRecordedUidlsSync(st.account.maildir);
    else if (readRecordedUidlsTextSync(st.account.maildir) !== text) writeRecordedUidlsTextSync(st.account.maildir, text);
  } catch (err) {
    st.core.warn('store: cannot write the recorded POP3 UIDLs', err);
  }
}

/** Primary, first open in a process: journal what changed on disk meanwhile (an import, Dovecot writing dovecot-keywords). */
export function sideFileDrafts(st: AccountView): RecordDraft[] {
  const drafts: RecordDraft[] = [];
  for (const mb of st.db().mailboxes()) {
    const dir = st.dir(mb.name);
    if (!fs.existsSync(path.join(dir, 'dovecot-keywords')) && st.db().meta(keywordsMeta(mb.uidvalidity)) === null) continue;
    // Read again (and cached): another program may have written it while no process had the account open.
    const d = keywordsDraft(st, mb, reloadKeywordTable(dir));
    if (d) drafts.push(d);
  }
  return [...drafts, ...pop3UidlsDrafts(st)];
}

/** Replica, first open in a process: write the side files the index has and the disk lacks (a crash between the two). */
export function restoreSideFiles(st: AccountView): void {
  for (const mb of st.db().mailboxes()) {
    const text = st.db().meta(keywordsMeta(mb.uidvalidity));
    const dir = st.dir(mb.name);
    if (text === null || !fs.existsSync(dir) || formatDovecotKeywords(readDovecotKeywords(dir)) === text) continue;
    try {
      installKeywordTable(dir, parseDovecotKeywords(text));
    } catch (err) {
      st.core.warn('store: cannot write dovecot-keywords', err);
    }
  }
  writePop3FromIndex(st);
}

/**
 * Replica seeded by a snapshot: the side files from the installed image
 * (its meta and subscription rows), so the account's Maildir is what
 * following the stream would have made it.
 */
export function installSideFiles(db: Database.Database, maildir: string): void {
  // Prepared once, not once per mailbox.
  const metaValue = db.prepare('SELECT value FROM meta WHERE key = ?').pluck();
  const meta = (key: string): string | null => (metaValue.get(key) as string | undefined) ?? null;
  const rows = db.prepare('SELECT name, uidvalidity, subscribed FROM mailboxes ORDER BY name').all() as { name: string; uidvalidity: number; subscribed: number }[];
  for (const r of rows) {
    const text = meta(keywordsMeta(r.uidvalidity));
    if (text !== null && text !== '') installKeywordTable(mailboxDir(maildir, r.name), parseDovecotKeywords(text));
  }
  const uidls = meta(POP3_META);
  if (uidls) writeRecordedUidlsTextSync(mailboxDir(maildir, INBOX), uidls);
  const hasOrphans = db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'subscriptions'").get() !== undefined;
  const orphans = hasOrphans ? (db.prepare('SELECT name FROM subscriptions').pluck().all() as string[]) : [];
  writeDovecotSubscriptions(maildir, [...rows.filter((r) => r.subscribed === 1).map((r) => r.name), ...orphans].sort());
}
