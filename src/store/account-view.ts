/**
 * The part of one account's live state (./account.ts AccountState) that the
 * helpers it owns use: its background file work (./file-work.ts) and its
 * side files (./side-files.ts). Declared apart so that AccountState can own
 * them while they read it, without the modules importing each other.
 */
import type { Account } from '../accounts/directory.js';
import type { MessageList } from './message-list.js';
import type { GroupCommitter } from './commit.js';
import type { IndexDb, MailboxRow } from './index/db.js';
import type { JournalRecord } from './types.js';

export interface AccountView {
  readonly id: string;
  readonly account: Account;
  /** What these helpers need from the store around the account. */
  readonly core: {
    readonly committer: GroupCommitter;
    isWritable(): boolean;
    warn(msg: string, err?: unknown): void;
  };
  /** Loaded mailbox caches by mailbox id. */
  readonly caches: ReadonlyMap<number, MessageList>;
  /** Cached entries of a mailbox are about to change in place (a list being loaded meanwhile is not kept). */
  noteInPlace(mailboxId: number): void;
  /** The index (opened on demand). */
  db(): IndexDb;
  /** A mailbox's Maildir folder. */
  dir(name: string): string;
  /** Record the new/ and cur/ mtimes the index has seen. */
  noteMtimes(mb: MailboxRow): void;
  /** Apply committed records to the index, caches and listeners. */
  applyIndex(recs: readonly JournalRecord[]): void;
}
