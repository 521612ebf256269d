/**
 * Capabilities of the extensions beyond IMAP4rev1, advertised after authentication
 * (only what is implemented: RFC 3501 §7.2.1 lets clients rely on the list).
 */
export const EXTENSION_CAPABILITIES: readonly string[] = [
  // RFC 7162: per-message mod-sequences (CONDSTORE) and quick resync (QRESYNC).
  'CONDSTORE',
  'QRESYNC',
  // RFC 8438: STATUS SIZE.
  'STATUS=SIZE',
  // RFC 4731 SEARCH RETURN, RFC 5182 `$`, RFC 5032 OLDER/YOUNGER.
  'ESEARCH',
  'SEARCHRES',
  'WITHIN',
  // RFC 5267 §4: SEARCH RETURN (UPDATE CONTEXT PARTIAL), CANCELUPDATE (search-context.ts).
  'CONTEXT=SEARCH',
  // RFC 5256 SORT and THREAD, RFC 5957 DISPLAYFROM/DISPLAYTO, RFC 5267 ESORT.
  'SORT',
  'SORT=DISPLAY',
  'ESORT',
  'THREAD=ORDEREDSUBJECT',
  'THREAD=REFERENCES',
  // RFC 9208 quotas (STORAGE, MESSAGE) from the account's Maildir++ limits.
  'QUOTA',
  'QUOTA=RES-STORAGE',
  'QUOTA=RES-MESSAGE',
  // RFC 4978.
  'COMPRESS=DEFLATE',
  // RFC 5258, RFC 5819, RFC 6154 §3, RFC 3502.
  'LIST-EXTENDED',
  'LIST-STATUS',
  'CREATE-SPECIAL-USE',
  'MULTIAPPEND',
  // RFC 4469: APPEND built from TEXT literals and URLs of the user's own messages (commands/catenate.ts).
  'CATENATE',
  // RFC 3516: decoded section fetch (src/imap/message/section.ts), BINARY.SIZE, literal8 APPEND.
  'BINARY',
  // RFC 5465: STATUS/LIST notifications for watched mailbox (src/imap/notify.ts).
  'NOTIFY',
];
