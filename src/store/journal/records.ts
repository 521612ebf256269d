/**
 * The change journal's records, one type per kind. A record is written in
 * the same step as the index change it describes, shipped by replication
 * and replayed after a crash; every reader sees `data` typed by `kind`, so a
 * misspelt field is a compile error instead of a field the replica ignores.
 *
 * The JSON shape of each kind is the wire and SQLite encoding (./codec.ts
 * checks it when a record comes in): field names and types here are a
 * contract with replicas of other releases. Mod-sequences are 63-bit
 * (RFC 7162 §3.1.2), so they travel as decimal strings; every other number
 * fits a double. Optional fields were added after the kind first shipped;
 * a record of an older release lacks them.
 */
import type { AccountStatus } from '../../accounts/directory.js';

/** Fields of every mail record. */
interface MailData {
  /** The account's Maildir on the writing node (a replica's fallback for an account it does not know yet). */
  readonly maildir: string;
  /** Opaque id of the session that made the change (MailboxEvent.origin); absent for deliveries and the watcher. */
  readonly origin?: string;
}

/** A mailbox is known by its name and UIDVALIDITY (never reused within an account, RFC 3501 §2.3.1.1). */
interface InMailbox extends MailData {
  readonly mailbox: string;
  readonly uidvalidity: number;
}

export interface DeliverData extends InMailbox {
  readonly uid: number;
  readonly modseq: string;
  /** Maildir base name (the POP3 UIDL); `filename` is "new/<name>" or "cur/<name>:2,<flags>". */
  readonly basename: string;
  readonly filename: string;
  /** "tmp/<name>" the file waits under until the record is durable ('' when it was found in place). */
  readonly tmp?: string;
  readonly flags: readonly string[];
  /** INTERNALDATE, ms since the epoch. */
  readonly internalDate: number;
  readonly size: number;
  readonly vsize: number;
  /** SMTP envelope sender (split-brain handback re-delivers with it). */
  readonly sender?: string;
  /** Found in the Maildir, put there by another program (first open, reconcile). */
  readonly external?: boolean;
  /** COPY/MOVE: the message this is a copy of. */
  readonly copyOf?: { readonly mailbox: string; readonly uidvalidity: number; readonly uid: number };
  /** Indexed from its name alone (lazy first open, store/facts.ts): size and date are provisional until a 'facts' record. */
  readonly lazy?: boolean;
}

/** UIDs as a list or as inclusive ranges (a STORE over 1:* is one range). */
export interface UidSet {
  readonly uids?: readonly number[];
  readonly ranges?: readonly (readonly [number, number])[];
}

export interface FlagUpdate extends UidSet {
  /** The messages' new flags, whole. */
  readonly flags: readonly string[];
  /** With `uids`: the names another program gave the files (reconcile); the name on disk is the truth. */
  readonly filenames?: readonly string[];
}

export interface FlagsData extends InMailbox {
  readonly modseq: string;
  readonly updates: readonly FlagUpdate[];
}

export interface ExpungeData extends InMailbox, UidSet {
  readonly modseq: string;
}

export interface MailboxCreateData extends InMailbox {
  readonly specialUse?: string | null;
  readonly subscribed?: boolean;
  /** UIDNEXT to start at (a folder found on disk already has UIDs). */
  readonly uidnext?: number;
  /** Created by a Maildir import: the subscriptions file is not rewritten for it (account.ts). */
  readonly fromMaildir?: boolean;
}

export type MailboxDeleteData = InMailbox;

/**
 * RENAME of INBOX moves its messages to a new mailbox and leaves INBOX empty
 * (RFC 3501 §6.3.5); any other RENAME moves the mailbox and its children (`pairs`).
 */
export type MailboxRenameData = MailData & { readonly from: string; readonly to: string } & (
    | { readonly pairs: readonly (readonly [string, string])[]; readonly uidvalidity?: undefined }
    | { readonly pairs?: undefined; readonly uidvalidity: number; readonly modseq: string; readonly uids: readonly number[] }
  );

export interface SubscribeData extends MailData {
  readonly mailbox: string;
  readonly subscribed: boolean;
}

/** The \Recent boundary moved (store/recent.ts, RFC 3501 §2.3.2). */
export interface RecentData extends InMailbox {
  readonly uid: number;
}

/** A folder's dovecot-keywords table (store/side-files.ts); null entries are unused indexes. */
export interface KeywordsData extends InMailbox {
  readonly table: readonly (string | null)[];
}

/**
 * One piece of INBOX's recorded POP3 UIDLs (store/side-files.ts): the first
 * resets, the last completes; or the file was removed on the primary.
 */
export type Pop3UidlsData = MailData &
  (
    | { readonly uidvalidity: number; readonly reset: boolean; readonly last: boolean; readonly uidls: readonly (readonly [number, string])[] }
    | { readonly removed: true }
  );

/**
 * Facts read from the files of messages a lazy first open indexed from their
 * names (store/facts.ts): one [uid, size, vsize, internalDate] per message.
 */
export interface FactsData extends InMailbox {
  readonly facts: readonly (readonly [number, number, number, number])[];
}

/** Reserved kind: no release writes it and nothing applies it. */
export interface QuotaData {
  readonly maildir?: string;
}

/** A user row of the embedded directory, as accounts.sqlite holds it (password hash only). */
export interface DirectoryUser {
  readonly address: string;
  readonly password: string;
  readonly maildir: string;
  readonly quota_bytes: number;
  readonly quota_messages: number;
  readonly max_message_size: number;
  readonly status: AccountStatus;
  readonly created: number;
  /** Columns added later: records journaled before them carry none. */
  readonly uidl_format?: string;
  readonly forwards?: string;
  readonly reply_text?: string;
}

export type DirectoryChange =
  | { readonly op: 'user-put'; readonly user: DirectoryUser }
  | { readonly op: 'user-del'; readonly address: string }
  | { readonly op: 'alias-put'; readonly alias: string; readonly address: string }
  | { readonly op: 'alias-del'; readonly alias: string };

/** A vacation reply sent (src/delivery/vacation/memory.ts, RFC 3834 §3.1.1). */
export interface VacationSent {
  readonly sender: string;
  readonly hash: string;
  readonly at: number;
}

/** Embedded-directory changes (src/accounts/journaled.ts) or a vacation reply sent. */
export interface AccountData {
  readonly changes?: readonly DirectoryChange[];
  readonly vacation?: VacationSent;
}

export interface RecordDataByKind {
  deliver: DeliverData;
  flags: FlagsData;
  expunge: ExpungeData;
  'mailbox-create': MailboxCreateData;
  'mailbox-rename': MailboxRenameData;
  'mailbox-delete': MailboxDeleteData;
  subscribe: SubscribeData;
  recent: RecentData;
  account: AccountData;
  quota: QuotaData;
  keywords: KeywordsData;
  'pop3-uidls': Pop3UidlsData;
  facts: FactsData;
}

export type RecordKind = keyof RecordDataByKind;

export const RECORD_KINDS: readonly RecordKind[] = [
  'deliver',
  'flags',
  'expunge',
  'mailbox-create',
  'mailbox-rename',
  'mailbox-delete',
  'subscribe',
  'recent',
  'account',
  'quota',
  'keywords',
  'pop3-uidls',
  'facts',
];

/** A record before it has an LSN. */
export type RecordDraft = { [K in RecordKind]: { readonly accountId: string; readonly kind: K; readonly data: RecordDataByKind[K] } }[RecordKind];

/** A committed record. */
export type JournalRecord = {
  [K in RecordKind]: {
    readonly lsn: bigint;
    readonly epoch: number;
    readonly time: number;
    readonly accountId: string;
    readonly kind: K;
    readonly data: RecordDataByKind[K];
  };
}[RecordKind];

export type RecordOf<K extends RecordKind> = Extract<JournalRecord, { kind: K }>;
export type DraftOf<K extends RecordKind> = Extract<RecordDraft, { kind: K }>;

/** A draft of kind `kind` (the one place a generic kind is tied to its data type). */
export function draftOf<K extends RecordKind>(accountId: string, kind: K, data: RecordDataByKind[K]): DraftOf<K> {
  return { accountId, kind, data } as DraftOf<K>;
}

/** A record with its data replaced (same kind). */
export function withData<K extends RecordKind>(rec: RecordOf<K>, data: RecordDataByKind[K]): RecordOf<K> {
  return { ...rec, data } as RecordOf<K>;
}

/** A type guard for `filter`: records of one kind. */
export const isKind =
  <K extends RecordKind>(kind: K) =>
  (r: JournalRecord): r is RecordOf<K> =>
    r.kind === kind;

/** `r` as a record of `kind`, for code that journaled only that kind (a wrong kind is a bug: thrown). */
export function asKind<K extends RecordKind>(r: JournalRecord, kind: K): RecordOf<K> {
  if (r.kind !== kind) throw new Error(`journal: expected a '${kind}' record, got '${r.kind}' (lsn ${r.lsn})`);
  return r as RecordOf<K>;
}

/** Omit over each member of a union (MailboxRenameData has two forms). */
export type DistributiveOmit<T, K extends PropertyKey> = T extends unknown ? Omit<T, K> : never;
