/**
 * The store's half of `roost account move`.
 *
 * Destination (a primary of another pair): the account arrives as the
 * snapshots a full resync sends (./snapshot.ts), in rounds: the files of
 * each round are written to a staging folder under data_dir/move/, named by
 * UIDVALIDITY and UID (a message's bytes never change under its UID, only
 * its flags and so its file name). The last round's image, taken on the
 * frozen source, becomes the account's index through installIndex, once
 * every file it names is hard-linked from the staging folder under the name
 * the image wants and the folders are synced: an index never names a file
 * that is not there. Files of messages expunged between rounds are left in
 * staging and removed with it.
 *
 * Before it writes anything the install marks the account arriving
 * (./freezer.ts, durable): refused for logins and deliveries until the
 * source confirms its manifest check. A move that fails removes the copy
 * (discardArrival), and a store opened with a mark left (the node died
 * mid-install or before the confirmation) removes it at open: a kill at any
 * step leaves nothing usable, or, once confirmed, the complete account.
 *
 * The image's applied_lsn is set to this node's journal head: it counts in
 * the source's LSNs, and a higher value here would make recovery skip this
 * node's later records for the account (./recovery.ts).
 *
 * Source: `purge` removes a moved account's Maildir and index; the account
 * stays marked moved (./freezer.ts).
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Account } from '../accounts/directory.js';
import { RoostError } from '../errors.js';
import { INBOX, mailboxDir } from './maildir/names.js';
import { ensureMaildir, fsyncDir } from './maildir/save.js';
import { installIndex, liveFiles } from './snapshot.js';
import type { StoreInterior } from './interior.js';
import type { SnapshotFile } from './store.js';
import { LIMITS } from '../limits.js';

const LINK_GROUP = LIMITS.tuning.moveLinkGroup;

/** Where a moving account's files wait for the final image. */
export function stagingDir(store: StoreInterior, accountId: string): string {
  return path.join(store.opts.dataDir, 'move', encodeURIComponent(accountId));
}

export function stagedName(f: Pick<SnapshotFile, 'uidvalidity' | 'uid'>): string {
  return `${f.uidvalidity}.${f.uid}`;
}

/** True when this node holds mail for the account: indexed messages, or any file in a Maildir folder's new/ or cur/. */
export function accountHasMail(store: StoreInterior, account: Account): boolean {
  const st = store.stateById(account.id);
  if (st) {
    const n = st.db().db.prepare('SELECT COUNT(*) AS n FROM messages').get() as { n: number };
    if (n.n > 0) return true;
  }
  return maildirHasFiles(account.maildir);
}

function maildirHasFiles(root: string): boolean {
  let entries: fs.Dirent[];
  try {
    entries = fs.readdirSync(root, { withFileTypes: true });
  } catch {
    return false;
  }
  for (const sub of ['new', 'cur']) {
    try {
      if (fs.readdirSync(path.join(root, sub)).length > 0) return true;
    } catch {
      // No such folder part.
    }
  }
  // Maildir++ folders are ".Name" directories under the root.
  return entries.some((e) => e.isDirectory() && e.name.startsWith('.') && maildirHasFiles(path.join(root, e.name)));
}

/** A staged file's writer: pieces appended, fdatasync'd at finish; abort closes it (a failed body leaves no descriptor open). */
export async function stageWriter(store: StoreInterior, accountId: string, f: SnapshotFile): Promise<{ write(piece: Buffer): Promise<void>; finish(): Promise<void>; abort(): Promise<void> }> {
  const dir = stagingDir(store, accountId);
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, stagedName(f));
  const fh = await fsp.open(file, 'w', 0o600);
  return {
    async write(piece: Buffer): Promise<void> {
      await fh.write(piece);
    },
    async finish(): Promise<void> {
      try {
        await fh.datasync();
      } finally {
        await fh.close();
      }
    },
    async abort(): Promise<void> {
      await fh.close().catch(() => undefined);
    },
  };
}

/** Forget what an earlier, failed move left staged. */
export async function clearStaging(store: StoreInterior, accountId: string): Promise<void> {
  await fsp.rm(stagingDir(store, accountId), { recursive: true, force: true });
}

/**
 * The last round: the image becomes the index and each file it names is
 * linked in from staging. Throws NOTFOUND when a file the image names was
 * never staged (the caller refuses the move; nothing is served from it).
 */
export async function installMoved(store: StoreInterior, account: Account, image: Buffer): Promise<{ messages: number; bytes: number }> {
  store.assertWritable();
  const dir = stagingDir(store, account.id);
  const files = await filesOf(dir, image);
  for (const f of files) {
    if (!fs.existsSync(path.join(dir, stagedName(f)))) throw new RoostError('NOTFOUND', `move of ${account.id}: ${f.mailbox} UID ${f.uid} was never sent`);
  }
  store.freezer.markArriving(account.id, account.maildir);
  // What the node held for the account goes first (hasMail said: no mail), then the files, then the index.
  store.forgetAccount(account.id);
  await fsp.rm(account.maildir, { recursive: true, force: true });
  for (const mb of new Set(files.map((f) => f.mailbox))) ensureMaildir(mailboxDir(account.maildir, mb), mb !== INBOX);
  const dirs = new Set<string>();
  // In groups, so the links and utimes of a large account run in the thread pool together (the account is frozen meanwhile).
  for (let i = 0; i < files.length; i += LINK_GROUP) {
    await Promise.all(
      files.slice(i, i + LINK_GROUP).map(async (f) => {
        const target = path.join(mailboxDir(account.maildir, f.mailbox), f.filename);
        dirs.add(path.dirname(target));
        await fsp.link(path.join(dir, stagedName(f)), target);
        const mtime = new Date(f.internalDate);
        await fsp.utimes(target, mtime, mtime);
      }),
    );
  }
  await Promise.all([...dirs].map((d) => fsyncDir(d)));
  await installIndex(store, account, image, store.indexFile(account.id), store.lastLsn(), true);
  await clearStaging(store, account.id);
  return { messages: files.length, bytes: files.reduce((n, f) => n + f.size, 0) };
}

/** Destination: the source confirmed the copy; it serves from now on, and the pair's replica is re-seeded. */
export function confirmArrival(store: StoreInterior, accountId: string): void {
  if (!store.freezer.isArriving(accountId)) throw new RoostError('NOTFOUND', `account ${accountId}: no unconfirmed copy here (removed meanwhile?)`);
  store.freezer.clearArriving(accountId, true);
}

/** Destination: remove an unconfirmed copy (its index, its Maildir, its staging), then its mark; false when none is marked. */
export async function discardArrival(store: StoreInterior, accountId: string): Promise<boolean> {
  const maildir = store.freezer.arriving().get(accountId);
  if (maildir === undefined) return false;
  store.forgetAccount(accountId);
  await fsp.rm(maildir, { recursive: true, force: true });
  const index = store.indexFile(accountId);
  for (const ext of ['', '-wal', '-shm']) await fsp.rm(index + ext, { force: true });
  await fsyncDir(path.dirname(index));
  await clearStaging(store, accountId);
  store.freezer.clearArriving(accountId, false);
  return true;
}

/**
 * At open: copies whose move never confirmed (the process died first) are
 * removed before anything reads them. One that cannot be removed keeps its
 * mark (refused) and is tried again at the next open; the store opens anyway.
 */
export function discardArrivalsAtOpen(store: StoreInterior): { removed: string[]; failed: { id: string; err: string }[] } {
  const out: { removed: string[]; failed: { id: string; err: string }[] } = { removed: [], failed: [] };
  for (const [id, maildir] of [...store.freezer.arriving()]) {
    try {
      fs.rmSync(maildir, { recursive: true, force: true });
      for (const ext of ['', '-wal', '-shm']) fs.rmSync(store.indexFile(id) + ext, { force: true });
      fs.rmSync(stagingDir(store, id), { recursive: true, force: true });
      const dir = fs.openSync(path.dirname(store.indexFile(id)), 'r');
      try {
        fs.fsyncSync(dir);
      } finally {
        fs.closeSync(dir);
      }
      store.freezer.clearArriving(id, false);
      out.removed.push(id);
    } catch (err) {
      out.failed.push({ id, err: (err as Error).message });
    }
  }
  return out;
}

/** The files an image names (read from a copy on disk: SQLite opens a WAL-mode image only from a file). */
async function filesOf(dir: string, image: Buffer): Promise<SnapshotFile[]> {
  await fsp.mkdir(dir, { recursive: true });
  const file = path.join(dir, 'image.sqlite');
  await fsp.writeFile(file, image, { mode: 0o600 });
  try {
    const db = new Database(file, { readonly: true });
    try {
      return liveFiles(db);
    } finally {
      db.close();
    }
  } finally {
    for (const ext of ['', '-wal', '-shm']) await fsp.rm(file + ext, { force: true });
  }
}

/** Source: delete a moved account's Maildir and index (`roost account purge`). */
export async function purgeMoved(store: StoreInterior, account: Account): Promise<void> {
  if (store.freezer.movedTo(account.id) === null) throw new RoostError('NOPERM', `account ${account.id} has not been moved; purge removes only a moved account's old copy`);
  store.forgetAccount(account.id);
  await fsp.rm(account.maildir, { recursive: true, force: true });
  const index = store.indexFile(account.id);
  for (const ext of ['', '-wal', '-shm']) await fsp.rm(index + ext, { force: true });
  await fsyncDir(path.dirname(index));
  // The moved mark stays: should the directory still name this node, nothing is delivered into an empty copy.
}
