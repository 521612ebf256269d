/**
 * The store as its own modules see it: what the user store, mailbox
 * handles, replication, snapshots, account moves and reindexing use of the
 * store around them. ./store-impl.ts implements it; they import this type,
 * never the class, so every import inside src/store points one way (the
 * implementation imports its parts, the parts import nothing above them).
 */
import type { Account } from '../accounts/directory.js';
import type { AccountState, StoreCore } from './account.js';
import type { AccountFreezer } from './freezer.js';
import type { JournalKeeper } from './journal/keeper.js';
import type { MailboxWatcher } from './maildir/watcher.js';
import type { Draft, StoreOptions } from './store.js';
import type { SavedMessage } from './types.js';

/** One mailbox a save (deliver, APPEND) places the message in. */
export interface SaveTarget {
  st: AccountState;
  mailbox: string;
  flags: string[];
}

export interface StoreInterior extends StoreCore {
  readonly opts: StoreOptions;
  /** Watches open mailboxes for files other programs drop in; null unless StoreOptions.watch. */
  readonly watcher: MailboxWatcher | null;
  /** Bounds the journal's history; null when unbounded (CLI tools). */
  readonly keeper: JournalKeeper | null;
  readonly freezer: AccountFreezer;
  /** Accounts whose index a reindex is rebuilding now (store/reindex.ts): their logins and commits get TEMP. */
  readonly rebuilding: Set<string>;
  /** Throws TEMP while the account's index is being rebuilt. */
  refuseWhileRebuilding(accountId: string): void;
  /** Whether client writes are allowed (primary) or refused (replica), read from the role's owner (ReplicationSupport.followRole). */
  writableSource: () => boolean;
  /** Epoch stamped on new journal records. */
  currentEpoch: number;
  /** NOTPRIMARY on a replica, TEMP while closing. */
  assertWritable(): void;
  /** Highest LSN written. */
  lastLsn(): bigint;
  /** The live state of an account (created on first use). */
  state(account: Account): AccountState;
  /** State for an account known only by id (replication): from the journal's account table. */
  stateById(id: string): AccountState | null;
  /** Before an account's first index use from a session: a new index file is copied off the event loop. */
  prepareIndex(st: AccountState): Promise<void>;
  /** The index database file of an account. */
  indexFile(id: string): string;
  /** Close one account's index and drop its in-memory state. */
  forgetAccount(id: string): void;
  /** Close and delete every account's index and drop all in-memory state (replica reset). */
  forgetAccounts(): void;
  /** Accounts first opened read-only run the writable half of recovery on their next use. */
  recoverAgainWhenWritable(): void;
  /** The body of a just-committed delivery, kept for replication (taken once). */
  takeRecentBody(lsn: bigint): Buffer | undefined;
  /** Wait for queued commits and background file work (tests, shutdown). */
  settle(): Promise<void>;
  /** The one save path (deliver, APPEND): all-or-nothing over the targets. */
  save(
    draft: Draft,
    targets: SaveTarget[],
    o: { internalDate?: Date; origin: string | null; sender?: string },
  ): Promise<SavedMessage[]>;
}
