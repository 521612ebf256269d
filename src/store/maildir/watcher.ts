/**
 * Watching open mailboxes for files other programs add or remove. Only
 * mailboxes with an open handle are watched: inotify instances and watches
 * are a per-user kernel budget.
 *
 * Why fs.watch and not chokidar: chokidar adds an fs.watch (an inotify
 * watch) for every file it finds in a watched directory, so one Maildir
 * with 100,000 messages exhausts the kernel's watch budget (measured here:
 * ENOSPC after ~93,000 files) and the initial scan stats every file. One
 * fs.watch per new/ and cur/ directory — two inotify watches per open
 * mailbox — tells us everything we need: a name appeared or vanished.
 *
 * Our own renames and deliveries also fire events; they are recognised and
 * cost nothing more than a lookup: the file work names each rename before it
 * makes it (a STORE on 100,000 messages fires 200,000 events), deliveries are
 * in the in-flight set, and any other name is compared with the names the
 * index gave or is giving the file (account.ts isOwnName) — never with the
 * name alone, which may lag the index. Anything else (a new file, a file
 * renamed or removed by mutt or qmail-pop3d) triggers a reconcile of that
 * mailbox, which journals and emits the change like any other.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LIMITS } from '../../limits.js';
import { isOwnName, type AccountState, type StoreCore } from '../account.js';
import { internFlags } from '../message-list.js';
import { parseName, targetName } from './filename.js';
import { keywordTable } from './keyword-letters.js';
import { STATE_UNLINK, type MessageRow } from '../index/db.js';
import { looksChanged, reconcileMailbox } from '../recovery.js';

const DEBOUNCE_MS = LIMITS.tuning.watcherDebounceMs;
/** Names our file work announced: see LIMITS.store.watcherOwn*. */
const OWN_TTL_MS = LIMITS.store.watcherOwnTtlMs;
const OWN_MAX = LIMITS.store.watcherOwnMax;

interface Watched {
  st: AccountState;
  mailboxId: number;
  dir: string;
  watchers: fs.FSWatcher[];
  /** Names ("new/x", "cur/x:2,S") that changed since the last check; "" = compare everything. */
  events: Set<string>;
  timer: NodeJS.Timeout | null;
  /** Names ("cur/x:2,S") our file work renamed from or to, and when they stop counting as ours (insertion order = expiry order). */
  own: Map<string, number>;
}

export class MailboxWatcher {
  private readonly watched = new Map<string, Watched>();

  constructor(private readonly store: StoreCore) {}

  add(st: AccountState, mailboxId: number): void {
    const key = st.key(mailboxId);
    if (this.watched.has(key)) return;
    const mb = st.db().mailboxById(mailboxId);
    if (!mb) return;
    const dir = st.dir(mb.name);
    const w: Watched = { st, mailboxId, dir, watchers: [], events: new Set(), timer: null, own: new Map() };
    st.files.onRename ??= (mbId, from, to) => this.noteOwn(st, mbId, from, to);
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

  /** The file work is about to rename `from` to `to` ('' = unlink): both events are ours. */
  private noteOwn(st: AccountState, mailboxId: number, from: string, to: string): void {
    const w = this.watched.get(st.key(mailboxId));
    if (!w || w.own.size >= OWN_MAX) return;
    const until = Date.now() + OWN_TTL_MS;
    // Delete first so the map stays in expiry order.
    w.own.delete(from);
    w.own.set(from, until);
    if (to) {
      w.own.delete(to);
      w.own.set(to, until);
    }
  }

  /**
   * Is any name in this batch a change the index does not know? Our own
   * renames cost a map lookup per event; other names one index lookup by
   * base name and a stat or two, never a directory listing.
   */
  private check(w: Watched): void {
    w.timer = null;
    const events = [...w.events];
    w.events.clear();
    const now = Date.now();
    for (const [name, until] of w.own) {
      if (until > now) break;
      w.own.delete(name);
    }
    const db = w.st.db();
    const mb = db.mailboxById(w.mailboxId);
    if (!mb) return;
    const exists = (rel: string): boolean => fs.existsSync(path.join(w.dir, rel));
    // Another process (`roost deliver`) indexed these files: reconcile brings the cache up to date.
    const elsewhere = db.seen.has(mb.id) && db.changedElsewhere(mb);
    const unknown = elsewhere || events.some((rel) => {
      if (rel === '') return true;
      if (w.own.delete(rel)) return false;
      const base = parseName(rel.slice(4)).basename;
      if (w.st.inflight.has(`${w.mailboxId}/${base}`)) return false;
      const row = db.byBasename(w.mailboxId, base);
      // Not in the index: a new file (another MDA, another Roost process) if it is there.
      if (!row) return exists(rel);
      // Expunged, on its way out.
      if (row.state === STATE_UNLINK) return false;
      if (isOwnName(row, rel, keywordTable(w.dir)) && exists(rel)) return false;
      // Another program gave the file this name, or a name vanished: a
      // change unless the file still has one of our names.
      if (!isOwnName(row, rel, keywordTable(w.dir)) && exists(rel)) return true;
      return !ownNames(row, w.dir).some(exists);
    });
    if (!unknown) return;
    reconcileMailbox(this.store, w.st, mb.name).catch((err) => this.store.warn('store: reconcile after watcher event failed', err));
  }

  async close(): Promise<void> {
    for (const w of this.watched.values()) {
      if (w.timer) clearTimeout(w.timer);
      for (const fw of w.watchers) fw.close();
    }
    this.watched.clear();
  }
}

/** The names a row's file may have that are ours (see isOwnName). */
function ownNames(row: MessageRow, dir: string): string[] {
  const out = [row.disk_name, targetName({ basename: row.basename, diskName: row.disk_name }, internFlags(row.flags), keywordTable(dir))];
  if (row.renaming) out.push(row.renaming);
  return out;
}
