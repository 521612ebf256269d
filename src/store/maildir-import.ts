/**
 * What `roost import` (src/cli/commands/import*.ts) uses of the Maildir
 * layer: it writes folders, the resume point and recorded POP3 UIDLs the way
 * Dovecot would have left them, before the store reads them with the
 * ordinary index rebuild. Part of the store's public surface; the rest of
 * ./maildir stays private to src/store.
 */
export { FolderWriter, IMPORT_MARKER, addSubscriptions, readImportState } from './maildir/import-folder.js';
export { replaceFile } from './maildir/fd.js';
export { INBOX, assertFolderDirFits, folderDirProblem, mailboxDir, normalizeMailboxName } from './maildir/names.js';
export { isValidUidl, readRecordedUidls, writeRecordedUidls } from './maildir/pop3-uidls.js';
