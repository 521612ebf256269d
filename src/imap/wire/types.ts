/**
 * The typed seam between the IMAP wire layer and the command modules:
 * `CommandReader` (tokenizer.ts) turns bytes into
 * `WireEvent`s carrying a typed `Command`; command modules never see bytes or
 * token arrays. Responses go the other way through `ImapValue` and the
 * helpers in encoder.ts.
 *
 * Conventions used throughout:
 * - Keywords (command names, FETCH items, search keys, status items …) are
 *   case-insensitive on the wire (RFC 3501 §9) and upper-case here.
 * - Mailbox names are decoded from modified UTF-7 (§5.1.3) to Unicode. The
 *   hierarchy separator is "." (the store's), and a first component equal to
 *   INBOX in any case becomes "INBOX" (§5.1). Validity of the name itself
 *   (`..`, control characters, length) is the command's/store's business
 *   (it answers NO, not BAD).
 * - System flags are canonicalised (`\seen` → `\Seen`); keywords keep their
 *   spelling. `\Recent` and other `\`-extensions are passed through; the
 *   command decides (STORE/APPEND must refuse `\Recent`).
 * - Mod-sequences are `bigint` (63-bit, RFC 7162 §3.1); UIDs, sequence numbers
 *   and sizes are `number` (32-bit).
 */
import type { FlagOp, SpecialUse } from '../../store/types.js';

// ---------------------------------------------------------------------------
// Sequence sets (RFC 3501 §9 sequence-set, RFC 5182 "$")
// ---------------------------------------------------------------------------

/** One element as written: `5` is {from:5,to:5}; `9:2` keeps its order; `*` is the largest number in use. */
export interface SeqRange {
  readonly from: number | '*';
  readonly to: number | '*';
}

/**
 * A sequence set as the client wrote it, not yet resolved against a mailbox.
 * `saved` is RFC 5182 SEARCHRES `$` (the result saved by SEARCH RETURN (SAVE)).
 * Resolve with `expandSet` / `expandUidSet` in seqset.ts.
 */
export type SequenceSet =
  | { readonly kind: 'ranges'; readonly ranges: readonly SeqRange[] }
  | { readonly kind: 'saved' };

// ---------------------------------------------------------------------------
// Dates
// ---------------------------------------------------------------------------

/** A SEARCH date (`date` in RFC 3501 §9): calendar day, no time, no zone (§6.4.4). */
export interface ImapDate {
  readonly year: number;
  /** 1..12 */
  readonly month: number;
  /** 1..31, validated against the month. */
  readonly day: number;
}

// ---------------------------------------------------------------------------
// SEARCH (RFC 3501 §6.4.4, RFC 7162 §3.1.5 MODSEQ, RFC 5032 OLDER/YOUNGER)
// ---------------------------------------------------------------------------

/** Keys that take no argument. NEW = RECENT UNSEEN, OLD = NOT RECENT (kept as written). */
export type SearchFlagKey =
  | 'ALL'
  | 'ANSWERED'
  | 'DELETED'
  | 'DRAFT'
  | 'FLAGGED'
  | 'NEW'
  | 'OLD'
  | 'RECENT'
  | 'SEEN'
  | 'UNANSWERED'
  | 'UNDELETED'
  | 'UNDRAFT'
  | 'UNFLAGGED'
  | 'UNSEEN';

/** Keys that match a substring (case-insensitive, §6.4.4) in an address header, Subject, body or whole text. */
export type SearchStringKey = 'BCC' | 'CC' | 'FROM' | 'TO' | 'SUBJECT' | 'BODY' | 'TEXT';

/** INTERNALDATE keys (BEFORE ON SINCE) and Date: header keys (SENT*). */
export type SearchDateKey = 'BEFORE' | 'ON' | 'SINCE' | 'SENTBEFORE' | 'SENTON' | 'SENTSINCE';

/**
 * One search key. Search strings are already decoded to Unicode with the
 * command's CHARSET. A parenthesised list and a whole program are `AND`.
 */
export type SearchKey =
  | { readonly key: SearchFlagKey }
  | { readonly key: 'KEYWORD' | 'UNKEYWORD'; readonly flag: string }
  | { readonly key: SearchStringKey; readonly value: string }
  | { readonly key: 'HEADER'; readonly field: string; readonly value: string }
  | { readonly key: SearchDateKey; readonly date: ImapDate }
  | { readonly key: 'LARGER' | 'SMALLER'; readonly size: number }
  | { readonly key: 'UID'; readonly set: SequenceSet }
  /** A bare sequence set (message sequence numbers), or `$`. */
  | { readonly key: 'SEQ'; readonly set: SequenceSet }
  | { readonly key: 'NOT'; readonly operand: SearchKey }
  | { readonly key: 'OR'; readonly left: SearchKey; readonly right: SearchKey }
  | { readonly key: 'AND'; readonly operands: readonly SearchKey[] }
  /** RFC 7162: optional entry name and type (only flag entries exist, "/flags/\\seen" etc.). */
  | {
      readonly key: 'MODSEQ';
      readonly modseq: bigint;
      readonly entry: { readonly name: string; readonly type: 'priv' | 'shared' | 'all' } | null;
    }
  /** RFC 5032 WITHIN: INTERNALDATE older / younger than `seconds` before now. */
  | { readonly key: 'OLDER' | 'YOUNGER'; readonly seconds: number };

/**
 * RFC 4731 ESEARCH return options; SAVE is RFC 5182; UPDATE, CONTEXT (and
 * PARTIAL, kept apart in `partial` for its range) are RFC 5267 §4.
 */
export type SearchReturnOption = 'MIN' | 'MAX' | 'ALL' | 'COUNT' | 'SAVE' | 'UPDATE' | 'CONTEXT';

/** RFC 5267 §4.4 `PARTIAL first:last`: positions in the result list, 1-based, first <= last (500:400 is 400:500). */
export interface PartialRange {
  readonly first: number;
  readonly last: number;
}

export interface SearchArgs {
  /** Upper-cased CHARSET if given (only UTF-8 and US-ASCII are accepted by the parser), else null. */
  readonly charset: string | null;
  /** The whole program (top level is an AND of the keys). */
  readonly program: SearchKey;
  /**
   * null: classic `* SEARCH` answer. An array: ESEARCH answer with these
   * options; `RETURN ()` is given as ['ALL'] (RFC 4731 §3.1).
   */
  readonly returnOptions: readonly SearchReturnOption[] | null;
  /** RFC 5267 §4.4: present only with `RETURN (PARTIAL …)` (never together with ALL). */
  readonly partial?: PartialRange;
}

/** RFC 5256 sort keys; DISPLAYFROM/DISPLAYTO are RFC 5957. */
export type SortKey = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';

export interface SortCriterion {
  readonly key: SortKey;
  readonly reverse: boolean;
}

export interface SortArgs {
  readonly criteria: readonly SortCriterion[];
  readonly charset: string;
  readonly program: SearchKey;
  /** RFC 5267 ESORT: `SORT RETURN (...)`; null for a classic `* SORT` answer. */
  readonly returnOptions: readonly SearchReturnOption[] | null;
  /** RFC 5267 §4.4: present only with `RETURN (PARTIAL …)`; positions in sort order. */
  readonly partial?: PartialRange;
}

export interface ThreadArgs {
  readonly algorithm: 'REFERENCES' | 'ORDEREDSUBJECT';
  readonly charset: string;
  readonly program: SearchKey;
}

// ---------------------------------------------------------------------------
// FETCH (RFC 3501 §6.4.5, RFC 3516 BINARY, RFC 7162 MODSEQ/CHANGEDSINCE/VANISHED)
// ---------------------------------------------------------------------------

/** The part of a section after the part path (§6.4.5). */
export type SectionSpecifier = 'HEADER' | 'HEADER.FIELDS' | 'HEADER.FIELDS.NOT' | 'TEXT' | 'MIME';

/**
 * `BODY[1.2.HEADER.FIELDS (From To)]` → {part:[1,2], specifier:'HEADER.FIELDS', fields:['From','To']}.
 * `BODY[]` → {part:[], specifier:null, fields:[]}. MIME always has a non-empty part.
 * Field names keep the client's spelling (echo them as sent; compare case-insensitively).
 */
export interface Section {
  readonly part: readonly number[];
  readonly specifier: SectionSpecifier | null;
  readonly fields: readonly string[];
}

/** `<offset.length>` in a request; the response label carries only `<offset>` (§7.4.2). */
export interface Partial {
  readonly offset: number;
  readonly length: number;
}

/** Items that take no argument. BODY is the non-extensible BODYSTRUCTURE. */
export type SimpleFetchItemName =
  | 'FLAGS'
  | 'INTERNALDATE'
  | 'RFC822'
  | 'RFC822.HEADER'
  | 'RFC822.TEXT'
  | 'RFC822.SIZE'
  | 'ENVELOPE'
  | 'BODY'
  | 'BODYSTRUCTURE'
  | 'UID'
  | 'MODSEQ';

/**
 * One FETCH attribute. Macros ALL/FAST/FULL arrive expanded (§6.4.5).
 * RFC822 and RFC822.TEXT set \Seen like BODY[] / BODY[TEXT]; RFC822.HEADER does not.
 * The response label of a section item is built by `fetchItemLabel` (encoder.ts).
 */
export type FetchItem =
  | { readonly item: SimpleFetchItemName }
  | { readonly item: 'BODY[]'; readonly section: Section; readonly partial: Partial | null; readonly peek: boolean }
  /** RFC 3516: decoded content of a leaf part (part [] = whole single-part body). */
  | { readonly item: 'BINARY[]'; readonly part: readonly number[]; readonly partial: Partial | null; readonly peek: boolean }
  | { readonly item: 'BINARY.SIZE'; readonly part: readonly number[] };

export interface FetchArgs {
  readonly set: SequenceSet;
  /** In the order written, duplicates removed; never empty. */
  readonly items: readonly FetchItem[];
  /** The macro the items came from, if any (for logs). */
  readonly macro: 'ALL' | 'FAST' | 'FULL' | null;
  /** RFC 7162 §3.1.4 CHANGEDSINCE; implies MODSEQ in every answer (the parser adds the item). */
  readonly changedSince: bigint | null;
  /** RFC 7162 §3.2.6 VANISHED modifier (UID FETCH only, requires CHANGEDSINCE; checked by the parser). */
  readonly vanished: boolean;
}

// ---------------------------------------------------------------------------
// STORE, COPY, MOVE, EXPUNGE
// ---------------------------------------------------------------------------

export interface StoreArgs {
  readonly set: SequenceSet;
  /** `+FLAGS` add, `-FLAGS` remove, `FLAGS` set (store's FlagOp). */
  readonly op: FlagOp;
  /** `.SILENT`: no untagged FETCH for this session's change (§6.4.6). */
  readonly silent: boolean;
  readonly flags: readonly string[];
  /** RFC 7162 §3.1.3 UNCHANGEDSINCE (0 allowed). */
  readonly unchangedSince: bigint | null;
}

export interface CopyArgs {
  readonly set: SequenceSet;
  readonly mailbox: string;
}

/** EXPUNGE has `set: null`; UID EXPUNGE (RFC 4315 §2.1) has the UID set. */
export interface ExpungeArgs {
  readonly set: SequenceSet | null;
}

// ---------------------------------------------------------------------------
// SELECT / EXAMINE (RFC 7162 §3.1.8, §3.2.5)
// ---------------------------------------------------------------------------

export interface QresyncParams {
  readonly uidvalidity: number;
  readonly modseq: bigint;
  /** UIDs the client knows (no `*` expected, but tolerated), or null. */
  readonly knownUids: SequenceSet | null;
  /** Message-sequence-match data: client sequence numbers and their UIDs, same length. */
  readonly seqMatch: { readonly seqs: SequenceSet; readonly uids: SequenceSet } | null;
}

export interface SelectArgs {
  readonly mailbox: string;
  /** `(CONDSTORE)` select parameter: enables CONDSTORE for the session (RFC 7162 §3.1.8). */
  readonly condstore: boolean;
  /** `(QRESYNC (...))`; the parser does not check that QRESYNC was ENABLEd — the command does. */
  readonly qresync: QresyncParams | null;
}

// ---------------------------------------------------------------------------
// Mailbox management, LIST family, STATUS
// ---------------------------------------------------------------------------

export interface MailboxArgs {
  readonly mailbox: string;
}

export interface CreateArgs {
  readonly mailbox: string;
  /** RFC 6154 §3 CREATE-SPECIAL-USE `(USE (\Drafts ...))`; empty when absent. */
  readonly specialUse: readonly SpecialUse[];
}

export interface RenameArgs {
  readonly from: string;
  readonly to: string;
}

/** RFC 5258 selection options (§3.1). */
export interface ListSelection {
  readonly subscribed: boolean;
  readonly remote: boolean;
  readonly recursiveMatch: boolean;
  /** RFC 6154 §5.1 SPECIAL-USE selection option. */
  readonly specialUse: boolean;
}

export type StatusItem = 'MESSAGES' | 'RECENT' | 'UIDNEXT' | 'UIDVALIDITY' | 'UNSEEN' | 'HIGHESTMODSEQ' | 'SIZE' | 'APPENDLIMIT';

/** RFC 5258 §3.2 return options (+ RFC 5819 STATUS, RFC 6154 SPECIAL-USE). */
export interface ListReturn {
  readonly subscribed: boolean;
  readonly children: boolean;
  readonly specialUse: boolean;
  /** RFC 5819 LIST-STATUS: `RETURN (STATUS (...))`, else null. */
  readonly status: readonly StatusItem[] | null;
}

/**
 * LIST (RFC 3501 §6.3.8 and RFC 5258). `reference` and `patterns` are decoded
 * like mailbox names (modified UTF-7 → Unicode; a first component that is
 * exactly "inbox" in any case becomes "INBOX"; wildcards `*` and `%` are kept,
 * so "inbox*" stays as written). `extended` is true when any RFC 5258 syntax was used
 * (selection options, return options or a pattern list): the answer then
 * follows RFC 5258 (e.g. \NonExistent instead of \Noselect, CHILDINFO).
 */
export interface ListArgs {
  readonly reference: string;
  readonly patterns: readonly string[];
  readonly selection: ListSelection;
  readonly returnOptions: ListReturn;
  readonly extended: boolean;
}

/** LSUB and XLIST: one reference, one pattern. */
export interface ListPatternArgs {
  readonly reference: string;
  readonly pattern: string;
}

export interface StatusArgs {
  readonly mailbox: string;
  /** Never empty, duplicates removed. */
  readonly items: readonly StatusItem[];
}

// ---------------------------------------------------------------------------
// APPEND (RFC 3501 §6.3.11, RFC 3502 MULTIAPPEND, RFC 3516 literal8, RFC 7888 LITERAL+)
// ---------------------------------------------------------------------------

/**
 * What is known about one message of an APPEND when its literal is announced.
 * The body itself is never in the AST: it streams as `appendData` events.
 */
export interface AppendMessageHead {
  /** 0 for the first message, 1.. for MULTIAPPEND's further messages. */
  readonly index: number;
  readonly mailbox: string;
  readonly flags: readonly string[];
  readonly internalDate: Date | null;
  /** Size of the message literal (0 for a CATENATE message). */
  readonly size: number;
  /** `~{n}` literal8 (RFC 3516 §4.4): the body may contain NUL. */
  readonly binary: boolean;
  /**
   * RFC 4469 CATENATE: the parts the message is built from, in order; null
   * for a plain message literal. In a `literal` event the list ends with the
   * TEXT part being announced (later parts are not known yet).
   */
  readonly catenate: readonly CatenatePart[] | null;
}

/** One `cat-part` of RFC 4469 §5: new text streamed like a message literal, or a reference to stored bytes. */
export type CatenatePart =
  | { readonly kind: 'text'; readonly size: number; readonly binary: boolean }
  /** `ref` is null when `url` is not an IMAP URL we can resolve (the command answers NO [BADURL url]). */
  | { readonly kind: 'url'; readonly url: string; readonly ref: ImapUrlRef | null };

/**
 * A message (part) reference of RFC 5092 as CATENATE accepts it here: a
 * relative URL on this server for the logged-in user (URLAUTH, RFC 4467, is
 * not offered).
 */
export interface ImapUrlRef {
  /** Decoded mailbox name (RFC 5092 §9: UTF-8, %-escaped); null = relative to the selected mailbox. */
  readonly mailbox: string | null;
  readonly uidvalidity: number | null;
  readonly uid: number;
  /** `;SECTION=` as a FETCH section; null for the whole message. */
  readonly section: Section | null;
  /** `;PARTIAL=offset[.length]`; length null = to the end. */
  readonly partial: { readonly offset: number; readonly length: number | null } | null;
}

/** The completed command; the bodies were already streamed. */
export interface AppendArgs {
  readonly mailbox: string;
  readonly messages: readonly AppendMessageHead[];
}

// ---------------------------------------------------------------------------
// Session-level commands
// ---------------------------------------------------------------------------

/** RFC 5267 §4.3.5 `CANCELUPDATE 1*(SP quoted)`: tags of searching commands that asked for UPDATE. */
export interface CancelUpdateArgs {
  readonly tags: readonly string[];
}

export interface LoginArgs {
  readonly username: string;
  readonly password: string;
}

export interface AuthenticateArgs {
  /** Upper-cased SASL mechanism name. */
  readonly mechanism: string;
  /** RFC 4959 SASL-IR initial response, base64-decoded; `=` gives an empty Buffer; absent → null. */
  readonly initialResponse: Buffer | null;
}

export interface EnableArgs {
  /** Upper-cased capability names. */
  readonly capabilities: readonly string[];
}

export interface IdArgs {
  /** RFC 2971 field/value pairs; null for `ID NIL`. */
  readonly params: readonly (readonly [string, string | null])[] | null;
}

export interface CompressArgs {
  /** Upper-cased; only DEFLATE exists (RFC 4978). */
  readonly mechanism: string;
}

export interface QuotaRootArgs {
  /** GETQUOTA's quota root name (not a mailbox: not decoded from mUTF-7 and not canonicalised). */
  readonly root: string;
}

export interface SetQuotaArgs {
  readonly root: string;
  /** Upper-cased resource names with their limits (RFC 9208 §4.3). */
  readonly limits: readonly { readonly resource: string; readonly limit: number }[];
}

// ---------------------------------------------------------------------------
// The command union
// ---------------------------------------------------------------------------

type Cmd<N extends string, A> = { readonly tag: string; readonly uid: boolean; readonly name: N; readonly args: A };
type NoArgs = Record<string, never>;

// ---------------------------------------------------------------------------
// NOTIFY (RFC 5465 §8)
// ---------------------------------------------------------------------------

/** The events Roost can report (RFC 5465 §5.1–§5.5). */
export type NotifyEvent = 'MessageNew' | 'MessageExpunge' | 'FlagChange' | 'MailboxName' | 'SubscriptionChange';

/** RFC 5465 §6 filter-mailboxes. `names` are decoded, INBOX canonicalised. */
export type NotifyFilter =
  | { readonly kind: 'selected'; readonly delayed: boolean }
  | { readonly kind: 'inboxes' | 'personal' | 'subscribed' }
  | { readonly kind: 'subtree' | 'mailboxes'; readonly names: readonly string[] };

/** One `(filter-mailboxes SP events)` group; `events` empty = NONE. */
export interface NotifyGroup {
  readonly filter: NotifyFilter;
  readonly events: readonly NotifyEvent[];
  /** Event names the parser does not know (event-ext, AnnotationChange…): the command answers NO [BADEVENT]. */
  readonly unsupported: readonly string[];
}

export type NotifyArgs =
  | { readonly kind: 'none' }
  | { readonly kind: 'set'; readonly status: boolean; readonly groups: readonly NotifyGroup[] };

/**
 * Every command the parser produces, by name, with its typed arguments.
 * `name` is the command name upper-cased without the UID prefix; a row in
 * registry.ts names each one's argument grammar and its module.
 */
export interface CommandArgs {
  readonly CAPABILITY: NoArgs;
  readonly NOOP: NoArgs;
  readonly LOGOUT: NoArgs;
  readonly STARTTLS: NoArgs;
  readonly AUTHENTICATE: AuthenticateArgs;
  readonly LOGIN: LoginArgs;
  readonly SELECT: SelectArgs;
  readonly EXAMINE: SelectArgs;
  readonly CREATE: CreateArgs;
  readonly DELETE: MailboxArgs;
  readonly RENAME: RenameArgs;
  readonly SUBSCRIBE: MailboxArgs;
  readonly UNSUBSCRIBE: MailboxArgs;
  readonly LIST: ListArgs;
  readonly LSUB: ListPatternArgs;
  readonly XLIST: ListPatternArgs;
  readonly STATUS: StatusArgs;
  readonly APPEND: AppendArgs;
  readonly CHECK: NoArgs;
  readonly CLOSE: NoArgs;
  readonly UNSELECT: NoArgs;
  readonly EXPUNGE: ExpungeArgs;
  readonly SEARCH: SearchArgs;
  readonly SORT: SortArgs;
  readonly THREAD: ThreadArgs;
  readonly FETCH: FetchArgs;
  readonly STORE: StoreArgs;
  readonly COPY: CopyArgs;
  readonly MOVE: CopyArgs;
  readonly IDLE: NoArgs;
  readonly NAMESPACE: NoArgs;
  readonly ID: IdArgs;
  readonly ENABLE: EnableArgs;
  readonly COMPRESS: CompressArgs;
  readonly GETQUOTA: QuotaRootArgs;
  readonly GETQUOTAROOT: MailboxArgs;
  readonly SETQUOTA: SetQuotaArgs;
  readonly CANCELUPDATE: CancelUpdateArgs;
  readonly NOTIFY: NotifyArgs;
}

export type CommandName = keyof CommandArgs;

/**
 * A command by name: `CommandOf<'FETCH'>`; for a union of names, the union
 * of their commands. Written as a mapped type indexed by `N` so a generic
 * function over `N` can pair a command with its table row (registry.ts)
 * without a cast.
 */
export type CommandOf<N extends CommandName> = { readonly [P in N]: Cmd<P, CommandArgs[P]> }[N];

/**
 * Any command. `uid` is true only for the UID forms (UID FETCH/STORE/COPY/
 * MOVE/SEARCH/SORT/THREAD/EXPUNGE); otherwise false.
 */
export type Command = CommandOf<CommandName>;

// ---------------------------------------------------------------------------
// Tokens (tokenizer.ts), given meaning by parser.ts
// ---------------------------------------------------------------------------

/** A lexical token of a command. */
export type Token =
  | {
      readonly type: 'atom';
      readonly value: string;
      /** For `BODY[...]`, `BODY.PEEK[...]`, `BINARY[...]`, `BINARY.PEEK[...]`, `BINARY.SIZE[...]`: the bracket contents. */
      readonly section: readonly Token[] | null;
      /** The `<...>` text after a section, without the angle brackets. */
      readonly partial: string | null;
    }
  | { readonly type: 'string'; readonly value: Buffer; readonly form: 'quoted' | 'literal' }
  | { readonly type: 'list'; readonly items: readonly Token[] }
  /** An APPEND message body that was streamed out as `appendData` events. */
  | { readonly type: 'stream'; readonly size: number; readonly binary: boolean };

// ---------------------------------------------------------------------------
// Reader events (tokenizer.ts `CommandReader.next()`)
// ---------------------------------------------------------------------------

/**
 * What `CommandReader.next()` returns. The session loop:
 *
 * ```
 * reader.push(chunk)            // from the socket
 * for (;;) { const ev = reader.next(); if (ev.kind === 'needMore') break; await handle(ev); }
 * ```
 *
 * - `command`: a complete command (for APPEND: after all bodies streamed).
 * - `literal`: the reader stopped at a literal and waits for a decision
 *   (always for a synchronising literal, and for every APPEND message literal):
 *   call `reader.acceptLiteral()` — then, if `sync`, send `+ ...` with
 *   `continuation()` — or `reader.rejectLiteral()` and send the tagged
 *   NO/BAD yourself (e.g. `NO [TOOBIG]`, `NO [OVERQUOTA]`, or BAD for a
 *   command refused in this state). After a rejection the reader skips the
 *   rest of that command (for a non-synchronising literal: its bytes and the
 *   rest of the line, literals accounted for) and emits nothing more for it.
 * - `appendData`: a slice of the current APPEND message body (a view into
 *   the pushed chunk: write it before calling `next()` again if you keep it).
 * - `appendEnd`: that message body is complete; parsing continues (next
 *   MULTIAPPEND message → another `literal`, or the final `command`).
 *   If a later syntax error spoils the command, an `error` follows instead
 *   of `command`: discard the drafts.
 * - `error`: answer `<tag> <status> [<code>] <text>` (tag null → `*`
 *   untagged BAD). The reader has already resynchronised.
 * - `line`: after `reader.expectLine()`: one continuation line without CRLF
 *   (AUTHENTICATE response, IDLE's DONE). Use `parseSaslResponse` / `isIdleDone`.
 */
export type WireEvent =
  | { readonly kind: 'needMore' }
  | { readonly kind: 'command'; readonly command: Command }
  | {
      readonly kind: 'literal';
      readonly tag: string;
      readonly size: number;
      /** Synchronising: the client waits for `+`. */
      readonly sync: boolean;
      /** `~{n}` literal8. */
      readonly binary: boolean;
      /** Set when this literal is an APPEND message body. */
      readonly append: AppendMessageHead | null;
      /**
       * Earlier messages of the same APPEND that are CATENATE ones (RFC 4469),
       * complete now; present only when there are any.
       */
      readonly before?: readonly AppendMessageHead[];
    }
  | { readonly kind: 'appendData'; readonly chunk: Buffer }
  | { readonly kind: 'appendEnd' }
  | {
      readonly kind: 'error';
      readonly tag: string | null;
      readonly status: 'BAD' | 'NO';
      /** Response code without brackets, e.g. 'TOOBIG', 'BADCHARSET (UTF-8 US-ASCII)', or null. */
      readonly code: string | null;
      readonly text: string;
    }
  | { readonly kind: 'line'; readonly text: string };

/** Limits the reader enforces (defaults from LIMITS.imap; a site may lower them). */
export interface ReaderLimits {
  /** Bytes of command text plus non-APPEND literals per command, CRLFs excluded. */
  readonly maxLineLength: number;
  /** Largest APPEND literal (APPENDLIMIT). */
  readonly maxLiteralSize: number;
  /** Largest non-synchronising literal accepted (RFC 7888 LITERAL- would be 4096). */
  readonly maxNonSyncLiteral: number;
  /** Parenthesis nesting depth; depth N accepted, N+1 refused. */
  readonly maxNestingDepth: number;
}

// ---------------------------------------------------------------------------
// Response values (encoder.ts)
// ---------------------------------------------------------------------------

/** Written verbatim, validated as an atom (or `\`-flag) by the encoder. */
export interface AtomValue {
  readonly kind: 'atom';
  readonly value: string;
}

/** Written verbatim, no checks (pre-built response text such as a section label). */
export interface RawValue {
  readonly kind: 'raw';
  readonly value: string | Buffer;
}

/**
 * A value in a response, encoded by `untagged` / `tagged` (encoder.ts):
 * - `string`: an IMAP string — quoted when safe, literal for CR/LF/8-bit/NUL/long;
 * - `Buffer`: same for bytes;
 * - `null`: NIL; `number`/`bigint`: number;
 * - array: parenthesised list, elements separated by SP;
 * - `AtomValue` / `RawValue` as documented.
 * FETCH responses, whose bodies are streamed, are written by fetch/render.ts.
 */
export type ImapValue =
  | string
  | Buffer
  | number
  | bigint
  | null
  | AtomValue
  | RawValue
  | readonly ImapValue[];

/** `[NAME args]` response code (RFC 3501 §7.1, RFC 5530). Args are encoded like values (atoms for words). */
export interface ResponseCode {
  readonly name: string;
  readonly args?: readonly ImapValue[];
}

export type ResponseStatus = 'OK' | 'NO' | 'BAD' | 'BYE' | 'PREAUTH';

// ---------------------------------------------------------------------------
// The wire API in one view (implemented in tokenizer.ts and encoder.ts)
// ---------------------------------------------------------------------------

/**
 * `CommandReader` (tokenizer.ts) implements this. One per connection.
 * Memory: at most one command's text and small literals
 * (`ReaderLimits.maxLineLength`) plus the chunk being consumed; APPEND bodies
 * are handed out as slices, never accumulated.
 */
export interface CommandReaderApi {
  /** Add bytes from the socket (after TLS/COMPRESS decoding). */
  push(chunk: Buffer): void;
  /** The next event; `needMore` when the buffered bytes are used up. */
  next(): WireEvent;
  /** After a `literal` event: read its bytes (send `+` yourself if it was synchronising). */
  acceptLiteral(): void;
  /** After a `literal` event: refuse it; the reader skips the command (you send the tagged answer). */
  rejectLiteral(): void;
  /** The next event will be a `line` (AUTHENTICATE continuation, IDLE DONE); limited to maxLineLength. */
  expectLine(): void;
  /**
   * Remove and return bytes pushed but not yet consumed — after STARTTLS or
   * COMPRESS OK, so they can be fed through the new layer (normally empty).
   */
  takeBuffered(): Buffer;
}

/**
 * Encoder (encoder.ts) exports, for reference:
 * - `untagged(...values: ImapValue[]): Buffer` → `* v1 v2 ...\r\n`
 * - `untaggedStatus(status: ResponseStatus, text: string, code?: ResponseCode): Buffer` → `* OK [CODE] text\r\n`
 * - `tagged(tag: string, status: 'OK'|'NO'|'BAD', text: string, code?: ResponseCode): Buffer`
 * - `continuation(text?: string): Buffer` → `+ text\r\n`
 * - value helpers: `astring`, `mailboxValue` (mUTF-7 encode + astring), `encodeString`,
 *   `fetchItemLabel(item: FetchItem): string` (e.g. `BODY[HEADER.FIELDS (From)]<0>`), `formatDateTime`.
 *
 * Other wire modules:
 * - seqset.ts: `parseSequenceSet`, `formatSequenceSet`, `expandSequenceSet(set, count)`,
 *   `expandUidSet(set, uids)` (→ sequence numbers), `selectUids`, `normalizeRanges`,
 *   `setContains`, `compactSet(nums, keepOrder?)`, `toSequenceSet`.
 * - src/text/mutf7.ts: `encodeMailboxName`, `decodeMailboxName` (throws `Utf7Error`).
 */
export type EncoderApiDoc = never;
