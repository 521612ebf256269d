/**
 * Background file work of one account: flag renames (cur/<base>:2,FLAGS)
 * and expunge unlinks run after the commit, so a STORE or EXPUNGE over
 * 100,000 messages answers when the journal and the index say so instead of
 * after 100,000 renames. Pending work is marked in the index (state 1 / 2),
 * so a crash resumes it at the next open.
 *
 * The index is the truth; file names follow it and are never read back as
 * newer. Hence:
 *  - each page of waiting rows is read from the index when it is worked on,
 *    so the rename goes to the name the flags call for now (a STORE and its
 *    inverse before the page comes round cost no rename at all);
 *  - the new name is noted in the row (`renaming`) before rename(2) and the
 *    result recorded only after the directory fsync, and a row whose flags
 *    changed meanwhile stays pending — reconcile and the watcher know every
 *    name in between as ours;
 *  - the work runs in short slices with pauses while the process has other
 *    work (IMAP commands, deliveries), so a rename backlog does not make the
 *    next commands many times slower.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LIMITS } from '../limits.js';
import type { AccountView } from './account-view.js';
import { flat, internFlags } from './message-list.js';
import type { MailboxRow, MessageRow } from './index/db.js';
import { STATE_RENAME, STATE_UNLINK } from './index/db.js';
import { targetName } from './maildir/filename.js';
import { ensureKeywordLetters } from './maildir/keyword-letters.js';
import { addQuotaDelta } from './maildir/quota.js';
import { fsyncDir } from './maildir/save.js';
import { findByBasename } from './maildir/scan.js';

/** Tuning of this worker: see LIMITS.store.fileWork*. */
const PAGE = LIMITS.store.fileWorkPage;
const SLICE_MS = LIMITS.store.fileWorkSliceMs;
const BUSY_PAUSE_MS = LIMITS.store.fileWorkBusyPauseMs;
const FOREGROUND_MS = LIMITS.store.fileWorkForegroundMs;
const START_DELAY_MS = LIMITS.store.fileWorkStartDelayMs;

/** A file rename this worker has done or is about to do, as the watcher sees it. */
export type OwnRename = (mailboxId: number, from: string, to: string) => void;

export class FileWork {
  running = false;
  private again = false;
  private done: (() => void)[] = [];
  /** Told about each rename and unlink before it happens (the watcher: these events are ours). */
  onRename: OwnRename | null = null;

  constructor(private readonly st: AccountView) {}

  schedule(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    setTimeout(() => void this.run(), START_DELAY_MS);
  }

  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.done.push(r));
  }

  private async run(): Promise<void> {
    const st = this.st;
    try {
      do {
        this.again = false;
        for (const mbId of st.db().pendingMailboxes()) {
          const mb = st.db().mailboxById(mbId);
          if (!mb) continue;
          const dir = st.dir(mb.name);
          // Keyset paging: each page is read fresh, and rows a newer change
          // made pending again behind the cursor wait for the next pass.
          let after = 0;
          for (;;) {
            const rows = st.db().pendingPage(mbId, after, PAGE);
            if (rows.length === 0) break;
            after = rows[rows.length - 1]!.uid;
            await this.page(mb, dir, rows);
          }
          st.noteMtimes(mb);
        }
      } while (this.again);
    } catch (err) {
      st.core.warn('store: background file work failed', err);
    } finally {
      this.running = false;
      for (const w of this.done.splice(0)) w();
    }
  }

  private async page(mb: MailboxRow, dir: string, rows: MessageRow[]): Promise<void> {
    const db = this.st.db();
    const cache = this.st.caches.get(mb.id);
    const renames: { r: MessageRow; want: string }[] = [];
    const renamed: [number, string, string][] = [];
    const unlinked: MessageRow[] = [];
    for (const r of rows) {
      if (r.state !== STATE_RENAME) continue;
      const flags = internFlags(r.flags);
      // dovecot-keywords first: no name may carry a letter the file does not define yet.
      const want = targetName({ basename: r.basename, diskName: r.disk_name }, flags, await ensureKeywordLetters(dir, flags));
      // A leftover `renaming` (a crash between rename and record) means the file may be there instead.
      if (want === r.disk_name && !r.renaming) renamed.push([r.uid, want, r.flags]);
      else renames.push({ r, want });
    }
    if (renames.length > 0) db.tx(() => renames.forEach(({ r, want }) => db.setRenaming(mb.id, r.uid, want)));
    if (renames.length > 0) this.st.noteInPlace(mb.id);
    let sliceStart = performance.now();
    const maybeYield = async (): Promise<void> => {
      if (performance.now() - sliceStart < SLICE_MS) return;
      await pause();
      sliceStart = performance.now();
    };
    for (const { r, want } of renames) {
      this.onRename?.(mb.id, r.disk_name, want);
      if (r.renaming) this.onRename?.(mb.id, r.renaming, want);
      if (renameFile(dir, r, want)) {
        renamed.push([r.uid, want, r.flags]);
        // Readers open the name the cache holds: point it at the file now.
        const e = cache?.get(r.uid);
        if (e) e.diskName = flat(want);
      }
      await maybeYield();
    }
    for (const r of rows) {
      if (r.state !== STATE_UNLINK) continue;
      this.onRename?.(mb.id, r.disk_name, '');
      unlinkFile(dir, r);
      unlinked.push(r);
      await maybeYield();
    }
    // Make the new names durable before the index forgets the old ones.
    await Promise.allSettled([fsyncDir(path.join(dir, 'cur')), fsyncDir(path.join(dir, 'new'))]);
    const db2 = this.st.db();
    db2.tx(() => {
      // renamed() clears `renaming` too; only renames that found no file need it cleared.
      const done = new Set<number>();
      for (const [uid, name, flags] of renamed) {
        db2.renamed(mb.id, uid, name, flags);
        done.add(uid);
      }
      for (const { r } of renames) if (!done.has(r.uid)) db2.setRenaming(mb.id, r.uid, null);
      for (const r of unlinked) db2.deleteMessage(mb.id, r.uid);
    });
    if (unlinked.length > 0) {
      const bytes = unlinked.reduce((s, r) => s + r.size, 0);
      await addQuotaDelta(this.st.account, -bytes, -unlinked.length);
    }
    await pause();
  }
}

/**
 * Yield to the event loop between slices: at once (setImmediate) while no
 * one reads messages, else for BUSY_PAUSE_MS, so a FETCH or SEARCH waiting
 * on file reads gets many turns of the loop between two slices of renames
 * (with one turn per slice, a FETCH of 1,000 bodies took a slice per step of
 * each message). Event-loop utilisation is no signal here: our own watcher
 * events keep the loop busy during a rename run.
 */
let lastForeground = -Infinity;
async function pause(): Promise<void> {
  const busy = performance.now() - lastForeground < FOREGROUND_MS;
  await new Promise<void>((r) => (busy ? setTimeout(r, BUSY_PAUSE_MS) : setImmediate(r)));
}

/** A client is reading messages (mailbox-handle.ts): file work steps back for a while. */
export function noteForeground(): void {
  lastForeground = performance.now();
}

/**
 * rename(2) from the recorded name, or from the name an interrupted rename
 * gave it; false when the file is at none of them (reconcile settles it).
 */
function renameFile(dir: string, r: MessageRow, want: string): boolean {
  for (const from of new Set([r.disk_name, r.renaming ?? r.disk_name])) {
    if (from === want) {
      if (fs.existsSync(path.join(dir, want))) return true;
      continue;
    }
    try {
      fs.renameSync(path.join(dir, from), path.join(dir, want));
      return true;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  // Already renamed (a replay after a crash between rename and record).
  return fs.existsSync(path.join(dir, want));
}

function unlinkFile(dir: string, r: MessageRow): void {
  for (const n of new Set([r.disk_name, r.renaming ?? r.disk_name])) {
    try {
      fs.unlinkSync(path.join(dir, n));
      return;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
    }
  }
  // Renamed under another name meanwhile: find it, or a crash would resurrect it.
  const other = findByBasename(dir, r.basename);
  if (other) fs.rmSync(path.join(dir, other), { force: true });
}
