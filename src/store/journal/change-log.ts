/**
 * The change log as its users outside the mail store see it: the embedded
 * directory (src/accounts/journaled.ts) and the vacation memory
 * (src/delivery/vacation/memory.ts) journal their own 'account' records
 * and follow the stream, without knowing the store behind it. The store
 * (src/store/store.ts) is one; anything with a journal can be.
 */
import type { AccountData, JournalRecord, RecordOf } from './records.js';

export interface ChangeLog {
  /** Highest LSN written. */
  lastLsn(): bigint;
  /**
   * Append an 'account' record. NOTPRIMARY on a replica. Resolves with its
   * LSN once durable; onJournal listeners have seen it by then.
   */
  journalAccountChange(accountId: string, data: AccountData): Promise<bigint>;
  /** 'account' records with lsn > after, in order, at most `limit`. */
  readAccountRecords(after: bigint, limit: number): Promise<readonly RecordOf<'account'>[]>;
  /** Called after each journal commit, records in LSN order. Returns unsubscribe. */
  onJournal(listener: (records: readonly JournalRecord[]) => void): () => void;
}
