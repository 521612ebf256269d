/**
 * Watching open mailboxes for files other programs add or remove (DESIGN.md
 * "Events"). Only mailboxes with an open handle are watched: inotify
 * instances and watches are a per-user kernel budget. Our own renames and
 * deliveries also fire events; they are recognised (the cache or the
 * in-flight set knows the name) and cost nothing more than a lookup. Anything
 * unknown triggers a reconcile of that mailbox, which journals and emits the
 * change like any other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { watch, type FSWatcher } from 'chokidar';
import type { AccountState } from '../account.js';
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
  watcher: FSWatcher;
  events: { kind: 'add' | 'unlink'; rel: string }[];
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
    const watcher = watch([path.join(dir, 'new'), path.join(dir, 'cur')], {
      ignoreInitial: true,
      depth: 0,
      ignored: (p: string) => path.basename(p).startsWith('.'),
    });
    const w: Watched = { st, mailboxId, dir, watcher, events: [], timer: null };
    const on = (kind: 'add' | 'unlink') => (p: string) => {
      w.events.push({ kind, rel: path.relative(dir, p) });
      w.timer ??= setTimeout(() => this.check(w), DEBOUNCE_MS);
    };
    watcher.on('add', on('add'));
    watcher.on('unlink', on('unlink'));
    watcher.on('error', (err) => this.store.warn('store: watcher error', err));
    // Files that arrived between the open and the watch being ready fire no event.
    watcher.on('ready', () => {
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
    void w.watcher.close();
  }

  /** Is any event in this batch something the index does not already know? */
  private check(w: Watched): void {
    w.timer = null;
    const events = w.events.splice(0);
    const cache = w.st.caches.get(w.mailboxId);
    const byBase = new Map<string, { filename: string; diskName: string }>();
    for (const e of cache?.all() ?? []) byBase.set(e.basename, e);
    const unknown = events.some((ev) => {
      const base = parseName(path.basename(ev.rel)).basename;
      if (w.st.inflight.has(`${w.mailboxId}/${base}`)) return false;
      const known = byBase.get(base);
      if (ev.kind === 'add') {
        if (!known) return !this.expungePending(w, base);
        return ev.rel !== known.filename && ev.rel !== known.diskName;
      }
      if (!known) return false;
      return !fs.existsSync(path.join(w.dir, known.filename)) && !fs.existsSync(path.join(w.dir, known.diskName));
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
      await w.watcher.close();
    }
    this.watched.clear();
  }
}
