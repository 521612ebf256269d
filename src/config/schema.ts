/**
 * Every configuration key Roost knows, with its type and default.
 * The operator contract: the keys tests outside the repo rely on;
 * keep those names exact. Each key has a default, so an empty file is valid.
 */
import { LIMITS } from '../limits.js';

export type KeySpec =
  | { type: 'string'; default: string }
  | { type: 'listen'; default: string } // "host:port", or "" to disable
  | { type: 'int'; default: number; min: number; max: number }
  | { type: 'bool'; default: boolean }
  | { type: 'enum'; default: string; values: readonly string[] }
  | { type: 'strings'; default: readonly string[] }
  /** A TOML table of string values (e.g. cluster.hosts: mailHost → address). */
  | { type: 'map'; default: Readonly<Record<string, string>> };

export type Section = Record<string, KeySpec>;

const MiB = 1024 * 1024;
/** One default for every way in (QMQP, LMTP, IMAP APPEND), so a message one accepts the others accept too. */
export const DEFAULT_MAX_MESSAGE_SIZE = 50 * MiB;

export const SCHEMA = {
  '': {
    data_dir: { type: 'string', default: './data' },
    /** Maildirs live under this directory; empty means data_dir/mail. */
    mail_dir: { type: 'string', default: '' },
    hostname: { type: 'string', default: 'localhost' },
  },
  log: {
    level: { type: 'enum', default: 'info', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] },
  },
  imap: {
    listen: { type: 'listen', default: '127.0.0.1:1143' },
    tls_listen: { type: 'listen', default: '127.0.0.1:1993' },
    max_connections: { type: 'int', default: 20000, min: 1, max: 1_000_000 },
    /** Concurrent connections from one remote address (counted from accept, TLS handshakes included). */
    max_connections_per_ip: { type: 'int', default: 50, min: 1, max: 1_000_000 },
    /** Logged-in sessions of one account from one address (Dovecot's mail_max_userip_connections). */
    max_userip_connections: { type: 'int', default: 10, min: 1, max: 1_000_000 },
    /** Largest APPEND literal, advertised as APPENDLIMIT (RFC 7889); LIMITS.imap.maxLiteralSize is the ceiling. */
    max_message_size: { type: 'int', default: DEFAULT_MAX_MESSAGE_SIZE, min: 1024, max: LIMITS.imap.maxLiteralSize },
    /** Plain IMAP (STARTTLS offered) behind a proxy: each connection starts with a PROXY header (src/net/proxy-protocol.ts), only from proxy.trusted. */
    proxy_listen: { type: 'listen', default: '' },
  },
  pop3: {
    listen: { type: 'listen', default: '127.0.0.1:1110' },
    tls_listen: { type: 'listen', default: '127.0.0.1:1995' },
    /** RFC 2449 LOGIN-DELAY in seconds; 0 = not advertised. */
    login_delay: { type: 'int', default: 0, min: 0, max: 86400 },
    /** UIDL form (src/pop3/uidl-format.ts): "filename" (qmail-pop3d, Courier) or Dovecot's variables, e.g. "%08Xu%08Xv". */
    uidl_format: { type: 'string', default: 'filename' },
    max_connections: { type: 'int', default: 5000, min: 1, max: 1_000_000 },
    max_connections_per_ip: { type: 'int', default: 50, min: 1, max: 1_000_000 },
    /** Plain POP3 (STLS offered) behind a proxy, as imap.proxy_listen. */
    proxy_listen: { type: 'listen', default: '' },
  },
  qmqp: {
    listen: { type: 'listen', default: '127.0.0.1:1628' },
    max_message_size: { type: 'int', default: DEFAULT_MAX_MESSAGE_SIZE, min: 1024, max: 200_000_000 },
    max_recipients: { type: 'int', default: 1000, min: 1, max: 100_000 },
    max_connections: { type: 'int', default: 200, min: 1, max: 100_000 },
    read_timeout_ms: { type: 'int', default: 300_000, min: 100, max: 3_600_000 },
    /** What a delivery over quota answers: "defer" (Z, retry) or "bounce" (D, as qmail-ldap). */
    over_quota: { type: 'enum', default: 'defer', values: ['defer', 'bounce'] },
    /**
     * Peers (CIDR) whose messages may name recipients that are not local
     * (qmail-qmqpd's RELAYCLIENT); others get D #5.7.1 for such a recipient.
     */
    relay_from: { type: 'strings', default: ['127.0.0.0/8', '::1/128'] },
  },
  /** RFC 2033 LMTP, for Postfix (`lmtp:inet:…`), Exim and others: per-recipient replies, each meaning what QMQP's K means. */
  lmtp: {
    listen: { type: 'listen', default: '127.0.0.1:2424' },
    max_message_size: { type: 'int', default: 50 * MiB, min: 1024, max: 200_000_000 },
    /** RCPTs accepted per transaction; the next gets 452 4.5.3 (RFC 5321 §4.5.3.1.10). */
    max_recipients: { type: 'int', default: 1000, min: 1, max: 100_000 },
    max_connections: { type: 'int', default: 200, min: 1, max: 100_000 },
    /** Each read (command or data) must arrive within this (RFC 5321 §4.5.3.2.7: 5 minutes). */
    read_timeout_ms: { type: 'int', default: 300_000, min: 100, max: 3_600_000 },
  },
  /** Shared by every final-delivery path (QMQP, LMTP, `roost deliver`). */
  delivery: {
    /** More Received lines than this in an incoming header is a loop (qmail-send's 100): D #5.4.6 / 554 5.4.6. */
    max_hops: { type: 'int', default: 100, min: 1, max: 10_000 },
    /** A vacation reply goes to one sender at most once per this many days (RFC 3834 §2: 7 recommended). */
    vacation_days: { type: 'int', default: 7, min: 1, max: 365 },
  },
  /** Outbound hand-off (the remote queue): recipients that are not local go to a smarthost within the transaction. */
  outbound: {
    /** "host:port" (port 25 when left out; "[v6]:port"), tried in turn; empty = remote delivery disabled. */
    smarthosts: { type: 'strings', default: [] },
    /** Domains delivered here; a recipient at any other domain is remote. Empty = every domain is local (no remote recipients). */
    local_domains: { type: 'strings', default: [] },
    /** RFC 3207: use STARTTLS when offered, insist on it, or never. */
    starttls: { type: 'enum', default: 'opportunistic', values: ['opportunistic', 'required', 'off'] },
    /** Verify the smarthost's certificate (name and chain) after STARTTLS. */
    tls_verify: { type: 'bool', default: true },
    /** Caps every SMTP wait (ms); 0 = RFC 5321 §4.5.3.2's per-command values. Keep it under the QMQP client's own timeout. */
    timeout_ms: { type: 'int', default: 0, min: 0, max: 3_600_000 },
  },
  admin: {
    listen: { type: 'listen', default: '127.0.0.1:8025' },
  },
  /** Running behind a mail proxy (nginx's mail module, HAProxy). */
  proxy: {
    /**
     * The proxies' addresses ("127.0.0.1/32", "10.0.0.0/24", a bare address = /32 or /128):
     * the only peers whose PROXY headers (on *.proxy_listen) and auth_http requests are believed.
     * Everyone else is closed (PROXY listeners) or answered 403 (auth_http), with a log line.
     */
    trusted: { type: 'strings', default: [] },
    /** nginx `auth_http` service (src/proxy/auth-http.ts): "host:port", "" = off. */
    auth_listen: { type: 'listen', default: '' },
    /** When set, auth_http requests must carry it in the X-Roost-Secret header (nginx: `auth_http_header X-Roost-Secret "…";`). */
    auth_secret: { type: 'string', default: '' },
  },
  /**
   * The other servers (pairs) of a cluster, named by LDAP mailHost: where
   * auth_http sends their logins and where `directory.ldap.other_host =
   * "forward"` sends their mail (qmail-ldap clustering).
   */
  cluster: {
    /**
     * mailHost → the pair: its service (floating) address, an IP or a name
     * resolved when asked; or its nodes' admin listeners ("host:port host:port"),
     * whose /health names the primary and its ports (src/proxy/pairs.ts).
     * A mailHost not listed is reached by its own name.
     */
    hosts: { type: 'map', default: {} },
    /** QMQP port of the other mailHosts' service addresses (qmail's 628). */
    qmqp_port: { type: 'int', default: 628, min: 1, max: 65535 },
    /** Where the pairs take proxied IMAP and POP3 (their imap.proxy_listen / pop3.proxy_listen port). */
    imap_port: { type: 'int', default: 143, min: 1, max: 65535 },
    pop3_port: { type: 'int', default: 110, min: 1, max: 65535 },
  },
  tls: {
    cert: { type: 'string', default: '' },
    key: { type: 'string', default: '' },
  },
  auth: {
    allow_plaintext: { type: 'enum', default: 'loopback', values: ['never', 'loopback', 'always'] },
  },
  directory: {
    backend: { type: 'enum', default: 'sqlite', values: ['sqlite', 'ldap'] },
  },
  'directory.ldap': {
    url: { type: 'string', default: '' },
    bind_dn: { type: 'string', default: '' },
    bind_password: { type: 'string', default: '' },
    /** Who `roost account move --update-ldap` binds as to replace an entry's mailHost (write access to it); empty: the move only prints the change. */
    write_bind_dn: { type: 'string', default: '' },
    write_bind_password: { type: 'string', default: '' },
    /** Or a file holding that password (not readable by others), read at start into write_bind_password. */
    write_bind_password_file: { type: 'string', default: '' },
    base: { type: 'string', default: '' },
    scope: { type: 'enum', default: 'sub', values: ['base', 'one', 'sub'] },
    starttls: { type: 'bool', default: false },
    ca_file: { type: 'string', default: '' },
    timeout_ms: { type: 'int', default: 5000, min: 100, max: 120_000 },
    /** "bind" as the user's DN (default) or "compare" userPassword locally. */
    auth_mode: { type: 'enum', default: 'bind', values: ['bind', 'compare'] },
    /** Also accept a mail address as login name (qmail-ldap uses uid only). */
    login_by_mail: { type: 'bool', default: false },
    object_class: { type: 'string', default: 'qmailUser' },
    message_store_base: { type: 'string', default: '' },
    allowed_store_prefixes: { type: 'strings', default: [] },
    /** This server's name for mailHost; empty = accept any mailHost. */
    mail_host: { type: 'string', default: '' },
    /** An account whose mailHost is another server: defer (Z), bounce (D), or forward it to that host's QMQP port ([cluster]). */
    other_host: { type: 'enum', default: 'defer', values: ['defer', 'bounce', 'forward'] },
    cache_ttl_ms: { type: 'int', default: 60_000, min: 0, max: 86_400_000 },
    negative_cache_ttl_ms: { type: 'int', default: 10_000, min: 0, max: 86_400_000 },
    pool_size: { type: 'int', default: 4, min: 1, max: 64 },
    /** Connections kept for user binds (auth_mode "bind"); separate from the search pool. */
    auth_pool_size: { type: 'int', default: 2, min: 1, max: 64 },
    /** Verify the server certificate (ldaps:// and StartTLS); off only for test rigs. */
    tls_verify: { type: 'bool', default: true },
    /** Look up catchall@domain when an address is not found (qmail-ldap LDAP_CATCH_ALL). */
    catchall: { type: 'bool', default: true },
    /** Filters with %s for the RFC 4515-escaped value; empty = qmail-ldap's, built from the attribute names below. */
    recipient_filter: { type: 'string', default: '' },
    login_filter: { type: 'string', default: '' },
    /** Quota for entries without mailQuotaSize/mailQuotaCount (qmail-ldap control/defaultquotasize, …count); 0 = unlimited. */
    default_quota_bytes: { type: 'int', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER },
    default_quota_messages: { type: 'int', default: 0, min: 0, max: Number.MAX_SAFE_INTEGER },
    attr_mail: { type: 'string', default: 'mail' },
    attr_alternate: { type: 'string', default: 'mailAlternateAddress' },
    attr_uid: { type: 'string', default: 'uid' },
    attr_password: { type: 'string', default: 'userPassword' },
    attr_message_store: { type: 'string', default: 'mailMessageStore' },
    attr_home: { type: 'string', default: 'homeDirectory' },
    attr_quota_size: { type: 'string', default: 'mailQuotaSize' },
    attr_quota_count: { type: 'string', default: 'mailQuotaCount' },
    attr_size_max: { type: 'string', default: 'mailSizeMax' },
    attr_status: { type: 'string', default: 'accountStatus' },
    attr_host: { type: 'string', default: 'mailHost' },
    /** Attribute holding a per-account pop3.uidl_format; empty: not read. */
    attr_uidl_format: { type: 'string', default: '' },
    /** Forwards (multi-valued), kept in addition to the Maildir copy unless deliveryMode says otherwise; empty: not read. */
    attr_forwarding_address: { type: 'string', default: 'mailForwardingAddress' },
    /** qmail-ldap delivery modes (nolocal, nombox, forwardonly, noforward, noprogram, reply; others ignored); empty: not read. */
    attr_delivery_mode: { type: 'string', default: 'deliveryMode' },
    /** Vacation text used with deliveryMode reply (%HEADER% / %SUBJECT% as qmail-reply); empty: not read. */
    attr_reply_text: { type: 'string', default: 'mailReplyText' },
    /** Pipe programs: not run by Roost; an entry that has one is logged once. Empty: not read. */
    attr_program: { type: 'string', default: 'deliveryProgramPath' },
  },
  replication: {
    role: { type: 'enum', default: 'primary', values: ['primary', 'replica'] },
    listen: { type: 'listen', default: '127.0.0.1:7600' },
    peer: { type: 'string', default: '' },
    /**
     * Shared by both nodes; required (≥ LIMITS.replication.minSecretLength characters) when
     * peer is set. `roost secret` prints a new one. Or secret_file: a file holding it
     * (not readable by others), read at start into `secret`.
     */
    secret: { type: 'string', default: '' },
    secret_file: { type: 'string', default: '' },
    ack: { type: 'enum', default: 'sync', values: ['sync', 'async'] },
    sync_timeout_ms: { type: 'int', default: 5000, min: 10, max: 600_000 },
    on_sync_timeout: { type: 'enum', default: 'tempfail', values: ['tempfail', 'degrade'] },
    journal_max_bytes: { type: 'int', default: 1024 * MiB, min: 64 * 1024, max: Number.MAX_SAFE_INTEGER },
  },
} as const satisfies Record<string, Section>;

type ValueOf<K extends KeySpec> = K extends { type: 'int' }
  ? number
  : K extends { type: 'bool' }
    ? boolean
    : K extends { type: 'strings' }
      ? string[]
      : K extends { type: 'map' }
        ? Record<string, string>
        : string;

type SectionValues<S extends Section> = { -readonly [K in keyof S]: ValueOf<S[K]> };

/** The loaded, validated configuration. Top-level keys sit at the root. */
export type Config = SectionValues<(typeof SCHEMA)['']> & {
  log: SectionValues<(typeof SCHEMA)['log']>;
  imap: SectionValues<(typeof SCHEMA)['imap']>;
  pop3: SectionValues<(typeof SCHEMA)['pop3']>;
  qmqp: SectionValues<(typeof SCHEMA)['qmqp']>;
  lmtp: SectionValues<(typeof SCHEMA)['lmtp']>;
  delivery: SectionValues<(typeof SCHEMA)['delivery']>;
  outbound: SectionValues<(typeof SCHEMA)['outbound']>;
  admin: SectionValues<(typeof SCHEMA)['admin']>;
  proxy: SectionValues<(typeof SCHEMA)['proxy']>;
  cluster: SectionValues<(typeof SCHEMA)['cluster']>;
  tls: SectionValues<(typeof SCHEMA)['tls']>;
  auth: SectionValues<(typeof SCHEMA)['auth']>;
  directory: SectionValues<(typeof SCHEMA)['directory']> & {
    ldap: SectionValues<(typeof SCHEMA)['directory.ldap']>;
  };
  replication: SectionValues<(typeof SCHEMA)['replication']>;
  /** Absolute paths derived at load time. */
  paths: { dataDir: string; mailDir: string; configFile: string | null };
};
