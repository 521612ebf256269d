/**
 * THE storage API, types only. IMAP, POP3, QMQP,
 * replication and the CLI use only what this file declares (plus ./types.ts
 * and ./mime/*) and get a Store from ./open.ts; everything else under
 * src/store is private and the linter keeps it so.
 *
 * Truth and caches:
 *  - Maildir++ files are the truth for message bodies and, in their names, flags.
 *  - The per-user SQLite index (WAL) holds what files cannot: UIDVALIDITY,
 *    UID <-> file, UIDNEXT, modseqs, keywords, internal date, sizes, parsed MIME.
 *  - The change journal gets a record, with a global LSN, for every change in
 *    the same step as the index change; replication ships it; crash recovery
 *    replays it.
 *
 * Every method that changes state is durable when its promise resolves:
 * files fsync'd, directory entries fsync'd, journal committed. Concurrent
 * callers share fsyncs (group commit); nothing is skipped.
 *
 * Errors are RoostError with a code (../errors.ts); anything else is a bug or
 * an OS failure, which protocol modules report as a temporary failure.
 */
import type { RecordedUidls } from './maildir/pop3-uidls.js';
import type { Readable } from 'node:stream';
import type { Account } from '../accounts/directory.js';
import type {
  CopyResult,
  FlagOp,
  JournalRecord,
  MailboxEvent,
  MailboxInfo,
  MailboxName,
  MailboxSnapshot,
  MailboxStatus,
  QuotaUsage,
  RecentRange,
  SavedMessage,
  SpecialUse,
  StoreFlagsResult,
} from './types.js';
import type { AccountData, RecordOf } from './journal/records.js';
import type { MimeTree, SortKeys } from './mime/types.js';
import type { SearchHeader, StoredSearchFields } from './mime/search-header.js';

export type * from './types.js';

/**
 * A message being received (QMQP netstring body, IMAP APPEND literal,
 * `roost deliver` stdin). Bytes go straight to a spool file in the store's
 * tmp area as they arrive: a message is never held whole in memory.
 */
export interface Draft {
  /** Write a chunk; resolves when it is accepted (honour it for back-pressure). */
  write(chunk: Buffer): Promise<void>;
  /** All bytes written: fsync the spool file. Sizes are final afterwards. */
  finish(): Promise<void>;
  /**
   * finish(), made durable at once, and the draft's file descriptor closed:
   * for a draft that waits for others (MULTIAPPEND) before it is delivered.
   */
  park(): Promise<void>;
  /** Throw it away (client dropped, message refused). Safe to call twice. */
  discard(): Promise<void>;
  /**
   * A stream of the bytes of a finished draft, read from its spool file in
   * chunks: for handing the message on (outbound, cluster peers) before it
   * is delivered here. Valid until deliver() or discard().
   */
  openReader(): Readable;
  /** Bytes written so far. */
  readonly size: number;
}

export interface DraftOptions {
  /** Bytes written before the body (e.g. a `Received:` line, CRLF or LF ends as the body uses). */
  prefix?: Buffer;
  /** Refuse with RoostError('TOOBIG') when the body grows beyond this many bytes. */
  maxSize?: number;
}

export interface DeliverOptions {
  /** Envelope sender (may be ""), for logs and the journal. */
  sender: string;
  /** INTERNALDATE; default now. */
  internalDate?: Date;
  /** Mailbox per recipient; default INBOX. */
  mailbox?: MailboxName;
}

export interface AppendOptions {
  flags?: readonly string[];
  internalDate?: Date;
  /** Session id, reported back as `origin` in events. */
  origin?: string;
}

export interface OpenOptions {
  readOnly?: boolean;
  /** Session id, reported back as `origin` in events. */
  origin?: string;
  /**
   * Take part in \Recent (RFC 3501 §2.3.2, store/recent.ts): IMAP SELECT
   * claims the mailbox's unclaimed messages and its new arrivals, EXAMINE
   * (readOnly) sees the unclaimed ones without claiming. Others (POP3,
   * APPEND) leave \Recent alone.
   */
  recent?: boolean;
}

/** An open message file (MailboxHandle.openMessageFile): one descriptor, any number of reads, then close. */
export interface MessageFile {
  /** Bytes [start, end), fewer if the file is shorter (as readMessage). */
  read(start: number, end: number): Promise<Buffer>;
  /** Bytes [start, end) in chunks from the same descriptor, for a big section; ends early at the end of the file. */
  chunks(start: number, end: number): AsyncIterable<Buffer>;
  close(): Promise<void>;
}

/** A string a SEARCH requires, for MailboxHandle.searchFieldsExcluded. */
export interface StoredFieldsNeedle {
  readonly needle: string;
  /** Found in the address forms too (FROM/TO/CC/BCC), not only in the field lines. */
  readonly addresses: boolean;
}

/** One selected mailbox, as an IMAP session or a POP3 maildrop sees it. */
export interface MailboxHandle {
  readonly name: MailboxName;
  readonly readOnly: boolean;
  readonly uidvalidity: number;
  /** This session's \Recent messages when opened with `recent`, else null; updated in place by the store. */
  readonly recent: RecentRange | null;

  /** Current state from the index (sorted by UID). Cheap: no file is opened or stat'ed. */
  snapshot(): MailboxSnapshot;
  /**
   * Make size, RFC822.SIZE (vsize) and INTERNALDATE of these messages (all
   * when not given) exact before they are shown. After a lazy first open of
   * an unindexed Maildir they are provisional, taken from the file names,
   * until read from the files (store/facts.ts); the records of snapshots
   * already taken are updated in place. Resolves at once when nothing is
   * provisional (every mailbox that was not opened that way).
   * `structure`: their structures are about to be shown too (ENVELOPE,
   * BODYSTRUCTURE): each file not parsed yet is read once for both, in
   * batches, so structure() afterwards is an index lookup.
   */
  ensureFacts(uids?: readonly number[], opts?: { structure?: boolean }): Promise<void>;
  /** Subscribe to changes of this mailbox made by anyone; returns unsubscribe. */
  onChange(listener: (event: MailboxEvent) => void): () => void;

  /**
   * The message bytes exactly as stored (LF or CRLF line ends as delivered),
   * optionally a byte range [start, end). Streams from the file.
   * NOTFOUND if the message was expunged meanwhile.
   */
  openMessage(uid: number, range?: { start: number; end: number }): Promise<Readable>;
  /** Read a byte range fully (for small sections); same semantics as openMessage. */
  readMessage(uid: number, range?: { start: number; end: number }): Promise<Buffer>;
  /**
   * Open the message file once for several reads (every section of one
   * FETCH response). NOTFOUND if the message is gone now; once open, the
   * reads keep working if it is expunged and its file unlinked meanwhile
   * (POSIX keeps an open file), so a response can be gathered before it is
   * written. The caller must close it.
   */
  openMessageFile(uid: number): Promise<MessageFile>;
  /** Parsed MIME structure, computed at delivery and kept in the index. */
  structure(uid: number): Promise<MimeTree>;
  /**
   * SORT/THREAD keys (MimeTree.sort, RFC 5256 / RFC 5957) of the messages
   * `uids`, from the index's sort_keys rows (a structure stored before
   * they were kept gives its keys, and they are stored now). A message
   * missing from the answer has no stored structure yet: use structure().
   */
  sortKeys(uids: readonly number[]): Promise<ReadonlyMap<number, SortKeys>>;
  /**
   * The SORT/THREAD column image last saved for this mailbox under its
   * current UIDVALIDITY (opaque bytes of imap/search/sort-column-image.ts,
   * derived from the sort keys alone), or null when there is none.
   */
  sortColumns(): Promise<Buffer | null>;
  /** Keep `image` as this mailbox's column image, replacing the last one (a read-only handle may too: it is a cache). */
  saveSortColumns(image: Buffer): Promise<void>;
  /**
   * The stored SEARCH view of the common header fields (store/mime/search-header.ts
   * INDEXED_FIELDS) of the messages `uids` (ascending), from the index alone;
   * the answer may hold other UIDs too. A message missing from it has none
   * stored yet (delivered before they were kept); null: kept out, too long.
   */
  searchFields(uids: readonly number[]): Promise<readonly (readonly [number, StoredSearchFields | null])[]>;
  /**
   * UIDs whose stored search fields lack at least one of `needles`
   * (lower-cased; in the field lines, or with `addresses` in the address
   * forms either), so a program requiring them all cannot match there.
   * Messages without stored fields are never in it. One index scan.
   */
  searchFieldsExcluded(needles: readonly StoredFieldsNeedle[]): Promise<ReadonlySet<number>>;
  /**
   * Keep what SEARCH computed from the files of messages that had no stored
   * fields (one index transaction), so the next SEARCH needs no file.
   */
  keepSearchFields(headers: readonly (readonly [number, SearchHeader])[]): Promise<void>;

  /** Change flags/keywords; UNCHANGEDSINCE per RFC 7162 when given. */
  storeFlags(uids: readonly number[], op: FlagOp, flags: readonly string[], opts?: { unchangedSince?: bigint }): Promise<StoreFlagsResult>;
  /**
   * Expunge messages carrying \Deleted (only those in `uids` when given, for
   * UID EXPUNGE), or exactly `uids` regardless of flags when `force` is set
   * (POP3 DELE at QUIT, MOVE). Returns the expunged UIDs.
   */
  expunge(opts?: { uids?: readonly number[]; force?: boolean }): Promise<readonly number[]>;
  /**
   * RFC 7162 §3.2.5 (QRESYNC): UIDs of this mailbox expunged with a modseq
   * above `modseq`, as ascending disjoint [first, last] ranges. Ranges may
   * also cover UIDs that were expunged earlier (gaps), which RFC 7162 allows
   * in VANISHED (EARLIER); they never cover a message that exists.
   * Survives restarts and failover (it comes from the journal).
   */
  expungedSince(modseq: bigint): readonly (readonly [number, number])[];
  /**
   * SEARCH BODY / TEXT help (RFC 3501 §6.4.4) from the full-text index:
   * a superset of the UIDs whose decoded text parts (BODY) or header and
   * text parts (TEXT) contain `needle` case-insensitively. null when the
   * index cannot narrow this needle (shorter than three characters): scan.
   * Callers confirm each candidate with the exact check.
   */
  textCandidates(field: 'BODY' | 'TEXT', needle: string): Promise<ReadonlySet<number> | null>;
  /** COPY (or MOVE when `move`) to another mailbox of the same account. */
  copyTo(uids: readonly number[], dest: MailboxName, opts?: { move?: boolean }): Promise<CopyResult>;
  /** Stop events, release the handle. */
  close(): void;
}

/** Everything about one account's mailboxes. Obtained from Store.user(). */
export interface UserStore {
  readonly account: Account;
  listMailboxes(): Promise<readonly MailboxInfo[]>;
  /**
   * Create a mailbox. `subscribed` (default true) subscribes it at once; IMAP
   * CREATE passes false (RFC 3501 §6.3.3 does not subscribe). A name whose
   * earlier mailbox was deleted while subscribed is subscribed again.
   */
  createMailbox(name: MailboxName, opts?: { specialUse?: SpecialUse; subscribed?: boolean }): Promise<void>;
  deleteMailbox(name: MailboxName): Promise<void>;
  /** RFC 3501 RENAME; renaming INBOX moves its messages to the new mailbox. */
  renameMailbox(from: MailboxName, to: MailboxName): Promise<void>;
  /**
   * SUBSCRIBE (needs the mailbox) / UNSUBSCRIBE (also of a name whose
   * mailbox is gone). DELETE keeps a subscription (RFC 3501 §6.3.6).
   */
  setSubscribed(name: MailboxName, subscribed: boolean): Promise<void>;
  /** Every subscribed name, sorted: subscribed mailboxes and subscriptions that outlived their mailbox. */
  subscriptions(): Promise<readonly MailboxName[]>;
  status(name: MailboxName): Promise<MailboxStatus>;
  /**
   * Throws RoostError('NOTFOUND') unless the mailbox exists: one index row
   * read, no counts (APPEND's check before its continuation request).
   */
  checkMailbox(name: MailboxName): Promise<void>;
  openMailbox(name: MailboxName, opts?: OpenOptions): Promise<MailboxHandle>;
  /** IMAP APPEND: store a finished draft into a mailbox. */
  append(name: MailboxName, draft: Draft, opts?: AppendOptions): Promise<SavedMessage>;
  quota(): Promise<QuotaUsage>;
  /** Create Drafts, Sent, Trash, Junk, Archive with special-use if missing (first login). */
  ensureSpecialMailboxes(): Promise<void>;
  /**
   * RFC 1939 exclusive maildrop lock, in-process across all sessions.
   * Throws RoostError('INUSE') when held. Returns the release function.
   */
  lockMaildrop(owner: string): () => void;
  /**
   * The UIDLs another POP3 server answered for INBOX messages, by UID, as
   * `roost import … --pop3` recorded them (RFC 1939 §7), or
   * null when none were recorded.
   */
  recordedUidls(): Promise<RecordedUidls | null>;
}

export interface StoreOptions {
  /** Root of role/epoch, indexes and journal. */
  dataDir: string;
  /** Default root for Maildirs (accounts carry absolute paths). */
  mailDir: string;
  /** Used in Maildir unique names (TIME.UNIQUE.HOST). */
  hostname: string;
  /** Watch mailboxes that sessions have open for files dropped by other programs. */
  watch?: boolean;
  /** Keep the full-text index current in the background (./text-indexer.ts): a server node; CLI tools leave it to searches. */
  indexText?: boolean;
  /** Open per-account index databases kept (LRU); default LIMITS.store.maxOpenIndexes. */
  maxOpenIndexes?: number;
  /** Bound on the journal's history (replication.journal_max_bytes); unset: never pruned (CLI tools). */
  journalMaxBytes?: number;
  /** Where the store reports warnings and maintenance (journal pruning); default the JSON logger. */
  log?: (msg: string, fields: Record<string, unknown>) => void;
}

export interface Store {
  /** Start receiving a message into the spool. */
  createDraft(opts?: DraftOptions): Promise<Draft>;
  /**
   * Final delivery of a finished draft to every recipient, all-or-nothing:
   * either every recipient has it (file + dir fsync'd, indexed, journaled) or
   * none shows it. One spool file, hard-linked where the filesystem allows.
   * Over quota: OVERQUOTA; whether that bounces or defers is the caller's
   * policy (src/delivery/verdict.ts, `qmqp.over_quota`).
   */
  deliver(recipients: readonly Account[], draft: Draft, opts: DeliverOptions): Promise<readonly SavedMessage[]>;
  /**
   * The per-account API; cheap to call (handles are pooled in an LRU).
   * Throws RoostError('TEMP') for an account being moved or moved
   * away (a login's temporary failure) unless `frozenToo` (verify, purge).
   */
  user(account: Account, opts?: { frozenToo?: boolean }): UserStore;
  /**
   * Rebuild an account's index from its Maildir, keeping UIDs from
   * dovecot-uidlist/courierimapuiddb. `onProgress` hears the messages
   * indexed so far after each batch.
   */
  reindex(account: Account, opts?: { onProgress?: (messages: number) => void }): Promise<{ mailboxes: number; messages: number }>;

  // --- Journal (replication, status) ---
  /** Highest LSN written. */
  lastLsn(): bigint;
  /** Records with lsn > after, in order, at most `limit`. */
  readJournal(after: bigint, limit: number): Promise<readonly JournalRecord[]>;
  /** Called after each journal commit (in LSN order). Returns unsubscribe. */
  onJournal(listener: (records: readonly JournalRecord[]) => void): () => void;
  /**
   * onJournal narrowed to one account: called after each journal commit with
   * that account's records only (in LSN order). For per-session watchers of
   * many mailboxes (IMAP NOTIFY, RFC 5465), which must not hold a
   * MailboxHandle per mailbox. Returns unsubscribe.
   */
  onAccountJournal(accountId: string, listener: (records: readonly JournalRecord[]) => void): () => void;
  /**
   * Called earlier than onJournal, in LSN order: the records are committed
   * and their message files are in place, but the fsyncs that make them
   * durable may still run. Replication ships from here so the replica's
   * disk write overlaps the local one; no client has been answered yet.
   * Optional: without it, shipping waits for onJournal.
   */
  onCommit?(listener: (records: readonly JournalRecord[]) => void): () => void;
  /**
   * Highest LSN whose message files are in place (announced by onCommit or
   * onJournal, or journaled before the store was opened). A 'deliver' at or
   * below it whose file is missing was expunged or moved, not still being
   * placed. Optional.
   */
  placedLsn?(): bigint;

  /**
   * Journal an embedded-directory change (users, aliases, password
   * hashes, quota, status) as an 'account' record, so replication ships it
   * like any other write. `data` is the full new state (never a password).
   * NOTPRIMARY on a replica. Resolves with the record's LSN once durable;
   * onJournal listeners have seen it by then.
   */
  journalAccountChange(accountId: string, data: AccountData): Promise<bigint>;
  /** 'account' records with lsn > after, in order, at most `limit` (the directory catching up after a crash). */
  readAccountRecords(after: bigint, limit: number): Promise<readonly RecordOf<'account'>[]>;

  /** What replication needs beyond the journal (src/replication only). */
  readonly replication: ReplicationSupport;

  /** Wait for queued commits and background file work (index fills, unlinks); tests and shutdown. */
  settle(): Promise<void>;

  /**
   * Give back the SQLite page caches of the journal and of every open index
   * and full-text database (PRAGMA shrink_memory; each may hold 16 MB, the
   * default of the bundled SQLite). Called once a big job's garbage was
   * collected (src/work/heap-release.ts): what a rebuild filled them with is
   * read again from the OS page cache when it is needed.
   */
  releaseMemory(): void;

  /** Flush and close everything (SIGTERM). */
  close(): Promise<void>;
}

/**
 * Replication's view of the store. The primary ships journal records
 * plus the bytes of delivered messages; the replica applies them with the same
 * file names, UIDs, UIDVALIDITY and modseqs.
 */
/**
 * The bytes of a replicated message: in memory (a small one), or a file the
 * replication spool wrote and fdatasync'd (a large one, received in chunks).
 * The store links or copies such a file into place and reads it only in
 * chunks; the file stays the caller's (it removes it once the apply is done).
 */
export type ReplicaBody = Buffer | { file: string; size: number };

export interface ReplicationSupport {
  /** The message bytes a 'deliver' record refers to (as stored). */
  openDelivered(record: JournalRecord): Promise<Readable>;
  /** The same bytes read whole (cheaper per small message than a stream). */
  readDelivered(record: JournalRecord): Promise<Buffer>;
  /**
   * Apply a record received from the primary, idempotently (a record at or
   * below appliedLsn() is a no-op). `body` carries the bytes of a 'deliver'.
   * Durable when it resolves. The replica's own journal gets the same LSN.
   */
  apply(record: JournalRecord, body: ReplicaBody | null): Promise<void>;
  /**
   * apply() for a run of records in LSN order, with consecutive deliveries
   * group-committed (parallel file fsyncs, one journal sync, one index
   * transaction per account). Durable when it resolves.
   */
  applyBatch(items: readonly { record: JournalRecord; body: ReplicaBody | null }[]): Promise<void>;
  /** Highest LSN applied from the primary (durable across restarts). */
  appliedLsn(): bigint;
  /** Epoch stamped on new journal records. */
  setEpoch(epoch: number): void;
  /**
   * Take client writability from its one owner: `isPrimary` is read at every
   * write, so the store never holds a copy of the role (src/replication/epoch.ts
   * owns it; the ack gate and the node read the same function). Call again
   * after every role change: the edges run here (promote re-runs the writable
   * half of recovery, a step-down re-reads the journal head).
   */
  followRole(isPrimary: () => boolean): void;
  /** For a store no replication node drives (tools, tests): a fixed role, followRole(() => writable). */
  setWritable(writable: boolean): void;
  /** Account ids with data in this store (full resync, verify). */
  listAccountIds(): Promise<readonly string[]>;
  /**
   * Optional (full resync of a diverged or too-far-behind replica): forget all
   * mailbox data — every known account's Maildir contents, indexes, the
   * journal — so that appliedLsn() and lastLsn() are 0 and the primary's
   * journal can be applied from LSN 1. Durable when it resolves. Replication
   * falls back to "re-seed by hand" (contrib/README.md) while it is absent.
   */
  reset?(): Promise<void>;

  // --- Bounded journal and snapshots (without the snapshot members a full resync replays the journal from LSN 1) ---

  /** Size and range of the journal's history. */
  journalInfo(): JournalInfo;
  /** Keep every journal record above `lsn` until the returned function is called (a snapshot's stream start). */
  pinJournal(lsn: bigint): () => void;
  /** Primary: a consistent copy of one account's index; null when the account is unknown. */
  snapshotAccount?(accountId: string): Promise<AccountSnapshot | null>;
  /** Primary: the bytes of a snapshot's file, or null when it went after the image was taken. */
  readSnapshotFile?(accountId: string, file: SnapshotFile): Promise<Buffer | null>;
  /** Primary: the same bytes as a stream read in chunks (large files), or null when gone. */
  openSnapshotFile(accountId: string, file: SnapshotFile): Promise<Readable | null>;
  /** Replica (after reset()): make a snapshot's image this account's index; `account` carries this node's Maildir path. */
  installSnapshot?(account: Account, image: Buffer): Promise<void>;
  /** Replica: write a batch of a snapshot's files durably. */
  installSnapshotFiles?(account: Account, items: readonly { file: SnapshotFile; body: ReplicaBody }[]): Promise<void>;
  /** Replica: every account is installed; the journal continues after `lsn` (appliedLsn() = lastLsn() = lsn). Durable. */
  finishSnapshot?(lsn: bigint): Promise<void>;
  /** Moving accounts between pairs (`roost account move`); optional. */
  moves?: AccountMoves;
}

/** The store's half of `roost account move` (./freezer.ts, ./move-install.ts). */
export interface AccountMoves {
  /** Source: take the account for one move; false when another move of it is running (or it was moved). */
  claim(accountId: string): boolean;
  /** Source: the move that claimed the account ended (done or not). */
  release(accountId: string): void;
  /** Source: refuse every change to the account (and its logins) until thaw() or markMoved(). */
  freeze(accountId: string): void;
  thaw(accountId: string): void;
  /**
   * Source: resolves once the commits that had begun when it was called have
   * finished and updated their indexes (`next`: once the next commit after
   * that has). After freeze() no commit naming the account begins, so the
   * account's index stops changing here.
   */
  committed(next?: boolean): Promise<void>;
  /** Source: the destination holds the account; keep refusing, durably. */
  markMoved(accountId: string, host: string): void;
  movedTo(accountId: string): string | null;
  /** Source: remove a moved account's copy. */
  purge(account: Account): Promise<void>;
  /** Destination: this node holds mail for the account (a move to it is refused). */
  hasMail(account: Account): boolean;
  /** Destination: a writer for one file of a round, staged by UIDVALIDITY and UID. */
  stage(accountId: string, file: SnapshotFile): Promise<{ write(piece: Buffer): Promise<void>; finish(): Promise<void>; abort(): Promise<void> }>;
  /** Destination: remove the staging folder (what a failed move left, or a finished install's leftovers). */
  clearStaging(accountId: string): Promise<void>;
  /**
   * Destination, after a catch-up round's files are staged and synced: link
   * them into a Maildir in staging under the names they have now, with their
   * dates, and sync its folders, so the frozen round's install has only the
   * files that arrived or changed since to place.
   */
  prepareRound(accountId: string, files: readonly SnapshotFile[]): Promise<void>;
  /** Destination: the last catch-up round's image, written durably to staging (the install rewrites only the blocks that differ). */
  stageImage(accountId: string, image: Buffer): Promise<void>;
  /**
   * Destination: each file the final image names comes from staging (most of
   * them placed by prepareRound), then the image becomes the index; the
   * account stays refused (arriving) until confirm(). `phases` says where
   * the time went (for the source's log line of the freeze).
   */
  install(account: Account, image: Buffer): Promise<{ messages: number; bytes: number; phases?: Record<string, number> }>;
  /** Destination: the source confirmed the copy: it serves, and the pair's replica is to be re-seeded (followerResyncPending). */
  confirm(accountId: string): void;
  /** Destination: remove an installed copy not confirmed; false when there is none. */
  discard(accountId: string): Promise<boolean>;
  /** Destination: a confirmed arrival since the replica's last full resync (durable). */
  followerResyncPending(): boolean;
  followerResynced(): void;
}

/** One live message named by an account snapshot. */
export interface SnapshotFile {
  mailbox: string;
  uidvalidity: number;
  uid: number;
  basename: string;
  /** The name (under the mailbox folder) the index wants; the replica writes the file under it. */
  filename: string;
  /** The name last known on disk on the primary (differs while a flag rename is pending). */
  diskName: string;
  internalDate: number;
  size: number;
}

/** A consistent copy of one account's index (full resync; ./account-snapshot.ts). */
export interface AccountSnapshot {
  /** The account as the primary's store knows it. */
  account: Account;
  /** The image holds exactly the changes up to this LSN for the account. */
  appliedLsn: bigint;
  /** The account's first journaled record not yet in the image (a commit in flight), or null. */
  firstAfter: bigint | null;
  /** The index database (SQLite file image). */
  image: Buffer;
  /** Live messages, whose bytes readSnapshotFile() gives. */
  files: SnapshotFile[];
}

/** The journal's bounded history, as `roost status` shows it. */
export interface JournalInfo {
  firstLsn: string;
  lastLsn: string;
  usedBytes: number;
  maxBytes: number | null;
  pruned: number;
}
export type { RecordedUidls };
