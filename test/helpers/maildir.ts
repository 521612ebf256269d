/**
 * Looking at delivered mail in tests: through the store API (what clients
 * see) and, for "nothing half-written", the Maildir directories themselves.
 */
import { readdir, stat } from 'node:fs/promises';
import path from 'node:path';
import { expect } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import type { Store } from '../../src/store/store.js';

/** Message bytes in INBOX, in UID order, read through the store. */
export async function inboxMessages(store: Store, account: Account): Promise<Buffer[]> {
  const box = await store.user(account).openMailbox('INBOX', { readOnly: true });
  try {
    const out: Buffer[] = [];
    for (const m of box.snapshot().messages) out.push(await box.readMessage(m.uid));
    return out;
  } finally {
    box.close();
  }
}

async function list(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((n) => !n.startsWith('.'));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw err;
  }
}

/** File names in the INBOX Maildir's new/, cur/ and tmp/. */
export async function maildirFiles(account: Account): Promise<{ new: string[]; cur: string[]; tmp: string[] }> {
  return {
    new: await list(path.join(account.maildir, 'new')),
    cur: await list(path.join(account.maildir, 'cur')),
    tmp: await list(path.join(account.maildir, 'tmp')),
  };
}

/** The INBOX Maildir holds exactly the files the index lists (by base name), and nothing is left in tmp/ (the crash tests' last check). */
export async function expectMaildirMatchesIndex(account: Account, basenames: readonly string[]): Promise<void> {
  const files = await maildirFiles(account);
  expect(files.tmp).toEqual([]);
  const onDisk = [...files.new, ...files.cur].map((f) => f.split(':')[0]!).sort();
  expect(onDisk).toEqual([...basenames].sort());
}

/** Received line the QMQP listener prepends (LF-terminated), checked for shape. */
export const RECEIVED_RE = /^Received: from \[127\.0\.0\.1\] by [^ ]+ \(Roost\) with QMQP; (Mon|Tue|Wed|Thu|Fri|Sat|Sun), \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\n/;

/** Split a stored QMQP message into its Received line and the bytes the client sent. */
export function splitReceived(stored: Buffer): { received: string; body: Buffer } {
  const nl = stored.indexOf(0x0a);
  return { received: stored.subarray(0, nl + 1).toString('latin1'), body: stored.subarray(nl + 1) };
}

/**
 * Spool files (data_dir/spool) that hold bytes. The store keeps a few empty,
 * pre-created spool files ready for the next drafts; a draft that outlived its
 * connection would have content.
 */
export async function spoolLeftovers(dataDir: string): Promise<string[]> {
  const dir = path.join(dataDir, 'spool');
  const out: string[] = [];
  for (const n of await list(dir)) {
    const st = await stat(path.join(dir, n)).catch(() => null);
    if (st && st.size > 0) out.push(n);
  }
  return out;
}
