/**
 * Maildir++ quota (Courier README.maildirquota, qmail-ldap
 * maildir++.c). `maildirsize` in the Maildir root: line 1 the limits
 * `<bytes>S,<count>C`, then `<bytes> <count>` delta lines. Kept only for
 * accounts with a limit, as qmail-ldap and Dovecot do.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Account } from '../../accounts/directory.js';
import { parseName } from './filename.js';
import { LIMITS } from '../../limits.js';

const MAX_FILE_SIZE = LIMITS.store.maildirsizeMaxBytes;

export interface MaildirSize {
  limitBytes: number;
  limitMessages: number;
  bytes: number;
  messages: number;
  lines: number;
  fileSize: number;
  mtimeMs: number;
}

export function quotaEnabled(a: Account): boolean {
  return a.quotaBytes > 0 || a.quotaMessages > 0;
}

function limitsLine(a: Account): string {
  const parts: string[] = [];
  if (a.quotaBytes > 0) parts.push(`${a.quotaBytes}S`);
  if (a.quotaMessages > 0) parts.push(`${a.quotaMessages}C`);
  return parts.join(',');
}

/**
 * What we last parsed of each maildirsize: the sums up to `consumed` (the
 * end of its last complete line) of the file with inode `ino`. Deltas are
 * only ever appended (O_APPEND) and rewrites go through a rename (a new
 * inode), so a file with the same inode that has grown needs only its new
 * tail parsed: a delivery costs one stat and a small read instead of
 * re-reading up to 5 KB of lines.
 */
interface Parsed {
  ino: number;
  consumed: number;
  limitBytes: number;
  limitMessages: number;
  bytes: number;
  messages: number;
  lines: number;
}
const parsed = new Map<string, Parsed>();
const MAX_PARSED = LIMITS.tuning.quotaParsedAccounts;

/**
 * The limits and sums of the Maildir's maildirsize, or null when it has
 * none (or it cannot be read). Off the event loop (one stat, one read of
 * the new tail). Calls may overlap: each works on its own copy of the
 * cached parse and stores a consistent one, so none counts a line twice.
 */
export async function readMaildirSize(maildir: string): Promise<MaildirSize | null> {
  const file = path.join(maildir, 'maildirsize');
  let st: fs.Stats;
  try {
    st = await fsp.stat(file);
  } catch {
    parsed.delete(maildir);
    return null;
  }
  const known = parsed.get(maildir);
  const p: Parsed =
    known && known.ino === st.ino && st.size >= known.consumed
      ? { ...known }
      : { ino: st.ino, consumed: 0, limitBytes: 0, limitMessages: 0, bytes: 0, messages: 0, lines: 0 };
  if (st.size > p.consumed) {
    let text: string;
    try {
      text = await readFrom(file, p.consumed, st.size - p.consumed);
    } catch {
      parsed.delete(maildir);
      return null;
    }
    // A writer may be mid-line: parse complete lines only, the rest next time.
    const end = text.lastIndexOf('\n') + 1;
    for (const l of text.slice(0, end).split('\n')) {
      if (l.length === 0) continue;
      if (p.lines === 0) {
        for (const part of l.split(',')) {
          const m = /^\s*(\d+)([SC])\s*$/.exec(part);
          if (!m) continue;
          if (m[2] === 'S') p.limitBytes = Number(m[1]);
          else p.limitMessages = Number(m[1]);
        }
      } else {
        const m = /^\s*(-?\d+)\s+(-?\d+)\s*$/.exec(l);
        if (m) {
          p.bytes += Number(m[1]);
          p.messages += Number(m[2]);
        }
      }
      p.lines++;
    }
    p.consumed += Buffer.byteLength(text.slice(0, end), 'latin1');
  }
  parsed.delete(maildir);
  parsed.set(maildir, p);
  if (parsed.size > MAX_PARSED) parsed.delete(parsed.keys().next().value!);
  return { limitBytes: p.limitBytes, limitMessages: p.limitMessages, bytes: p.bytes, messages: p.messages, lines: p.lines, fileSize: st.size, mtimeMs: st.mtimeMs };
}

async function readFrom(file: string, offset: number, length: number): Promise<string> {
  const fh = await fsp.open(file, 'r');
  try {
    const buf = Buffer.alloc(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, offset + got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.toString('latin1', 0, got);
  } finally {
    await fh.close();
  }
}

/** Walk INBOX and every folder, summing S= (or stat) sizes; `T` (trashed) messages do not count. */
export async function countUsage(maildir: string): Promise<{ bytes: number; messages: number }> {
  let bytes = 0;
  let messages = 0;
  const dirs = [maildir];
  try {
    for (const e of await fsp.readdir(maildir, { withFileTypes: true })) {
      if (e.isDirectory() && e.name.startsWith('.') && !e.name.startsWith('..')) dirs.push(path.join(maildir, e.name));
    }
  } catch {
    return { bytes, messages };
  }
  for (const d of dirs) {
    for (const sub of ['new', 'cur']) {
      let names: string[];
      try {
        names = await fsp.readdir(path.join(d, sub));
      } catch {
        continue;
      }
      for (const n of names) {
        if (n.startsWith('.')) continue;
        const p = parseName(n);
        if (p.letters.includes('T')) continue;
        let size = p.size;
        if (size === null) {
          try {
            size = (await fsp.stat(path.join(d, sub, n))).size;
          } catch {
            continue;
          }
        }
        bytes += size;
        messages++;
      }
    }
  }
  return { bytes, messages };
}

/** Tells apart the temporary files of recounts that overlap within one millisecond. */
let recountSeq = 0;

/** Rewrite maildirsize from a recount: write in tmp/, then rename over the old file. */
export async function recalculate(a: Account): Promise<MaildirSize> {
  const u = await countUsage(a.maildir);
  const tmp = path.join(a.maildir, 'tmp', `maildirsize.${Date.now()}.${process.pid}.${++recountSeq}`);
  await fsp.mkdir(path.dirname(tmp), { recursive: true });
  await fsp.writeFile(tmp, `${limitsLine(a)}\n${u.bytes} ${u.messages}\n`);
  await fsp.rename(tmp, path.join(a.maildir, 'maildirsize'));
  return (await readMaildirSize(a.maildir))!;
}

/** A maildirsize to be trusted as it is (README.maildirquota): there, under the size bound, for the account's limits. */
function trusted(q: MaildirSize | null, a: Account): q is MaildirSize {
  return q !== null && q.fileSize < MAX_FILE_SIZE && q.limitBytes === a.quotaBytes && q.limitMessages === a.quotaMessages;
}

/**
 * Would adding this much exceed the quota? Applies README.maildirquota's
 * recount rules: missing file, file ≥ 5120 bytes or changed limits → recount; over
 * quota → recount unless the file is small (≤ 2 lines) and under 15 minutes old.
 */
export async function wouldExceed(a: Account, addBytes: number, addMessages: number): Promise<boolean> {
  if (!quotaEnabled(a)) return false;
  // Every delta asked for before this check counts (addQuotaDelta writes behind its caller).
  await quotaWritten(a.maildir);
  let q = await readMaildirSize(a.maildir);
  if (!trusted(q, a)) q = await recalculate(a);
  const over = (s: MaildirSize): boolean =>
    (a.quotaBytes > 0 && s.bytes + addBytes > a.quotaBytes) || (a.quotaMessages > 0 && s.messages + addMessages > a.quotaMessages);
  if (!over(q)) return false;
  const fresh = q.lines <= 2 && Date.now() - q.mtimeMs < LIMITS.store.maildirsizeFreshMs;
  if (!fresh) q = await recalculate(a);
  return over(q);
}

/** Delta lines being written, per Maildir: one write at a time, in the order asked. */
const deltaWrites = new Map<string, Promise<void>>();

/**
 * Append a delta line (O_APPEND, as qmail-ldap and Courier do); no file =
 * quota not kept. Off the event loop: the lines of one Maildir are written
 * one after another, in the order asked, and every reader that decides on
 * them (wouldExceed, UserStore.quota) first waits for those asked for
 * before it (quotaWritten), so two deltas never race and a check never
 * misses one. No fsync, unlike qmail-ldap: maildirsize is
 * a cache of the Maildir's usage (README.maildirquota recount rules), the
 * journal and the index are the truth, and a line lost to a power cut only
 * makes the next over-quota check recount.
 */
export function addQuotaDelta(a: Account, bytes: number, messages: number): Promise<void> {
  if (!quotaEnabled(a) || (bytes === 0 && messages === 0)) return quotaWritten(a.maildir);
  const file = path.join(a.maildir, 'maildirsize');
  const line = `${bytes} ${messages}\n`;
  const run = quotaWritten(a.maildir).then(async () => {
    let fh: fsp.FileHandle;
    try {
      // No O_CREAT: a missing file means the quota is recounted when next needed.
      fh = await fsp.open(file, fs.constants.O_WRONLY | fs.constants.O_APPEND);
    } catch {
      return;
    }
    try {
      await fh.write(line);
    } catch {
      // Usage is recounted from the Maildir when the file is wrong or missing.
    } finally {
      await fh.close().catch(() => undefined);
    }
  });
  deltaWrites.set(a.maildir, run);
  // The map holds only Maildirs with a write in progress.
  void run.then(() => {
    if (deltaWrites.get(a.maildir) === run) deltaWrites.delete(a.maildir);
  });
  return run;
}

/** Resolves once every delta line asked for so far for this Maildir is written (or given up). */
export function quotaWritten(maildir: string): Promise<void> {
  return deltaWrites.get(maildir) ?? Promise.resolve();
}

/** The account's usage: from maildirsize when a quota is kept (recounted when it cannot be trusted), else a count of the Maildir. */
export async function usage(a: Account): Promise<{ bytes: number; messages: number }> {
  if (quotaEnabled(a)) {
    let q = await readMaildirSize(a.maildir);
    if (!trusted(q, a)) q = await recalculate(a);
    return { bytes: Math.max(0, q.bytes), messages: Math.max(0, q.messages) };
  }
  return countUsage(a.maildir);
}
