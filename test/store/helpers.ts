import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Account } from '../../src/accounts/directory.js';
import { LIMITS } from '../../src/limits.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import type { StoreImpl } from '../../src/store/store-impl.js';

export function tempDir(prefix = 'roost-store-'): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), prefix));
}

export function account(root: string, name: string, extra: Partial<Account> = {}): Account {
  return {
    id: `${name}@example.org`,
    address: `${name}@example.org`,
    login: `${name}@example.org`,
    maildir: path.join(root, 'mail', name, 'Maildir'),
    quotaBytes: 0,
    quotaMessages: 0,
    maxMessageSize: 0,
    status: 'active',
    ...extra,
  };
}

export async function open(root: string, watch = false, maxOpenIndexes?: number): Promise<StoreImpl> {
  return (await openStore({ dataDir: path.join(root, 'data'), mailDir: path.join(root, 'mail'), hostname: 'test.host', watch, maxOpenIndexes })) as StoreImpl;
}

/** The store tests' message builder (test/helpers/messages.ts). */
export { plainMessage as message } from '../helpers/messages.js';

export async function deliver(store: Store, to: Account[], msg: Buffer) {
  const d = await store.createDraft();
  await d.write(msg);
  await d.finish();
  return store.deliver(to, d, { sender: 'a@example.org' });
}

export function files(dir: string, sub: 'new' | 'cur' | 'tmp'): string[] {
  try {
    return fs.readdirSync(path.join(dir, sub)).filter((n) => !n.startsWith('.'));
  } catch {
    return [];
  }
}

export function waitFor(cond: () => boolean, ms = 5000): Promise<void> {
  const start = Date.now();
  return new Promise((resolve, reject) => {
    const t = setInterval(() => {
      if (cond()) {
        clearInterval(t);
        resolve();
      } else if (Date.now() - start > ms) {
        clearInterval(t);
        reject(new Error('timed out waiting'));
      }
    }, 10);
  });
}

/** Spool files holding data (the pool keeps a few empty ones ready). */
export function spoolWithData(dir: string): string[] {
  return fs.readdirSync(dir).filter((n) => fs.statSync(path.join(dir, n)).size > 0);
}

/** `fn` with slices of no time (a pause after every step of sliced work, however fast the machine). */
export async function everyStep<T>(fn: () => Promise<T>): Promise<T> {
  const was = LIMITS.work.sliceMs;
  (LIMITS.work as { sliceMs: number }).sliceMs = 0;
  try {
    return await fn();
  } finally {
    (LIMITS.work as { sliceMs: number }).sliceMs = was;
  }
}

/** A Maildir of `count` hard links of one small message in cur/, named `name(i)`. */
export function linkedMaildir(maildir: string, count: number, subject: string, name: (i: number) => string): void {
  for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  const tpl = path.join(maildir, 'template');
  fs.writeFileSync(tpl, `From: s@example.net\nSubject: ${subject}\n\nBody\n`);
  for (let i = 0; i < count; i++) fs.linkSync(tpl, path.join(maildir, 'cur', name(i)));
  fs.rmSync(tpl);
}

/**
 * Account `name` under `root` with an INBOX of `count` linked messages (names
 * `<time>.M<i>P1.old,S=42:2,<flags(i)>`), opened in a store with the facts
 * fill finished, so nothing changes the list while a test packs or reloads it.
 */
export async function openedBigInbox(root: string, name: string, count: number, subject: string, flags: (i: number) => string) {
  const a = account(root, name);
  linkedMaildir(a.maildir, count, subject, (i) => `${1_700_000_000 + i}.M${i}P1.old,S=42:2,${flags(i)}`);
  const store = await open(root);
  const st = store.state(a);
  const box = await store.user(a).openMailbox('INBOX');
  await store.settle();
  const mb = st.db().mailbox('INBOX')!;
  return { a, store, st, box, mb, c: st.caches.get(mb.id)! };
}
