/**
 * `roost reindex ADDRESS`: rebuild an account's index from its Maildir.
 * UIDs, UIDVALIDITY and UIDNEXT come from the old index when it still has
 * the mailbox (what clients last saw), otherwise from a dovecot-uidlist or
 * courierimapuiddb in the folder (migration), otherwise they are new.
 * Keywords survive from the old index; system flags come from file names.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { RoostError, isRoostError } from '../errors.js';
import type { AccountState } from './account.js';
import { importMaildirSliced, removeIndexFiles, type KeptUids } from './recovery.js';
import type { StoreInterior } from './interior.js';
import { IMPORT_MARKER } from './maildir/import-folder.js';

/** Index rows a rebuild reads between two turns of the event loop (about 10 ms of work). */
const KEEP_PAGE = 2000;

export async function reindexAccount(
  store: StoreInterior,
  st: AccountState,
  file: string,
  onProgress?: (messages: number) => void,
): Promise<{ mailboxes: number; messages: number }> {
  return st.mutex.run(async () => {
    // The rebuild yields to the event loop (other users are served meanwhile):
    // until it ends the account's logins and commits get a temporary failure
    // rather than a half-built index (IMAP NO [UNAVAILABLE], POP3 -ERR
    // [SYS/TEMP], QMQP Z).
    store.rebuilding.add(st.id);
    try {
      await store.committer.idle();
      await st.fsIdle();
      const done = await rebuild(store, st, file, onProgress);
      // The deliver records of the imported rows (store/facts.ts), before the CLI's process ends
      // (commits marked rebuildWork, which the rebuild's refusal lets through).
      await st.facts.journalLocked();
      st.facts.resume();
      return done;
    } finally {
      store.rebuilding.delete(st.id);
    }
  });
}

async function rebuild(store: StoreInterior, st: AccountState, file: string, onProgress?: (messages: number) => void): Promise<{ mailboxes: number; messages: number }> {
  // The account's first open in this process would import the Maildir in one
  // go when its index has no INBOX (a fresh `roost import`): left to the
  // rebuild below, which keeps the UID lists on disk the same way.
  if (!st.recovered) {
    st.deferImport = true;
    try {
      st.db();
    } finally {
      st.deferImport = false;
    }
  }
  const keep = new Map<string, KeptUids>();
  for (const mb of st.db().mailboxes()) {
    const uids = new Map<string, number>();
    const flags = new Map<string, string>();
    // Page by page with a turn of the event loop between (a 300,000-message
    // folder takes seconds to read); keptRows leaves out rows waiting to be unlinked.
    for (let after = 0; ; await nextTurn()) {
      // st.db() each time: the index LRU may close the handle while we wait.
      const page = st.db().keptRowsPage(mb.id, after, KEEP_PAGE);
      for (const [uid, basename, f] of page) {
        uids.set(basename, uid);
        // Only what a rebuild cannot read back from the name: keywords (system flags come from the letters).
        if (/(?:^| )[^\\ ]/.test(f)) flags.set(basename, f);
      }
      if (page.length < KEEP_PAGE) break;
      after = page[page.length - 1]![0];
    }
    keep.set(mb.name, {
      uidvalidity: mb.uidvalidity,
      uidnext: mb.uidnext,
      recentUid: mb.recent_uid,
      uids,
      flags,
      specialUse: mb.special_use,
      subscribed: mb.subscribed === 1,
    });
  }
  // A `roost import` under way or interrupted (IMPORT_MARKER): an index made of the partial copy
  // meanwhile (a session's open picks its files up as new mail, under Roost's own UIDVALIDITY) is
  // no one's; the UIDs come from the source's lists (test/cli/import-kill.test.ts).
  if (await fs.promises.access(path.join(st.account.maildir, IMPORT_MARKER)).then(() => true, () => false)) keep.clear();
  const db = st.db();
  const lastUv = db.meta('last_uidvalidity');
  // Subscriptions that outlived their mailbox are not in the Maildir (RFC 3501 §6.3.6: keep them).
  const orphans = db.orphanSubscriptions();
  // Mailbox ids change with the new index: open sessions must reselect.
  for (const mb of db.mailboxes()) st.emit(mb.id, { type: 'gone', origin: null });
  st.caches.clear();
  st.facts.forget();
  st.dropIndex();
  // The old index stays aside until the new one is complete: a rebuild that
  // fails (a folder it cannot create, a full disk) must not leave the
  // account with half an index (that locked users out).
  const aside = `${file}.before-reindex`;
  removeIndexFiles(aside);
  moveIndexFiles(file, aside);
  try {
    const fresh = st.db();
    // Old journal records describe the old index: the new one starts after them.
    fresh.setAppliedLsn(store.journal.refreshLastLsn());
    if (lastUv) fresh.setMeta('last_uidvalidity', lastUv);
    for (const name of orphans) fresh.setOrphanSubscription(name, true);
    const done = await importMaildirSliced(store, st, keep, onProgress);
    // A list read from the half-built index while the slices yielded (background work
    // asking for a mailbox) is not the mailbox: the next use reads the finished rows.
    st.caches.clear();
    removeIndexFiles(aside);
    return done;
  } catch (err) {
    st.caches.clear();
    st.facts.forget();
    st.dropIndex();
    removeIndexFiles(file);
    moveIndexFiles(aside, file);
    // The records the failed rebuild journaled describe the discarded index (same UIDs): not replayed onto the old one.
    st.db().setAppliedLsn(store.journal.refreshLastLsn());
    throw isRoostError(err) ? err : new RoostError('TEMP', `reindex of ${st.id} failed, old index kept: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }
}

/** Rename an index database and its WAL files (missing ones are skipped). */
function moveIndexFiles(from: string, to: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      fs.renameSync(from + suffix, to + suffix);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
}
