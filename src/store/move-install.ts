/**
 * The store's half of `roost account move`.
 *
 * Destination (a primary of another pair): the account arrives as the
 * snapshots a full resync sends (./account-snapshot.ts), in rounds: the files of
 * each round are written to a staging folder under data_dir/move/, named by
 * UIDVALIDITY and UID (a message's bytes never change under its UID, only
 * its flags and so its file name). After each catch-up round, while the
 * source still serves, the round's files are hard-linked into a Maildir
 * inside the staging folder under the names that round's image gave them,
 * their dates set and its folders synced (prepareRound), and the image the
 * last catch-up round sent is written there too (stageImage). The frozen
 * round then touches only what changed since: links for the files that
 * arrived in it or changed name (flags, a renamed mailbox), unlinks for the
 * messages expunged, the index blocks that differ; the staged Maildir is
 * renamed into place as a whole, and its image becomes the account's index
 * through installIndex once the folders are synced: an index never names a
 * file that is not there.
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
import { writeDurable } from './maildir/fd.js';
import { installIndex, liveFiles } from './account-snapshot.js';
import type { StoreInterior } from './interior.js';
import type { SnapshotFile } from './store.js';
import { LIMITS } from '../limits.js';

const LINK_GROUP = LIMITS.tuning.moveLinkGroup;

/** Where a moving account's files wait for the final image. */
export function stagingDir(store: StoreInterior, accountId: string): string {
  return path.join(store.opts.dataDir, 'move', encodeURIComponent(accountId));
}

/** The Maildir the catch-up rounds build inside the staging folder (renamed into place by the install). */
export function stagedMaildir(store: StoreInterior, accountId: string): string {
  return path.join(stagingDir(store, accountId), 'maildir');
}

/** The last catch-up round's index image, written to staging: the install writes only the blocks the final image changes. */
const STAGED_IMAGE = 'image.staged';
/** The blocks compared between the staged image and the final one (the image delta's block size). */
const IMAGE_BLOCK = 4096;

/**
 * What the catch-up rounds of one move have prepared in staging (held in
 * memory: a restarted node clears staging at the next move-begin, and an
 * install without it links every file from staging as before).
 */
export interface PreparedMove {
  /** Staged name → the path in the staged Maildir it is linked under. */
  placed: Map<string, string>;
  /** The bytes of the image written to staging as STAGED_IMAGE, or null. */
  image: Buffer | null;
}

export const preparedMove = (): PreparedMove => ({ placed: new Map(), image: null });

/** A file's path in a Maildir rooted at `root`, under the name the image gives it. */
const pathIn = (root: string, f: SnapshotFile): string => path.join(mailboxDir(root, f.mailbox), f.filename);

/**
 * Link `files` (staged and fdatasync'd, from `staged`) into `root` under the
 * names they have, with their INTERNALDATEs as mtime, and fsync the folders
 * that got or lost names. A file `prep` shows linked elsewhere is unlinked
 * there first; `gone` are unlinked too. Runs in LINK_GROUP groups in the
 * thread pool. link(2) never replaces a name, so two files wanting one name
 * fail the install rather than lose one.
 */
async function placeFiles(staged: string, root: string, files: readonly SnapshotFile[], prep: PreparedMove, gone: readonly string[] = []): Promise<number> {
  const dirs = new Set<string>();
  const todo: SnapshotFile[] = [];
  /** Staged names linked under a name no longer wanted. */
  const stale: string[] = [...gone];
  for (const f of files) {
    const at = prep.placed.get(stagedName(f));
    if (at === pathIn(root, f)) continue;
    if (at !== undefined) stale.push(stagedName(f));
    todo.push(f);
  }
  for (const mb of new Set(todo.map((f) => f.mailbox))) ensureMaildir(mailboxDir(root, mb), mb !== INBOX);
  for (let i = 0; i < stale.length; i += LINK_GROUP) {
    await Promise.all(
      stale.slice(i, i + LINK_GROUP).map(async (key) => {
        const at = prep.placed.get(key)!;
        dirs.add(path.dirname(at));
        await fsp.rm(at, { force: true });
        prep.placed.delete(key);
      }),
    );
  }
  for (let i = 0; i < todo.length; i += LINK_GROUP) {
    await Promise.all(
      todo.slice(i, i + LINK_GROUP).map(async (f) => {
        const target = pathIn(root, f);
        dirs.add(path.dirname(target));
        await fsp.link(path.join(staged, stagedName(f)), target);
        prep.placed.set(stagedName(f), target);
        const mtime = new Date(f.internalDate);
        await fsp.utimes(target, mtime, mtime);
      }),
    );
  }
  await Promise.all([...dirs].map((d) => fsyncDir(d)));
  return todo.length + stale.length;
}

/**
 * Destination, after a catch-up round's files are staged and synced: link
 * them into the staged Maildir (placeFiles). Before the round is acknowledged;
 * the frozen round then has only the rest to do.
 */
export async function prepareRound(store: StoreInterior, accountId: string, files: readonly SnapshotFile[], prep: PreparedMove): Promise<void> {
  await placeFiles(stagingDir(store, accountId), stagedMaildir(store, accountId), files, prep);
}

/** Destination: the last catch-up round's image, written durably to staging (the frozen round's base). */
export async function stageImage(store: StoreInterior, accountId: string, image: Buffer, prep: PreparedMove): Promise<void> {
  const dir = stagingDir(store, accountId);
  await fsp.mkdir(dir, { recursive: true });
  prep.image = null;
  await writeDurable(path.join(dir, STAGED_IMAGE), image, new Date());
  prep.image = image;
}

/**
 * The final image in a file of the staging folder, durable: the staged image
 * with only the blocks that differ rewritten, or, with none staged, the whole.
 * Returns the file and how many bytes were written.
 */
async function writeImage(dir: string, image: Buffer, prep: PreparedMove): Promise<{ file: string; written: number }> {
  const file = path.join(dir, STAGED_IMAGE);
  const base = prep.image;
  prep.image = null;
  if (!base) {
    await fsp.mkdir(dir, { recursive: true });
    await writeDurable(file, image, new Date());
    return { file, written: image.length };
  }
  const fh = await fsp.open(file, 'r+');
  let written = 0;
  try {
    for (let off = 0; off < image.length; off += IMAGE_BLOCK) {
      const end = Math.min(off + IMAGE_BLOCK, image.length);
      if (end <= base.length && image.compare(base, off, end, off, end) === 0) continue;
      await fh.write(image, off, end - off, off);
      written += end - off;
    }
    if (base.length !== image.length) await fh.truncate(image.length);
    await fh.datasync();
  } finally {
    await fh.close();
  }
  return { file, written };
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
 * The last round: the image becomes the index and each file it names is in
 * place under the name it wants — linked by the catch-up rounds already
 * (`prep`), else now. Throws NOTFOUND when a file the image names was never
 * staged (the caller refuses the move; nothing is served from it). Staging
 * is left for the caller to remove (clearStaging) once the freeze is over.
 */
export async function installMoved(store: StoreInterior, account: Account, image: Buffer, prep: PreparedMove = preparedMove()): Promise<InstallReport> {
  store.assertWritable();
  const t0 = Date.now();
  const dir = stagingDir(store, account.id);
  const files = filesOf(image);
  const { file: imageFile, written } = await writeImage(dir, image, prep);
  // A file the rounds placed was staged; only the others are looked for.
  for (const f of files) {
    if (!prep.placed.has(stagedName(f)) && !fs.existsSync(path.join(dir, stagedName(f)))) throw new RoostError('NOTFOUND', `move of ${account.id}: ${f.mailbox} UID ${f.uid} was never sent`);
  }
  const t1 = Date.now();
  const root = stagedMaildir(store, account.id);
  const keys = new Set(files.map((f) => stagedName(f)));
  const gone = [...prep.placed.keys()].filter((k) => !keys.has(k));
  const changed = await placeFiles(dir, root, files, prep, gone);
  const t2 = Date.now();
  store.freezer.markArriving(account.id, account.maildir);
  // What the node held for the account goes first (hasMail said: no mail), then the Maildir, then the index.
  store.forgetAccount(account.id);
  await fsp.rm(account.maildir, { recursive: true, force: true });
  await fsp.mkdir(path.dirname(account.maildir), { recursive: true });
  if (fs.existsSync(root)) await fsp.rename(root, account.maildir);
  else await fsp.mkdir(account.maildir, { recursive: true });
  await fsyncDir(path.dirname(account.maildir));
  prep.placed.clear();
  const t3 = Date.now();
  await installIndex(store, account, image, store.indexFile(account.id), store.lastLsn(), true, imageFile);
  const t4 = Date.now();
  return {
    messages: files.length,
    bytes: files.reduce((n, f) => n + f.size, 0),
    phases: { imageMs: t1 - t0, imageWritten: written, linkMs: t2 - t1, linked: changed, placeMs: t3 - t2, indexMs: t4 - t3 },
  };
}

/** What the install did, for the source's log line of the freeze. */
export interface InstallReport {
  messages: number;
  bytes: number;
  phases: { imageMs: number; imageWritten: number; linkMs: number; linked: number; placeMs: number; indexMs: number };
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

/**
 * The files an image names, read from an in-memory copy of it. SQLite
 * deserializes a WAL-mode image only as a rollback-journal one: the copy's
 * file format bytes (offsets 18 and 19, 2 for WAL) say 1. The install's
 * file keeps the image as sent.
 */
function filesOf(image: Buffer): SnapshotFile[] {
  const copy = Buffer.from(image);
  for (const at of [18, 19]) if (copy[at] === 2) copy[at] = 1;
  const db = new Database(copy);
  try {
    return liveFiles(db);
  } finally {
    db.close();
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
