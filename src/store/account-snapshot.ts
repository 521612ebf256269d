/**
 * Account snapshots for a full resync: a consistent snapshot —
 * Maildir files and index state at an LSN, then the stream from that LSN.
 *
 * Primary side: an account's index database is serialised in one
 * synchronous step (SQLite's own image of the file, taken between two
 * commits, so it is exactly the state after the index's applied_lsn), with
 * the list of live messages in it. The message files are read afterwards; a
 * file that has gone since was expunged (or moved) by a change whose record
 * comes after applied_lsn, which the stream that follows the snapshot
 * carries. Records of the account that were journaled but not yet applied
 * to its index when the image was taken (a commit in flight) are reported as
 * `firstAfter`, so the stream starts early enough to include them.
 *
 * Replica side: the image becomes the account's index — rows whose flag
 * rename or unlink was pending on the primary are settled to the name the
 * index wants (that is the name the file is written under) — and each file
 * is written, fdatasync'd in groups, under its mailbox. Records of the
 * stream at or below an account's applied_lsn are already in its image and
 * only journaled (ReplicationImpl), so starting the stream early is safe.
 */
import Database from 'better-sqlite3';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Account } from '../accounts/directory.js';
import { RoostError } from '../errors.js';
import { findByBasename } from './maildir/scan.js';
import { STATE_OK, STATE_UNLINK } from './index/db.js';
import { INBOX, mailboxDir } from './maildir/names.js';
import { ensureMaildir, fsyncDir } from './maildir/save.js';
import { placeDurable, readWhole, writeDurable } from './maildir/fd.js';
import type { StoreInterior } from './interior.js';
import { installSideFiles } from './side-files.js';
import type { AccountSnapshot, ReplicaBody, SnapshotFile } from './store.js';
import fs from 'node:fs';
import type { Readable } from 'node:stream';
import { LIMITS } from '../limits.js';

/** Primary: a consistent image of one account's index and the files it names; null for an unknown account. */
export function takeSnapshot(store: StoreInterior, accountId: string): AccountSnapshot | null {
  const st = store.stateById(accountId);
  if (!st) return null;
  const db = st.db();
  if (db.db.inTransaction) throw new RoostError('TEMP', `index of ${accountId} is inside a transaction`);
  // Everything below runs in this one synchronous step: no commit can slip in between.
  const image = db.db.serialize();
  const appliedLsn = db.appliedLsn();
  const files = liveFiles(db.db);
  const firstAfter = store.journal.firstForAccountAfter(accountId, appliedLsn);
  return { account: st.account, appliedLsn, firstAfter, image, files };
}

/** The live messages an index (or an index image) names, by mailbox and UID. */
export function liveFiles(db: Database.Database): SnapshotFile[] {
  return db
    .prepare(
      `SELECT b.name AS mailbox, b.uidvalidity, m.uid, m.basename, m.filename, m.disk_name AS diskName, m.internal_date AS internalDate, m.size
         FROM messages m JOIN mailboxes b ON b.id = m.mailbox WHERE m.state <> ${STATE_UNLINK} ORDER BY b.name, m.uid`,
    )
    .all() as SnapshotFile[];
}

/** Primary: the bytes of one snapshot file, or null when it was expunged or moved after the image was taken. */
export function readSnapshotFile(store: StoreInterior, accountId: string, f: SnapshotFile): Promise<Buffer | null> {
  return withSnapshotFile(store, accountId, f, (file) => readWhole(file, f.size));
}

/** Primary: one snapshot file as a stream read in chunks (opened here, so a later rename does not matter), or null when gone. */
export function openSnapshotFile(store: StoreInterior, accountId: string, f: SnapshotFile): Promise<Readable | null> {
  return withSnapshotFile(store, accountId, f, async (file) => {
    const fh = await fs.promises.open(file, 'r');
    return fh.createReadStream({ autoClose: true, highWaterMark: LIMITS.store.readChunkBytes });
  });
}

async function withSnapshotFile<T>(store: StoreInterior, accountId: string, f: SnapshotFile, use: (file: string) => Promise<T>): Promise<T | null> {
  const st = store.stateById(accountId);
  if (!st) return null;
  // The mailbox may have been renamed since: UIDVALIDITY finds it.
  const row = st.db().mailboxes().find((r) => r.uidvalidity === f.uidvalidity) ?? null;
  const dir = mailboxDir(st.account.maildir, row ? row.name : f.mailbox);
  const want = { uid: f.uid, basename: f.basename, filename: f.filename, diskName: f.diskName };
  for (let attempt = 0; attempt < 3; attempt++) {
    // A background flag rename may move the file between looking and reading.
    const name = attempt === 0 ? f.diskName : row ? st.locate(row.id, dir, want) : findByBasename(dir, f.basename);
    if (name === null) return null;
    try {
      return await use(path.join(dir, name));
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  return null;
}

/**
 * Replica: make `image` the account's index, replacing whatever this node had
 * for the account (its Maildir included), and create its folders.
 * `rebaseLsn` replaces the image's applied_lsn (a moved account);
 * `keepMaildir`: the files are in place already (./move-install.ts links them first);
 * `written`: a file that holds `image` durably already (renamed, not written again).
 */
export async function installIndex(store: StoreInterior, account: Account, image: Buffer, indexFile: string, rebaseLsn?: bigint, keepMaildir = false, written?: string): Promise<void> {
  store.forgetAccount(account.id);
  if (!keepMaildir) await fsp.rm(account.maildir, { recursive: true, force: true });
  for (const ext of ['', '-wal', '-shm']) await fsp.rm(indexFile + ext, { force: true });
  const tmp = `${indexFile}.snapshot-${process.pid}`;
  if (written === undefined) await writeDurable(tmp, image, new Date());
  else {
    try {
      await fsp.rename(written, tmp);
    } catch (err) {
      // Staging on another filesystem than the indexes.
      if ((err as NodeJS.ErrnoException).code !== 'EXDEV') throw err;
      await writeDurable(tmp, image, new Date());
    }
  }
  // Settle what was pending on the primary: files are written under the name the index wants.
  const db = new Database(tmp);
  let maxModseq = 0;
  let mailboxes: string[] = [];
  try {
    db.pragma('journal_mode = WAL');
    db.transaction(() => {
      db.prepare(`DELETE FROM structures WHERE (mailbox, uid) IN (SELECT mailbox, uid FROM messages WHERE state = ${STATE_UNLINK})`).run();
      // An image from a node before index versions 3 and 4 lacks these tables (the open migrates it).
      for (const table of ['search_fields', 'sort_keys']) {
        if (db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(table)) {
          db.prepare(`DELETE FROM ${table} WHERE (mailbox, uid) IN (SELECT mailbox, uid FROM messages WHERE state = ${STATE_UNLINK})`).run();
        }
      }
      db.prepare(`DELETE FROM messages WHERE state = ${STATE_UNLINK}`).run();
      db.prepare(`UPDATE messages SET disk_name = filename, state = ${STATE_OK} WHERE state <> ${STATE_OK}`).run();
      db.prepare("UPDATE mailboxes SET new_mtime = '', cur_mtime = ''").run();
      db.prepare('DELETE FROM snapshots').run();
      // A move from another pair (./move-install.ts): the image's LSNs are the source's.
      if (rebaseLsn !== undefined) {
        db.prepare("INSERT INTO meta (key, value) VALUES ('applied_lsn', ?) ON CONFLICT(key) DO UPDATE SET value = excluded.value").run(rebaseLsn.toString());
      }
    })();
    db.pragma('wal_checkpoint(TRUNCATE)');
    const rows = db.prepare('SELECT name, highestmodseq FROM mailboxes').all() as { name: string; highestmodseq: number }[];
    mailboxes = rows.map((r) => r.name);
    maxModseq = rows.reduce((m, r) => Math.max(m, Number(r.highestmodseq)), 0);
  } finally {
    db.close();
  }
  await fsp.rm(`${tmp}-wal`, { force: true });
  await fsp.rm(`${tmp}-shm`, { force: true });
  await fsp.rename(tmp, indexFile);
  await fsyncDir(path.dirname(indexFile));
  for (const name of mailboxes) ensureMaildir(mailboxDir(account.maildir, name), name !== INBOX);
  // dovecot-keywords, roost-pop3-uidls and subscriptions as the stream would have written them (./side-files.ts).
  const installed = new Database(indexFile);
  try {
    installSideFiles(installed, account.maildir);
  } finally {
    installed.close();
  }
  // No expunge history below the image: QRESYNC from an older modseq gets the complete answer.
  store.journal.raiseExpungeFloor(account.id, maxModseq);
  store.state(account);
}

/** Replica: write snapshot files (each fdatasync'd, in parallel), then fsync the directories that got them. */
export async function installFiles(account: Account, items: readonly { file: SnapshotFile; body: ReplicaBody }[]): Promise<void> {
  const dirs = new Set<string>();
  await Promise.all(
    items.map(async ({ file, body }) => {
      const target = path.join(mailboxDir(account.maildir, file.mailbox), file.filename);
      dirs.add(path.dirname(target));
      await placeDurable(target, body, new Date(file.internalDate));
    }),
  );
  await Promise.all([...dirs].map((d) => fsyncDir(d)));
}
