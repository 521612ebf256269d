/**
 * One account's index: SQLite in WAL mode with
 * synchronous=NORMAL. That is safe because the index is a cache: everything
 * in it is either in the journal (durable at each commit, replayed at open from
 * `applied_lsn`) or recoverable from the Maildir.
 */
import Database from 'better-sqlite3';
import { INDEX_MIGRATIONS, INDEX_SCHEMA, INDEX_VERSION } from './schema.js';
import { LIMITS } from '../../limits.js';
import { storedFields, type SearchHeader } from '../mime/search-header.js';
import { walCheckpoints } from './checkpoint.js';

export interface MailboxRow {
  id: number;
  name: string;
  uidvalidity: number;
  uidnext: number;
  highestmodseq: number;
  special_use: string | null;
  subscribed: number;
  new_mtime: string;
  cur_mtime: string;
  /** \Recent boundary (store/recent.ts): UIDs below it were announced as recent already. */
  recent_uid: number;
}

export interface MessageRow {
  mailbox: number;
  uid: number;
  basename: string;
  filename: string;
  disk_name: string;
  state: number;
  flags: string;
  modseq: number;
  internal_date: number;
  size: number;
  vsize: number;
  /**
   * The name a flag rename is moving the file to, set before rename(2) and
   * cleared when its result is recorded (null otherwise): the watcher and
   * reconcile know the name as ours even after a crash in between.
   */
  renaming?: string | null;
  /**
   * 1 while size, vsize and internal_date are provisional (a lazy first
   * open took them from the file name alone; store/facts.ts fills them from
   * the file and clears it). 0 or absent otherwise.
   */
  lazy?: number;
}

/** A search_fields row (schema.ts); both null when the message's fields were too long to keep. */
export interface SearchFieldsRow {
  fields: string | null;
  addresses: string | null;
}

/** The row to store for a message's SearchHeader: its stored fields, or nulls past LIMITS.store.maxStoredSearchChars. */
export function keptSearchFields(h: SearchHeader): SearchFieldsRow {
  const f = storedFields(h);
  if (f.fields.length + f.addresses.length > LIMITS.store.maxStoredSearchChars) return { fields: null, addresses: null };
  return f;
}

/** Row states: 0 = in sync with disk; 1 = flag rename pending; 2 = expunged, unlink pending. */
export const STATE_OK = 0;
export const STATE_RENAME = 1;
export const STATE_UNLINK = 2;

/**
 * While the group committer finishes a batch, index writes of all its jobs
 * share one transaction per account database (committed at the end of the
 * batch, before any caller hears back) instead of one per delivery.
 */
let batch: Set<IndexDb> | null = null;

export function beginIndexBatch(): void {
  batch = new Set();
}

export function endIndexBatch(): void {
  const dbs = batch;
  batch = null;
  for (const d of dbs ?? []) {
    if (!d.db.open || !d.db.inTransaction) continue;
    d.db.exec('COMMIT');
    walCheckpoints.committed(d);
  }
}

/**
 * Additive migrations after version 1 (an older index gains them at open;
 * two processes opening it at once may race, so "already there" is fine).
 */
function addRenamingColumn(db: Database.Database): void {
  const cols = db.pragma('table_info(messages)') as { name: string }[];
  if (!cols.some((c) => c.name === 'renaming')) {
    try {
      db.exec('ALTER TABLE messages ADD COLUMN renaming TEXT');
    } catch (err) {
      if (!/duplicate column/i.test((err as Error).message)) throw err;
    }
  }
  // File work pages through waiting rows of one mailbox in UID order.
  db.exec('CREATE INDEX IF NOT EXISTS messages_pending ON messages (mailbox, uid) WHERE state <> 0');
  addColumn(db, 'lazy', 'INTEGER NOT NULL DEFAULT 0');
  // The facts fill (store/facts.ts) pages through provisional rows; a filled mailbox has none in it.
  db.exec('CREATE INDEX IF NOT EXISTS messages_lazy ON messages (mailbox, uid) WHERE lazy <> 0');
}

/** An additive column of messages (no version step: other additions may come in any order). */
function addColumn(db: Database.Database, name: string, decl: string): void {
  const cols = db.pragma('table_info(messages)') as { name: string }[];
  if (cols.some((c) => c.name === name)) return;
  try {
    db.exec(`ALTER TABLE messages ADD COLUMN ${name} ${decl}`);
  } catch (err) {
    if (!/duplicate column/i.test((err as Error).message)) throw err;
  }
}

export class IndexDb {
  readonly db: Database.Database;
  /**
   * UIDNEXT / HIGHESTMODSEQ per mailbox as this process last wrote or read
   * them. A mailbox row that differs was changed by another process.
   */
  readonly seen = new Map<number, { uidnext: number; modseq: number }>();
  private readonly s: Record<string, Database.Statement>;
  /** searchFieldsExcluded statements by needle shape. */
  private readonly excluded = new Map<string, Database.Statement>();

  constructor(readonly file: string) {
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.upgrade();
    // Checkpoints run in a worker thread, not in a commit on the event loop (./checkpoint.ts).
    walCheckpoints.track(this);
    // Added after version 1; harmless when present.
    this.db.exec('CREATE TABLE IF NOT EXISTS snapshots (mailbox INTEGER PRIMARY KEY, uidvalidity INTEGER NOT NULL, uidnext INTEGER NOT NULL, modseq INTEGER NOT NULL, data BLOB NOT NULL)');
    // Subscriptions of names that have no mailbox (RFC 3501 §6.3.6: DELETE
    // does not end a subscription); subscribed mailboxes carry theirs in the row.
    this.db.exec('CREATE TABLE IF NOT EXISTS subscriptions (name TEXT PRIMARY KEY)');
    // The SORT/THREAD column image per mailbox (imap/search/sort-column-image.ts): derived from
    // sort_keys, so added without a version step, and dropped with the mailbox or its messages.
    this.db.exec('CREATE TABLE IF NOT EXISTS sort_columns (mailbox INTEGER PRIMARY KEY, uidvalidity INTEGER NOT NULL, data BLOB NOT NULL)');
    addRenamingColumn(this.db);
    const p = (sql: string): Database.Statement => this.db.prepare(sql);
    this.s = {
      orphanSubscriptions: p('SELECT name FROM subscriptions ORDER BY name').pluck(),
      hasOrphanSubscription: p('SELECT 1 FROM subscriptions WHERE name = ?').pluck(),
      addOrphanSubscription: p('INSERT OR IGNORE INTO subscriptions (name) VALUES (?)'),
      dropOrphanSubscription: p('DELETE FROM subscriptions WHERE name = ?'),
      getMeta: p('SELECT value FROM meta WHERE key = ?'),
      setMeta: p('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value'),
      mailboxes: p('SELECT * FROM mailboxes ORDER BY name'),
      mailboxByName: p('SELECT * FROM mailboxes WHERE name = ?'),
      mailboxById: p('SELECT * FROM mailboxes WHERE id = ?'),
      insertMailbox: p(
        'INSERT INTO mailboxes (name, uidvalidity, uidnext, highestmodseq, special_use, subscribed) VALUES (?, ?, ?, ?, ?, ?)',
      ),
      allocUid: p('UPDATE mailboxes SET uidnext = uidnext + ? WHERE id = ? RETURNING uidnext - ? AS first'),
      allocUidModseq: p(
        'UPDATE mailboxes SET uidnext = uidnext + 1, highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING uidnext - 1 AS uid, highestmodseq AS modseq',
      ),
      allocModseq: p('UPDATE mailboxes SET highestmodseq = highestmodseq + 1 WHERE id = ? RETURNING highestmodseq AS m'),
      bumpUidnext: p('UPDATE mailboxes SET uidnext = max(uidnext, ?) WHERE id = ?'),
      bumpModseq: p('UPDATE mailboxes SET highestmodseq = max(highestmodseq, ?) WHERE id = ?'),
      raiseRecent: p('UPDATE mailboxes SET recent_uid = max(recent_uid, ?) WHERE id = ? AND recent_uid < ?'),
      setMtimes: p('UPDATE mailboxes SET new_mtime = ?, cur_mtime = ? WHERE id = ?'),
      renameMailbox: p('UPDATE mailboxes SET name = ? WHERE id = ?'),
      deleteMailbox: p('DELETE FROM mailboxes WHERE id = ?'),
      deleteMailboxMessages: p('DELETE FROM messages WHERE mailbox = ?'),
      deleteMailboxStructures: p('DELETE FROM structures WHERE mailbox = ?'),
      deleteMailboxSearchFields: p('DELETE FROM search_fields WHERE mailbox = ?'),
      deleteMailboxSortKeys: p('DELETE FROM sort_keys WHERE mailbox = ?'),
      setSubscribed: p('UPDATE mailboxes SET subscribed = ? WHERE id = ?'),
      setSpecialUse: p('UPDATE mailboxes SET special_use = ? WHERE id = ?'),
      setUidvalidity: p('UPDATE mailboxes SET uidvalidity = ? WHERE id = ?'),
      insertMessage: p(
        `INSERT OR IGNORE INTO messages (mailbox, uid, basename, filename, disk_name, state, flags, modseq, internal_date, size, vsize, lazy)
         VALUES (@mailbox, @uid, @basename, @filename, @disk_name, @state, @flags, @modseq, @internal_date, @size, @vsize, @lazy)`,
      ),
      getMessage: p('SELECT * FROM messages WHERE mailbox = ? AND uid = ?'),
      byBasename: p('SELECT * FROM messages WHERE mailbox = ? AND basename = ?'),
      updateFlags: p('UPDATE messages SET flags = ?, modseq = ?, filename = ?, state = ? WHERE mailbox = ? AND uid = ?'),
      markExpunged: p(`UPDATE messages SET state = ${STATE_UNLINK} WHERE mailbox = ? AND uid = ? AND state <> ${STATE_UNLINK}`),
      deleteMessage: p('DELETE FROM messages WHERE mailbox = ? AND uid = ?'),
      deleteStructure: p('DELETE FROM structures WHERE mailbox = ? AND uid = ?'),
      deleteSearchFields: p('DELETE FROM search_fields WHERE mailbox = ? AND uid = ?'),
      deleteSortKeys: p('DELETE FROM sort_keys WHERE mailbox = ? AND uid = ?'),
      flagsRange: p(
        `UPDATE messages SET flags = ?, modseq = ?, state = ${STATE_RENAME} WHERE mailbox = ? AND uid BETWEEN ? AND ? AND state <> ${STATE_UNLINK} AND modseq < ?`,
      ),
      expungeRange: p(`UPDATE messages SET state = ${STATE_UNLINK} WHERE mailbox = ? AND uid BETWEEN ? AND ? AND state <> ${STATE_UNLINK}`),
      setFilenames: p('UPDATE messages SET filename = ?, disk_name = ?, renaming = NULL WHERE mailbox = ? AND uid = ?'),
      pendingMailboxes: p(`SELECT DISTINCT mailbox FROM messages WHERE state <> ${STATE_OK}`).pluck(),
      pendingPage: p(`SELECT * FROM messages WHERE mailbox = ? AND uid > ? AND state <> ${STATE_OK} ORDER BY uid LIMIT ?`),
      hasPending: p(`SELECT 1 FROM messages WHERE state <> ${STATE_OK} LIMIT 1`).pluck(),
      setRenaming: p('UPDATE messages SET renaming = ? WHERE mailbox = ? AND uid = ?'),
      renamedTo: p(
        `UPDATE messages SET disk_name = ?, renaming = NULL, filename = CASE WHEN flags = ? THEN ? ELSE filename END,
           state = CASE WHEN state = ${STATE_UNLINK} THEN ${STATE_UNLINK} WHEN flags = ? THEN ${STATE_OK} ELSE ${STATE_RENAME} END WHERE mailbox = ? AND uid = ?`,
      ),
      moveMessages: p('UPDATE messages SET mailbox = ? WHERE mailbox = ?'),
      moveStructures: p('UPDATE structures SET mailbox = ? WHERE mailbox = ?'),
      moveSearchFields: p('UPDATE search_fields SET mailbox = ? WHERE mailbox = ?'),
      moveSortKeys: p('UPDATE sort_keys SET mailbox = ? WHERE mailbox = ?'),
      loadMessages: p(
        `SELECT uid, modseq, flags, internal_date, size, vsize, basename, disk_name, state FROM messages WHERE mailbox = ? AND state <> ${STATE_UNLINK} ORDER BY uid`,
      ).raw(true),
      loadMessagesPage: p(
        `SELECT uid, modseq, flags, internal_date, size, vsize, basename, disk_name, state FROM messages WHERE mailbox = ? AND state <> ${STATE_UNLINK} AND uid > ? ORDER BY uid LIMIT ?`,
      ).raw(true),
      allRows: p('SELECT * FROM messages WHERE mailbox = ?'),
      keptRows: p(`SELECT uid, basename, flags FROM messages WHERE mailbox = ? AND state <> ${STATE_UNLINK}`).raw(true),
      keptRowsPage: p(`SELECT uid, basename, flags FROM messages WHERE mailbox = ? AND state <> ${STATE_UNLINK} AND uid > ? ORDER BY uid LIMIT ?`).raw(true),
      getStructure: p('SELECT json FROM structures WHERE mailbox = ? AND uid = ?'),
      setStructure: p('INSERT OR REPLACE INTO structures (mailbox, uid, json) VALUES (?, ?, ?)'),
      setSortKeys: p('INSERT OR REPLACE INTO sort_keys (mailbox, uid, json) VALUES (?, ?, ?)'),
      getSortKeys: p('SELECT json FROM sort_keys WHERE mailbox = ? AND uid = ?').pluck(),
      sortKeysRange: p('SELECT uid, json FROM sort_keys WHERE mailbox = ? AND uid BETWEEN ? AND ?').raw(true),
      getSearchFields: p('SELECT fields, addresses FROM search_fields WHERE mailbox = ? AND uid = ?').raw(true),
      searchFieldsRange: p('SELECT uid, fields, addresses FROM search_fields WHERE mailbox = ? AND uid BETWEEN ? AND ?').raw(true),
      setSearchFields: p('INSERT OR REPLACE INTO search_fields (mailbox, uid, fields, addresses) VALUES (?, ?, ?, ?)'),
      fillSearchFields: p(
        `INSERT OR IGNORE INTO search_fields (mailbox, uid, fields, addresses)
         SELECT mailbox, uid, ?, ? FROM messages WHERE mailbox = ? AND uid = ? AND state <> ${STATE_UNLINK}`,
      ),
      getSnapshot: p('SELECT data FROM snapshots WHERE mailbox = ? AND uidvalidity = ? AND uidnext = ? AND modseq = ?').pluck(),
      setSnapshot: p('INSERT OR REPLACE INTO snapshots (mailbox, uidvalidity, uidnext, modseq, data) VALUES (?, ?, ?, ?, ?)'),
      dropSnapshot: p('DELETE FROM snapshots WHERE mailbox = ?'),
      getSortColumns: p('SELECT data FROM sort_columns WHERE mailbox = ? AND uidvalidity = ?').pluck(),
      setSortColumns: p('INSERT OR REPLACE INTO sort_columns (mailbox, uidvalidity, data) VALUES (?, ?, ?)'),
      dropSortColumns: p('DELETE FROM sort_columns WHERE mailbox = ?'),
      unjournaled: p("SELECT key, value FROM meta WHERE key LIKE 'unjournaled:%'").raw(true),
      dropMeta: p('DELETE FROM meta WHERE key = ?'),
      listingMarks: p("SELECT substr(key, 9) FROM meta WHERE key LIKE 'listing:%' ORDER BY key").pluck(),
      rowsAfter: p('SELECT * FROM messages WHERE mailbox = ? AND uid > ? AND uid <= ? ORDER BY uid LIMIT ?'),
      insertListed: p(
        `INSERT OR IGNORE INTO messages (mailbox, uid, basename, filename, disk_name, state, flags, modseq, internal_date, size, vsize, lazy)
         VALUES (?, ?, ?, ?, ?, 0, ?, 1, ?, ?, ?, 1)`,
      ),
      // One probe of the partial index per mailbox: DISTINCT walks every provisional row (about
      // 300 ms for 100,000 at a restart mid-fill, inside the first SELECT), and without INDEXED BY
      // the planner probes the primary key, which walks every row of a filled mailbox.
      lazyMailboxes: p('SELECT id FROM mailboxes b WHERE EXISTS (SELECT 1 FROM messages m INDEXED BY messages_lazy WHERE m.mailbox = b.id AND m.lazy <> 0) ORDER BY id').pluck(),
      lazyPage: p('SELECT uid, basename, disk_name FROM messages WHERE mailbox = ? AND lazy <> 0 AND uid > ? ORDER BY uid LIMIT ?').raw(true),
      // INDEXED BY as above: without it the planner walks the primary key, every row of the mailbox, on each
      // ensureFacts() (twice per SORT/THREAD: some 15-30 ms at 100,000 messages) to find none.
      lazyRange: p('SELECT uid, basename, disk_name FROM messages INDEXED BY messages_lazy WHERE mailbox = ? AND lazy <> 0 AND uid BETWEEN ? AND ? ORDER BY uid').raw(true),
      unparsedRange: p(
        `SELECT uid, basename, disk_name, lazy FROM messages m WHERE mailbox = ? AND uid BETWEEN ? AND ? AND state <> ${STATE_UNLINK}
         AND NOT EXISTS (SELECT 1 FROM structures s WHERE s.mailbox = m.mailbox AND s.uid = m.uid) ORDER BY uid`,
      ).raw(true),
      fillStructure: p(
        `INSERT OR REPLACE INTO structures (mailbox, uid, json)
         SELECT mailbox, uid, ? FROM messages WHERE mailbox = ? AND uid = ? AND state <> ${STATE_UNLINK}`,
      ),
      setFacts: p('UPDATE messages SET size = ?, vsize = ?, internal_date = ?, lazy = 0 WHERE mailbox = ? AND uid = ? AND lazy <> 0'),
      usage: p(`SELECT count(*) AS n, coalesce(sum(size), 0) AS bytes FROM messages WHERE state <> ${STATE_UNLINK}`),
    };
  }

  /**
   * Create a new index, or bring an older one to INDEX_VERSION step by step
   * (schema.ts INDEX_MIGRATIONS), in one write transaction so two processes
   * opening the same old file do not both migrate it.
   */
  private upgrade(): void {
    const version = (): number => this.db.pragma('user_version', { simple: true }) as number;
    // A newer file (written by a later version) is left as it is.
    if (version() >= INDEX_VERSION) return;
    this.db
      .transaction(() => {
        const v = version();
        if (v >= INDEX_VERSION) return;
        if (v === 0) this.db.exec(INDEX_SCHEMA);
        else for (let next = v + 1; next <= INDEX_VERSION; next++) this.db.exec(INDEX_MIGRATIONS[next]!);
        this.db.pragma(`user_version = ${INDEX_VERSION}`);
      })
      .immediate();
  }

  tx<T>(fn: () => T): T {
    if (batch) {
      if (!this.db.inTransaction) {
        this.db.exec('BEGIN IMMEDIATE');
        batch.add(this);
      }
      // Inside the open batch transaction better-sqlite3 uses a savepoint,
      // so a failing job rolls back only its own writes.
      return this.db.transaction(fn)();
    }
    const r = this.db.transaction(fn).immediate();
    walCheckpoints.committed(this);
    return r;
  }

  /** SQLite's automatic checkpoint on or off (./checkpoint.ts). */
  autoCheckpoint(on: boolean): void {
    if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${on ? 1000 : 0}`);
  }

  meta(key: string): string | null {
    const r = this.s.getMeta!.get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }
  setMeta(key: string, value: string): void {
    this.s.setMeta!.run(key, value);
  }
  appliedLsn(): bigint {
    return BigInt(this.meta('applied_lsn') ?? '0');
  }
  setAppliedLsn(lsn: bigint): void {
    if (lsn > this.appliedLsn()) this.setMeta('applied_lsn', lsn.toString());
  }

  mailboxes(): MailboxRow[] {
    return this.s.mailboxes!.all() as MailboxRow[];
  }
  mailbox(name: string): MailboxRow | null {
    return (this.s.mailboxByName!.get(name) as MailboxRow | undefined) ?? null;
  }
  mailboxById(id: number): MailboxRow | null {
    return (this.s.mailboxById!.get(id) as MailboxRow | undefined) ?? null;
  }
  insertMailbox(name: string, uidvalidity: number, specialUse: string | null, subscribed: boolean, uidnext = 1, modseq = 1): number {
    const info = this.s.insertMailbox!.run(name, uidvalidity, uidnext, modseq, specialUse, subscribed ? 1 : 0);
    return Number(info.lastInsertRowid);
  }
  /** Reserve `n` UIDs; returns the first. Atomic across processes (SQLite write lock). */
  allocUids(mailbox: number, n: number): number {
    const first = (this.s.allocUid!.get(n, mailbox, n) as { first: number }).first;
    this.note(mailbox, first + n, 0);
    return first;
  }
  note(mailbox: number, uidnext: number, modseq: number): void {
    const s = this.seen.get(mailbox);
    if (s) {
      if (uidnext > s.uidnext) s.uidnext = uidnext;
      if (modseq > s.modseq) s.modseq = modseq;
    }
  }
  /** Start tracking a mailbox from its current row. */
  track(row: MailboxRow): void {
    this.seen.set(row.id, { uidnext: row.uidnext, modseq: row.highestmodseq });
  }
  /** Whether another process changed the mailbox since we last looked. */
  changedElsewhere(row: MailboxRow): boolean {
    const s = this.seen.get(row.id);
    return !s || s.uidnext !== row.uidnext || s.modseq !== row.highestmodseq;
  }
  /** One new UID and one new modseq in one statement (the delivery path). */
  allocUidModseq(mailbox: number): { uid: number; modseq: number } {
    const r = this.s.allocUidModseq!.get(mailbox) as { uid: number; modseq: number };
    this.note(mailbox, r.uid + 1, r.modseq);
    return r;
  }
  allocModseq(mailbox: number): number {
    const m = (this.s.allocModseq!.get(mailbox) as { m: number }).m;
    this.note(mailbox, 0, m);
    return m;
  }
  bumpUidnext(mailbox: number, atLeast: number): void {
    this.s.bumpUidnext!.run(atLeast, mailbox);
    this.note(mailbox, atLeast, 0);
  }
  bumpModseq(mailbox: number, atLeast: number): void {
    this.s.bumpModseq!.run(atLeast, mailbox);
    this.note(mailbox, 0, atLeast);
  }
  /** Move the \Recent boundary up to `uid` (never down); true when it moved. */
  raiseRecent(mailbox: number, uid: number): boolean {
    return this.s.raiseRecent!.run(uid, mailbox, uid).changes > 0;
  }
  setMtimes(mailbox: number, newMtime: string, curMtime: string): void {
    this.s.setMtimes!.run(newMtime, curMtime, mailbox);
  }
  renameMailbox(id: number, name: string): void {
    this.s.renameMailbox!.run(name, id);
  }
  deleteMailbox(id: number): void {
    this.s.dropSnapshot!.run(id);
    // A later mailbox may get the same id.
    this.setUnjournaled(id, null);
    this.s.deleteMailboxMessages!.run(id);
    this.s.deleteMailboxStructures!.run(id);
    this.s.deleteMailboxSearchFields!.run(id);
    this.s.deleteMailboxSortKeys!.run(id);
    this.s.dropSortColumns!.run(id);
    this.s.deleteMailbox!.run(id);
  }
  setSubscribed(id: number, on: boolean): void {
    this.s.setSubscribed!.run(on ? 1 : 0, id);
  }
  /** Subscribed names without a mailbox, sorted. */
  orphanSubscriptions(): string[] {
    return this.s.orphanSubscriptions!.all() as string[];
  }
  hasOrphanSubscription(name: string): boolean {
    return this.s.hasOrphanSubscription!.get(name) !== undefined;
  }
  setOrphanSubscription(name: string, on: boolean): void {
    if (on) this.s.addOrphanSubscription!.run(name);
    else this.s.dropOrphanSubscription!.run(name);
  }
  setSpecialUse(id: number, use: string | null): void {
    this.s.setSpecialUse!.run(use, id);
  }
  setUidvalidity(id: number, uv: number): void {
    this.s.setUidvalidity!.run(uv, id);
  }

  insertMessage(row: MessageRow): boolean {
    return this.s.insertMessage!.run(row.lazy === undefined ? { ...row, lazy: 0 } : row).changes > 0;
  }
  /**
   * Mark a mailbox whose rows in (`afterUid`, `lastUid`] have no deliver
   * record in the journal yet (a lazy first open wrote them straight into
   * the index: store/facts.ts journals them); null: all journaled. Rows
   * above `lastUid` came later, through the journal, and are not its to write.
   */
  setUnjournaled(mailbox: number, afterUid: number | null, lastUid = 0): void {
    if (afterUid === null) this.s.dropMeta!.run(`unjournaled:${mailbox}`);
    else this.setMeta(`unjournaled:${mailbox}`, `${afterUid} ${lastUid}`);
  }
  /**
   * Mark a mailbox whose listed rows a first open is still writing, a slice
   * at a time (store/recovery.ts importMailbox): set before its
   * mailbox-create record, dropped in the transaction of the last slice, so
   * an open after a crash mid-way writes the rest under the same UIDs.
   */
  setListing(name: string, pending: boolean): void {
    if (pending) this.setMeta(`listing:${name}`, '1');
    else this.s.dropMeta!.run(`listing:${name}`);
  }
  /** Mailbox names marked by setListing. */
  listings(): string[] {
    return this.s.listingMarks!.all() as string[];
  }
  /** The marks of setUnjournaled: [mailbox, afterUid, lastUid]. */
  unjournaled(): [number, number, number][] {
    return (this.s.unjournaled!.all() as [string, string][]).map(([k, v]) => {
      const [after, last] = v.split(' ');
      return [Number(k.slice('unjournaled:'.length)), Number(after), Number(last ?? 0)];
    });
  }
  /** Up to `limit` rows with UIDs in (`afterUid`, `lastUid`], in UID order (expunged ones too). */
  rowsAfter(mailbox: number, afterUid: number, lastUid: number, limit: number): MessageRow[] {
    return this.s.rowsAfter!.all(mailbox, afterUid, lastUid, limit) as MessageRow[];
  }
  /**
   * The row of a file a lazy first open listed (store/recovery.ts): modseq
   * 1, provisional facts (lazy). Positional: 100,000 of these at one open.
   */
  insertListed(mailbox: number, uid: number, basename: string, rel: string, flags: string, internalDate: number, size: number, vsize: number): void {
    this.s.insertListed!.run(mailbox, uid, basename, rel, rel, flags, internalDate, size, vsize);
  }
  /** Mailboxes with provisional facts (MessageRow.lazy). */
  lazyMailboxes(): number[] {
    return this.s.lazyMailboxes!.all() as number[];
  }
  /** Up to `limit` provisional rows with UIDs above `afterUid`, in UID order: [uid, basename, disk_name]. */
  lazyPage(mailbox: number, afterUid: number, limit: number): [number, string, string][] {
    return this.s.lazyPage!.all(mailbox, afterUid, limit) as [number, string, string][];
  }
  /** Provisional rows with UIDs in [first, last]: [uid, basename, disk_name]. */
  lazyRange(mailbox: number, first: number, last: number): [number, string, string][] {
    return this.s.lazyRange!.all(mailbox, first, last) as [number, string, string][];
  }
  /** Record a provisional row's facts read from its file; false when it was filled already (or is gone). */
  /** Rows with UIDs in [first, last] and no stored structure: [uid, basename, disk_name, lazy]. */
  unparsedRange(mailbox: number, first: number, last: number): [number, string, string, number][] {
    return this.s.unparsedRange!.all(mailbox, first, last) as [number, string, string, number][];
  }

  setFacts(mailbox: number, uid: number, size: number, vsize: number, internalDate: number): boolean {
    return this.s.setFacts!.run(size, vsize, internalDate, mailbox, uid).changes > 0;
  }
  message(mailbox: number, uid: number): MessageRow | null {
    return (this.s.getMessage!.get(mailbox, uid) as MessageRow | undefined) ?? null;
  }
  byBasename(mailbox: number, basename: string): MessageRow | null {
    return (this.s.byBasename!.get(mailbox, basename) as MessageRow | undefined) ?? null;
  }
  updateFlags(mailbox: number, uid: number, flags: string, modseq: number, filename: string, state: number): void {
    this.s.updateFlags!.run(flags, modseq, filename, state, mailbox, uid);
  }
  markExpunged(mailbox: number, uid: number): boolean {
    return this.s.markExpunged!.run(mailbox, uid).changes > 0;
  }
  deleteMessage(mailbox: number, uid: number): void {
    this.s.deleteMessage!.run(mailbox, uid);
    this.s.deleteStructure!.run(mailbox, uid);
    this.s.deleteSearchFields!.run(mailbox, uid);
    this.s.deleteSortKeys!.run(mailbox, uid);
  }
  /**
   * After a rename on disk: the file is now called `diskName` — recorded even
   * if the message was expunged meanwhile, so the unlink finds it; done only
   * if the flags are still `flagsAtRename` (a newer STORE leaves the row
   * pending, and the next pass renames it again from `diskName`).
   */
  renamed(mailbox: number, uid: number, diskName: string, flagsAtRename: string): void {
    this.s.renamedTo!.run(diskName, flagsAtRename, diskName, flagsAtRename, mailbox, uid);
  }
  /** Note the name a rename is about to give the file (see MessageRow.renaming). */
  setRenaming(mailbox: number, uid: number, name: string | null): void {
    this.s.setRenaming!.run(name, mailbox, uid);
  }
  /**
   * Set flags on every live message with a UID in [first, last] whose modseq
   * is older (idempotent replay); marks their file names for the renamer.
   * One statement per range: STORE 1:* on 100,000 messages is one range.
   */
  flagsRange(mailbox: number, first: number, last: number, flags: string, modseq: number): number {
    return this.s.flagsRange!.run(flags, modseq, mailbox, first, last, modseq).changes;
  }
  expungeRange(mailbox: number, first: number, last: number): number {
    return this.s.expungeRange!.run(mailbox, first, last).changes;
  }
  setFilenames(mailbox: number, uid: number, filename: string): void {
    this.s.setFilenames!.run(filename, filename, mailbox, uid);
  }
  moveAllMessages(from: number, to: number): void {
    this.s.moveMessages!.run(to, from);
    this.s.moveStructures!.run(to, from);
    this.s.moveSearchFields!.run(to, from);
    this.s.moveSortKeys!.run(to, from);
    this.s.dropSortColumns!.run(from);
    this.s.dropSortColumns!.run(to);
  }
  /** Raw rows for the cache: [uid, modseq, flags, internal_date, size, vsize, basename, disk_name, state] (fewest columns: 100,000 rows per SELECT). */
  loadMessages(mailbox: number): unknown[][] {
    return this.s.loadMessages!.all(mailbox) as unknown[][];
  }
  /** loadMessages above `afterUid`, at most `limit` rows: a list read page by page between turns of the event loop. */
  loadMessagesPage(mailbox: number, afterUid: number, limit: number): unknown[][] {
    return this.s.loadMessagesPage!.all(mailbox, afterUid, limit) as unknown[][];
  }
  /**
   * What a rebuild keeps of each live message — [uid, basename, flags] — one
   * row at a time (a 300,000-row array of whole rows cost hundreds of MB).
   */
  *keptRows(mailbox: number): Generator<[number, string, string]> {
    for (const r of this.s.keptRows!.iterate(mailbox) as IterableIterator<[number, string, string]>) yield r;
  }
  /** keptRows above `afterUid`, at most `limit`, in UID order: a rebuild in the node reads them page by page between turns of the event loop. */
  keptRowsPage(mailbox: number, afterUid: number, limit: number): [number, string, string][] {
    return this.s.keptRowsPage!.all(mailbox, afterUid, limit) as [number, string, string][];
  }
  allRows(mailbox: number): MessageRow[] {
    return this.s.allRows!.all(mailbox) as MessageRow[];
  }
  /** Mailboxes with rows waiting for file work (state 1 or 2). */
  pendingMailboxes(): number[] {
    return this.s.pendingMailboxes!.all() as number[];
  }
  /** Up to `limit` waiting rows of a mailbox with UIDs above `afterUid`, in UID order (a page, never the whole list). */
  pendingPage(mailbox: number, afterUid: number, limit: number): MessageRow[] {
    return this.s.pendingPage!.all(mailbox, afterUid, limit) as MessageRow[];
  }
  hasPending(): boolean {
    return this.s.hasPending!.get() !== undefined;
  }
  structure(mailbox: number, uid: number): string | null {
    const r = this.s.getStructure!.get(mailbox, uid) as { json: string } | undefined;
    return r ? r.json : null;
  }
  /** Store a structure and its sort keys (`sortJson`: JSON of its `sort`, taken from `json` when not given). */
  setStructure(mailbox: number, uid: number, json: string, sortJson?: string): void {
    this.s.setStructure!.run(mailbox, uid, json);
    this.setSortKeys(mailbox, uid, sortJson ?? JSON.stringify((JSON.parse(json) as { sort: unknown }).sort));
  }
  /** setStructure for a message that is still there (a fill read its file; it may be expunged since); false when it is not. */
  fillStructure(mailbox: number, uid: number, json: string, sortJson: string): boolean {
    if (this.s.fillStructure!.run(json, mailbox, uid).changes === 0) return false;
    this.setSortKeys(mailbox, uid, sortJson);
    return true;
  }
  setSortKeys(mailbox: number, uid: number, sortJson: string): void {
    this.s.setSortKeys!.run(mailbox, uid, sortJson);
  }
  sortKeys(mailbox: number, uid: number): string | null {
    return (this.s.getSortKeys!.get(mailbox, uid) as string | undefined) ?? null;
  }
  /** Sort key rows with UIDs in [firstUid, lastUid]: [uid, json]. */
  sortKeysRange(mailbox: number, firstUid: number, lastUid: number): [number, string][] {
    return this.s.sortKeysRange!.all(mailbox, firstUid, lastUid) as [number, string][];
  }
  /** Stored search fields of one message: undefined without a row, null columns when kept out. */
  searchFields(mailbox: number, uid: number): SearchFieldsRow | undefined {
    const r = this.s.getSearchFields!.get(mailbox, uid) as [string | null, string | null] | undefined;
    return r && { fields: r[0], addresses: r[1] };
  }
  /** Stored rows with UIDs in [firstUid, lastUid], in UID order: [uid, fields, addresses]. */
  searchFieldsRange(mailbox: number, firstUid: number, lastUid: number): [number, string | null, string | null][] {
    return this.s.searchFieldsRange!.all(mailbox, firstUid, lastUid) as [number, string | null, string | null][];
  }
  setSearchFields(mailbox: number, uid: number, row: SearchFieldsRow): void {
    this.s.setSearchFields!.run(mailbox, uid, row.fields, row.addresses);
  }
  /**
   * UIDs whose stored fields lack one of `needles` (instr is a plain
   * substring test on the lower-cased text; rows kept out never match).
   * One statement per shape of the needle list, prepared once.
   */
  searchFieldsExcluded(mailbox: number, needles: readonly { needle: string; addresses: boolean }[]): number[] {
    const shape = needles.map((n) => (n.addresses ? 'a' : 'f')).join('');
    let st = this.excluded.get(shape);
    if (!st) {
      const lacks = needles.map((n) => (n.addresses ? '(instr(fields, ?) = 0 AND instr(addresses, ?) = 0)' : 'instr(fields, ?) = 0'));
      st = this.db.prepare(`SELECT uid FROM search_fields WHERE mailbox = ? AND fields IS NOT NULL AND (${lacks.join(' OR ')})`).pluck();
      this.excluded.set(shape, st);
    }
    return st.all(mailbox, ...needles.flatMap((n) => (n.addresses ? [n.needle, n.needle] : [n.needle]))) as number[];
  }
  /** Fill in the row of a message stored without one (it must still be there: a row never outlives its message). */
  fillSearchFields(mailbox: number, uid: number, row: SearchFieldsRow): void {
    this.s.fillSearchFields!.run(row.fields, row.addresses, mailbox, uid);
  }
  /** The packed message list if it still describes the mailbox exactly. */
  snapshot(row: MailboxRow): Buffer | null {
    return (this.s.getSnapshot!.get(row.id, row.uidvalidity, row.uidnext, row.highestmodseq) as Buffer | undefined) ?? null;
  }
  setSnapshot(row: { id: number; uidvalidity: number; uidnext: number; highestmodseq: number }, data: Buffer): void {
    this.s.setSnapshot!.run(row.id, row.uidvalidity, row.uidnext, row.highestmodseq, data);
  }
  /** The SORT/THREAD column image of a mailbox if it was saved under `uidvalidity`. */
  sortColumns(mailbox: number, uidvalidity: number): Buffer | null {
    return (this.s.getSortColumns!.get(mailbox, uidvalidity) as Buffer | undefined) ?? null;
  }
  setSortColumns(mailbox: number, uidvalidity: number, data: Buffer): void {
    this.s.setSortColumns!.run(mailbox, uidvalidity, data);
  }
  /** Forget the packed message list (its facts changed without a new modseq). */
  dropSnapshot(mailbox: number): void {
    this.s.dropSnapshot!.run(mailbox);
  }
  usage(): { messages: number; bytes: number } {
    const r = this.s.usage!.get() as { n: number; bytes: number };
    return { messages: r.n, bytes: r.bytes };
  }

  close(): void {
    walCheckpoints.untrack(this);
    if (this.db.open) this.db.close();
  }
}
