/**
 * Parsed MIME structure of one message, computed once at delivery and kept in
 * the index (DESIGN.md "Parse once"). Offsets are byte offsets in the file as
 * stored; sizes named `v*` count every line end as CRLF (what IMAP reports).
 * The concrete shape is owned by ./parse.ts; IMAP renders from it without
 * re-reading the file except for the byte ranges it sends.
 */
export interface MimePart {
  /** Offset of the part's header block (for MIME / HEADER sections). */
  headerStart: number;
  /** Offset of the first body byte (after the blank line). */
  bodyStart: number;
  /** Offset after the last body byte (before the CRLF that precedes a boundary). */
  bodyEnd: number;
  /** Header size and body size with CRLF line ends. */
  vHeaderSize: number;
  vBodySize: number;
  /** Lines in the body (text/* and message/rfc822 in BODYSTRUCTURE). */
  bodyLines: number;
  /** Lower-cased type and subtype, e.g. "text", "plain". */
  type: string;
  subtype: string;
  params: [string, string][];
  id: string | null;
  description: string | null;
  encoding: string;
  md5: string | null;
  disposition: { type: string; params: [string, string][] } | null;
  language: string[] | null;
  location: string | null;
  /** Children of a multipart. */
  parts?: MimePart[];
  /** The encapsulated message of a message/rfc822 (or message/global) part. */
  message?: MimeTree;
}

export interface MimeTree extends MimePart {
  /** IMAP ENVELOPE, rendered once (a parenthesised list). */
  envelope: string;
  /** Whether the stored bytes contain bare LF line ends (sections need CRLF conversion). */
  bareLf: boolean;
}
