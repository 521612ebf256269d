/**
 * The change journal (STYLE.md habit 6): one SQLite database per node, WAL
 * with synchronous=FULL, so a committed record survives power loss. Every
 * store change appends records here first; the commit of that transaction is
 * the commit point. Several processes (server, `roost deliver`) may append:
 * SQLite's locking serialises them and AUTOINCREMENT keeps LSNs unique and
 * increasing, never reused.
 */
import Database from 'better-sqlite3';
import path from 'node:path';
import type { Account } from '../../accounts/directory.js';
import type { JournalRecord } from '../types.js';
import { JOURNAL_SCHEMA, JOURNAL_VERSION } from './schema.js';

export type RecordKind = JournalRecord['kind'];

/** A record before it has an LSN. */
export interface RecordDraft {
  readonly accountId: string;
  readonly kind: RecordKind;
  readonly data: Record<string, unknown>;
}

type Row = { lsn: number | bigint; epoch: number; time: number; account: string; kind: string; data: string };

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

  constructor(dataDir: string) {
    this.db = new Database(path.join(dataDir, 'journal.sqlite'));
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('busy_timeout = 10000');
    if ((this.db.pragma('user_version', { simple: true }) as number) === 0) {
      this.db.exec(JOURNAL_SCHEMA);
      this.db.pragma(`user_version = ${JOURNAL_VERSION}`);
    }
    this.insert = this.db.prepare('INSERT INTO records (epoch, time, account, kind, data) VALUES (?, ?, ?, ?, ?)');
    this.insertAt = this.db.prepare('INSERT OR IGNORE INTO records (lsn, epoch, time, account, kind, data) VALUES (?, ?, ?, ?, ?, ?)');
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
    this.last = this.readMaxLsn();
  }

  private readMaxLsn(): bigint {
    const m = (this.maxLsn.get() as { m: bigint | null }).m;
    return m ?? 0n;
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

  /** Append records in one durable transaction; returns them with their LSNs. */
  append(drafts: readonly RecordDraft[], epoch: number): JournalRecord[] {
    const time = Date.now();
    const out: JournalRecord[] = [];
    this.db.transaction(() => {
      for (const d of drafts) {
        const info = this.insert.run(epoch, time, d.accountId, d.kind, JSON.stringify(d.data));
        out.push({ lsn: BigInt(info.lastInsertRowid), epoch, time, accountId: d.accountId, kind: d.kind, data: d.data });
      }
    }).immediate();
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
      const info = this.insertAt.run(rec.lsn, rec.epoch, rec.time, rec.accountId, rec.kind, JSON.stringify(rec.data));
      inserted = info.changes > 0;
      this.setMetaStmt.run(metaKey, rec.lsn.toString());
    }).immediate();
    if (rec.lsn > this.last) this.last = rec.lsn;
    return inserted;
  }

  read(after: bigint, limit: number): JournalRecord[] {
    return (this.readAfter.all(after, limit) as Row[]).map(toRecord);
  }

  /** Records of one kind with lsn > after, in order (the directory catching up on 'account' records). */
  readKind(kind: RecordKind, after: bigint, limit: number): JournalRecord[] {
    this.readKindStmt ??= this.db.prepare('SELECT * FROM records WHERE kind = ? AND lsn > ? ORDER BY lsn LIMIT ?').safeIntegers(true);
    return (this.readKindStmt.all(kind, after, limit) as Row[]).map(toRecord);
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
   * never pruned, and is replicated with the same LSNs): RFC 7162 §3.2.5
   * needs the UIDs expunged since the client's modseq. A mailbox is known by
   * its UIDVALIDITY (never reused within an account); INBOX also loses all its
   * messages when renamed (RFC 3501 §6.3.5), recorded as 'mailbox-rename'.
   */
  expungesSince(accountId: string, uidvalidity: number, mailbox: string, modseq: bigint): Record<string, unknown>[] {
    this.readExpunges ??= this.db.prepare(
      `SELECT data FROM records WHERE account = ? AND kind IN ('expunge', 'mailbox-rename')
         AND ((kind = 'expunge' AND json_extract(data, '$.uidvalidity') = ?) OR (kind = 'mailbox-rename' AND json_extract(data, '$.from') = ?))
         AND CAST(json_extract(data, '$.modseq') AS INTEGER) > ? ORDER BY lsn`,
    );
    return (this.readExpunges.all(accountId, uidvalidity, mailbox, modseq) as { data: string }[]).map((r) => JSON.parse(r.data) as Record<string, unknown>);
  }
  private readExpunges: Database.Statement | undefined;

  accountIds(): string[] {
    return (this.db.prepare('SELECT id FROM accounts ORDER BY id').all() as { id: string }[]).map((r) => r.id);
  }

  /** Empty the journal (replica full resync): LSNs start again at 1. */
  clear(appliedKey: string): void {
    this.db.transaction(() => {
      this.db.prepare('DELETE FROM records').run();
      this.db.prepare("DELETE FROM sqlite_sequence WHERE name = 'records'").run();
      this.setMetaStmt.run(appliedKey, '0');
    }).immediate();
    this.last = 0n;
  }

  close(): void {
    this.db.close();
  }
}

function toRecord(r: Row): JournalRecord {
  return {
    lsn: BigInt(r.lsn),
    epoch: Number(r.epoch),
    time: Number(r.time),
    accountId: r.account,
    kind: r.kind as RecordKind,
    data: JSON.parse(r.data) as Record<string, unknown>,
  };
}
