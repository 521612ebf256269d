/**
 * The directory: who exists, where their Maildir is, and whether a password is
 * right. Backends: `sqlite` (embedded, managed by `roost user …`) and `ldap`
 * (qmail-ldap schema). Protocol modules depend only on this interface.
 *
 * Outcomes are distinct on purpose: "no such user" and "wrong password" are
 * answers; a backend outage is an exception (`RoostError('UNAVAILABLE')`) so it
 * can never be mistaken for either (QMQP Z, POP3 -ERR [SYS/TEMP], IMAP
 * NO [UNAVAILABLE]).
 */

export type AccountStatus = 'active' | 'noaccess' | 'disabled' | 'deleted';

/**
 * What final delivery does besides (or instead of) the Maildir copy, from
 * qmail-ldap's mailForwardingAddress, deliveryMode and mailReplyText
 * (QLDAPINSTALL; qmail-local.c) or the embedded directory's
 * `roost user forward` / `roost user vacation`. Absent on an Account: a
 * local copy only. Built by src/accounts/delivery-mode.ts.
 */
export interface DeliveryOptions {
  /** Store the Maildir copy (false: deliveryMode nolocal, nombox or forwardonly). */
  readonly local: boolean;
  /** Forwarding targets, already empty under deliveryMode noforward. Handed to the smarthost with the same bytes. */
  readonly forwards: readonly string[];
  /** Vacation text (deliveryMode reply with a mailReplyText); absent = no replies. */
  readonly replyText?: string;
}

export interface Account {
  /** Stable key for the account: index file names, locks, journal records. */
  readonly id: string;
  /** Primary mail address (lower-cased domain). */
  readonly address: string;
  /** Login name (embedded: the address; LDAP: `uid`). */
  readonly login: string;
  /** Absolute path of the Maildir root (contains cur/ new/ tmp/). */
  readonly maildir: string;
  /** Maildir++ quota; 0 = unlimited. */
  readonly quotaBytes: number;
  readonly quotaMessages: number;
  /** Largest message this user accepts (LDAP mailSizeMax); 0 = no per-user limit. */
  readonly maxMessageSize: number;
  readonly status: AccountStatus;
  /** Forwards, no-local-copy and vacation; absent = a local copy only. */
  readonly delivery?: DeliveryOptions;
  /** This account's pop3.uidl_format (a migrated Dovecot user keeps its UIDLs); empty or absent: the config's. */
  readonly uidlFormat?: string;
  /** LDAP mailHost: the server (pair) holding this mailbox; absent = this one (qmail-ldap: no mailHost is local). */
  readonly mailHost?: string;
}

export interface AuthenticateOptions {
  /**
   * Accept an account whose mailHost is another server (the auth_http
   * service routes such logins there); without it such a login is a
   * temporary failure, as this node cannot serve the mailbox.
   */
  anyHost?: boolean;
}

export type RecipientResult =
  | { kind: 'found'; account: Account }
  /** Permanently refused (unknown, disabled, deleted, other mailHost): QMQP D with this text. */
  | { kind: 'rejected'; text: string }
  /** Temporarily refused (ambiguous entry, other mailHost with defer policy): QMQP Z with this text. */
  | {
      kind: 'deferred';
      text: string;
      /**
       * The account's mailHost when it is another server and
       * `directory.ldap.other_host = "forward"`: final delivery over QMQP
       * hands the message to that host; other callers defer as usual.
       */
      mailHost?: string;
    };

export type AuthResult =
  | { kind: 'ok'; account: Account }
  /** Unknown login or wrong password: the two are never told apart to the client. */
  | { kind: 'failed' }
  /** Right password, but the account may not log in (noaccess, disabled, deleted). */
  | { kind: 'refused'; status: AccountStatus };

export interface DirectoryHealth {
  ok: boolean;
  backend: string;
  detail?: string;
}

export interface Directory {
  readonly backend: 'sqlite' | 'ldap';
  /** Resolve a recipient address (primary, alias, or catchall) to one account. */
  lookupRecipient(address: string): Promise<RecipientResult>;
  /** Check a login and password. Throws RoostError('UNAVAILABLE') on outage. */
  authenticate(login: string, password: string, options?: AuthenticateOptions): Promise<AuthResult>;
  /** The account for an id previously returned (used by replication and CLI). */
  accountById(id: string): Promise<Account | null>;
  /**
   * Make the directory name `mailHost` as the account's server (`roost account
   * move --update-ldap`); the entry's DN. Absent where the backend keeps no
   * mailHost. Throws NOPERM when no write credentials are configured.
   */
  setMailHost?(address: string, mailHost: string): Promise<{ dn: string }>;
  health(): DirectoryHealth;
  close(): Promise<void>;
  /**
   * Backends whose contents replicate with the store (the embedded one): the
   * whole directory, for a replica being seeded by a snapshot. LDAP has its
   * own replication and leaves these out.
   */
  exportState?(): unknown[];
  /** Replace the whole directory with an exportState() of the primary, as of journal LSN `lsn`. */
  replaceState?(state: unknown[], lsn: bigint): void;
}
