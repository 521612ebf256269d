/**
 * Types shared by the store and everyone who calls it (IMAP, POP3, QMQP,
 * replication, CLI). No implementation details live here.
 */

/** IMAP system flags as the store keeps them. Keywords are any other atom. */
export const SYSTEM_FLAGS = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'] as const;
export type SystemFlag = (typeof SYSTEM_FLAGS)[number];

/** RFC 6154 special-use attributes the store knows. */
export type SpecialUse = '\\Drafts' | '\\Sent' | '\\Trash' | '\\Junk' | '\\Archive' | '\\All' | '\\Flagged';

/**
 * One message as the index knows it. Everything POP3 LIST/UIDL and IMAP
 * FETCH FLAGS/UID/RFC822.SIZE/INTERNALDATE need, without opening the file.
 */
export interface MessageRecord {
  readonly uid: number;
  /** RFC 7162 mod-sequence of the last change to this message (63-bit). */
  readonly modseq: bigint;
  /** System flags and keywords, e.g. ['\\Seen', '$Junk']. Sorted, no duplicates. */
  readonly flags: readonly string[];
  /** INTERNALDATE, ms since the epoch (file mtime in the Maildir). */
  readonly internalDate: number;
  /** Bytes on disk (Maildir S=). */
  readonly size: number;
  /** Size with every line end counted as CRLF (Maildir W=, RFC822.SIZE, POP3 LIST). */
  readonly vsize: number;
  /** Maildir base name without `:2,…` — the POP3 UIDL (qmail-pop3d / Courier `%f`). */
  readonly basename: string;
}

/** A mailbox name as IMAP shows it decoded: Unicode, "." hierarchy separator, "INBOX" for the root. */
export type MailboxName = string;

export interface MailboxInfo {
  readonly name: MailboxName;
  readonly specialUse: SpecialUse | null;
  readonly subscribed: boolean;
  /** True when some other mailbox has this one as an ancestor. */
  readonly hasChildren: boolean;
  /** A parent that exists only because children exist (\Noselect / \NonExistent). */
  readonly selectable: boolean;
}

export interface MailboxStatus {
  readonly messages: number;
  readonly recent: number;
  readonly unseen: number;
  readonly uidnext: number;
  readonly uidvalidity: number;
  readonly highestModseq: bigint;
  /** Sum of vsize (STATUS=SIZE). */
  readonly size: number;
}

/**
 * One session's \Recent messages (RFC 3501 §2.3.2): the UIDs in [from, to),
 * empty when from >= to; `to` is Infinity while the session owns the
 * mailbox's new arrivals. Kept current by the store (store/recent.ts).
 */
export interface RecentRange {
  readonly from: number;
  readonly to: number;
}

/** A consistent view of a mailbox at one moment (sorted by UID). */
export interface MailboxSnapshot {
  readonly uidvalidity: number;
  readonly uidnext: number;
  readonly highestModseq: bigint;
  readonly messages: readonly MessageRecord[];
}

/**
 * Change events, one stream per (account, mailbox). IMAP sessions turn them
 * into EXISTS / EXPUNGE / FETCH FLAGS at the moments RFC 3501 §7.4.1 allows.
 * `origin` is the opaque id of the caller that made the change (so a session
 * can tell its own changes from others'); null for deliveries and the watcher.
 */
export type MailboxEvent =
  | { readonly type: 'append'; readonly origin: string | null; readonly messages: readonly MessageRecord[] }
  | {
      readonly type: 'flags';
      readonly origin: string | null;
      readonly updates: readonly { uid: number; flags: readonly string[]; modseq: bigint }[];
    }
  | { readonly type: 'expunge'; readonly origin: string | null; readonly uids: readonly number[]; readonly modseq: bigint }
  /** The mailbox was deleted or renamed away; sessions must deselect (BYE or NO). */
  | { readonly type: 'gone'; readonly origin: string | null };

export type FlagOp = 'add' | 'remove' | 'set';

export interface StoreFlagsResult {
  /** Messages whose flags changed, with the new modseq. */
  readonly updated: readonly { uid: number; flags: readonly string[]; modseq: bigint }[];
  /** RFC 7162 UNCHANGEDSINCE failures (UIDs). */
  readonly modified: readonly number[];
}

export interface CopyResult {
  /** Destination mailbox UIDVALIDITY (COPYUID). */
  readonly uidvalidity: number;
  /** [source uid, destination uid] in source order. */
  readonly pairs: readonly (readonly [number, number])[];
  /** Journal LSN of the copy's record (replication's sync-ack waits on it before IMAP answers OK). */
  readonly lsn?: bigint;
}

/** What `append`/`deliver` report for one stored copy. */
export interface SavedMessage {
  readonly accountId: string;
  readonly mailbox: MailboxName;
  readonly uidvalidity: number;
  readonly uid: number;
  readonly basename: string;
  /** Journal LSN of the record; replication's sync-ack waits on it. */
  readonly lsn: bigint;
}

/** Maildir++ usage and limits (RFC 9208 STORAGE in KiB is derived by IMAP). */
export interface QuotaUsage {
  readonly bytes: number;
  readonly messages: number;
  readonly limitBytes: number;
  readonly limitMessages: number;
}

/** Journal records, one type per kind (./journal/records.ts). */
export type { JournalRecord, RecordKind, RecordOf } from './journal/records.js';
