/**
 * The change journal: one SQLite database per node in WAL
 * mode. Every store change appends records here first; a record counts once
 * its transaction is committed AND the WAL is on stable storage. Several
 * processes (server, `roost deliver`) may append: SQLite's locking
 * serialises them and AUTOINCREMENT keeps LSNs unique and increasing.
 *
 * Durability without an fsync on the event loop. SQLite runs with
 * synchronous=NORMAL; we make each commit durable ourselves with fdatasync
 * on our own descriptor of the `-wal` file, in the libuv thread pool
 * (durable(), grouped across concurrent commits), or at once with
 * fdatasyncSync for the rare synchronous callers. Why that is the same
 * guarantee as synchronous=FULL (sqlite.org/pragma.html#pragma_synchronous,
 * sqlite.org/wal.html):
 *  - FULL differs from NORMAL in WAL mode only by syncing the WAL at the end
 *    of each commit. A commit is the frames appended to the WAL, the last
 *    one marked as a commit frame; fdatasync of that file after the commit
 *    returned covers every frame up to it (and the file size), which is
 *    exactly FULL's sync, only later and off this thread. No caller hears
 *    "done" before it.
 *  - Power loss before our fdatasync: recovery keeps the longest prefix of
 *    WAL frames whose cumulative checksums and salts are valid, so the
 *    database is consistent and holds some prefix of the commits; every
 *    commit that was acknowledged is in that prefix, because its sync came
 *    after its own frames and all earlier ones.
 *  - Checkpoints: with NORMAL, SQLite syncs the WAL before copying frames
 *    into the database, syncs the database after a checkpoint, and syncs the
 *    WAL header when it starts reusing the file from the beginning (WAL
 *    reset). So a commit checkpointed before our fdatasync ran is already
 *    durable in the database file, and a reset never leaves acknowledged
 *    frames only in the page cache. The WAL is reset in place (same file,
 *    new salts), never replaced while a connection is open, and this
 *    connection stays open for the life of the Journal, so our descriptor
 *    always names the live WAL; after a reset it just syncs newer frames.
 *  - Process crash (kill -9) needs no sync at all: committed frames are in
 *    the OS page cache and SQLite recovers them at the next open.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import type { Account } from '../../accounts/directory.js';
import { JOURNAL_SCHEMA, JOURNAL_VERSION } from '../index/schema.js';
import { decodeRecord, encodeData, RECORD_VERSION, RecordDecodeError } from './codec.js';
import type { JournalRecord, RecordDraft, RecordKind, RecordOf, UidSet } from './records.js';
import { walCheckpoints, type CheckpointedDb } from '../index/checkpoint.js';

export type { RecordDraft, RecordKind } from './records.js';

/** `v` is null for rows written before the column existed (encoding version 1, ./codec.ts). */
type Row = { lsn: number | bigint; epoch: number | bigint; time: number | bigint; account: string; kind: string; data: string; v: number | bigint | null };

export class Journal {
  readonly db: Database.Database;
  private readonly insert: Database.Statement;
  private readonly insertAt: Database.Statement;
  private readonly readAfter: Database.Statement;
  private readonly readAccount: Database.Statement;
  private readonly maxLsn: Database.Statement;
  private readonly getMeta: Database.Statement;
  private readonly setMetaStmt: Database.Statement;
  private readonly upsertAccount: Database.Statement;
  private readonly accountStmt: Database.Statement;
  private last: bigint;
  private readonly file: string;
  private walFd: number | null = null;
  /** The fdatasync in flight, and whether commits arrived after it started (they need another). */
  private syncing: Promise<void> | null = null;
  private next: Promise<void> | null = null;
  private readonly checkpointed: CheckpointedDb;

  constructor(dataDir: string) {
    this.file = path.join(dataDir, 'journal.sqlite');
    this.db = new Database(this.file);
    this.db.pragma('journal_mode = WAL');
    // See the top of this file: durable() / syncNow() supply FULL's WAL sync.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    // Checkpoints (SQLite's, with its syncs) run in a worker thread, not in a commit on the event loop (./checkpoint.ts).
    this.checkpointed = {
      file: this.file,
      autoCheckpoint: (on) => {
        if (this.db.open) this.db.pragma(`wal_autocheckpoint = ${on ? 1000 : 0}`);
      },
    };
    walCheckpoints.track(this.checkpointed);
    if ((this.db.pragma('user_version', { simple: true }) as number) === 0) {
      this.db.exec(JOURNAL_SCHEMA);
      this.db.pragma(`user_version = ${JOURNAL_VERSION}`);
    }
    // Added after version 1 (record encoding versions, ./codec.ts): rows without one are version 1.
    if (!(this.db.pragma('table_info(records)') as { name: string }[]).some((c) => c.name === 'v')) this.db.exec('ALTER TABLE records ADD COLUMN v INTEGER');
    this.insert = this.db.prepare(`INSERT INTO records (epoch, time, account, kind, data, v) VALUES (?, ?, ?, ?, ?, ${RECORD_VERSION})`);
    this.insertAt = this.db.prepare(`INSERT OR IGNORE INTO records (lsn, epoch, time, account, kind, data, v) VALUES (?, ?, ?, ?, ?, ?, ${RECORD_VERSION})`);
    this.readAfter = this.db.prepare('SELECT * FROM records WHERE lsn > ? ORDER BY lsn LIMIT ?').safeIntegers(true);
    this.readAccount = this.db.prepare('SELECT * FROM records WHERE account = ? AND lsn > ? ORDER BY lsn').safeIntegers(true);
    this.maxLsn = this.db.prepare('SELECT max(lsn) AS m FROM records').safeIntegers(true);
    this.getMeta = this.db.prepare('SELECT value FROM meta WHERE key = ?');
    this.setMetaStmt = this.db.prepare('INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value');
    this.upsertAccount = this.db.prepare(
      `INSERT INTO accounts (id, address, login, maildir, quota_bytes, quota_messages, max_message_size, status)
       VALUES (@id, @address, @login, @maildir, @quotaBytes, @quotaMessages, @maxMessageSize, @status)
       ON CONFLICT(id) DO UPDATE SET address = excluded.address, login = excluded.login, maildir = excluded.maildir,
         quota_bytes = excluded.quota_bytes, quota_messages = excluded.quota_messages,
         max_message_size = excluded.max_message_size, status = excluded.status`,
    );
    this.accountStmt = this.db.prepare('SELECT * FROM accounts WHERE id = ?');
    // Added after version 1 (journal pruning); harmless when present.
    this.db.exec('CREATE TABLE IF NOT EXISTS expunge_floor (account TEXT PRIMARY KEY, modseq INTEGER NOT NULL)');
    this.last = this.readMaxLsn();
  }

  /**
   * The head: the highest LSN ever handed out. Once old records are pruned,
   * or on a replica seeded by a snapshot, the records table may hold fewer
   * (or none); AUTOINCREMENT's counter in sqlite_sequence still has it.
   */
  private readMaxLsn(): bigint {
    const m = (this.maxLsn.get() as { m: bigint | null }).m ?? 0n;
    const seq = this.q("SELECT seq FROM sqlite_sequence WHERE name = 'records'").get() as { seq: bigint } | undefined;
    return seq && seq.seq > m ? seq.seq : m;
  }

  /** Statements prepared on first use (the ones the bounded history and snapshots need). */
  private readonly prepared = new Map<string, Database.Statement>();
  private q(sql: string): Database.Statement {
    let st = this.prepared.get(sql);
    if (!st) this.prepared.set(sql, (st = this.db.prepare(sql).safeIntegers(true)));
    return st;
  }

  /** Highest LSN this process knows (refreshed on each append, also picking up other processes' records). */
  lastLsn(): bigint {
    return this.last;
  }

  refreshLastLsn(): bigint {
    const m = this.readMaxLsn();
    if (m > this.last) this.last = m;
    return this.last;
  }

  /**
   * The descriptor of the -wal file. Opened after the first commit of this
   * connection (the file exists from then until the connection closes).
   */
  private wal(): number | null {
    if (this.walFd !== null) return this.walFd;
    try {
      this.walFd = fs.openSync(this.file + '-wal', 'r');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return null;
    }
    return this.walFd;
  }

  /** Make every commit so far durable, now, on this thread (rare paths: recovery, replica meta, epoch). */
  syncNow(): void {
    const fd = this.wal();
    if (fd !== null) fs.fdatasyncSync(fd);
  }

  /**
   * Resolves once every commit made before the call is on stable storage.
   * Callers that arrive while a sync runs share the following one (group
   * commit): N concurrent commits cost at most two fdatasyncs, in the thread pool.
   */
  durable(): Promise<void> {
    if (!this.syncing) return (this.syncing = this.runSync());
    // The running sync may have started before our commit: wait for the next.
    this.next ??= this.syncing.then(
      () => this.chainNext(),
      () => this.chainNext(),
    );
    return this.next;
  }

  private chainNext(): Promise<void> {
    this.next = null;
    return (this.syncing = this.runSync());
  }

  private runSync(): Promise<void> {
    const fd = this.wal();
    const run: Promise<void> = (
      fd === null ? Promise.resolve() : new Promise<void>((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())))
    ).finally(() => {
      if (this.syncing === run) this.syncing = null;
    });
    return run;
  }

  /** Append records in one durable transaction; returns them with their LSNs. */
  append(drafts: readonly RecordDraft[], epoch: number): JournalRecord[] {
    const out = this.appendCommitted(drafts, epoch);
    this.syncNow();
    return out;
  }

  /**
   * Append records in one committed transaction whose WAL frames are not yet
   * synced: the caller must await durable() before anyone relies on them.
   */
  appendCommitted(drafts: readonly RecordDraft[], epoch: number): JournalRecord[] {
    const time = Date.now();
    const out: JournalRecord[] = [];
    this.db.transaction(() => {
      for (const d of drafts) {
        const info = this.insert.run(epoch, time, d.accountId, d.kind, encodeData(d));
        out.push({ ...d, lsn: BigInt(info.lastInsertRowid), epoch, time } as JournalRecord);
      }
    }).immediate();
    walCheckpoints.committed(this.checkpointed);
    const lastRec = out[out.length - 1];
    if (lastRec && lastRec.lsn > this.last) this.last = lastRec.lsn;
    return out;
  }

  /**
   * Insert a record received from the primary with its own LSN (replica), and
   * remember it as applied, in one durable transaction. Returns false if the
   * LSN was already present.
   */
  appendAt(rec: JournalRecord, metaKey: string): boolean {
    let inserted = false;
    this.db.transaction(() => {
      const info = this.insertAt.run(rec.lsn, rec.epoch, rec.time, rec.accountId, rec.kind, encodeData(rec));
      inserted = info.changes > 0;
      this.setMetaStmt.run(metaKey, rec.lsn.toString());
    }).immediate();
    this.syncNow();
    if (rec.lsn > this.last) this.last = rec.lsn;
    return inserted;
  }

  /**
   * appendAt for a run of records in one committed transaction (replica
   * batch apply); not yet synced: await durable() before acknowledging.
   * Returns, per record, whether it was new.
   */
  appendAtCommitted(recs: readonly JournalRecord[], metaKey: string): boolean[] {
    const out: boolean[] = [];
    this.db.transaction(() => {
      for (const rec of recs) {
        const info = this.insertAt.run(rec.lsn, rec.epoch, rec.time, rec.accountId, rec.kind, encodeData(rec));
        out.push(info.changes > 0);
      }
      const lastRec = recs[recs.length - 1];
      if (lastRec) this.setMetaStmt.run(metaKey, lastRec.lsn.toString());
    }).immediate();
    walCheckpoints.committed(this.checkpointed);
    for (const rec of recs) if (rec.lsn > this.last) this.last = rec.lsn;
    return out;
  }

  read(after: bigint, limit: number): JournalRecord[] {
    return (this.readAfter.all(after, limit) as Row[]).map(toRecord);
  }

  /** Records of one kind with lsn > after, in order (the directory catching up on 'account' records). */
  readKind<K extends RecordKind>(kind: K, after: bigint, limit: number): RecordOf<K>[] {
    this.readKindStmt ??= this.db.prepare('SELECT * FROM records WHERE kind = ? AND lsn > ? ORDER BY lsn LIMIT ?').safeIntegers(true);
    return (this.readKindStmt.all(kind, after, limit) as Row[]).map(toRecord) as RecordOf<K>[];
  }
  private readKindStmt: Database.Statement | undefined;

  forAccount(accountId: string, after: bigint): JournalRecord[] {
    return (this.readAccount.all(accountId, after) as Row[]).map(toRecord);
  }

  meta(key: string): string | null {
    const r = this.getMeta.get(key) as { value: string } | undefined;
    return r ? r.value : null;
  }

  setMeta(key: string, value: string): void {
    this.setMetaStmt.run(key, value);
    this.syncNow();
  }

  rememberAccount(a: Account): void {
    this.upsertAccount.run({
      id: a.id,
      address: a.address,
      login: a.login,
      maildir: a.maildir,
      quotaBytes: a.quotaBytes,
      quotaMessages: a.quotaMessages,
      maxMessageSize: a.maxMessageSize,
      status: a.status,
    });
    // No fdatasync of its own: the WAL is sequential, so the next durable commit (the
    // first record that names this account) makes the row durable too; if none comes,
    // a lost row is written again on the account's next use.
  }

  account(id: string): Account | null {
    const r = this.accountStmt.get(id) as
      | { id: string; address: string; login: string; maildir: string; quota_bytes: number; quota_messages: number; max_message_size: number; status: string }
      | undefined;
    if (!r) return null;
    return {
      id: r.id,
      address: r.address,
      login: r.login,
      maildir: r.maildir,
      quotaBytes: r.quota_bytes,
      quotaMessages: r.quota_messages,
      maxMessageSize: r.max_message_size,
      status: r.status as Account['status'],
    };
  }

  /**
   * Expunges of one mailbox after a mod-sequence, from the journal (which is
   * replicated with the same LSNs): RFC 7162 §3.2.5 needs the UIDs expunged
   * since the client's modseq. Null when pruning removed expunges of this
   * account newer than `modseq` (the caller then answers with every UID
   * that is not live, as RFC 7162 §3.2.5.2 allows). A mailbox is known by
   * its UIDVALIDITY (never reused within an account); INBOX also loses all its
   * messages when renamed (RFC 3501 §6.3.5), recorded as 'mailbox-rename'.
   */
  expungesSince(accountId: string, uidvalidity: number, mailbox: string, modseq: bigint): UidSet[] | null {
    const floor = this.q('SELECT modseq FROM expunge_floor WHERE account = ?').get(accountId) as { modseq: bigint } | undefined;
    // Pruned history above the client's modseq (journal_max_bytes): the journal cannot say.
    if (floor && floor.modseq > modseq) return null;
    this.readExpunges ??= this.db.prepare(
      `SELECT data FROM records WHERE account = ? AND kind IN ('expunge', 'mailbox-rename')
         AND ((kind = 'expunge' AND json_extract(data, '$.uidvalidity') = ?) OR (kind = 'mailbox-rename' AND json_extract(data, '$.from') = ?))
         AND CAST(json_extract(data, '$.modseq') AS INTEGER) > ? ORDER BY lsn`,
    );
    // Rows were checked when they were written (append: typed drafts; appendAt: decoded on arrival).
    return (this.readExpunges.all(accountId, uidvalidity, mailbox, modseq) as { data: string }[]).map((r) => JSON.parse(r.data) as UidSet);
  }
  private readExpunges: Database.Statement | undefined;

  accountIds(): string[] {
    return (this.db.prepare('SELECT id FROM accounts ORDER BY id').all() as { id: string }[]).map((r) => r.id);
  }

  // --- Bounded history (replication.journal_max_bytes; ./keeper.ts decides what goes) ---

  /** Bytes the journal's records occupy (pages in use; free pages left by pruning are reused). */
  usedBytes(): number {
    const pageSize = this.db.pragma('page_size', { simple: true }) as number;
    const pages = this.db.pragma('page_count', { simple: true }) as number;
    const free = this.db.pragma('freelist_count', { simple: true }) as number;
    return (pages - free) * pageSize;
  }

  /** Lowest LSN still held (0 when the journal holds no record). */
  firstLsn(): bigint {
    const r = this.q('SELECT min(lsn) AS m FROM records').get() as { m: bigint | null };
    return r.m ?? 0n;
  }

  /** Accounts with mail records (not directory 'account' records) at or below `lsn`, each with the highest such LSN. */
  accountsUpTo(lsn: bigint): { account: string; last: bigint }[] {
    return this.q("SELECT account, max(lsn) AS last FROM records WHERE lsn <= ? AND kind <> 'account' GROUP BY account").all(lsn) as { account: string; last: bigint }[];
  }

  /** The first record of an account after `lsn` (a snapshot's in-flight tail), or null. */
  firstForAccountAfter(accountId: string, lsn: bigint): bigint | null {
    const r = this.q('SELECT min(lsn) AS m FROM records WHERE account = ? AND lsn > ?').get(accountId, lsn) as { m: bigint | null };
    return r.m;
  }

  /**
   * Delete records with lsn in (from, to], in one transaction. Before they go,
   * each account's expunge floor rises to the highest modseq of its pruned
   * expunges: QRESYNC asked about an older modseq can no longer be answered
   * from the journal (expungesSince returns null).
   */
  prune(from: bigint, to: bigint): number {
    let n = 0;
    this.db.transaction(() => {
      this.q(
        `INSERT INTO expunge_floor (account, modseq)
           SELECT account, max(CAST(json_extract(data, '$.modseq') AS INTEGER)) FROM records
            WHERE lsn > ? AND lsn <= ? AND kind IN ('expunge', 'mailbox-rename') GROUP BY account
         ON CONFLICT(account) DO UPDATE SET modseq = max(modseq, excluded.modseq)`,
      ).run(from, to);
      n = this.q('DELETE FROM records WHERE lsn > ? AND lsn <= ?').run(from, to).changes;
    }).immediate();
    return n;
  }

  /** Raise an account's expunge floor (a replica seeded by a snapshot has no history below it). */
  raiseExpungeFloor(accountId: string, modseq: number): void {
    this.q('INSERT INTO expunge_floor (account, modseq) VALUES (?, ?) ON CONFLICT(account) DO UPDATE SET modseq = max(modseq, excluded.modseq)').run(accountId, modseq);
  }

  /**
   * Start an empty journal at `lsn` (a replica seeded by a snapshot taken at
   * that LSN): the next record received or written is lsn + 1.
   */
  startAt(lsn: bigint, appliedKey: string): void {
    this.restart(lsn, appliedKey, false);
  }

  /** Empty the journal and its expunge floors (replica full resync): LSNs start again at 1. */
  clear(appliedKey: string): void {
    this.restart(0n, appliedKey, true);
  }

  /** No records, the next LSN lsn + 1, `appliedKey` = lsn; durable. Expunge floors kept unless `dropFloors`. */
  private restart(lsn: bigint, appliedKey: string, dropFloors: boolean): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM records').run();
      this.db.prepare("DELETE FROM sqlite_sequence WHERE name = 'records'").run();
      if (lsn > 0n) this.db.prepare("INSERT INTO sqlite_sequence (name, seq) VALUES ('records', ?)").run(lsn);
      if (dropFloors) this.db.prepare('DELETE FROM expunge_floor').run();
      this.setMetaStmt.run(appliedKey, lsn.toString());
    }).immediate();
    this.syncNow();
    this.last = lsn;
  }

  close(): void {
    walCheckpoints.untrack(this.checkpointed);
    if (this.walFd !== null) {
      fs.closeSync(this.walFd);
      this.walFd = null;
    }
    this.db.close();
  }
}

/** A row, decoded and checked (RecordDecodeError for a row this release cannot read). */
function toRecord(r: Row): JournalRecord {
  const lsn = BigInt(r.lsn);
  let data: unknown;
  try {
    data = JSON.parse(r.data);
  } catch {
    throw new RecordDecodeError(lsn.toString(), r.kind, 'data is not JSON');
  }
  return decodeRecord(lsn, Number(r.epoch), Number(r.time), r.account, r.kind, data, r.v === null ? undefined : Number(r.v));
}
