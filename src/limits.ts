/**
 * Every protocol and resource limit in one place, and the internal tuning
 * constants beside them. Config keys may lower or raise some of these per
 * site; the constants here are the defaults and the hard ceilings.
 *
 * A limit a client (or a peer, a file, a directory entry) can reach should
 * have a test at N and N+1. test/limits-coverage.test.ts checks that each
 * key outside `tuning` and INTERNAL_LIMITS is named by at least one test
 * file, and lists by name the limits still waiting for such a test.
 */
export const LIMITS = {
  net: {
    /** A TLS handshake (IMAPS, POP3S, STARTTLS, STLS) not finished by then is cut. */
    tlsHandshakeTimeoutMs: 30_000,
    /**
     * New connections are refused (with a protocol answer and a log line)
     * while fewer than this many descriptors are left below the process's
     * limit, so spool files, indexes and the journal can still be opened.
     */
    fdReserve: 256,
    /** HAProxy proxy-protocol.txt §2.1: a v1 header is at most 107 bytes, CRLF included. */
    proxyV1MaxBytes: 107,
    /**
     * v2 bytes after the 16-byte fixed part (address block + TLVs). The
     * format allows 65535; the largest address block is 216 (AF_UNIX) and the
     * TLVs HAProxy sends (ALPN, authority, SSL, unique id ≤ 128) fit well below this.
     */
    proxyV2MaxLength: 1024,
    /** A proxied connection whose PROXY header is not complete by then is closed (the proxy sends it at connect). */
    proxyHeaderTimeoutMs: 10_000,
  },
  qmqp: {
    /** qmail-qmqpd refuses addresses of 1000 bytes or more. */
    maxAddressLength: 999,
    /** Digits allowed in a netstring length (200,000,000 has 9). */
    maxLengthDigits: 10,
    /** Bytes of reply text we send. */
    maxReplyText: 400,
    /**
     * qmail-qmqpd's bound on a packet's length (200,000,000 bytes). It drops a
     * longer packet without a reply (the client defers and retries); we answer
     * D (#5.5.2) as soon as the length prefix says so, and close, so the
     * sender learns at once (test/qmqp/limits.test.ts).
     */
    maxPacketLength: 200_000_000,
    /** qmqp.html: "a session should take at most 1 hour"; receiving is cut after this (qmail-qmqpd: alarm(3600)). */
    maxSessionMs: 3_600_000,
    /** After the answer, how long the client may take to close before we cut the connection (src/qmqp/server.ts). */
    closeLingerMs: 10_000,
    /** SIGTERM: how long in-flight QMQP sessions may take to finish before they are cut. */
    shutdownGraceMs: 30_000,
  },
  delivery: {
    /** Header bytes of an incoming message scanned for Received and Delivered-To lines (the loop checks); the rest is not looked at. */
    maxTraceHeaderBytes: 256 * 1024,
    /** Distinct Delivered-To addresses remembered from one header. */
    maxDeliveredTo: 1000,
    /** RFC 5321 §4.5.3.1.1: a local part is at most 64 octets; a longer address is not one (src/accounts/address.ts). */
    maxLocalPartLength: 64,
    /** RFC 5321 §4.5.3.1.2: a domain is at most 255 octets. */
    maxDomainLength: 255,
    /** Forwarding targets of one account: `roost user forward add` refuses more; an LDAP entry with more distinct mailForwardingAddress values is deferred. */
    maxForwards: 32,
    /** Vacation text bytes (qmail-ldap's mailReplyText is DirectoryString {4096}; UTF-8 may take more bytes). */
    maxReplyTextBytes: 16 * 1024,
    /** Header bytes of an incoming message kept to decide and build a vacation reply (RFC 3834 §2); a longer header gets none. */
    maxReplyHeaderBytes: 64 * 1024,
    /** Bytes of the incoming subject put into a reply's Subject (%SUBJECT%), so the line stays under RFC 5322 §2.1.1's 998. */
    maxReplySubjectBytes: 900,
    /** Message ids in a reply's References (RFC 5322 §3.6.4: the root and the most recent ones are kept). */
    maxReplyReferences: 20,
    /** Senders remembered per account for the once-per-window rule (the oldest are forgotten first). */
    maxVacationSenders: 10_000,
    /**
     * Characters of a smarthost's or cluster peer's reply quoted in a refusal
     * (src/delivery/remote.ts, cluster.ts): with the recipient and the (#x.y.z)
     * code it fits qmqp.maxReplyText for usual addresses, so the code is not cut.
     */
    maxQuotedReplyChars: 300,
    /**
     * Accounts remembered as already warned about forwards or a vacation
     * reply without a hand-off (src/delivery/forward.ts); past it the memory
     * starts over and some warnings repeat, which costs only log lines.
     */
    maxNotedAccounts: 10_000,
  },
  outbound: {
    /**
     * RFC 5321 §4.5.3.2 client timeouts, per wait: initial 220 (§4.5.3.2.1),
     * MAIL (.2), RCPT (.3), DATA's 354 (.4), each block of body written (.5),
     * the reply to the final dot (.6). EHLO, STARTTLS and QUIT have none in the
     * RFC; they get the MAIL value. `outbound.timeout_ms` may lower them all.
     */
    greetingTimeoutMs: 5 * 60_000,
    mailTimeoutMs: 5 * 60_000,
    rcptTimeoutMs: 5 * 60_000,
    dataInitTimeoutMs: 2 * 60_000,
    dataBlockTimeoutMs: 3 * 60_000,
    dataTermTimeoutMs: 10 * 60_000,
    /** QUIT after the outcome is known: a short courtesy wait, so a slow goodbye does not hold the answer back. */
    quitTimeoutMs: 10_000,
    /** No RFC value: a smarthost that does not accept the TCP connection by then is skipped. */
    connectTimeoutMs: 30_000,
    /** RFC 5321 §4.5.3.1.5: a reply line is at most 512 octets, CRLF included; a longer one fails the session. */
    maxReplyLineLength: 512,
    /** Lines in one multiline reply (EHLO lists a dozen); more fails the session. */
    maxReplyLines: 100,
    /** QMQP hand-off to another mailHost: each wait (connect, write, reply), as qmail-qmqpc's 60 s read/write timeout. */
    qmqpTimeoutMs: 60_000,
    /** Bytes of a QMQP reply netstring read from a cluster peer (qmqp.html: K/Z/D and a short text). */
    maxQmqpReply: 1024,
    /** Smarthosts tried for one message. */
    maxSmarthosts: 16,
  },
  lmtp: {
    /**
     * A command line, CRLF included. RFC 5321 §4.5.3.1.4 gives 512 octets
     * and lets extensions raise it; MAIL with SIZE and BODY stays far below.
     */
    maxLineLength: 2048,
    /** Unknown or malformed commands in one connection before 421 and close (RFC 5321 §4.3.2 lets a server give up). */
    maxBadCommands: 20,
    /** BDAT chunk sizes are decimal numbers of at most this many digits (RFC 3030 §2: chunk-size = 1*DIGIT). */
    maxChunkSizeDigits: 12,
    /** Reply bytes queued for a client that does not read, before the session waits for 'drain' (and so stops reading). */
    maxQueuedOutput: 64 * 1024,
    /** After 221 or 421, how long a client may hold the closing socket. */
    closeLingerMs: 10_000,
    /** SIGTERM / demote: how long transactions in DATA may take to finish before they are cut. */
    shutdownGraceMs: 30_000,
  },
  pop3: {
    /** RFC 2449 §4: command lines up to 255 octets; we allow some slack for AUTH responses. */
    maxLineLength: 8192,
    maxCommandsBeforeAuth: 50,
    maxBadCommands: 20,
    /** RFC 1939 §3: autologout at least 10 minutes. */
    idleTimeoutMs: 10 * 60 * 1000,
    /** Pipelined input (RFC 2449 PIPELINING) read ahead before the socket is paused. */
    maxPipelinedInput: 64 * 1024,
    /** LIST/UIDL lines are joined into writes of about this size. */
    listingChunkBytes: 64 * 1024,
    /** After the last reply, how long a client that does not read may hold the closing socket. */
    closeLingerMs: 10_000,
    /**
     * RETR/TOP read messages up to this size whole (one pread of the indexed
     * size, one conversion, one write); larger ones are streamed. A streamed
     * message costs a ReadStream, a pipeline and a thread-pool read per 64 KiB
     * chunk: at 128 KiB here, the 5 % of a typical maildrop that carry a 50–500
     * KiB attachment were most of the bytes and most of the pipelined
     * download's server CPU (845 → 585 ms for 3,000 messages read whole up to
     * 1 MiB, load 12; 1,175 → 950 ms at 512 KiB, load 15).
     */
    readWholeMaxBytes: 512 * 1024,
    /**
     * Pipelined RETR/TOP: messages opened ahead of the one being sent, and
     * their bytes held (with messages read whole up to readWholeMaxBytes, two
     * of the largest fill it; eight of the usual few-KiB ones do not).
     */
    readAheadMessages: 8,
    readAheadBytes: 1024 * 1024,
    /** RETR with nothing pipelined: the next message is read as a guess only up to this size (held while the client is idle). */
    guessAheadMaxBytes: 64 * 1024,
    /**
     * Replies to pipelined commands gathered before one write to the socket
     * (src/pop3/wire.ts Output); a full batch waits for 'drain'.
     */
    outputBatchBytes: 256 * 1024,
  },
  imap: {
    /** Command text outside literals (Dovecot's imap_max_line_length is 64k). */
    maxLineLength: 65536,
    /**
     * Hard ceiling of a literal and of APPENDLIMIT (RFC 7889); the advertised
     * limit is imap.max_message_size (default 50 MiB), which may not exceed
     * this. 1 GiB keeps sizes inside the u32 fields of the packed lists.
     */
    maxLiteralSize: 1024 * 1024 * 1024,
    /** RFC 7888 LITERAL-: non-synchronizing literals up to 4096 octets if only LITERAL- is offered. */
    maxNonSyncLiteral: 50 * 1024 * 1024,
    maxNestingDepth: 32,
    /**
     * RFC 4469 CATENATE: parts (TEXT literals and URLs) in one message. Each URL
     * opens a mailbox and reads a stored message; the whole result is still held
     * to maxLiteralSize (APPENDLIMIT).
     */
    maxCatenateParts: 256,
    /**
     * Mailbox names in one NOTIFY SET's `mailboxes`/`subtree` lists (RFC 5465
     * gives no number); more is NO [LIMIT]. `personal` watches every mailbox
     * without naming them and is not counted.
     */
    notifyMaxMailboxes: 1000,
    /**
     * NOTIFY notifications waiting for a safe point (one per mailbox with
     * changes, plus each LIST for a name or subscription change). One more
     * ends NOTIFY with `* OK [NOTIFICATIONOVERFLOW]` (RFC 5465 §5.8).
     */
    notifyMaxPending: 256,
    /** Messages in one MULTIAPPEND (RFC 3502); the next literal is refused with NO [LIMIT]. */
    maxAppendMessages: 1000,
    /** Messages of one MULTIAPPEND that keep their spool descriptor open; later ones are synced and closed (park). */
    appendOpenDrafts: 8,
    maxBadCommands: 20,
    /** RFC 2971 §3.3: an ID list has at most 30 field-value pairs; more is BAD (src/imap/wire/parser.ts). */
    maxIdPairs: 30,
    /** After LOGOUT or BYE, how long a client that does not read may hold the closing socket. */
    closeLingerMs: 5000,
    /** RFC 3501 §5.4: at least 30 minutes. */
    idleTimeoutMs: 30 * 60 * 1000,
    notAuthTimeoutMs: 60 * 1000,
    /** Before login: commands answered (POP3 has the same), and total time however busy (Dovecot: 180 s). */
    maxCommandsBeforeAuth: 50,
    notAuthMaxSessionMs: 180 * 1000,
    /** Keep-alive during IDLE, as Dovecot's imap_idle_notify_interval. */
    idleKeepaliveMs: 2 * 60 * 1000,
    /** FETCH of whole messages (BODY[], RFC822): files up to this size are read in one piece instead of streamed. */
    fetchWholeReadMaxBytes: 1024 * 1024,
    /** Such reads kept in flight ahead of the one being written… */
    fetchReadAhead: 8,
    /** …holding at most this many bytes per session (plus the one being written). */
    fetchReadAheadBytes: 2 * 1024 * 1024,
    /**
     * A FETCH that sets \Seen (RFC 3501 §6.4.5) reads or opens up to this many
     * messages (and at most fetchReadAheadBytes of whole small files) before
     * it applies the flag change for them, so the file renames of that change
     * never pull a file from under its own reads; one store call per window.
     * The next window is read and flagged while one is written (two held).
     */
    fetchSeenWindow: 64,
    /**
     * RFC 5267 §4.3.1: live SEARCH RETURN (UPDATE) contexts per session (the
     * RFC asks for at least one). Each keeps its matching UIDs and is checked
     * against every changed message; one more is refused with NO [NOUPDATE].
     */
    maxUpdateContexts: 5,
    /**
     * Octets of one LIST/LSUB pattern or reference as sent. Names are at most
     * store.maxMailboxNameLength bytes, so a longer pattern matches nothing
     * it could not match shorter; the bound keeps matching work
     * (pattern × name per mailbox) small.
     */
    maxListPatternLength: 1024,
    /** Patterns in one LIST-EXTENDED pattern list (RFC 5258 §3): each is matched against every mailbox. */
    maxListPatterns: 64,
    /** Decoded header blocks kept for SEARCH FROM/TO/CC/BCC/SUBJECT/HEADER, shared by all sessions of the process. */
    searchHeaderCacheBytes: 96 * 1024 * 1024,
    /**
     * Work one SEARCH, SORT or THREAD may do before it is answered NO [LIMIT]
     * (src/work/budget.ts). A unit is one character decoded or compared, one
     * key tested on one message, one comparison or linking step: about 100
     * million units a second on one core here, so this is some 40 s of CPU.
     */
    commandWorkUnits: 4_000_000_000,
    /**
     * Bytes of SORT/THREAD columns (imap/search/sort-columns.ts) kept in
     * memory over all mailboxes of the process: some 70 bytes a message plus
     * its distinct case-mapped keys and Message-IDs, so about 1.5 million
     * messages; past it the least recently sorted mailbox is dropped (never
     * one being built) and read again from its image in the index.
     */
    sortColumnBytes: 256 * 1024 * 1024,
  },
  work: {
    /**
     * Longest stretch of CPU work a command runs before it yields to the event
     * loop (src/work/budget.ts): other sessions' greetings, NOOPs and QMQP
     * answers wait at most about this long behind it.
     */
    sliceMs: 2,
  },
  /**
   * Internal tuning: cache sizes, batch and chunk sizes, read-ahead and
   * pacing. No client can reach them as a bound (a request never fails
   * because of one); they trade memory against speed, so they have no test
   * at N and N+1 (test/limits-coverage.test.ts skips this group).
   */
  tuning: {
    /**
     * Messages the background build of a mailbox's SORT/THREAD columns merges
     * in its first turn (later turns take as many as the set holds); a SORT
     * arriving meanwhile waits for one turn, then merges the rest itself
     * (src/imap/search/sort-columns.ts background).
     */
    sortBuildChunk: 1024,
    /** Delay before mail delivered to a selected mailbox is merged into its SORT/THREAD columns (one merge per burst). */
    sortFollowMs: 250,
    /** Messages kept in mailbox caches across all accounts (about 200 bytes each; src/store/store-impl.ts). */
    cachedMessages: 1_000_000,
    /** How often the node looks at its V8 heap for garbage a big job left (src/work/heap-release.ts)… */
    heapCheckMs: 10_000,
    /** …and the garbage (heap used over what the last full collection left) it collects at once. */
    heapGarbageBytes: 48 * 1024 * 1024,
    /** Event loop utilization over one look that counts as busy: the look after it that is not ends a big job (src/work/heap-release.ts). */
    heapBusyShare: 0.2,
    /** A mailbox cache of at least this many messages is packed (smaller ones load fast enough from rows; store/account.ts). */
    packMinMessages: 5000,
    /** Message rows of a mailbox list with no packed copy read in one query when it is loaded in slices (src/store/account.ts loadCache). */
    listPageRows: 2000,
    /** Rendered ENVELOPE/BODYSTRUCTURE text kept (about 100,000 messages' worth; src/imap/fetch/shared-values.ts). */
    structureTextCacheBytes: 64 * 1024 * 1024,
    /** IMAP output gathered before one socket write (also the per-client memory bound beside the socket's buffer; src/imap/output.ts). */
    imapOutputChunkBytes: 64 * 1024,
    /** Longest string the IMAP encoder sends quoted; longer ones go as literals (src/imap/wire/encoder.ts). */
    imapMaxQuotedLength: 1024,
    /** SEARCH BODY/TEXT: messages up to this size are read whole, bigger ones in windows (src/imap/search/evaluate.ts)… */
    searchWholeReadMaxBytes: 1024 * 1024,
    /** …of this many bytes, read and transfer-decoded at once (src/imap/search/body-text.ts)… */
    searchWindowBytes: 256 * 1024,
    /** …and folded and matched this many characters per slice step. */
    searchFeedChars: 64 * 1024,
    /** Characters of header text matched per slice step (src/imap/search/evaluate.ts). */
    searchHeaderChunkChars: 256 * 1024,
    /** Bytes read to find the end of a header when no stored structure is at hand. */
    searchHeadProbeBytes: 8192,
    /** Messages evaluated at once when search keys read files (the file system works in parallel). */
    searchParallel: 16,
    /** Messages whose stored search fields are read from the index in one query. */
    searchStoredPage: 512,
    /** Strings per stored-fields narrowing query: a few narrow about as well as many (src/imap/search/stored-fields.ts). */
    searchNarrowingNeedles: 8,
    /** Full-text index queries per command: each is a synchronous SQLite call, and a few required strings narrow as well as thousands (src/imap/search/fulltext.ts). */
    searchIndexQueries: 8,
    /** Needles matched one by one with indexOf; more use the automaton (src/imap/search/matcher.ts). */
    searchIndexOfMax: 8,
    /** Open full-text databases per process; the least recently used is closed beyond this (src/store/fts/fulltext.ts). */
    ftsOpenDatabases: 64,
    /** Messages read and decoded at once while the full-text index catches up. */
    ftsParallelReads: 16,
    /** The catch-up commits every this many messages, so a reader never waits long behind a big backlog. */
    ftsCommitBatch: 64,
    /** Longest rest between background indexing batches (ms). */
    ftsPauseMaxMs: 200,
    /** Missing messages indexed inside a query; more go to the background and the query scans. */
    ftsInlineMax: 500,
    /** Characters inserted per full-text transaction; the event loop runs between transactions. */
    ftsInsertGroupChars: 256 * 1024,
    /** Characters of a needle the index is asked about: a text holding the needle holds its start, and the query stays small. */
    ftsQueryMaxChars: 64,
    /** Maildir events within this window are looked at together (src/store/maildir/watcher.ts). */
    watcherDebounceMs: 40,
    /** Accounts whose parsed maildirsize is remembered (src/store/maildir/quota.ts; oldest dropped first). */
    quotaParsedAccounts: 10_000,
    /** Files linked into place at once by an account move's final install (src/store/move-install.ts). */
    moveLinkGroup: 64,
    /** Delivered messages whose bytes the primary reads ahead of the one being sent (src/replication/primary.ts). */
    shipReadAheadMessages: 16,
    /** Records handed to the store per apply call on a replica (one group commit; src/replication/spool.ts). */
    replicaApplyBatch: 256,
    /** Bytes of snapshot files sent between two snap-flush frames: what the follower holds before it installs them (src/replication/catchup.ts). */
    snapshotFlushBytes: 8 * 1024 * 1024,
    /** First bytes of a diverged delivery looked at for its Message-ID when it is handed back (src/replication/catchup.ts). */
    handbackHeaderPeekBytes: 16 * 1024,
    /** How long a primary looks for a newer-epoch peer before opening its ports at start (src/replication/node-replication.ts). */
    startProbeMs: 1500,
  },
  auth: {
    /** Failures per connection before it is closed. */
    maxFailuresPerConnection: 3,
    /** Growing delay after a failed login: base * 2^(n-1), capped. */
    failureDelayBaseMs: 500,
    failureDelayMaxMs: 8000,
    /** Failures per remote address / per login name within the window before throttling. */
    perAddressFailures: 50,
    perUserFailures: 10,
    throttleWindowMs: 15 * 60 * 1000,
    maxPasswordLength: 1024,
    /** Successful embedded-directory password checks remembered (src/accounts/password.ts). */
    verifiedCacheEntries: 10_000,
    verifiedCacheTtlMs: 5 * 60 * 1000,
    maxLoginLength: 255,
    /**
     * Upper bounds on the scrypt parameters read back from a stored hash
     * (src/accounts/password.ts: N = 2^logN, r, p; memory is 128·N·r bytes),
     * so a tampered directory row cannot make one login eat the memory.
     */
    maxScryptLogN: 20,
    maxScryptR: 32,
    maxScryptP: 16,
    /** A sha-crypt hash with more rounds than this is refused rather than spending minutes of CPU on one login (src/accounts/schemes.ts). */
    maxShaCryptRounds: 10_000_000,
    /** Addresses / login names tracked for throttling (oldest dropped beyond this). */
    maxTrackedKeys: 100_000,
    /**
     * Password checks under way at once for the whole node, and per remote
     * address; more wait in line. scrypt uses libuv's thread pool (16 threads, bin/roost), which
     * file I/O shares: two checks leave the other threads for the disk.
     */
    maxConcurrentChecks: 2,
    maxConcurrentChecksPerAddress: 1,
  },
  /** The nginx auth_http service (src/proxy/auth-http.ts). */
  proxyAuth: {
    /**
     * A request (nginx sends one small GET per login) must be complete by then
     * (node:http's headersTimeout/requestTimeout; it checks them every 30 s, so
     * a stalled request is answered 408 between this and 30 s later).
     */
    requestTimeoutMs: 10_000,
    /** nginx sends about ten headers (plus auth_http_header ones). */
    maxHeaders: 64,
    /**
     * Connections open to the service at once. nginx opens one HTTP/1.0
     * connection per login attempt and closes it with the answer, so this is
     * also the logins being decided at once; past it a request is answered
     * at once with a temporary error and Auth-Wait (nginx ignores the HTTP
     * status and reads only Auth-Status), not queued behind the directory.
     */
    maxConnections: 512,
    /**
     * Sockets held at once, answered or not: past it a new connection is
     * closed at accept, unread, so a peer that opens sockets and sends
     * nothing (or keeps them alive) cannot take every descriptor. Above
     * maxConnections, so nginx is normally told "try again" first.
     */
    maxSockets: 1024,
    /** A pair given by its nodes (src/proxy/pairs.ts): each /health gets this long to answer… */
    healthTimeoutMs: 2000,
    /** …its answer is at most this large… */
    maxHealthBytes: 65_536,
    /** …and who is primary is asked again after this (a failover is seen within it). */
    primaryCacheMs: 2000,
  },
  /** The control socket `roost` CLI commands talk to (src/admin/control.ts, framing.ts, src/cli/control-client.ts). */
  admin: {
    /** Longest request line accepted (JSON arguments are small). */
    maxRequestLine: 64 * 1024,
    /** Largest chunk a client may frame (stream chunks are 64 KiB). */
    maxFrameChunk: 1024 * 1024,
    /** Longest the CLI waits for an answer (promote waits for catch-up; deliver for fsync and the replica's ack). */
    controlTimeoutMs: 120_000,
  },
  /** `roost cluster status` and the storage figures in /health (src/admin/storage-status.ts). */
  cluster: {
    /** How often a node refreshes its account count and mail_dir disk figures. */
    storageRefreshMs: 10_000,
    /** Each node's /health gets this long to answer `roost cluster status`. */
    statusTimeoutMs: 3000,
  },
  store: {
    /** Open per-user index handles kept in the LRU. */
    maxOpenIndexes: 256,
    maxMailboxNameLength: 255,
    maxMailboxDepth: 16,
    /**
     * Bytes of a folder's Maildir++ directory name (".A.B", modified UTF-7):
     * NAME_MAX of Linux file systems. The whole hierarchy is one directory
     * name, so this bounds the encoded full name, not each level.
     */
    maxFolderDirNameBytes: 255,
    /** Folders whose dovecot-keywords table is kept in memory (keyword-letters.ts; the rest are read again when used). */
    keywordTables: 4096,
    /** Largest Courier keyword file read (courierimapkeywords/:list or one update file); a larger one is ignored. */
    maxCourierKeywordsBytes: 64 * 1024 * 1024,
    /**
     * Whole-message reads up to this size (POP3 RETR, small FETCH bodies) are
     * done on the main thread while files come from the page cache: three
     * system calls instead of three thread-pool round trips (maildir/quick-read.ts).
     */
    quickReadMaxBytes: 128 * 1024,
    /**
     * Quick reads between two looks at the process's block-input count
     * (getrusage ru_inblock): when it grew, files came from the disk, and
     * reads go through the thread pool again for quickReadBackoffMs. So do
     * quickReadSlowInARow quick reads in a row each slower than quickReadSlowMs
     * (a remote file system); one alone is often the scheduler on a loaded
     * machine, and only makes the count be looked at at once.
     */
    quickReadCheckEvery: 32,
    quickReadSlowMs: 20,
    quickReadSlowInARow: 2,
    quickReadBackoffMs: 1000,
    /** A parsed header block larger than this is truncated for ENVELOPE/structure purposes. */
    maxHeaderBytes: 1024 * 1024,
    maxMimeParts: 10_000,
    maxMimeDepth: 40,
    /** Members parsed per address field for SEARCH FROM/TO/CC/BCC (store/mime/search-header.ts); a longer list is matched in its decoded text form. */
    maxSearchAddresses: 1000,
    /** Maildir++ quota: a maildirsize file of this many bytes or more is recounted (Courier, qmail-ldap and Dovecot use 5120; src/store/maildir/quota.ts). */
    maildirsizeMaxBytes: 5120,
    /** …and a small file younger than this (15 minutes, as they do) is trusted even when a delivery would exceed the quota. */
    maildirsizeFreshMs: 900_000,
    /** Files in tmp/ older than this are removed at recovery (the Maildir convention: 36 hours). */
    tmpMaxAgeMs: 36 * 3600 * 1000,
    /** Decoded body text per message handed to SEARCH / the full-text index (characters). */
    maxSearchTextChars: 16 * 1024 * 1024,
    /**
     * A message whose header and text parts exceed this many bytes is kept
     * out of the full-text index (store/fts): inserting its text would hold
     * the event loop too long in one call. SEARCH scans it instead.
     */
    ftsMaxTextBytes: 256 * 1024,
    /**
     * A mailbox that received mail or was opened is indexed for SEARCH BODY
     * in the background once it has been quiet this long (ms), so a burst of
     * deliveries is not slowed by indexing behind each message.
     */
    ftsQuietMs: 1000,
    /** ... and at the latest this long (ms) after the first change, however busy it stays. */
    ftsMaxDelayMs: 30_000,
    /** Mailboxes waiting for background indexing; past this the oldest waits for its next search instead. */
    ftsMaxQueued: 10_000,
    /**
     * UIDs of new mail one waiting mailbox remembers, so its catch-up indexes
     * just those; past this it compares the whole mailbox with the index instead.
     */
    ftsMaxNotedUids: 10_000,
    /**
     * Longest a SEARCH waits for a background indexing job (which it speeds up
     * by lifting the job's pauses) before it scans the files instead (ms).
     */
    ftsSearchWaitMs: 2000,
    /** A search waits only for a job with at most this many messages left; with more it scans at once. */
    ftsSearchWaitMessages: 5000,
    /** Longest we wait to batch fsyncs of concurrent deliveries (group commit). */
    groupCommitMaxWaitMs: 2,
    /**
     * An account index's or the journal's WAL is checkpointed in a worker
     * thread after this many commits (store/index/checkpoint.ts), instead of
     * by SQLite on the event loop at 1,000 pages (an APPEND commits about ten
     * to its index and five to the journal: about as often as before).
     */
    walCheckpointCommits: 128,
    /**
     * …but only once no index or journal of the process has committed for
     * this long (a pause between bursts of APPENDs, longer than a checkpoint
     * of 128 commits takes to write, and than one APPEND under load): the checkpoint's writes
     * and its fsync of the database file then do not queue in the disk (and
     * the filesystem journal) in front of the message, directory and WAL
     * syncs an APPEND's tagged OK waits for.
     */
    walCheckpointQuietMs: 100,
    /**
     * A connection that keeps committing without such a pause is checkpointed
     * at this many commits all the same, which bounds its WAL (some 20 MB for
     * an account index at about ten pages per APPEND).
     */
    walCheckpointMaxCommits: 512,
    /** The journal's size is checked against replication.journal_max_bytes after this many records, and at least this often. */
    journalCheckEveryRecords: 256,
    journalCheckMs: 10_000,
    /** Pruning keeps this share of journal_max_bytes (the newest records) and deletes older ones. */
    journalKeepFraction: 0.75,
    /** Records deleted per transaction while pruning (the event loop breathes in between). */
    journalPruneChunk: 5000,
    /** Rows read from the index per page of background file work (one fsync of new/ and cur/ and one index transaction each). */
    fileWorkPage: 1000,
    /** Synchronous background file work (renames, unlinks) between yields to the event loop. */
    fileWorkSliceMs: 4,
    /** Pause after a slice while clients read messages (renames then get about a quarter of the time). */
    fileWorkBusyPauseMs: 12,
    /** How long after the last message read the file work keeps pausing. */
    fileWorkForegroundMs: 200,
    /** Wait before file work starts, so changes made in quick succession are done as one (coalescing). */
    fileWorkStartDelayMs: 30,
    /** How long a name our file work announced to the watcher waits for its event (events can be coalesced or lost on overflow). */
    watcherOwnTtlMs: 10_000,
    /** Announced names kept at most (events normally consume them within a debounce window); past it, events take the index lookup. */
    watcherOwnMax: 20_000,
    /** Deliver records per journal transaction when a Maildir is imported. */
    importBatch: 5000,
    /**
     * Files whose facts (size, RFC822.SIZE, INTERNALDATE) one slice of the
     * background fill after a lazy first open reads (store/facts.ts), and the
     * time it may hold the event loop for them; between slices other users'
     * commands run. Also the size of one 'facts' journal record.
     */
    factsSliceFiles: 500,
    factsSliceMs: 8,
    /** Files found by reconcile whose structure is parsed at once (their bytes are read anyway). */
    parseAtReconcile: 1000,
    /** Bytes per read when a message file is streamed (range reads, recovery scans). */
    readChunkBytes: 64 * 1024,
    /**
     * First bytes of a delivery kept to store its search fields (index
     * search_fields); a header block longer than this is read from the file
     * at the first SEARCH instead.
     */
    searchHeadBytes: 64 * 1024,
    /**
     * Characters of stored search fields (lines and address forms) kept per
     * message in the index; a message with more is searched from its file.
     */
    maxStoredSearchChars: 64 * 1024,
  },
  replication: {
    /** Largest JSON header of a replication frame. */
    maxFrameHeader: 1024 * 1024,
    /**
     * Largest frame body after authentication. Message bodies larger than
     * bodyChunkBytes travel as chunk frames after their record (protocol
     * version 3), so no frame — and no buffer on either side — grows with
     * the message; a larger frame is refused (PROTOCOL) and the link closed.
     */
    maxFrameBody: 1024 * 1024,
    /** Bytes of message body per chunk frame; a body up to this size rides inline in its record's frame. */
    bodyChunkBytes: 256 * 1024,
    /**
     * Frame bodies read back from the replica's spool file. A spool written
     * by a release before protocol version 3 may hold whole bodies inline,
     * which must still apply after the upgrade (they were acknowledged).
     */
    maxSpoolFrameBody: 256 * 1024 * 1024,
    /**
     * Frames received by a replica and not yet processed (body bytes); past
     * it the replica stops reading the socket until it caught up, so TCP
     * back-pressure holds the primary instead of the replica's memory.
     */
    receiveQueueBytes: 4 * 1024 * 1024,
    /** Handshake steps must answer within this time. */
    handshakeTimeoutMs: 10_000,
    /**
     * From accept (TCP) until the peer has proved replication.secret and both
     * states are exchanged; then the socket is destroyed. Also the TLS
     * handshake timeout of the replication listener.
     */
    handshakeDeadlineMs: 10_000,
    /** Largest frame (header and body) read before the peer has proved the secret: hello, challenge, auth, proof are a few hundred bytes. */
    maxHandshakeFrame: 4096,
    /** Bytes read in all before the peer has proved the secret (several small frames queued must not add up either). */
    maxHandshakeBytes: 16 * 1024,
    /**
     * Concurrent connections on replication.listen, from TCP accept on (a
     * follower, a probe, `roost verify` and one spare); more are closed at once.
     */
    maxConnections: 4,
    /** A refused peer's socket is ended after the refuse frame and destroyed after this, whatever the peer does. */
    refuseLingerMs: 2000,
    /** replication.secret (or the key in replication.secret_file): the MACs sent to a peer are testable offline against guesses. */
    minSecretLength: 32,
    /** …and made of at least this many different characters ("aaaa…" is long, not strong). */
    minSecretDistinctChars: 8,
    /** Primary → replica keepalive; the replica drops a silent link after 4 of these. */
    heartbeatMs: 1000,
    /** Records read from the journal per batch when catching up. */
    readBatch: 256,
    /** Bytes of records in flight to the replica before the primary waits for acks. */
    maxInFlightBytes: 64 * 1024 * 1024,
    /**
     * Recorded POP3 UIDLs per 'pop3-uidls' record (store/side-files.ts): a
     * record rides in its frame's JSON header, and 5,000 entries of the
     * longest UIDL (70 characters, RFC 1939 §7) and a 10-digit UID take
     * about 440 KB of JSON, under maxFrameHeader and maxFrameBody.
     */
    pop3UidlsPerRecord: 5000,
    /** Messages per 'manifest' frame (`roost verify`, account move): 2,000 entries take about 300 KB of JSON, under maxFrameHeader. */
    manifestEntriesPerFrame: 2000,
    /** Entries (messages, and one per mailbox piece) a received manifest may hold in memory: about 150 bytes each, so 1.5 GB at most. */
    maxManifestEntries: 10_000_000,
    /** Longest wait for the peer's next manifest frame (it hashes the messages it has no SHA-256 for). */
    manifestFrameTimeoutMs: 120_000,
    /** Largest index image of one account a replica takes in a full resync (it is held in memory to be installed). */
    maxSnapshotImageBytes: 1024 * 1024 * 1024,
    /** Longest wait for the primary's next frame of a full resync's snapshot. */
    snapshotFrameTimeoutMs: 10 * 60_000,
    /** Directory entries per 'account' record when a primary first journals its existing users (far below maxFrameHeader). */
    accountSeedBatch: 200,
    /** Bodies of just-committed deliveries kept in memory for shipping (bytes in all, largest one). */
    shipCacheBytes: 32 * 1024 * 1024,
    shipCacheMaxMessage: 1024 * 1024,
    /** Bytes of delivered bodies the primary reads ahead of the one it is sending (besides that one). */
    readAheadBytes: 8 * 1024 * 1024,
    /** Message files written by a replica being seeded before their fdatasyncs are awaited together. */
    snapshotWriteBatch: 64,
    /** Reconnect back-off to the peer. */
    reconnectMinMs: 100,
    reconnectMaxMs: 2000,
  },
  /** `roost account move` (src/replication/move.ts). */
  move: {
    /** Catch-up rounds (each sends the messages the round before did not) before the account is frozen anyway. */
    maxRounds: 8,
    /** Freeze once a round had at most this many new messages: the frozen round sends about as many. */
    freezeBelowMessages: 200,
    /** Longest the frozen source waits for commits in flight to reach the account's index. */
    settleTimeoutMs: 5000,
    /** Staged files of a move whose fdatasync runs at once on the destination (each holds an open file). */
    syncsInFlight: 32,
    /** Longest `roost account move` waits to connect to the destination's replication listener. */
    connectTimeoutMs: 10_000,
    /** Longest a move waits for the destination's answer to one step (a round's install, the final manifest). */
    stepTimeoutMs: 10 * 60_000,
    /** Rounds the destination takes in one move: the source's maxRounds catch-up rounds and the frozen one. */
    receiveRounds: 9,
    /** Largest index image the destination takes (it is held in memory to be installed). */
    maxImageBytes: 1024 * 1024 * 1024,
    /** Message bytes the destination stages for one move, all rounds together (its staging folder's disk use). */
    maxStagedBytes: 256 * 1024 * 1024 * 1024,
  },
  ldap: {
    /** Entries kept in each of the positive and negative recipient caches (oldest dropped first). */
    maxCacheEntries: 100_000,
    /** Entries read for one recipient or login search; more than one is already an error. */
    maxSearchResults: 10,
    /** While the directory is down, probe it this often so /health recovers without traffic. */
    probeIntervalMs: 2000,
    /** Longest mailMessageStore value accepted (the schema's IA5 {256}). */
    maxStorePathLength: 256,
  },
  importImap: {
    /** Messages asked for per FETCH when copying from a live server (`roost import imap://…`); the resume point advances per batch. */
    batch: 200,
    /** Messages up to this size are fetched whole in a batch; bigger ones are streamed to their file in chunks. */
    inlineBytes: 1024 * 1024,
    /** A batch's whole-fetched bodies together (two batches are held: one written, the next arriving). */
    batchBytes: 16 * 1024 * 1024,
    /** A batch's files are fsync'd this many at a time before they are renamed into cur/. */
    syncConcurrency: 32,
  },
  import: {
    /** `roost import ADDRESS MAILDIR`: worker threads copying (or linking) files (src/cli/commands/import-copy.ts); more than the cores, as the disk waits between calls. */
    copyWorkers: 4,
    /** Files handed to a copy worker at once. */
    copyBatch: 256,
    /** A copy worker's read buffer at most (a bigger message is copied in parts of this). */
    copyBufferBytes: 1024 * 1024,
  },
  importPop3: {
    /** `roost import … --pop3`: the old server's POP3 must answer each step within this. */
    timeoutMs: 120_000,
    /** Bytes of one UIDL or LIST answer held until its final dot (a 300,000-message maildrop's are about 15 MB together); past it the import stops (LIMIT). */
    maxListingBytes: 64 * 1024 * 1024,
  },
  progress: {
    /** A terminal's progress line is redrawn at most this often (src/cli/progress.ts). */
    ttyEveryMs: 250,
    /** Without a terminal, a JSON progress line this often (and one at the end). */
    jsonEveryMs: 10_000,
  },
} as const;

/**
 * Keys of LIMITS outside `tuning` that are internal tuning as well: pacing,
 * batch sizes, read-ahead, caches and refresh intervals no request fails
 * on. They stay in their protocol's group (their call sites are many);
 * like `tuning` they get no N/N+1 test.
 */
export const INTERNAL_LIMITS: readonly string[] = [
  'lmtp.maxQueuedOutput',
  'pop3.maxPipelinedInput',
  'pop3.listingChunkBytes',
  'pop3.guessAheadMaxBytes',
  'pop3.outputBatchBytes',
  'imap.fetchWholeReadMaxBytes',
  'imap.fetchReadAhead',
  'imap.fetchReadAheadBytes',
  'imap.searchHeaderCacheBytes',
  'work.sliceMs',
  'auth.verifiedCacheEntries',
  'auth.verifiedCacheTtlMs',
  'auth.maxTrackedKeys',
  'auth.maxConcurrentChecks',
  'auth.maxConcurrentChecksPerAddress',
  'proxyAuth.primaryCacheMs',
  'cluster.storageRefreshMs',
  'store.maxOpenIndexes',
  'store.keywordTables',
  'store.quickReadMaxBytes',
  'store.quickReadCheckEvery',
  'store.quickReadSlowMs',
  'store.quickReadSlowInARow',
  'store.quickReadBackoffMs',
  'store.factsSliceMs',
  'store.ftsQuietMs',
  'store.ftsMaxDelayMs',
  'store.ftsMaxQueued',
  'store.ftsSearchWaitMs',
  'store.ftsSearchWaitMessages',
  'store.groupCommitMaxWaitMs',
  'store.journalCheckEveryRecords',
  'store.journalCheckMs',
  'store.journalKeepFraction',
  'store.journalPruneChunk',
  'store.fileWorkPage',
  'store.fileWorkSliceMs',
  'store.fileWorkBusyPauseMs',
  'store.fileWorkForegroundMs',
  'store.fileWorkStartDelayMs',
  'store.watcherOwnTtlMs',
  'store.watcherOwnMax',
  'store.importBatch',
  'store.parseAtReconcile',
  'store.readChunkBytes',
  'replication.receiveQueueBytes',
  'replication.heartbeatMs',
  'replication.readBatch',
  'replication.maxInFlightBytes',
  'replication.accountSeedBatch',
  'replication.shipCacheBytes',
  'replication.shipCacheMaxMessage',
  'replication.readAheadBytes',
  'replication.snapshotWriteBatch',
  'replication.reconnectMinMs',
  'replication.reconnectMaxMs',
  'move.maxRounds',
  'move.freezeBelowMessages',
  'move.syncsInFlight',
  // Waits only for this node's own commits already in flight at the freeze (new ones are refused then): no client, peer or file lengthens it.
  'move.settleTimeoutMs',
  'ldap.probeIntervalMs',
  'importImap.batch',
  'importImap.inlineBytes',
  'importImap.batchBytes',
  'importImap.syncConcurrency',
  'import.copyWorkers',
  'import.copyBatch',
  'import.copyBufferBytes',
  'progress.ttyEveryMs',
  'progress.jsonEveryMs',
];
