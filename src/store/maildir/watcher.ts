/**
 * Watching open mailboxes for files other programs add or remove (DESIGN.md
 * "Events"). Only mailboxes with an open handle are watched: inotify
 * instances and watches are a per-user kernel budget.
 *
 * Why fs.watch and not chokidar: chokidar adds an fs.watch (an inotify
 * watch) for every file it finds in a watched directory, so one Maildir
 * with 100,000 messages exhausts the kernel's watch budget (measured here:
 * ENOSPC after ~93,000 files) and the initial scan stats every file. One
 * fs.watch per new/ and cur/ directory — two inotify watches per open
 * mailbox — tells us everything we need: a name appeared or vanished.
 *
 * Our own renames and
 * deliveries also fire events; they are recognised (the cache or the
 * in-flight set knows the name) and cost nothing more than a lookup. Anything
 * unknown triggers a reconcile of that mailbox, which journals and emits the
 * change like any other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { findByBasename, type AccountState } from '../account.js';
import { parseName } from './filename.js';
import { STATE_UNLINK } from '../index/db.js';
import { looksChanged, reconcileMailbox } from '../recovery.js';
import type { StoreImpl } from '../store-impl.js';

/** Events within this window are looked at together. */
const DEBOUNCE_MS = 40;

interface Watched {
  st: AccountState;
  mailboxId: number;
  dir: string;
  watchers: fs.FSWatcher[];
  /** Names ("new/x", "cur/x:2,S") that changed since the last check; "" = compare everything. */
  events: Set<string>;
  timer: NodeJS.Timeout | null;
}

export class MailboxWatcher {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly store: StoreImpl) {}

  add(st: AccountState, mailboxId: number): void {
    const key = st.key(mailboxId);
    if (this.watched.has(key)) return;
    const mb = st.db().mailboxById(mailboxId);
    if (!mb) return;
    const dir = st.dir(mb.name);
    const w: Watched = { st, mailboxId, dir, watchers: [], events: new Set(), timer: null };
    const onEvent = (sub: 'new' | 'cur') => (_type: string, name: string | Buffer | null) => {
      if (name === null) {
        // The kernel queue overflowed: compare the whole directory.
        w.events.add('');
      } else {
        const n = name.toString();
        if (n.startsWith('.')) return;
        w.events.add(`${sub}/${n}`);
      }
      w.timer ??= setTimeout(() => this.check(w), DEBOUNCE_MS);
    };
    for (const sub of ['new', 'cur'] as const) {
      try {
        const fw = fs.watch(path.join(dir, sub), { persistent: false }, onEvent(sub));
        fw.on('error', (err) => this.store.warn('store: watcher error', err));
        w.watchers.push(fw);
      } catch (err) {
        this.store.warn(`store: cannot watch ${path.join(dir, sub)}`, err);
      }
    }
    // Files that arrived between the open and the watch starting fire no event.
    setImmediate(() => {
      const row = st.db().mailboxById(mailboxId);
      if (row && looksChanged(st, row)) {
        reconcileMailbox(this.store, st, row.name).catch((err) => this.store.warn('store: reconcile failed', err));
      }
    });
    this.watched.set(key, w);
  }

  remove(st: AccountState, mailboxId: number): void {
    const key = st.key(mailboxId);
    const w = this.watched.get(key);
    if (!w) return;
    this.watched.delete(key);
    if (w.timer) clearTimeout(w.timer);
    for (const fw of w.watchers) fw.close();
  }

  /**
   * Is any name in this batch something the index does not already know?
   * Our own deliveries and renames are recognised without touching the disk
   * (the cache knows both the old and the new name), so a STORE on 100,000
   * messages costs a map lookup per event.
   */
  private check(w: Watched): void {
    w.timer = null;
    const events = [...w.events];
    w.events.clear();
    const cache = w.st.caches.get(w.mailboxId);
    const byBase = new Map<string, { filename: string; diskName: string }>();
    for (const e of cache?.all() ?? []) byBase.set(e.basename, e);
    const exists = (rel: string): boolean => fs.existsSync(path.join(w.dir, rel));
    const unknown = events.some((rel) => {
      if (rel === '') return true;
      const base = parseName(rel.slice(4)).basename;
      if (w.st.inflight.has(`${w.mailboxId}/${base}`)) return false;
      const known = byBase.get(base);
      if (known) {
        // The old name of a rename our background worker is doing.
        if (rel === known.diskName && known.filename !== known.diskName) return false;
        if (rel === known.filename || rel === known.diskName) {
          if (exists(rel)) return false;
          // Our name for it vanished: fine if it lives on under another name.
          return !exists(known.filename) && !exists(known.diskName) && findByBasename(w.dir, base) === null;
        }
        // Another name for a message we know: renamed by someone else, or
        // a name that vanished while the message has none left.
        if (exists(rel)) return true;
        return !exists(known.filename) && !exists(known.diskName) && findByBasename(w.dir, base) === null;
      }
      // Not in our cache: a new file (another MDA, another Roost process) unless it is on its way out.
      return exists(rel) && !this.expungePending(w, base);
    });
    if (!unknown) return;
    const mb = w.st.db().mailboxById(w.mailboxId);
    if (!mb) return;
    reconcileMailbox(this.store, w.st, mb.name).catch((err) => this.store.warn('store: reconcile after watcher event failed', err));
  }

  /** A file we are about to unlink (expunged, state 2) may still show up; a live row not in our cache was added by another process. */
  private expungePending(w: Watched, base: string): boolean {
    const row = w.st.db().byBasename(w.mailboxId, base);
    return row !== null && row.state === STATE_UNLINK;
  }

  async close(): Promise<void> {
    for (const w of this.watched.values()) {
      if (w.timer) clearTimeout(w.timer);
      for (const fw of w.watchers) fw.close();
    }
    this.watched.clear();
  }
}
