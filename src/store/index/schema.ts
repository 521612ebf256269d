/**
 * SQLite schemas of the store: the global change journal and the per-account
 * index. Versioned through `PRAGMA user_version`.
 */

export const JOURNAL_VERSION = 1;

/**
 * data_dir/journal.sqlite — one for the node, shared by every process that
 * opens the store (server, CLI). The commit of a `records` row is the commit
 * point of every change; `accounts` remembers where each account's Maildir
 * is so replication and recovery can act without the directory.
 */
export const JOURNAL_SCHEMA = `
CREATE TABLE IF NOT EXISTS records (
  lsn INTEGER PRIMARY KEY AUTOINCREMENT,
  epoch INTEGER NOT NULL,
  time INTEGER NOT NULL,
  account TEXT NOT NULL,
  kind TEXT NOT NULL,
  data TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS records_account ON records (account, lsn);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS accounts (
  id TEXT PRIMARY KEY,
  address TEXT NOT NULL,
  login TEXT NOT NULL,
  maildir TEXT NOT NULL,
  quota_bytes INTEGER NOT NULL,
  quota_messages INTEGER NOT NULL,
  max_message_size INTEGER NOT NULL,
  status TEXT NOT NULL
);
`;

export const INDEX_VERSION = 4;

/**
 * The SEARCH view of the common header fields (store/mime/search-header.ts
 * storedFields): decoded, lower-cased "name: value" lines and address forms,
 * written at delivery so SUBJECT/FROM/HEADER Message-ID… never open a file.
 * NULL columns: kept out (too long); SEARCH reads the file for that message.
 * A message without a row (stored before version 3) is filled in lazily.
 */
const SEARCH_FIELDS_TABLE = `
CREATE TABLE IF NOT EXISTS search_fields (
  mailbox INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  fields TEXT,
  addresses TEXT,
  PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
`;

/**
 * The SORT/THREAD keys of each message (MimeTree.sort as JSON: RFC 5256 base
 * subject, first From/To/Cc address, RFC 5957 display names, Date and the
 * threading ids), written with its structure, so SORT reads a few hundred
 * bytes per message instead of parsing the whole stored structure.
 * A message without a row (structure stored before version 4) gets one the
 * first time SORT or THREAD reads its structure.
 */
const SORT_KEYS_TABLE = `
CREATE TABLE IF NOT EXISTS sort_keys (
  mailbox INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
`;

/**
 * data_dir/index/<account>.sqlite — a cache rebuilt from the journal and the
 * Maildir. `filename` is the name the index wants on disk ("new/…" or
 * "cur/…:2,FLAGS"); `disk_name` is the name last known on disk. They differ
 * while a flag rename is pending (state 1); state 2 = expunged, unlink
 * pending. Structures live in their own table so message rows stay small for
 * the full-mailbox scans SELECT needs. `recent_uid` is the \Recent boundary
 * (RFC 3501 §2.3.2, store/recent.ts): every UID below it has been announced
 * as recent to some session already.
 */
export const INDEX_SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS mailboxes (
  id INTEGER PRIMARY KEY,
  name TEXT NOT NULL UNIQUE,
  uidvalidity INTEGER NOT NULL,
  uidnext INTEGER NOT NULL,
  highestmodseq INTEGER NOT NULL,
  special_use TEXT,
  subscribed INTEGER NOT NULL DEFAULT 1,
  new_mtime TEXT NOT NULL DEFAULT '',
  cur_mtime TEXT NOT NULL DEFAULT '',
  recent_uid INTEGER NOT NULL DEFAULT 1
);
CREATE TABLE IF NOT EXISTS messages (
  mailbox INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  basename TEXT NOT NULL,
  filename TEXT NOT NULL,
  disk_name TEXT NOT NULL,
  state INTEGER NOT NULL DEFAULT 0,
  flags TEXT NOT NULL,
  modseq INTEGER NOT NULL,
  internal_date INTEGER NOT NULL,
  size INTEGER NOT NULL,
  vsize INTEGER NOT NULL,
  PRIMARY KEY (mailbox, uid)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS messages_basename ON messages (mailbox, basename);
CREATE INDEX IF NOT EXISTS messages_state ON messages (state) WHERE state <> 0;
CREATE TABLE IF NOT EXISTS structures (
  mailbox INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  json TEXT NOT NULL,
  PRIMARY KEY (mailbox, uid)
);
${SEARCH_FIELDS_TABLE}${SORT_KEYS_TABLE}`;

/**
 * Steps from one index version to the next, run in order on an older file
 * (`INDEX_MIGRATIONS[v]` turns version v - 1 into v). Version 2 adds the
 * \Recent boundary; an index that never tracked \Recent starts it at UIDNEXT,
 * so an upgrade does not suddenly call every stored message recent.
 * Version 3 adds the stored search fields, empty: rows are filled as
 * SEARCH reads the files of older messages (never at open). Version 4 adds
 * the sort keys, empty too: filled as SORT/THREAD read older structures.
 */
export const INDEX_MIGRATIONS: Readonly<Record<number, string>> = {
  2: `ALTER TABLE mailboxes ADD COLUMN recent_uid INTEGER NOT NULL DEFAULT 1;
      UPDATE mailboxes SET recent_uid = uidnext;`,
  3: SEARCH_FIELDS_TABLE,
  4: SORT_KEYS_TABLE,
};
