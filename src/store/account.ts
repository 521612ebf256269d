/**
 * One account's live state: its index handle (via the store's LRU), the
 * caches of loaded mailboxes, and the one place where journal records are
 * applied — to the files (applyFs) and to the index, caches and event
 * listeners (applyIndex). Live changes, crash-recovery replay and replication
 * all go through these two functions, so they stay idempotent and agree.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Account } from '../accounts/directory.js';
import { RoostError } from '../errors.js';
import { ChangeHub } from './changes.js';
import { MailboxCache, internFlags, uidsOf, type Entry } from './cache.js';
import { pack, packSteps, unpack } from './index/snapshot.js';
import type { GroupCommitter } from './commit.js';
import type { IndexDb, MailboxRow, MessageRow, SearchFieldsRow } from './index/db.js';
import { STATE_OK, STATE_UNLINK } from './index/db.js';
import type { Journal, RecordDraft } from './journal/log.js';
import { flagsKey, targetName } from './maildir/filename.js';
import { forgetKeywordTable, keywordTable, type KeywordTable } from './maildir/keyword-letters.js';
import { writeDovecotSubscriptionsAsync } from './maildir/subscriptions.js';
import { applyKeywordsFs, applyKeywordsIndex, applyPop3UidlsIndex, writePop3FromIndex } from './side-files.js';

import { INBOX, mailboxDir } from './maildir/names.js';
import { ensureMaildir } from './maildir/save.js';
import { findByBasename } from './maildir/scan.js';
import { FileWork } from './file-work.js';
import { FactsFill } from './facts.js';
import { RecentOwners } from './recent.js';
import type { JournalRecord, MailboxEvent, MessageRecord } from './types.js';
import { LIMITS } from '../limits.js';

/** What an account needs from the store around it. */
export interface StoreCore {
  readonly journal: Journal;
  readonly committer: GroupCommitter;
  readonly hub: ChangeHub;
  readonly hostname: string;
  isWritable(): boolean;
  openIndex(state: AccountState): IndexDb;
  /** Run first-open recovery for an account (replay, reconcile). */
  recover(state: AccountState): void;
  warn(msg: string, err?: unknown): void;
  /** Tell journal listeners (replication) about records committed outside the group committer. */
  notifyJournal(records: readonly JournalRecord[]): void;
  /** Epoch stamped on new records. */
  epoch(): number;
  /** A mailbox cache was built or used (keeps the total of cached messages bounded). */
  usedCache(st: AccountState, mailboxId: number, count: number): void;
  /** A mailbox to index for SEARCH BODY: the messages `appended`, or (null) whatever its index lacks (./text-indexer.ts). */
  noteText(st: AccountState, mailboxId: number, appended?: readonly number[] | null): void;
}

export class Mutex {
  private tail: Promise<void> = Promise.resolve();
  run<T>(fn: () => Promise<T> | T): Promise<T> {
    const r = this.tail.then(fn);
    this.tail = r.then(
      () => undefined,
      () => undefined,
    );
    return r;
  }
}

/** Extra facts a live change hands to applyIndex that the record does not carry. */
export interface ApplyExtras {
  /** MIME structure JSON by "mailbox\0uid". */
  structures?: Map<string, string>;
  /** JSON of the structures' sort keys by "mailbox\0uid" (else taken from the structure JSON). */
  sortKeys?: Map<string, string>;
  /** Stored search fields (index search_fields) by "mailbox\0uid". */
  searchFields?: Map<string, SearchFieldsRow>;
  /** LSNs whose files were not found during replay (not indexed). */
  lost?: Set<bigint>;
  /** Replay found a delivered file under another name (flags changed by another program). */
  renamedTo?: Map<bigint, string>;
  /** Record new/ and cur/ mtimes of the mailboxes delivered to, in the same transaction. */
  noteMtimes?: boolean;
}

export const PACK_MIN = LIMITS.tuning.packMinMessages;

export class AccountState {
  private idx: IndexDb | null = null;
  recovered = false;
  /** Set by reindex around the first open: an index with no INBOX is left for the reindex to build in slices (recovery.ts). */
  deferImport = false;
  /** A session's first open building the index in slices (recovery.ts importAtFirstOpen); the account's other users wait for it. */
  opening: Promise<void> | null = null;
  readonly caches = new Map<number, MailboxCache>();
  readonly handles = new Map<number, number>();
  /** "mailboxId/basename" of deliveries between tmp/ link and index apply (reconcile must not adopt them). */
  readonly inflight = new Set<string>();
  readonly mutex = new Mutex();
  maildropOwner: string | null = null;
  readonly files: FileWork = new FileWork(this);
  /** Facts of messages a lazy first open indexed from their names (./facts.ts). */
  readonly facts: FactsFill = new FactsFill(this);
  /** Which session owns each mailbox's \Recent arrivals (recent.ts). */
  readonly recent = new RecentOwners(
    () => this.db(),
    (id, uid) => this.journalRecent(id, uid),
  );

  constructor(
    readonly core: StoreCore,
    public account: Account,
  ) {}

  get id(): string {
    return this.account.id;
  }

  /** The index, opened through the store's LRU; recovery runs on the first open in this process. */
  db(): IndexDb {
    if (!this.idx || !this.idx.db.open) this.idx = this.core.openIndex(this);
    if (!this.recovered) {
      // Set first: recovery itself calls db().
      this.recovered = true;
      try {
        this.core.recover(this);
      } catch (err) {
        // A failed rebuild is retried on the next use instead of leaving a half-built index in service.
        this.recovered = false;
        throw err;
      }
    }
    return this.idx;
  }

  /** Called by the LRU when it closes our handle. */
  dropIndex(): void {
    if (this.idx?.db.open) this.packCaches();
    this.idx?.close();
    this.idx = null;
  }

  /** Store packed copies of large changed caches (on eviction, close, last handle closed). */
  packCaches(only?: number): void {
    const db = this.idx;
    if (!db || !db.db.open) return;
    for (const [id, c] of this.caches) {
      if (only !== undefined && id !== only) continue;
      if (!c.dirty || c.count < PACK_MIN) continue;
      const row = db.mailboxById(id);
      if (!row || row.uidvalidity !== c.uidvalidity || BigInt(row.highestmodseq) !== c.highestModseq || row.uidnext !== c.uidnext) continue;
      try {
        db.setSnapshot(row, pack(c.all()));
        c.dirty = false;
      } catch (err) {
        this.core.warn('store: could not pack a mailbox list', err);
      }
    }
  }

  /**
   * packCaches for one mailbox, a slice at a time with turns of the event
   * loop between (LIMITS.work.sliceMs each): the last session leaving a
   * 100,000-message mailbox must not hold every other user's commands while
   * its list is packed. The list packed is a copy taken at the start; a
   * change meanwhile (a flag, a fill batch's facts) leaves it dirty, to be
   * packed next time, instead of storing a copy that is already old.
   */
  async packSliced(id: number): Promise<void> {
    const c = this.caches.get(id);
    if (!c || !c.dirty || c.count < PACK_MIN || !this.hasIndexOpen()) return;
    const at = { uidvalidity: c.uidvalidity, uidnext: c.uidnext, modseq: c.highestModseq };
    c.dirty = false;
    let buf: Buffer;
    try {
      // A copy of the list as it is now: adds and removes in the meantime go to the cache's own array.
      const steps = packSteps(c.all().slice());
      let t = performance.now();
      for (let r = steps.next(); ; r = steps.next()) {
        if (r.done) {
          buf = r.value;
          break;
        }
        if (performance.now() - t < LIMITS.work.sliceMs) continue;
        await nextTurn();
        t = performance.now();
      }
    } catch (err) {
      c.dirty = true;
      this.core.warn('store: could not pack a mailbox list', err);
      return;
    }
    const db = this.idx;
    const row = db?.db.open ? db.mailboxById(id) : null;
    const same = (x: { uidvalidity: number; uidnext: number }, modseq: bigint): boolean =>
      x.uidvalidity === at.uidvalidity && x.uidnext === at.uidnext && modseq === at.modseq;
    if (c.dirty || this.caches.get(id) !== c || !db || !row || !same(c, c.highestModseq) || !same(row, BigInt(row.highestmodseq))) {
      c.dirty = true;
      return;
    }
    try {
      db.setSnapshot(row, buf);
    } catch (err) {
      c.dirty = true;
      this.core.warn('store: could not pack a mailbox list', err);
    }
  }

  hasIndexOpen(): boolean {
    return this.idx !== null && this.idx.db.open;
  }

  busy(): boolean {
    // An index inside a group-commit batch transaction must not be closed (that would roll it back).
    const inTx = this.idx !== null && this.idx.db.open && this.idx.db.inTransaction;
    return this.handles.size > 0 || this.inflight.size > 0 || this.files.running || inTx;
  }

  dir(name: string): string {
    return mailboxDir(this.account.maildir, name);
  }

  mailbox(name: string): MailboxRow | null {
    return this.db().mailbox(name);
  }

  requireMailbox(name: string): MailboxRow {
    const mb = this.mailbox(name);
    if (!mb) throw new RoostError('NOTFOUND', `no mailbox ${name}`);
    return mb;
  }

  /** UIDVALIDITY for a new mailbox: creation time, strictly increasing per account (RFC 3501 §2.3.1.1). */
  nextUidvalidity(): number {
    const db = this.db();
    const last = Number(db.meta('last_uidvalidity') ?? '0');
    const uv = Math.max(Math.floor(Date.now() / 1000), last + 1) >>> 0;
    db.setMeta('last_uidvalidity', String(uv));
    return uv;
  }

  noteUidvalidity(uv: number): void {
    const db = this.db();
    if (uv > Number(db.meta('last_uidvalidity') ?? '0')) db.setMeta('last_uidvalidity', String(uv));
  }

  cache(mb: MailboxRow): MailboxCache {
    let c = this.caches.get(mb.id);
    if (!c || c.uidvalidity !== mb.uidvalidity) {
      const db = this.db();
      db.track(mb);
      const packed = db.snapshot(mb);
      if (packed) {
        c = new MailboxCache(mb.id, mb.uidvalidity, mb.uidnext, BigInt(mb.highestmodseq), unpack(packed, internFlags), true);
      } else {
        c = new MailboxCache(mb.id, mb.uidvalidity, mb.uidnext, BigInt(mb.highestmodseq), db.loadMessages(mb.id));
        // A big mailbox: keep a packed copy for the next cold start.
        if (c.count >= PACK_MIN) c.dirty = true;
      }
      this.caches.set(mb.id, c);
    }
    this.core.usedCache(this, mb.id, c.count);
    return c;
  }

  /**
   * The cache of a mailbox whose rows were just written (a lazy first open,
   * ./recovery.ts): what cache() would load, without reading them back.
   * `rows` as IndexDb.loadMessages gives them, in UID order. Packed when
   * the last session leaves or the store evicts it, like any changed list.
   */
  seedCache(mb: MailboxRow, rows: unknown[][]): void {
    this.db().track(mb);
    const c = new MailboxCache(mb.id, mb.uidvalidity, mb.uidnext, BigInt(mb.highestmodseq), rows);
    c.dirty = true;
    this.caches.set(mb.id, c);
    this.core.usedCache(this, mb.id, c.count);
  }

  /**
   * Another process (`roost deliver`, a second server on the same data)
   * changed this mailbox's index: bring the shared cache up to date and tell
   * listeners what changed, as if the change had been made here.
   */
  refreshFromDb(mb: MailboxRow, force = false): void {
    const c = this.caches.get(mb.id);
    if (!c) return;
    if (c.uidvalidity !== mb.uidvalidity) {
      this.caches.delete(mb.id);
      this.emit(mb.id, { type: 'gone', origin: null });
      return;
    }
    if (!force && !this.db().changedElsewhere(mb)) return;
    this.db().track(mb);
    const fresh = new MailboxCache(mb.id, mb.uidvalidity, mb.uidnext, BigInt(mb.highestmodseq), this.db().loadMessages(mb.id));
    const now = new Map(fresh.all().map((e) => [e.uid, e]));
    const gone: number[] = [];
    const flags: { uid: number; flags: readonly string[]; modseq: bigint }[] = [];
    for (const e of c.all()) {
      const n = now.get(e.uid);
      if (!n) gone.push(e.uid);
      else if (n.modseq !== e.modseq) flags.push({ uid: n.uid, flags: n.flags, modseq: n.modseq });
    }
    const added = fresh.all().filter((e) => c.get(e.uid) === undefined);
    this.caches.set(mb.id, fresh);
    if (gone.length > 0) this.emit(mb.id, { type: 'expunge', origin: null, uids: gone, modseq: fresh.highestModseq });
    if (flags.length > 0) this.emit(mb.id, { type: 'flags', origin: null, updates: flags });
    if (added.length > 0) this.emit(mb.id, { type: 'append', origin: null, messages: added });
  }

  /**
   * Where a message's file is now, relative to its mailbox directory: the
   * names the cache and the index know (the name a rename is moving it to,
   * the name its flags call for), else a directory search. Only the file is
   * found: its name never changes the flags (the index is the truth).
   */
  locate(mailboxId: number, dir: string, e: { uid: number; basename: string; diskName: string; filename?: string }): string | null {
    const names = [e.diskName];
    if (e.filename) names.push(e.filename);
    const row = this.db().message(mailboxId, e.uid);
    if (row) names.push(row.disk_name, row.renaming ?? row.disk_name, row.filename, targetName({ basename: row.basename, diskName: row.disk_name }, internFlags(row.flags), keywordTable(dir)));
    for (const n of new Set(names)) if (fs.existsSync(path.join(dir, n))) return n;
    return findByBasename(dir, e.basename);
  }

  key(mailboxId: number): string {
    return ChangeHub.key(this.id, mailboxId);
  }

  /** Record the new/ and cur/ mtimes the index has seen (to detect external changes at open). */
  noteMtimes(mb: MailboxRow): void {
    const m = dirMtimes(this.dir(mb.name));
    this.db().setMtimes(mb.id, m.newMtime, m.curMtime);
  }

  // ---------------------------------------------------------------- files

  /**
   * File effects of a committed record; idempotent (replay may run it twice or
   * after a partial first run). Returns directories whose entries must be
   * fsync'd before the change counts as done.
   */
  applyFs(rec: JournalRecord, extras: ApplyExtras): string[] {
    const root = this.account.maildir;
    switch (rec.kind) {
      case 'deliver': {
        const d = rec.data;
        const dir = this.dir(d.mailbox);
        const target = path.join(dir, d.filename);
        if (fs.existsSync(target)) return [path.dirname(target)];
        const tmp = d.tmp ? path.join(dir, d.tmp) : '';
        try {
          // The data fsync runs in parallel with the journal commit; after a
          // crash between the two a short tmp/ file is not the message.
          if (tmp && fs.statSync(tmp).size === d.size) {
            fs.renameSync(tmp, target);
            return [path.dirname(target)];
          }
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
        const found = findByBasename(dir, d.basename);
        if (found) {
          (extras.renamedTo ??= new Map()).set(rec.lsn, found);
          return [];
        }
        (extras.lost ??= new Set()).add(rec.lsn);
        return [];
      }
      case 'mailbox-create':
        ensureMaildir(this.dir(rec.data.mailbox), rec.data.mailbox !== INBOX);
        return [root];
      case 'mailbox-delete': {
        const d = rec.data;
        const dir = this.dir(d.mailbox);
        const row = this.db().mailbox(d.mailbox);
        if (row && row.uidvalidity !== d.uidvalidity) return [];
        forgetKeywordTable(dir);
        if (fs.existsSync(dir)) {
          // Rename first (atomic: the folder disappears at once), then remove at leisure.
          const trash = path.join(root, `..roost-trash-${Date.now()}-${Math.random().toString(36).slice(2)}`);
          fs.renameSync(dir, trash);
          // A big folder takes seconds to remove: never on the event loop (a crash leaves a
          // "..roost-trash-*" directory, which no folder scan reads).
          void fsp.rm(trash, { recursive: true, force: true }).catch((err: unknown) => this.core.warn('store: could not remove a deleted mailbox', err));
        }
        return [root];
      }
      case 'mailbox-rename': {
        const d = rec.data;
        // RENAME INBOX (RFC 3501 §6.3.5): its messages move, INBOX stays.
        if (d.pairs === undefined) {
          const to = this.dir(d.to);
          ensureMaildir(to, true);
          const inbox = this.db().mailbox(INBOX);
          for (const uid of d.uids) {
            const row = inbox ? this.db().message(inbox.id, uid) : null;
            if (!row) continue;
            const src = path.join(root, row.disk_name);
            if (fs.existsSync(src)) fs.renameSync(src, path.join(to, row.disk_name));
          }
          return [root, path.join(root, 'new'), path.join(root, 'cur'), path.join(to, 'new'), path.join(to, 'cur')];
        }
        for (const [f, t] of d.pairs) {
          const from = this.dir(f);
          const to = this.dir(t);
          forgetKeywordTable(from);
          forgetKeywordTable(to);
          if (fs.existsSync(from) && !fs.existsSync(to)) fs.renameSync(from, to);
        }
        return [root];
      }
      case 'keywords':
        applyKeywordsFs(this, rec);
        return [];
      default:
        return [];
    }
  }

  // ---------------------------------------------------------------- index

  /** Apply committed records to the index (one transaction), then caches and events. */
  applyIndex(recs: readonly JournalRecord[], extras: ApplyExtras = {}): void {
    if (recs.length === 0) return;
    const db = this.db();
    const events: [number, MailboxEvent][] = [];
    const appends = new Map<string, { id: number; origin: string | null; list: MessageRecord[] }>();
    let maxLsn = 0n;
    let schedule = false;
    let uidlsDone = false;
    // Runs of deliver records (an import writes 5,000 per call): the mailbox row is looked up
    // once and UIDNEXT/HIGHESTMODSEQ raised once per mailbox, before any other kind of record.
    const rows = new Map<string, MailboxRow | null>();
    const bumps = new Map<number, { uidnext: number; modseq: number }>();
    const flushBumps = (): void => {
      for (const [id, b] of bumps) {
        db.bumpUidnext(id, b.uidnext);
        db.bumpModseq(id, b.modseq);
      }
      bumps.clear();
      rows.clear();
    };
    db.tx(() => {
      for (const rec of recs) {
        if (rec.lsn > maxLsn) maxLsn = rec.lsn;
        if (extras.lost?.has(rec.lsn)) continue;
        const origin = ('origin' in rec.data ? rec.data.origin : undefined) ?? null;
        if (rec.kind !== 'deliver') flushBumps();
        switch (rec.kind) {
          case 'deliver': {
            const d = rec.data;
            const rk = `${d.mailbox}\u0000${d.uidvalidity}`;
            let mb = rows.get(rk);
            if (mb === undefined) rows.set(rk, (mb = this.ensureMailboxRow(d.mailbox, d.uidvalidity)));
            if (!mb) break;
            const renamedTo = extras.renamedTo?.get(rec.lsn);
            const filename = renamedTo ?? d.filename;
            const flags = d.flags;
            const row: MessageRow = {
              mailbox: mb.id,
              uid: d.uid,
              basename: d.basename,
              filename,
              disk_name: filename,
              state: STATE_OK,
              flags: flagsKey(flags),
              modseq: Number(d.modseq),
              internal_date: d.internalDate,
              size: d.size,
              vsize: d.vsize,
              lazy: d.lazy === true ? 1 : 0,
            };
            if (!db.insertMessage(row)) break;
            if (row.lazy === 1) this.facts.note(mb.id);
            const b = bumps.get(mb.id);
            if (!b) bumps.set(mb.id, { uidnext: row.uid + 1, modseq: row.modseq });
            else {
              if (row.uid + 1 > b.uidnext) b.uidnext = row.uid + 1;
              if (row.modseq > b.modseq) b.modseq = row.modseq;
            }
            const st = extras.structures?.get(`${d.mailbox}\u0000${row.uid}`);
            if (st) db.setStructure(mb.id, row.uid, st, extras.sortKeys?.get(`${d.mailbox}\u0000${row.uid}`));
            const sf = extras.searchFields?.get(`${d.mailbox}\u0000${row.uid}`);
            if (sf) db.setSearchFields(mb.id, row.uid, sf);
            const c = this.caches.get(mb.id);
            const e = entryOf(row);
            if (c && c.uidvalidity === mb.uidvalidity) c.add(e);
            const ak = `${mb.id}\u0000${origin ?? ''}`;
            let group = appends.get(ak);
            if (!group) appends.set(ak, (group = { id: mb.id, origin, list: [] }));
            group.list.push(e);
            break;
          }
          case 'flags': {
            const d = rec.data;
            const mb = db.mailbox(d.mailbox);
            if (!mb || mb.uidvalidity !== d.uidvalidity) break;
            const modseq = Number(d.modseq);
            const big = BigInt(modseq);
            const updates: { uid: number; flags: readonly string[]; modseq: bigint }[] = [];
            const c = this.caches.get(mb.id);
            const cacheOk = c !== undefined && c.uidvalidity === mb.uidvalidity;
            const changed: Entry[] = [];
            for (const u of d.updates) {
              const key = flagsKey(u.flags);
              const flags = internFlags(key);
              if (u.filenames) {
                // Another program renamed these files (reconcile): the name on disk is the truth.
                (u.uids ?? []).forEach((uid, k) => {
                  const row = db.message(mb.id, uid);
                  if (!row || row.state === STATE_UNLINK || row.modseq >= modseq) return;
                  const name = u.filenames![k]!;
                  db.setFilenames(mb.id, uid, name);
                  db.updateFlags(mb.id, uid, key, modseq, name, STATE_OK);
                  const e = entryOf({ ...row, flags: key, modseq, disk_name: name });
                  changed.push(e);
                  updates.push({ uid, flags: e.flags, modseq: big });
                });
                continue;
              }
              const { ranges } = uidsOf(u);
              for (const [first, last] of ranges) {
                if (db.flagsRange(mb.id, first, last, key, modseq) === 0) continue;
                schedule = true;
                if (!cacheOk) continue;
                for (const e of c.range(first, last)) {
                  if (e.modseq >= big) continue;
                  const ne: Entry = { ...e, flags, modseq: big };
                  changed.push(ne);
                  updates.push({ uid: e.uid, flags, modseq: big });
                }
              }
            }
            db.bumpModseq(mb.id, modseq);
            if (cacheOk) {
              c.replaceMany(changed);
              c.bump(0, big);
            }
            if (updates.length > 0) events.push([mb.id, { type: 'flags', origin, updates }]);
            break;
          }
          case 'expunge': {
            const d = rec.data;
            const mb = db.mailbox(d.mailbox);
            if (!mb || mb.uidvalidity !== d.uidvalidity) break;
            const modseq = Number(d.modseq);
            const c = this.caches.get(mb.id);
            const cacheOk = c !== undefined && c.uidvalidity === mb.uidvalidity;
            const done: number[] = [];
            for (const [first, last] of uidsOf(d).ranges) {
              if (db.expungeRange(mb.id, first, last) === 0) continue;
              schedule = true;
              if (cacheOk) for (const e of c.range(first, last)) done.push(e.uid);
            }
            db.bumpModseq(mb.id, modseq);
            if (cacheOk) c.remove(done, BigInt(modseq));
            if (done.length > 0) events.push([mb.id, { type: 'expunge', origin, uids: done, modseq: BigInt(modseq) }]);
            break;
          }
          case 'mailbox-create': {
            const d = rec.data;
            const name = d.mailbox;
            const uv = d.uidvalidity;
            const row = db.mailbox(name);
            // A subscription that outlived an earlier mailbox of this name (RFC 3501 §6.3.6) applies to the new one.
            const kept = db.hasOrphanSubscription(name);
            if (kept) db.setOrphanSubscription(name, false);
            if (!row) db.insertMailbox(name, uv, d.specialUse ?? null, d.subscribed !== false || kept, d.uidnext ?? 1);
            else if (d.specialUse !== undefined && d.specialUse !== null && row.special_use !== d.specialUse) db.setSpecialUse(row.id, d.specialUse);
            this.noteUidvalidity(uv);
            break;
          }
          case 'mailbox-delete': {
            const d = rec.data;
            const row = db.mailbox(d.mailbox);
            if (!row || row.uidvalidity !== d.uidvalidity) break;
            // RFC 3501 §6.3.6: the server MUST NOT drop a subscription because the mailbox is gone.
            if (row.subscribed === 1) db.setOrphanSubscription(row.name, true);
            db.deleteMailbox(row.id);
            this.caches.delete(row.id);
            events.push([row.id, { type: 'gone', origin }]);
            break;
          }
          case 'mailbox-rename': {
            const d = rec.data;
            if (d.pairs === undefined) {
              const inbox = db.mailbox(INBOX);
              if (!inbox || db.mailbox(d.to)) break;
              const uv = d.uidvalidity;
              // The rename's own modseq counts: the primary allocated it from INBOX before this ran, a replica has not (RFC 7162 §3.1.2: never lower).
              const toId = db.insertMailbox(d.to, uv, null, true, inbox.uidnext, Math.max(inbox.highestmodseq, Number(d.modseq)));
              this.noteUidvalidity(uv);
              db.moveAllMessages(inbox.id, toId);
              const modseq = Number(d.modseq);
              db.bumpModseq(inbox.id, modseq);
              const uids = d.uids;
              this.caches.get(inbox.id)?.remove(uids, BigInt(modseq));
              if (uids.length > 0) events.push([inbox.id, { type: 'expunge', origin, uids, modseq: BigInt(modseq) }]);
              break;
            }
            for (const [f, t] of d.pairs) {
              const row = db.mailbox(f);
              if (!row || db.mailbox(t)) continue;
              db.renameMailbox(row.id, t);
              if (db.hasOrphanSubscription(t)) {
                db.setOrphanSubscription(t, false);
                db.setSubscribed(row.id, true);
              }
              events.push([row.id, { type: 'gone', origin }]);
            }
            break;
          }
          case 'subscribe': {
            const d = rec.data;
            const row = db.mailbox(d.mailbox);
            if (row) db.setSubscribed(row.id, d.subscribed);
            else db.setOrphanSubscription(d.mailbox, d.subscribed);
            break;
          }
          case 'recent': {
            // max(): replay and replicas never move the boundary back (recent.ts).
            const d = rec.data;
            const row = db.mailbox(d.mailbox);
            if (row && row.uidvalidity === d.uidvalidity) db.raiseRecent(row.id, d.uid);
            break;
          }
          case 'keywords':
            applyKeywordsIndex(db, rec);
            break;
          case 'pop3-uidls':
            if (applyPop3UidlsIndex(db, rec)) uidlsDone = true;
            break;
          case 'facts': {
            const d = rec.data;
            const mb = db.mailbox(d.mailbox);
            if (mb && mb.uidvalidity === d.uidvalidity) this.setFacts(mb, d.facts);
            break;
          }
          default:
            break;
        }
      }
      flushBumps();
      if (extras.noteMtimes) {
        for (const id of new Set([...appends.values()].map((g) => g.id))) {
          const mb = db.mailboxById(id);
          if (mb) this.noteMtimes(mb);
        }
      }
      db.setAppliedLsn(maxLsn);
    });
    for (const g of appends.values()) this.emit(g.id, { type: 'append', origin: g.origin, messages: g.list });
    for (const [id, ev] of events) this.emit(id, ev);
    if (schedule) this.scheduleFsWork();
    const writable = this.core.isWritable();
    if (recs.some((r) => changesSubscriptions(r, writable))) this.writeSubscriptions();
    // On the primary the file is the source of the record; a replica writes it from the index.
    if (uidlsDone && !writable) writePop3FromIndex(this);
  }

  /**
   * Facts read from the files of provisional rows (./facts.ts): [uid, size,
   * vsize, internalDate] each, into the index and the cache (inside the
   * caller's transaction, if any).
   */
  setFacts(mb: MailboxRow, facts: readonly (readonly [number, number, number, number])[]): void {
    const db = this.db();
    const c = this.caches.get(mb.id);
    const cacheOk = c !== undefined && c.uidvalidity === mb.uidvalidity;
    for (const [uid, size, vsize, internalDate] of facts) {
      if (!db.setFacts(mb.id, uid, size, vsize, internalDate) || !cacheOk) continue;
      // In place, like diskName: facts never change once read, and every snapshot
      // holding this entry showed the provisional ones only until now.
      const e = c.get(uid) as { size: number; vsize: number; internalDate: number } | undefined;
      if (e) {
        e.size = size;
        e.vsize = vsize;
        e.internalDate = internalDate;
      }
    }
    // The packed list holds the provisional facts under the same modseq.
    db.dropSnapshot(mb.id);
    if (cacheOk) c.dirty = true;
  }

  /**
   * Keep the Maildir's Dovecot `subscriptions` file equal to the index's
   * list, so the Maildir handed back to Dovecot keeps what the
   * user subscribed. Best effort: the index stays the truth for Roost.
   */
  private writeSubscriptions(): void {
    const db = this.db();
    const first = this.subscriptionsNext === null;
    // The list as of this change; writes run one after another and a burst of changes writes only the last list.
    this.subscriptionsNext = [...db.mailboxes().filter((r) => r.subscribed === 1).map((r) => r.name), ...db.orphanSubscriptions()].sort();
    if (!first) return;
    const maildir = this.account.maildir;
    this.subscriptionsWriting = this.subscriptionsWriting.then(async () => {
      const names = this.subscriptionsNext!;
      this.subscriptionsNext = null;
      await writeDovecotSubscriptionsAsync(maildir, names).catch((err: unknown) => this.core.warn('store: cannot write the subscriptions file', err));
    });
  }

  private subscriptionsNext: string[] | null = null;
  private subscriptionsWriting: Promise<void> = Promise.resolve();

  /** Resolves once the subscriptions file holds the list of every change applied so far. */
  subscriptionsWritten(): Promise<void> {
    return this.subscriptionsWriting;
  }

  private ensureMailboxRow(name: string, uidvalidity: number): MailboxRow | null {
    const db = this.db();
    const row = db.mailbox(name);
    if (row) return row.uidvalidity === uidvalidity ? row : null;
    db.insertMailbox(name, uidvalidity, null, true);
    this.noteUidvalidity(uidvalidity);
    return db.mailbox(name);
  }

  /**
   * Journal a moved \Recent boundary (recent.ts) so replay and the replica
   * learn it. Best effort and not awaited: the index row is already written,
   * and a lost record only means some messages are reported recent again.
   */
  private journalRecent(mailboxId: number, uid: number): void {
    if (!this.core.isWritable()) return;
    const mb = this.db().mailboxById(mailboxId);
    if (!mb) return;
    const draft: RecordDraft = {
      accountId: this.id,
      kind: 'recent',
      data: { maildir: this.account.maildir, mailbox: mb.name, uidvalidity: mb.uidvalidity, uid },
    };
    try {
      this.core.committer
        .submit({ accounts: [this.id], build: () => [draft], finish: (recs) => this.applyIndex(recs) })
        .catch((err: unknown) => this.core.warn('store: could not journal the \\Recent boundary', err));
    } catch (err) {
      this.core.warn('store: could not journal the \\Recent boundary', err);
    }
  }

  emit(mailboxId: number, ev: MailboxEvent): void {
    // Before any listener runs: a STATUS or SELECT it triggers must see the boundary moved.
    if (ev.type === 'append') this.recent.arrived(mailboxId, ev.messages);
    else if (ev.type === 'gone') this.recent.forget(mailboxId);
    this.core.hub.emit(this.key(mailboxId), ev);
    if (ev.type === 'append') this.core.noteText(this, mailboxId, ev.messages.map((m) => m.uid));
  }

  // ---------------------------------------------------------------- background file work

  /** Flag renames and expunge unlinks after the commit (./file-work.ts). */
  scheduleFsWork(): void {
    this.files.schedule();
  }

  /** Resolves when no file work is pending (tests, close). */
  fsIdle(): Promise<void> {
    return Promise.all([this.files.idle(), this.subscriptionsWritten()]).then(() => undefined);
  }
}

/**
 * Whether a record can change the subscription list. On the primary,
 * mailboxes a Maildir import creates are left out: the import reads the old
 * server's file for each of them, so the file must not be rewritten halfway
 * through. A replica reads no such file (each record says whether its
 * mailbox is subscribed) and writes its own from every one.
 */
function changesSubscriptions(rec: JournalRecord, writable: boolean): boolean {
  if (rec.kind === 'mailbox-create') return rec.data.fromMaildir !== true || !writable;
  return rec.kind === 'subscribe' || rec.kind === 'mailbox-rename' || rec.kind === 'mailbox-delete';
}

export function entryOf(row: MessageRow): Entry {
  return {
    uid: row.uid,
    modseq: BigInt(row.modseq),
    flags: internFlags(row.flags),
    internalDate: row.internal_date,
    size: row.size,
    vsize: row.vsize,
    basename: row.basename,
    diskName: row.disk_name,
  };
}

/**
 * Whether `rel` is a name the index gave or is giving this message's file:
 * the recorded one, the one a rename in progress moves it to, or the one
 * its flags call for. Any other name for a known base name was given by
 * another program (mutt, qmail-pop3d) and is a change to pick up.
 */
export function isOwnName(row: MessageRow, rel: string, table: KeywordTable): boolean {
  if (rel === row.disk_name || rel === row.renaming) return true;
  return rel === targetName({ basename: row.basename, diskName: row.disk_name }, internFlags(row.flags), table);
}

export function dirMtimes(dir: string): { newMtime: string; curMtime: string } {
  const m = (sub: string): string => {
    try {
      return fs.statSync(path.join(dir, sub), { bigint: true }).mtimeNs.toString();
    } catch {
      return '';
    }
  };
  return { newMtime: m('new'), curMtime: m('cur') };
}
