/**
 * Mailbox names: validation of the Unicode names the store API takes, and
 * their Maildir++ directory names (Maildir++ layout; RFC 3501 §5.1.3).
 *
 * API names use "." as hierarchy separator and "INBOX" (any case) for the
 * root. On disk, folder "A.B" is `<maildir>/.A.B`, each component written in
 * IMAP modified UTF-7 (RFC 3501 §5.1.3) as Dovecot and Courier do, so the
 * same Maildir reads the same under either of them.
 */
import { createHash } from 'node:crypto';
import path from 'node:path';
import { LIMITS } from '../../limits.js';
import { RoostError } from '../../errors.js';
// The one modified UTF-7 codec (strict: only the canonical form decodes, so two directories never name one mailbox).
import { decodeMailboxName, encodeMailboxName } from '../../text/mutf7.js';

export const INBOX = 'INBOX';

/**
 * Canonical form of a mailbox name, or BADNAME. "inbox" and "Inbox.x" become
 * "INBOX" / "INBOX.x" (RFC 3501 §5.1: INBOX is case-insensitive).
 */
export function normalizeMailboxName(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw bad(name, 'empty');
  if (Buffer.byteLength(name, 'utf8') > LIMITS.store.maxMailboxNameLength) throw bad(name, 'too long');
  // Control characters would end up in file names and log lines; "/" would
  // leave the Maildir. "%" and "*" are legal (RFC 3501 §5.1 discourages
  // them; Dovecot and Courier store them as is, so imported folders keep them).
  if (/[\u0000-\u001f\u007f/]/.test(name)) throw bad(name, 'forbidden character');
  if (name.startsWith('.') || name.endsWith('.') || name.includes('..')) throw bad(name, 'empty hierarchy level');
  const parts = name.split('.');
  if (parts.length > LIMITS.store.maxMailboxDepth) throw bad(name, 'too deep');
  if (parts[0]!.toUpperCase() === INBOX) parts[0] = INBOX;
  return parts.join('.');
}

function bad(name: string, why: string): RoostError {
  return new RoostError('BADNAME', `invalid mailbox name (${why}): ${JSON.stringify(String(name).slice(0, 80))}`);
}

export function isInbox(name: string): boolean {
  return name === INBOX;
}

/** Directory of a mailbox: the Maildir root for INBOX, `.Enc.Oded` otherwise. */
export function mailboxDir(maildir: string, name: string): string {
  if (name === INBOX) return maildir;
  return path.join(maildir, folderDirName(name));
}

export function folderDirName(name: string): string {
  return '.' + name.split('.').map(encodeMailboxName).join('.');
}

/**
 * LIMIT unless the folder directory of `name` fits in one file name
 * (LIMITS.store.maxFolderDirNameBytes): checked before CREATE or RENAME
 * makes a directory, so the client gets NO [LIMIT] instead of an
 * ENAMETOOLONG from mkdir.
 */
export function assertFolderDirFits(name: string): void {
  if (name === INBOX) return;
  const bytes = Buffer.byteLength(folderDirName(name), 'utf8');
  if (bytes > LIMITS.store.maxFolderDirNameBytes) {
    throw new RoostError('LIMIT', `mailbox directory name of ${bytes} bytes exceeds ${LIMITS.store.maxFolderDirNameBytes}: ${JSON.stringify(name.slice(0, 80))}`);
  }
}

/** Why a `.Folder.Sub` directory cannot be a mailbox (bad modified UTF-7, a forbidden name, too long), or null. */
export function folderDirProblem(dir: string): string | null {
  if (!dir.startsWith('.') || dir.startsWith('..') || dir.length < 2) return 'not a Maildir++ folder name';
  let name: string;
  try {
    name = dir.slice(1).split('.').map(decodeMailboxName).join('.');
  } catch {
    return 'not valid modified UTF-7 (RFC 3501 §5.1.3)';
  }
  try {
    assertFolderDirFits(normalizeMailboxName(name));
  } catch (err) {
    return (err as Error).message;
  }
  return null;
}

/** Decode a `.Folder.Sub` directory name; null when it is not a folder name we can use. */
export function nameFromFolderDir(dir: string): string | null {
  if (!dir.startsWith('.') || dir.startsWith('..') || dir.length < 2) return null;
  try {
    const name = dir.slice(1).split('.').map(decodeMailboxName).join('.');
    return normalizeMailboxName(name);
  } catch {
    return null;
  }
}

/** Ancestors of a name: "A.B.C" → ["A", "A.B"]. */
export function ancestors(name: string): string[] {
  const parts = name.split('.');
  const out: string[] = [];
  for (let i = 1; i < parts.length; i++) out.push(parts.slice(0, i).join('.'));
  return out;
}

/** Index file name for an account id: safe on any filesystem, distinct ids stay distinct. */
export function safeFileName(id: string): string {
  const enc = id.replace(/[^A-Za-z0-9_@+-]/g, (c) =>
    [...Buffer.from(c, 'utf8')].map((b) => '%' + b.toString(16).toUpperCase().padStart(2, '0')).join(''),
  );
  if (enc.length <= 200) return enc;
  // Long ids keep a readable prefix and a hash of the whole id.
  return enc.slice(0, 180) + '-' + createHash('sha256').update(id).digest('hex').slice(0, 16);
}
