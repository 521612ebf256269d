/**
 * One account's live state: its index handle (via the store's LRU), the
 * caches of loaded mailboxes, and the entry points where journal records are
 * applied — to the files (applyFs) and to the index, caches and event
 * listeners (applyIndex), each through the one applier of the record's kind
 * (./appliers.ts). Live changes, crash-recovery replay and replication all
 * go through these two functions, so they stay idempotent and agree.
 */
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import type { Account } from '../accounts/directory.js';
import { RoostError } from '../errors.js';
import { ChangeHub } from './changes.js';
import { MessageList, entryOf, internFlags, uidsOf, type Entry } from './message-list.js';
import { pack, packSteps, unpack, unpackSteps } from './index/list-image.js';
import type { GroupCommitter } from './commit.js';
import type { IndexDb, MailboxRow, MessageRow } from './index/db.js';
import type { Journal, RecordDraft } from './journal/log.js';
import { targetName } from './maildir/filename.js';
import { keywordTable, type KeywordTable } from './maildir/keyword-letters.js';
import { writeDovecotSubscriptionsAsync } from './maildir/subscriptions.js';
import { writePop3FromIndex } from './side-files.js';
import { applyRecordFs, applyRecordIndex, changesSubscriptions, IndexPass, type ApplyExtras } from './appliers.js';
import { mailboxDir } from './maildir/names.js';
import { findByBasename } from './maildir/scan.js';
import { FileWork } from './file-work.js';
import { FactsFill } from './facts.js';
import { RecentOwners } from './recent.js';
import type { JournalRecord, MailboxEvent } from './types.js';
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

export type { ApplyExtras } from './appliers.js';

export const PACK_MIN = LIMITS.tuning.packMinMessages;

export class AccountState {
  private idx: IndexDb | null = null;
  recovered = false;
  /** Set by reindex around the first open: an index with no INBOX is left for the reindex to build in slices (recovery.ts). */
  deferImport = false;
  /** A session's first open building the index in slices (recovery.ts importAtFirstOpen); the account's other users wait for it. */
  opening: Promise<void> | null = null;
  readonly caches = new Map<number, MessageList>();
  /** Sliced loads of mailbox lists under way (loadCache), by mailbox id. */
  private readonly loads = new Map<number, Promise<boolean>>();
  /** Per mailbox, a count of the changes made to cached entries in place (facts read, a file renamed): no modseq shows them. */
  private readonly inPlace = new Map<number, number>();
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

  /** Store packed copies of large changed caches, in one piece (the index is about to close: store close, the LRU). */
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
  async packSliced(id: number, detached?: MessageList): Promise<void> {
    const c = detached ?? this.caches.get(id);
    if (!c || !c.dirty || c.count < PACK_MIN || !this.hasIndexOpen()) return;
    const at = { uidvalidity: c.uidvalidity, uidnext: c.uidnext, modseq: c.highestModseq };
    // A detached list (dropped from memory) is told of no change: facts set in place meanwhile must be seen here.
    const gen = this.inPlace.get(id) ?? 0;
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
    const current = detached ? (this.inPlace.get(id) ?? 0) === gen : this.caches.get(id) === c;
    if (c.dirty || !current || !db || !row || !same(c, c.highestModseq) || !same(row, BigInt(row.highestmodseq))) {
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

  /** Give back the index connection's page cache (PRAGMA shrink_memory), unless a transaction holds it. */
  releaseMemory(): void {
    if (this.idx?.db.open && !this.idx.db.inTransaction) this.idx.db.pragma('shrink_memory');
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

  cache(mb: MailboxRow): MessageList {
    let c = this.caches.get(mb.id);
    if (!c || c.uidvalidity !== mb.uidvalidity) {
      const db = this.db();
      db.track(mb);
      const packed = db.snapshot(mb);
      if (packed) {
        c = new MessageList(mb.id, mb.uidvalidity, mb.uidnext, BigInt(mb.highestmodseq), unpack(packed, internFlags), true);
      } else {
        c = new MessageList(mb.id, mb.uidvalidity, mb.uidnext, BigInt(mb.highestmodseq), db.loadMessages(mb.id));
        // A big mailbox: keep a packed copy for the next cold start.
        if (c.count >= PACK_MIN) c.dirty = true;
      }
      this.caches.set(mb.id, c);
    }
    this.core.usedCache(this, mb.id, c.count);
    return c;
  }

  /**
   * Load what cache(mb) would, a slice at a time (LIMITS.work.sliceMs) with
   * turns of the event loop between: the first SELECT of a 100,000-message
   * mailbox after a restart unpacks its list in about 100 ms of CPU, which
   * in one piece held every other session's commands as long. Opens of the
   * same mailbox meanwhile share the load. The list is kept only if the
   * mailbox did not change while it was read (a delivery in between);
   * otherwise cache() reads it again in one go, as before. Resolves true
   * when turns passed (the caller's MailboxRow may be old).
   */
  loadCache(mb: MailboxRow): Promise<boolean> {
    const c = this.caches.get(mb.id);
    if (c && c.uidvalidity === mb.uidvalidity) return Promise.resolve(false);
    let p = this.loads.get(mb.id);
    if (!p) {
      p = this.loadSliced(mb).finally(() => this.loads.delete(mb.id));
      this.loads.set(mb.id, p);
    }
    return p;
  }

  /** A mailbox's cached entries are changed in place (setFacts, FileWork renames): a list being read meanwhile is not kept. */
  noteInPlace(mailboxId: number): void {
    this.inPlace.set(mailboxId, (this.inPlace.get(mailboxId) ?? 0) + 1);
  }

  private async loadSliced(mb: MailboxRow): Promise<boolean> {
    const gen = this.inPlace.get(mb.id) ?? 0;
    let t = performance.now();
    const pause = async (): Promise<void> => {
      if (performance.now() - t < LIMITS.work.sliceMs) return;
      await nextTurn();
      t = performance.now();
    };
    const packed = this.db().snapshot(mb);
    let entries: Entry[];
    if (packed) {
      const steps = unpackSteps(packed, internFlags);
      for (let r = steps.next(); ; r = steps.next()) {
        if (r.done) {
          entries = r.value;
          break;
        }
        await pause();
      }
    } else {
      entries = [];
      for (let after = 0; ; ) {
        // The index may have been closed by the LRU between pages: db() opens it again.
        const page = this.db().loadMessagesPage(mb.id, after, LIMITS.tuning.listPageRows);
        for (const r of page) entries.push(entryOf(r));
        if (page.length < LIMITS.tuning.listPageRows) break;
        after = page[page.length - 1]![0] as number;
        await pause();
      }
    }
    const now = this.db().mailboxById(mb.id);
    const same =
      now !== null && now.uidvalidity === mb.uidvalidity && now.uidnext === mb.uidnext && now.highestmodseq === mb.highestmodseq && (this.inPlace.get(mb.id) ?? 0) === gen;
    const had = this.caches.get(mb.id);
    // Changed meanwhile, or a synchronous cache() got there first: what it has is at least as new.
    if (!same || (had && had.uidvalidity === mb.uidvalidity)) return true;
    this.db().track(mb);
    const c = new MessageList(mb.id, mb.uidvalidity, mb.uidnext, BigInt(mb.highestmodseq), entries, true);
    // A big mailbox read from its rows: keep a packed copy for the next cold start.
    if (!packed && c.count >= PACK_MIN) c.dirty = true;
    this.caches.set(mb.id, c);
    this.core.usedCache(this, mb.id, c.count);
    return true;
  }

  /**
   * The cache of a mailbox whose rows were just written (a lazy first open,
   * ./recovery.ts): what cache() would load, without reading them back.
   * `rows` as IndexDb.loadMessages gives them, in UID order. Packed when
   * the last session leaves or the store evicts it, like any changed list.
   */
  seedCache(mb: MailboxRow, rows: unknown[][]): void {
    this.db().track(mb);
    const c = new MessageList(mb.id, mb.uidvalidity, mb.uidnext, BigInt(mb.highestmodseq), rows);
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
    const fresh = new MessageList(mb.id, mb.uidvalidity, mb.uidnext, BigInt(mb.highestmodseq), this.db().loadMessages(mb.id));
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

  // ---------------------------------------------------------------- applying records

  /**
   * File effects of a committed record (./appliers.ts); idempotent (replay may
   * run it twice or after a partial first run). Returns directories whose
   * entries must be fsync'd before the change counts as done.
   */
  applyFs(rec: JournalRecord, extras: ApplyExtras): string[] {
    return applyRecordFs(this, rec, extras);
  }

  /** Apply committed records to the index (one transaction), then caches and events (./appliers.ts). */
  applyIndex(recs: readonly JournalRecord[], extras: ApplyExtras = {}): void {
    if (recs.length === 0) return;
    const db = this.db();
    const pass = new IndexPass(this, db, extras);
    let maxLsn = 0n;
    db.tx(() => {
      for (const rec of recs) {
        if (rec.lsn > maxLsn) maxLsn = rec.lsn;
        if (extras.lost?.has(rec.lsn)) continue;
        applyRecordIndex(pass, rec);
      }
      pass.flushBumps();
      if (extras.noteMtimes) {
        for (const id of new Set([...pass.appends.values()].map((g) => g.id))) {
          const mb = db.mailboxById(id);
          if (mb) this.noteMtimes(mb);
        }
      }
      db.setAppliedLsn(maxLsn);
    });
    for (const g of pass.appends.values()) this.emit(g.id, { type: 'append', origin: g.origin, messages: g.list });
    for (const [id, ev] of pass.events) this.emit(id, ev);
    if (pass.schedule) this.scheduleFsWork();
    const writable = this.core.isWritable();
    if (recs.some((r) => changesSubscriptions(r, writable))) this.writeSubscriptions();
    // On the primary the file is the source of the record; a replica writes it from the index.
    if (pass.uidlsDone && !writable) writePop3FromIndex(this);
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
    this.noteInPlace(mb.id);
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
