/**
 * Once per sender per window (RFC 3834 §2: "SHOULD NOT … more than once
 * within a period of several days", 7 recommended; delivery.vacation_days):
 * who got a reply from which account, and when.
 *
 * Durable and replicated the way embedded-directory changes are
 * (src/accounts/journaled.ts): each reply is an 'account' journal record
 * `{ vacation: { sender, hash, at } }`, shipped to the replica like any other
 * record, and kept in data_dir/vacation.sqlite on both nodes; catchUp()
 * applies records a crash left unapplied, follow() the replica's stream. So
 * after a restart or a failover the same sender is not answered again.
 *
 * The text's hash is part of the memory, as in qmail-reply: a new text is
 * news, and each sender gets it once.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { RoostError } from '../../errors.js';
import { LIMITS } from '../../limits.js';
import type { ChangeLog } from '../../store/journal/change-log.js';
import type { JournalRecord, RecordOf, VacationSent } from '../../store/journal/records.js';
import { traceKey } from '../trace.js';

export type VacationJournal = ChangeLog;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS sent (
  account TEXT NOT NULL,
  sender TEXT NOT NULL,
  text_hash TEXT NOT NULL,
  at INTEGER NOT NULL,
  PRIMARY KEY (account, sender)
);
CREATE INDEX IF NOT EXISTS sent_at ON sent (account, at);
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
`;

type Sent = VacationSent;

export function textHash(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex').slice(0, 32);
}

/** The reply an 'account' record remembers, if it is about one (its shape was checked when decoded). */
function sentOf(rec: RecordOf<'account'>): Sent | null {
  return rec.data.vacation ?? null;
}

export class VacationMemory {
  private readonly db: Database.Database;
  /** Replies being sent now (account NUL sender): a second message from the same sender waits for the first's outcome. */
  private readonly inFlight = new Set<string>();

  constructor(
    file: string,
    private readonly journal: VacationJournal,
    private readonly windowMs: number,
    /** Senders kept per account (LIMITS.delivery.maxVacationSenders; smaller in tests). */
    private readonly maxSenders: number = LIMITS.delivery.maxVacationSenders,
  ) {
    try {
      this.db = new Database(file);
      this.db.pragma('journal_mode = WAL');
      this.db.pragma('busy_timeout = 5000');
      this.db.exec(SCHEMA);
    } catch (err) {
      throw new RoostError('UNAVAILABLE', `vacation memory ${file}: ${(err as Error).message}`, { cause: err });
    }
  }

  /**
   * Reserve the reply from `accountId` to `sender` for `text`: true when none
   * was sent within the window (and none is being sent); then call
   * remember() after it was handed off, or release() when it was not.
   */
  claim(accountId: string, sender: string, text: string, now = Date.now()): boolean {
    const key = `${accountId}\0${traceKey(sender)}`;
    if (this.inFlight.has(key)) return false;
    const row = this.db.prepare('SELECT text_hash AS hash, at FROM sent WHERE account = ? AND sender = ?').get(accountId, traceKey(sender)) as
      | { hash: string; at: number }
      | undefined;
    if (row && row.hash === textHash(text) && row.at + this.windowMs > now) return false;
    this.inFlight.add(key);
    return true;
  }

  /** Replies claimed and not yet remembered or released (being sent now). */
  pending(): number {
    return this.inFlight.size;
  }

  release(accountId: string, sender: string): void {
    this.inFlight.delete(`${accountId}\0${traceKey(sender)}`);
  }

  /** The reply was handed off: journal it (durable, replicated), then keep it here. */
  async remember(accountId: string, sender: string, text: string, now = Date.now()): Promise<void> {
    try {
      const sent: Sent = { sender: traceKey(sender), hash: textHash(text), at: now };
      const lsn = await this.journal.journalAccountChange(accountId, { vacation: sent });
      this.put(accountId, sent, lsn);
    } finally {
      this.release(accountId, sender);
    }
  }

  private put(accountId: string, s: Sent, lsn: bigint): void {
    this.db.transaction(() => {
      this.db
        .prepare(
          `INSERT INTO sent (account, sender, text_hash, at) VALUES (?, ?, ?, ?)
           ON CONFLICT(account, sender) DO UPDATE SET text_hash = excluded.text_hash, at = excluded.at`,
        )
        .run(accountId, s.sender, s.hash, s.at);
      // Entries past the window mean nothing any more; past the cap the oldest go first.
      this.db.prepare('DELETE FROM sent WHERE account = ? AND at + ? <= ?').run(accountId, this.windowMs, s.at);
      this.db
        .prepare('DELETE FROM sent WHERE account = ? AND sender IN (SELECT sender FROM sent WHERE account = ? ORDER BY at DESC, sender LIMIT -1 OFFSET ?)')
        .run(accountId, accountId, this.maxSenders);
      if (lsn > this.appliedLsn()) this.db.prepare("INSERT OR REPLACE INTO meta (key, value) VALUES ('lsn', ?)").run(lsn.toString());
    })();
  }

  /** Senders remembered for an account (status, tests). */
  count(accountId: string): number {
    return (this.db.prepare('SELECT count(*) AS n FROM sent WHERE account = ?').get(accountId) as { n: number }).n;
  }

  appliedLsn(): bigint {
    const row = this.db.prepare("SELECT value FROM meta WHERE key = 'lsn'").get() as { value: string } | undefined;
    return row ? BigInt(row.value) : 0n;
  }

  private apply(rec: RecordOf<'account'>): boolean {
    const s = sentOf(rec);
    if (!s || rec.lsn <= this.appliedLsn()) return false;
    this.put(rec.accountId, s, rec.lsn);
    return true;
  }

  /** Apply journaled replies this file has not seen (a crash between journal and file, a replica's first start). */
  async catchUp(): Promise<number> {
    let after = this.appliedLsn();
    // The journal was emptied (replica full resync): everything it has, again.
    if (after > this.journal.lastLsn()) after = 0n;
    let n = 0;
    for (let step = 0; step < 1_000_000; step++) {
      const recs = await this.journal.readAccountRecords(after, LIMITS.replication.readBatch);
      for (const r of recs) if (this.apply(r)) n++;
      if (recs.length < LIMITS.replication.readBatch) break;
      after = recs[recs.length - 1]!.lsn;
    }
    return n;
  }

  /** Apply replies as the store announces them (a replica applying the primary's stream). Returns unsubscribe. */
  follow(onError: (err: unknown, rec: JournalRecord) => void): () => void {
    return this.journal.onJournal((records) => {
      for (const r of records) {
        if (r.kind !== 'account') continue;
        try {
          this.apply(r);
        } catch (err) {
          onError(err, r);
        }
      }
    });
  }

  close(): Promise<void> {
    this.db.close();
    return Promise.resolve();
  }
}
