/**
 * Maildir++ quota (protocols.md §3.4; Courier README.maildirquota, qmail-ldap
 * maildir++.c). `maildirsize` in the Maildir root: line 1 the limits
 * `<bytes>S,<count>C`, then `<bytes> <count>` delta lines. Kept only for
 * accounts with a limit, as qmail-ldap and Dovecot do.
 */
import fs from 'node:fs';
import path from 'node:path';
import type { Account } from '../../accounts/directory.js';
import { parseName } from './filename.js';

/** Recount when the file grows past this (Courier / qmail-ldap / Dovecot). */
const MAX_FILE_SIZE = 5120;
/** A small, fresh file is trusted even when a delivery would exceed the quota. */
const FRESH_SECONDS = 900;

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

export function readMaildirSize(maildir: string): MaildirSize | null {
  const file = path.join(maildir, 'maildirsize');
  let text: string;
  let st: fs.Stats;
  try {
    text = fs.readFileSync(file, 'latin1');
    st = fs.statSync(file);
  } catch {
    return null;
  }
  const lines = text.split('\n').filter((l) => l.length > 0);
  const head = lines[0] ?? '';
  let limitBytes = 0;
  let limitMessages = 0;
  for (const p of head.split(',')) {
    const m = /^\s*(\d+)([SC])\s*$/.exec(p);
    if (!m) continue;
    if (m[2] === 'S') limitBytes = Number(m[1]);
    else limitMessages = Number(m[1]);
  }
  let bytes = 0;
  let messages = 0;
  for (const l of lines.slice(1)) {
    const m = /^\s*(-?\d+)\s+(-?\d+)\s*$/.exec(l);
    if (!m) continue;
    bytes += Number(m[1]);
    messages += Number(m[2]);
  }
  return { limitBytes, limitMessages, bytes, messages, lines: lines.length, fileSize: st.size, mtimeMs: st.mtimeMs };
}

/** Walk INBOX and every folder, summing S= (or stat) sizes; `T` (trashed) messages do not count. */
export function countUsage(maildir: string): { bytes: number; messages: number } {
  let bytes = 0;
  let messages = 0;
  const dirs = [maildir];
  try {
    for (const e of fs.readdirSync(maildir, { withFileTypes: true })) {
      if (e.isDirectory() && e.name.startsWith('.') && !e.name.startsWith('..')) dirs.push(path.join(maildir, e.name));
    }
  } catch {
    return { bytes, messages };
  }
  for (const d of dirs) {
    for (const sub of ['new', 'cur']) {
      let names: string[];
      try {
        names = fs.readdirSync(path.join(d, sub));
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
            size = fs.statSync(path.join(d, sub, n)).size;
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

/** Rewrite maildirsize from a recount: write in tmp/, then rename over the old file. */
export function recalculate(a: Account): MaildirSize {
  const u = countUsage(a.maildir);
  const tmp = path.join(a.maildir, 'tmp', `maildirsize.${Date.now()}.${process.pid}`);
  fs.mkdirSync(path.dirname(tmp), { recursive: true });
  fs.writeFileSync(tmp, `${limitsLine(a)}\n${u.bytes} ${u.messages}\n`);
  fs.renameSync(tmp, path.join(a.maildir, 'maildirsize'));
  return readMaildirSize(a.maildir)!;
}

/**
 * Would adding this much exceed the quota? Applies the recount rules of
 * §3.4: missing file, file ≥ 5120 bytes or changed limits → recount; over
 * quota → recount unless the file is small (≤ 2 lines) and under 15 minutes old.
 */
export function wouldExceed(a: Account, addBytes: number, addMessages: number): boolean {
  if (!quotaEnabled(a)) return false;
  let q = readMaildirSize(a.maildir);
  if (!q || q.fileSize >= MAX_FILE_SIZE || q.limitBytes !== a.quotaBytes || q.limitMessages !== a.quotaMessages) {
    q = recalculate(a);
  }
  const over = (s: MaildirSize): boolean =>
    (a.quotaBytes > 0 && s.bytes + addBytes > a.quotaBytes) || (a.quotaMessages > 0 && s.messages + addMessages > a.quotaMessages);
  if (!over(q)) return false;
  const fresh = q.lines <= 2 && Date.now() - q.mtimeMs < FRESH_SECONDS * 1000;
  if (!fresh) q = recalculate(a);
  return over(q);
}

/** Append a delta line (O_APPEND, as qmail-ldap and Courier do); no file = quota not kept. */
export function addQuotaDelta(a: Account, bytes: number, messages: number): void {
  if (!quotaEnabled(a) || (bytes === 0 && messages === 0)) return;
  const file = path.join(a.maildir, 'maildirsize');
  if (!fs.existsSync(file)) return;
  try {
    fs.appendFileSync(file, `${bytes} ${messages}\n`);
  } catch {
    // Usage is recounted from the Maildir when the file is wrong or missing.
  }
}

export function usage(a: Account): { bytes: number; messages: number } {
  if (quotaEnabled(a)) {
    let q = readMaildirSize(a.maildir);
    if (!q || q.fileSize >= MAX_FILE_SIZE || q.limitBytes !== a.quotaBytes || q.limitMessages !== a.quotaMessages) q = recalculate(a);
    return { bytes: Math.max(0, q.bytes), messages: Math.max(0, q.messages) };
  }
  return countUsage(a.maildir);
}
