/**
 * UIDLs another POP3 server answered, kept so Roost answers the same ones
 * (RFC 1939 §7): for a source whose UIDL form Roost cannot
 * compute (Dovecot's %g or %m, a vendor's own), `roost import … --pop3`
 * fetches its UIDL list and records it here by INBOX UID. The file lives in
 * the Maildir root (INBOX) as `roost-pop3-uidls`:
 *
 *   V<uidvalidity>
 *   <uid> <uidl>
 *   …
 *
 * It holds for the UIDVALIDITY it names only: if INBOX is ever given a new
 * one, the UIDs no longer name the same messages and the file is ignored.
 * Written to tmp, fsync'd, renamed (a crash leaves the old file or the new).
 */
import fs from 'node:fs';
import path from 'node:path';
import { replaceFileSync } from './fd.js';

export const POP3_UIDLS_FILE = 'roost-pop3-uidls';

export interface RecordedUidls {
  uidvalidity: number;
  byUid: ReadonlyMap<number, string>;
}

/** RFC 1939 §7: a unique-id is 1 to 70 characters in 0x21..0x7E. */
export const isValidUidl = (s: string): boolean => /^[\x21-\x7e]{1,70}$/.test(s);

export function parseRecordedUidls(text: string): RecordedUidls | null {
  const lines = text.split('\n');
  const head = /^V(\d+)$/.exec(lines[0] ?? '');
  if (!head) return null;
  const byUid = new Map<number, string>();
  for (let i = 1; i < lines.length; i++) {
    const m = /^(\d+) (\S+)$/.exec(lines[i]!);
    if (m && isValidUidl(m[2]!)) byUid.set(Number(m[1]), m[2]!);
  }
  return { uidvalidity: Number(head[1]), byUid };
}

export function formatRecordedUidls(r: RecordedUidls): string {
  return uidlsHead(r.uidvalidity) + uidlsLines(sortedUidls(r));
}

/** The file's first line. */
export const uidlsHead = (uidvalidity: number): string => `V${uidvalidity}\n`;

/** The file's lines for these entries, in the order given. */
export function uidlsLines(entries: Iterable<readonly [number, string]>): string {
  let out = '';
  for (const [uid, uidl] of entries) out += `${uid} ${uidl}\n`;
  return out;
}

/** The entries by ascending UID (the file's order). */
export const sortedUidls = (r: RecordedUidls): [number, string][] => [...r.byUid].sort((a, b) => a[0] - b[0]);

/** The recorded UIDLs of a Maildir's INBOX, or null when none were recorded. */
export async function readRecordedUidls(maildir: string): Promise<RecordedUidls | null> {
  let text: string;
  try {
    text = await fs.promises.readFile(path.join(maildir, POP3_UIDLS_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
  return parseRecordedUidls(text);
}

export async function writeRecordedUidls(maildir: string, r: RecordedUidls): Promise<void> {
  const file = path.join(maildir, POP3_UIDLS_FILE);
  const tmp = `${file}.tmp`;
  const fh = await fs.promises.open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(formatRecordedUidls(r));
    await fh.sync();
  } finally {
    await fh.close();
  }
  await fs.promises.rename(tmp, file);
  const d = await fs.promises.open(maildir, 'r');
  try {
    await d.sync();
  } finally {
    await d.close();
  }
}

/**
 * What identifies the file's present content without reading it: inode
 * (every writer here renames a new file in), size, mtime and ctime; null
 * when there is none.
 */
export async function recordedUidlsStamp(maildir: string): Promise<string | null> {
  try {
    const st = await fs.promises.stat(path.join(maildir, POP3_UIDLS_FILE), { bigint: true });
    return `${st.ino}:${st.size}:${st.mtimeNs}:${st.ctimeNs}`;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The file's text, or null when there is none (in the thread pool: POP3 logins read it). */
export async function readRecordedUidlsText(maildir: string): Promise<string | null> {
  try {
    return await fs.promises.readFile(path.join(maildir, POP3_UIDLS_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** The file's text, or null when there is none (synchronous: index recovery runs on the event loop). */
export function readRecordedUidlsTextSync(maildir: string): string | null {
  try {
    return fs.readFileSync(path.join(maildir, POP3_UIDLS_FILE), 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return null;
    throw err;
  }
}

/** Write the file from text already in formatRecordedUidls form (a replica, from its index): tmp, fsync, rename. */
export function writeRecordedUidlsTextSync(maildir: string, text: string): void {
  replaceFileSync(path.join(maildir, POP3_UIDLS_FILE), text);
}

/** Remove the file (a replica following the primary's removal); none there is fine. */
export function removeRecordedUidlsSync(maildir: string): void {
  try {
    fs.unlinkSync(path.join(maildir, POP3_UIDLS_FILE));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
}
