/**
 * The MIME layer (pure functions; the caller supplies bytes):
 *  - parse.ts         parseMessage(raw) -> MimeTree (once, at delivery)
 *  - envelope.ts      ENVELOPE, rendered by the parser into tree.envelope (the
 *                     index stores that text; quote.ts holds its string forms)
 *  - header.ts        headerValues(headerBytes, name) for header lookups
 *  - decode.ts        RFC 2047 words, base64 / QP, charsets, textForSearch
 *  - sort.ts          SORT keys (tree.sort), base subject, RFC 5322 dates
 * Rendered IMAP values are byte strings (latin1): send with Buffer.from(s, 'latin1').
 * IMAP's own views of a tree are rendered in src/imap/message/: BODY and
 * BODYSTRUCTURE (bodystructure.ts), BODY[section] and BINARY (section.ts).
 *
 * Parsed MIME structure of one message, computed once at delivery and kept in
 * the index as JSON (parse once). Offsets are byte offsets in the
 * file as stored (LF, CRLF or mixed line ends); sizes named `v*` count every
 * bare LF as CRLF, which is what IMAP reports and sends (RFC 3501 §2.3.4,
 * RFC822.SIZE must equal the BODY[] length).
 *
 * Everything here is plain JSON (numbers, strings, arrays): no Buffer, no
 * bigint. IMAP renders from it without re-reading the file except for the
 * byte ranges it sends.
 */

/** A `name=value` parameter as written (case kept; RFC 2231 pieces joined). */
export type MimeParam = [name: string, value: string];

export interface MimePart {
  /** Offset of the part's header block (for MIME / HEADER sections). */
  headerStart: number;
  /**
   * Offset of the first body byte (after the blank line). Equals the end of
   * the header block; when the header has no blank line it is the end of
   * the enclosing range and the body is empty.
   */
  bodyStart: number;
  /** Offset after the last body byte (the line end before a boundary is not part of the body, RFC 2046 §5.1.1). */
  bodyEnd: number;
  /** Header size and body size with CRLF line ends. */
  vHeaderSize: number;
  vBodySize: number;
  /** Count of line ends in the body; only for text/* and message/rfc822 (0 for other parts). */
  bodyLines: number;
  /**
   * Lower-cased effective type and subtype for program logic: a missing
   * Content-Type is "text"/"plain" (RFC 2045 §5.2); a broken one is ""/"".
   */
  type: string;
  subtype: string;
  /**
   * Type and subtype exactly as written, only when they differ from
   * `type`/`subtype` (IMAP BODYSTRUCTURE repeats them as written, as Dovecot does).
   */
  typeAsWritten?: [string, string];
  /** Content-Type parameters in order, as written. */
  params: MimeParam[];
  id: string | null;
  description: string | null;
  /** Content-Transfer-Encoding as written, or null when absent or malformed (renders "7bit"). */
  encoding: string | null;
  /**
   * The Content-Transfer-Encoding BINARY must undo, only when it differs from
   * `encoding`: BINARY reads the last such field, also in a non-MIME header,
   * and keeps a malformed value as written (so it answers UNKNOWN-CTE).
   */
  cte?: string;
  md5: string | null;
  disposition: { type: string; params: MimeParam[] } | null;
  language: string[] | null;
  location: string | null;
  /** Children of a multipart (never empty: an empty multipart gets one empty text/plain part). */
  parts?: MimePart[];
  /**
   * The encapsulated message of a message/rfc822 part, or of an untyped part
   * of multipart/digest (RFC 2046 §5.1.5). Absent only past the depth or
   * part limits (IMAP then shows an empty envelope and body).
   */
  message?: MimeMessage;
  /** True for a synthetic part standing in for a multipart with no parts. */
  synthetic?: true;
}

/** A message (the top level, or one encapsulated in message/rfc822). */
export interface MimeMessage extends MimePart {
  /** IMAP ENVELOPE, rendered once (a parenthesised list, RFC 3501 §7.4.2). */
  envelope: string;
}

/**
 * Keys SORT (RFC 5256, RFC 5957) and THREAD need, taken from the top-level
 * header so that sorting never re-reads files.
 */
export interface SortKeys {
  /** Date: header in ms since the epoch, or null if missing/unparseable (RFC 5256 §3: then INTERNALDATE). */
  date: number | null;
  /**
   * Zone the Date: header was written in, minutes east of UTC (0 without a
   * date). Absent in structures stored before it was kept: then read the header again.
   */
  dateZone?: number;
  /** Base subject (RFC 5256 §2.1), decoded to UTF-8, case kept (SORT compares with i;ascii-casemap). */
  subject: string;
  /** addr-mailbox of the first From / To / Cc address (RFC 5256 §3; a group's name when it comes first), lower-cased; "" if none. */
  from: string;
  to: string;
  cc: string;
  /** RFC 5957 display name (decoded), falling back to addr-spec; "" if none. */
  displayFrom: string;
  displayTo: string;
  /** Message-ID, In-Reply-To (first msg-id) and References msg-ids, with angle brackets; "" / [] if none. */
  messageId: string;
  inReplyTo: string;
  references: string[];
  /** Whether the subject was a reply/forward (RFC 5256 §2.1 step 6 for ORDEREDSUBJECT threading). */
  isReply: boolean;
}

export interface MimeTree extends MimeMessage {
  /** Whether the stored bytes contain bare LF line ends (sections need CRLF conversion). */
  bareLf: boolean;
  /** Stored file size in bytes. */
  rawSize: number;
  /** RFC822.SIZE: the size with every line end counted as CRLF. */
  vSize: number;
  sort: SortKeys;
}
