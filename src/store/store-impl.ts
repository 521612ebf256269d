/**
 * The store behind ./store.ts (opened by ./open.ts): owns the journal, the group committer, the
 * event hub, the LRU of per-account index handles, and the delivery path.
 *
 * Delivery, step by step (what makes QMQP's K mean "durable"):
 *  1. The message streams into a spool file (data_dir/spool), counting W=.
 *  2. deliver(): the spool file is hard-linked into each recipient folder's
 *     tmp/ (copied + fsync'd across filesystems). Readers never look in
 *     tmp/, so nothing is visible yet; any failure unlinks every link made.
 *  3. Group commit: UIDs/modseqs are allocated in commit order; the journal
 *     transaction commits (no fsync yet) and tmp/X is renamed to new/X (or
 *     cur/X:2,FLAGS for APPEND with flags).
 *  4. At once, in the thread pool: fdatasync of the journal's WAL (the
 *     commit point, shared by concurrent batches), fdatasync of the spool
 *     inode, fsync of each touched new/ or cur/ directory (./commit.ts
 *     explains why the rename may come before the WAL sync).
 *  5. The index (and caches, events) is updated; the promise resolves → K.
 *
 * Crash semantics: before 3 nothing is visible and tmp/ leftovers of dead
 * processes are removed at the next open. After 3 the record is replayed at
 * the next open (a tmp/ file whose size is not the recorded size is not
 * used), so a delivery interrupted after its commit but before K appears
 * once; a client that retries it gets a second copy, as with qmail. The
 * index may lag the journal by a few commits (synchronous=NORMAL): replay
 * from its applied_lsn covers that.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Account } from '../accounts/directory.js';
import { RoostError, isRoostError, tempFromOs } from '../errors.js';
import { LIMITS } from '../limits.js';
import { logger } from '../log/logger.js';
import { AccountState } from './account.js';
import { ChangeHub } from './changes.js';
import { GroupCommitter } from './commit.js';
import { closeFullText, releaseFullText, releaseFullTextMemory } from './fts/fulltext.js';
import { TextIndexer } from './text-indexer.js';
import { IndexDb, type SearchFieldsRow } from './index/db.js';
import { Journal, type RecordDraft } from './journal/log.js';
import { asKind, type AccountData, type RecordOf } from './journal/records.js';
import { curName, normalizeFlags, uniqueName, withSizes } from './maildir/filename.js';
import { ensureKeywordLetters } from './maildir/keyword-letters.js';
import { journalKeywords } from './side-files.js';
import { INBOX, normalizeMailboxName, safeFileName } from './maildir/names.js';
import { addQuotaDelta, wouldExceed } from './maildir/quota.js';
import { SpoolDraft, SpoolPool, cleanLeftovers, placeInTmp } from './maildir/save.js';
import { importAtFirstOpen, recoverAccount } from './recovery.js';
import { JournalKeeper } from './journal/keeper.js';
import { ReplicationImpl } from './replica-support.js';
import { reindexAccount } from './reindex.js';
import type { Draft, DraftOptions, DeliverOptions, Store, StoreOptions, UserStore } from './store.js';
import type { JournalRecord, SavedMessage } from './types.js';
import { UserStoreImpl } from './user-store.js';
import { MailboxWatcher } from './maildir/watcher.js';
import { AccountFreezer } from './freezer.js';
import type { SaveTarget, StoreInterior } from './interior.js';
import { discardArrivalsAtOpen } from './move-install.js';


export class StoreImpl implements Store, StoreInterior {
  readonly journal: Journal;
  readonly committer: GroupCommitter;
  readonly hub = new ChangeHub((msg, err) => this.warn(msg, err));
  readonly hostname: string;
  readonly replication: ReplicationImpl;
  readonly watcher: MailboxWatcher | null;
  /** Background full-text catch-up (opts.indexText), null in CLI tools. */
  private readonly textIndexer: TextIndexer | null;
  readonly spoolDir: string;
  private readonly spool: SpoolPool;
  private readonly indexDir: string;
  private readonly states = new Map<string, AccountState>();
  /** Accounts with an open index, least recently used first. */
  private readonly lru = new Map<string, AccountState>();
  private readonly journalListeners = new Set<(r: readonly JournalRecord[]) => void>();
  /** onAccountJournal listeners by account id: a record reaches only its own account's sessions. */
  private readonly accountListeners = new Map<string, Set<(r: readonly JournalRecord[]) => void>>();
  private readonly commitListeners = new Set<(r: readonly JournalRecord[]) => void>();
  private readonly recentBodies = new Map<bigint, Buffer>();
  private recentBytes = 0;
  private placed = 0n;
  /** Cached mailboxes, least recently used first, and how many messages they hold. */
  private readonly cacheUse = new Map<string, { st: AccountState; mailboxId: number; count: number }>();
  private cachedTotal = 0;
  /** Spool unlinks still running (settle() waits for them). */
  private readonly discards = new Set<Promise<void>>();
  /** Prunes the journal past journal_max_bytes (null: unbounded, e.g. CLI tools). */
  readonly keeper: JournalKeeper | null;
  private readonly log: (msg: string, fields: Record<string, unknown>) => void;
  /** Set by ReplicationSupport.followRole; without a replication node the store is writable. */
  writableSource: () => boolean = () => true;
  currentEpoch = 0;
  /** Accounts being moved to another pair or moved away (./freezer.ts). */
  readonly freezer: AccountFreezer;
  /** Accounts whose index a reindex is building (./reindex.ts): their logins and commits wait for it with a temporary failure. */
  readonly rebuilding = new Set<string>();
  private closed = false;

  constructor(readonly opts: StoreOptions) {
    this.hostname = opts.hostname;
    fs.mkdirSync(opts.dataDir, { recursive: true });
    this.indexDir = path.join(opts.dataDir, 'index');
    this.spoolDir = path.join(opts.dataDir, 'spool');
    fs.mkdirSync(this.indexDir, { recursive: true });
    fs.mkdirSync(this.spoolDir, { recursive: true });
    cleanLeftovers(this.spoolDir);
    this.spool = new SpoolPool(this.spoolDir, () => uniqueName(this.hostname));
    this.journal = new Journal(opts.dataDir);
    this.currentEpoch = Number(this.journal.meta('epoch') ?? '0');
    this.freezer = new AccountFreezer(this.journal);
    this.placed = this.journal.lastLsn();
    this.committer = new GroupCommitter(
      this.journal,
      () => this.currentEpoch,
      (recs) => this.notifyJournal(recs),
      (recs) => this.notifyCommitted(recs),
      (id, rebuildWork) => this.freezer.refusal(id) ?? (rebuildWork ? null : (this.rebuildRefusal(id) ?? this.openingRefusal(id))),
    );
    this.replication = new ReplicationImpl(this);
    // Without a caller's sink, warnings still reach the JSON log (never process.emitWarning).
    const log = opts.log ?? ((msg: string, fields: Record<string, unknown>) => logger().warn(fields, msg));
    this.log = log;
    const arrivals = discardArrivalsAtOpen(this);
    for (const id of arrivals.removed) log('account move: removed the copy of an account whose move was never confirmed', { accountId: id });
    for (const f of arrivals.failed) log('account move: cannot remove the unconfirmed copy of a moved account; it stays refused, tried again at the next start', { accountId: f.id, err: f.err });
    this.keeper = opts.journalMaxBytes ? new JournalKeeper(this, opts.journalMaxBytes, log) : null;
    this.keeper?.start();
    this.watcher = opts.watch ? new MailboxWatcher(this) : null;
    this.textIndexer = opts.indexText ? new TextIndexer((msg, err) => this.warn(msg, err)) : null;
  }

  // ------------------------------------------------------------ StoreCore

  epoch(): number {
    return this.currentEpoch;
  }

  isWritable(): boolean {
    return this.writableSource();
  }

  assertWritable(): void {
    if (!this.writableSource()) throw new RoostError('NOTPRIMARY', 'this node is a replica');
    if (this.closed) throw new RoostError('TEMP', 'store is closing');
  }

  openIndex(st: AccountState): IndexDb {
    const file = this.indexFile(st.id);
    let db: IndexDb;
    try {
      db = new IndexDb(file);
    } catch (err) {
      throw tempFromOs(err, `open index ${file}`);
    }
    this.lru.delete(st.id);
    this.lru.set(st.id, st);
    this.evict();
    return db;
  }

  /**
   * Before an account's first index use from a session: a new account's
   * index file is a copy of an empty one, made in the thread pool. Creating a
   * SQLite file and its schema on the event loop waits on the filesystem
   * journal (tens of ms while other writers fsync), for every session.
   * Linked into place, never renamed over: a file another process made first wins.
   */
  async prepareIndex(st: AccountState): Promise<void> {
    if (st.opening) return st.opening;
    if (st.hasIndexOpen()) return this.firstOpen(st);
    const file = this.indexFile(st.id);
    if (await fsp.access(file).then(() => true, () => false)) return this.firstOpen(st);
    const tmp = `${file}.${process.pid}.${uniqueName(this.hostname)}.new`;
    try {
      await fsp.copyFile(await this.indexTemplate(), tmp);
      await fsp.link(tmp, file).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'EEXIST') throw err;
      });
    } catch (err) {
      // The ordinary path still works: db() creates the file itself.
      this.warn('store: could not prepare an index file from the template', err);
    } finally {
      await fsp.unlink(tmp).catch(() => undefined);
    }
    return this.firstOpen(st);
  }

  /**
   * The account's first open in this process, from a session: a Maildir
   * with no index yet is indexed in slices (recovery.ts importAtFirstOpen),
   * not inside a synchronous db() that would hold every other user's
   * commands for as long (issue 16 §4). Until it ends the account's
   * commits (a delivery) get a temporary failure, as during a reindex, and
   * its sessions wait here (prepareIndex comes before their index use).
   */
  private firstOpen(st: AccountState): Promise<void> {
    // First: 'recovered' is set as soon as the import has begun.
    if (st.opening) return st.opening;
    if (st.recovered || !this.isWritable()) return Promise.resolve();
    const run = st.mutex.run(async () => {
      if (st.recovered) return;
      this.opening.add(st.id);
      try {
        await this.committer.idle();
        await importAtFirstOpen(this, st);
      } catch (err) {
        // recover() already reported a failure of the open itself (and db() retries it);
        // one of the import after it is reported here, and the next use retries as well.
        if (!st.recovered) throw err;
        st.recovered = false;
        throw this.rebuildFailed(st, err);
      } finally {
        this.opening.delete(st.id);
      }
    });
    st.opening = run.finally(() => {
      st.opening = null;
    });
    return st.opening;
  }

  private template: Promise<string> | null = null;

  /** data_dir/index.template.sqlite: an empty index of the current version, written once per process. */
  private indexTemplate(): Promise<string> {
    this.template ??= (async () => {
      const file = path.join(this.opts.dataDir, 'index.template.sqlite');
      const tmp = `${file}.${process.pid}.new`;
      for (const ext of ['', '-wal', '-shm']) await fsp.rm(tmp + ext, { force: true });
      new IndexDb(tmp).close();
      await fsp.rename(tmp, file);
      return file;
    })();
    this.template.catch(() => {
      this.template = null;
    });
    return this.template;
  }

  /** Mark an account as recently used (keeps its index open). */
  touch(st: AccountState): void {
    if (this.lru.has(st.id)) {
      this.lru.delete(st.id);
      this.lru.set(st.id, st);
    }
  }

  private evict(): void {
    const max = this.opts.maxOpenIndexes ?? LIMITS.store.maxOpenIndexes;
    if (this.lru.size <= max) return;
    for (const [id, st] of this.lru) {
      if (this.lru.size <= max) break;
      if (st.busy()) continue;
      this.lru.delete(id);
      st.dropIndex();
      releaseFullText(this, id);
      // Caches of unused accounts go too: memory stays bounded with the LRU.
      st.caches.clear();
      for (const [k, u] of this.cacheUse) {
        if (u.st !== st) continue;
        this.cacheUse.delete(k);
        this.cachedTotal -= u.count;
      }
    }
  }

  openIndexCount(): number {
    return [...this.lru.values()].filter((s) => s.hasIndexOpen()).length;
  }

  /**
   * Caches of mailboxes nobody has open are dropped, least recently used
   * first, once more than LIMITS.tuning.cachedMessages messages are cached (a large
   * one is packed, in slices after it is dropped, so reloading it stays fast).
   */
  usedCache(st: AccountState, mailboxId: number, count: number): void {
    const key = st.key(mailboxId);
    const old = this.cacheUse.get(key);
    if (old) {
      this.cachedTotal -= old.count;
      this.cacheUse.delete(key);
    }
    this.cacheUse.set(key, { st, mailboxId, count });
    this.cachedTotal += count;
    // Read at each use, like the other tuning values a test may lower.
    const max = LIMITS.tuning.cachedMessages;
    if (this.cachedTotal <= max) return;
    for (const [k, u] of this.cacheUse) {
      if (this.cachedTotal <= max) break;
      if (u.st.handles.has(u.mailboxId) && u.st.caches.has(u.mailboxId)) continue;
      // Packed in slices after it is dropped (a 100,000-message list must not hold the event loop here).
      const dropped = u.st.caches.get(u.mailboxId);
      u.st.caches.delete(u.mailboxId);
      if (dropped && u.st.hasIndexOpen()) void u.st.packSliced(u.mailboxId, dropped);
      this.cacheUse.delete(k);
      this.cachedTotal -= u.count;
    }
  }

  recover(st: AccountState): void {
    try {
      recoverAccount(this, st);
    } catch (err) {
      throw this.rebuildFailed(st, err);
    }
  }

  /**
   * Never a lock-out — the client gets a temporary failure
   * (IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP]), the operator the cause,
   * and the next use of the account tries again (AccountState.db()).
   */
  private rebuildFailed(st: AccountState, err: unknown): Error {
    this.log('store: index rebuild failed; the next login retries', { account: st.id, err: (err as Error)?.stack ?? String(err) });
    return isRoostError(err) && err.code !== 'NOTFOUND' ? err : new RoostError('TEMP', `index rebuild of ${st.id} failed: ${(err as Error)?.message ?? String(err)}`, { cause: err });
  }

  warn(msg: string, err?: unknown): void {
    this.log(msg, err === undefined ? {} : { err: (err as Error)?.message ?? String(err) });
  }

  /** The state object for an account (created on first use; the directory's view of the account wins). */
  state(account: Account): AccountState {
    let st = this.states.get(account.id);
    if (!st) {
      st = new AccountState(this, account);
      this.states.set(account.id, st);
      // A durable write only when something changed (each costs an fsync).
      const known = this.journal.account(account.id);
      if (!known || !sameAccount(known, account)) this.journal.rememberAccount(account);
    } else if (!sameAccount(st.account, account)) {
      st.account = account;
      this.journal.rememberAccount(account);
    }
    this.touch(st);
    return st;
  }

  /**
   * Becoming writable (promote): accounts first opened read-only skipped the
   * writable half of recovery (INBOX for a Maildir-less account, folders
   * dropped in by other programs); run it on their next use, as a restart would.
   */
  recoverAgainWhenWritable(): void {
    for (const st of this.states.values()) st.recovered = false;
  }

  /** Close and delete every account's index and drop all in-memory state (replica reset). */
  forgetAccounts(): void {
    for (const id of [...this.states.keys()]) this.forgetAccount(id);
    for (const n of fs.readdirSync(this.indexDir)) fs.rmSync(path.join(this.indexDir, n), { force: true });
  }

  /** Close one account's index and drop its in-memory state (a snapshot replaces it; the file stays). */
  forgetAccount(id: string): void {
    const st = this.states.get(id);
    if (st) {
      for (const mb of st.caches.keys()) this.hub.emit(st.key(mb), { type: 'gone', origin: null });
      st.dropIndex();
    }
    releaseFullText(this, id);
    this.states.delete(id);
    this.lru.delete(id);
  }

  /** The index database file of an account. */
  indexFile(id: string): string {
    return path.join(this.indexDir, safeFileName(id) + '.sqlite');
  }

  /** State for an account known only by id (replication): from the journal's account table. */
  stateById(id: string): AccountState | null {
    const st = this.states.get(id);
    if (st) return st;
    const a = this.journal.account(id);
    return a ? this.state(a) : null;
  }

  // ------------------------------------------------------------ Store

  async createDraft(opts?: DraftOptions): Promise<Draft> {
    if (this.closed) throw new RoostError('TEMP', 'store is closing');
    return SpoolDraft.create(await this.spool.take(), opts);
  }

  async deliver(recipients: readonly Account[], draft: Draft, opts: DeliverOptions): Promise<readonly SavedMessage[]> {
    this.assertWritable();
    if (recipients.length === 0) throw new RoostError('LIMIT', 'no recipients');
    const mailbox = normalizeMailboxName(opts.mailbox ?? INBOX);
    // An account listed twice (two aliases of one user) gets one copy; the
    // answer still has one entry per recipient, in order.
    const unique = [...new Map(recipients.map((a) => [a.id, a])).values()];
    const targets = unique.map((a) => ({ st: this.state(a), mailbox, flags: [] as string[] }));
    const saved = await this.save(draft, targets, { internalDate: opts.internalDate, origin: null, sender: opts.sender });
    const byId = new Map(saved.map((m) => [m.accountId, m]));
    return recipients.map((a) => byId.get(a.id)!);
  }

  /**
   * The one save path (deliver, APPEND): place the spool file in each
   * target's tmp/, then one group-committed job: journal, rename into
   * new/ or cur/, fsync those directories, index. All-or-nothing: a failure
   * before the commit removes every tmp/ link, so no copy is visible.
   */
  async save(
    draft: Draft,
    targets: SaveTarget[],
    o: { internalDate?: Date; origin: string | null; sender?: string },
  ): Promise<SavedMessage[]> {
    if (!(draft instanceof SpoolDraft)) throw new TypeError('draft does not come from this store');
    const done = this.committer.preparing();
    const placed: string[] = [];
    const inflight: [AccountState, string][] = [];
    try {
      if (!draft.finished) await draft.finish();
      if (draft.isDiscarded) throw new RoostError('TEMP', 'draft was discarded');
      // The data fdatasync starts now, beside the stat, the tmp/ links and the journal commit
      // instead of after them; no job resolves (no OK, no K) before it has completed (commit.ts).
      const dataSynced = draft.datasync();
      dataSynced.catch(() => undefined);
      // Built while the bytes streamed in (SpoolDraft): the message is not read back.
      const content = draft.smallContent();
      let structure: string | null = null;
      let sortJson: string | null = null;
      try {
        const tree = await draft.structure();
        structure = JSON.stringify(tree);
        sortJson = JSON.stringify(tree.sort);
      } catch (err) {
        this.warn('store: MIME parse failed at delivery (will retry on access)', err);
      }
      // INTERNALDATE is the file's mtime (maildir.html); an APPEND date is set on the inode.
      // Beside the tmp/ links below (they share the inode, and link(2) leaves the mtime alone).
      const dated = o.internalDate
        ? fsp.utimes(draft.path, o.internalDate, o.internalDate).then(() => o.internalDate!.getTime())
        : fsp.stat(draft.path).then((st) => Math.floor(st.mtimeMs));
      dated.catch(() => undefined);
      const size = draft.size;
      const vsize = draft.vsize;
      const prepared: { t: SaveTarget; basename: string; filename: string; tmp: string }[] = [];
      for (const t of targets) {
        const mb = t.st.mailbox(t.mailbox);
        if (!mb) throw new RoostError('NOTFOUND', `no mailbox ${t.mailbox}`);
        if (await wouldExceed(t.st.account, size, 1)) {
          throw new RoostError('OVERQUOTA', `mailbox of ${t.st.account.address} is over quota`);
        }
        const basename = withSizes(uniqueName(this.hostname), size, vsize);
        const flags = normalizeFlags(t.flags);
        // Keywords get their Dovecot letters (dovecot-keywords written first).
        const filename = flags.length > 0 ? `cur/${curName(basename, flags, '', await ensureKeywordLetters(t.st.dir(t.mailbox), flags))}` : `new/${basename}`;
        const tmp = `tmp/${basename}`;
        const abs = path.join(t.st.dir(t.mailbox), tmp);
        await placeInTmp(draft.path, abs);
        placed.push(abs);
        const key = `${mb.id}/${basename}`;
        t.st.inflight.add(key);
        inflight.push([t.st, key]);
        prepared.push({ t: { ...t, flags }, basename, filename, tmp });
      }
      const internalDate = await dated;
      done();
      // Tables that grew go to the journal before the deliveries naming their letters (./side-files.ts).
      for (const p of prepared) if (p.filename.startsWith('cur/')) await journalKeywords(p.t.st, p.t.mailbox);
      const structures = new Map<string, string>();
      const fields = draft.searchFields();
      const searchFields = new Map<string, SearchFieldsRow>();
      const sortKeys = new Map<string, string>();
      const saved = await this.committer.submit({
        accounts: prepared.map((p) => p.t.st.id),
        build: () => {
          this.assertWritable();
          return prepared.map((p): RecordDraft => {
            const db = p.t.st.db();
            const mb = p.t.st.requireMailbox(p.t.mailbox);
            const { uid, modseq } = db.allocUidModseq(mb.id);
            if (structure) structures.set(`${p.t.mailbox}\u0000${uid}`, structure);
            if (fields) searchFields.set(`${p.t.mailbox}\u0000${uid}`, fields);
            if (sortJson) sortKeys.set(`${p.t.mailbox}\u0000${uid}`, sortJson);
            return {
              accountId: p.t.st.id,
              kind: 'deliver',
              data: {
                maildir: p.t.st.account.maildir,
                mailbox: p.t.mailbox,
                uidvalidity: mb.uidvalidity,
                uid,
                modseq: String(modseq),
                basename: p.basename,
                filename: p.filename,
                tmp: p.tmp,
                flags: p.t.flags,
                internalDate,
                size,
                vsize,
                ...(o.sender !== undefined ? { sender: o.sender } : {}),
                ...(o.origin ? { origin: o.origin } : {}),
              },
            };
          });
        },
        // Copies (EXDEV) were fsync'd when made; the hard links share the spool inode.
        dataSync: () => dataSynced,
        afterJournal: async (recs) => {
          if (content) for (const r of recs) this.keepBody(r.lsn, content);
          // rename(2) can wait on the filesystem journal: run them in the thread pool.
          const files = recs.map((r, i) => path.join(prepared[i]!.t.st.dir(prepared[i]!.t.mailbox), asKind(r, 'deliver').data.filename));
          await Promise.all(files.map((f, i) => fsp.rename(path.join(prepared[i]!.t.st.dir(prepared[i]!.t.mailbox), prepared[i]!.tmp), f)));
          return [...new Set(files.map((f) => path.dirname(f)))];
        },
        finish: (recs) =>
          recs.map((rec, i): SavedMessage => {
            const r = asKind(rec, 'deliver');
            const st = prepared[i]!.t.st;
            st.applyIndex([r], { structures, sortKeys, searchFields, noteMtimes: true });
            addQuotaDelta(st.account, size, 1);
            return {
              accountId: st.id,
              mailbox: r.data.mailbox,
              uidvalidity: r.data.uidvalidity,
              uid: r.data.uid,
              basename: prepared[i]!.basename,
              lsn: r.lsn,
            };
          }),
      });
      placed.length = 0;
      return saved;
    } catch (err) {
      // Not linked or already gone: nothing to remove.
      await Promise.all(placed.map((p) => fsp.unlink(p).catch(() => undefined)));
      if (isRoostError(err)) throw err;
      throw tempFromOs(err, 'deliver');
    } finally {
      done();
      for (const [st, key] of inflight) st.inflight.delete(key);
      // The spool name goes away in the background; the answer does not wait for it.
      const gone = draft.discard().finally(() => this.discards.delete(gone));
      this.discards.add(gone);
    }
  }

  user(account: Account, opts: { frozenToo?: boolean } = {}): UserStore {
    // A login to an account being moved (or moved away) is a temporary failure: IMAP NO [UNAVAILABLE].
    const refused = (opts.frozenToo ? null : this.freezer.refusal(account.id)) ?? this.rebuildRefusal(account.id);
    if (refused) throw refused;
    return new UserStoreImpl(this, this.state(account));
  }

  /** Accounts whose first open builds the index now (firstOpen): their commits get TEMP, their logins wait. */
  private readonly opening = new Set<string>();

  private openingRefusal(accountId: string): RoostError | null {
    return this.opening.has(accountId) ? new RoostError('TEMP', `the index of ${accountId} is being built; try again when it is done`) : null;
  }

  private rebuildRefusal(accountId: string): RoostError | null {
    return this.rebuilding.has(accountId) ? new RoostError('TEMP', `the index of ${accountId} is being rebuilt; try again when it is done`) : null;
  }

  /** Throws the temporary failure while a reindex builds the account's index (./reindex.ts). */
  refuseWhileRebuilding(accountId: string): void {
    const refused = this.rebuildRefusal(accountId);
    if (refused) throw refused;
  }

  async reindex(account: Account, opts: { onProgress?: (messages: number) => void } = {}): Promise<{ mailboxes: number; messages: number }> {
    this.assertWritable();
    return reindexAccount(this, this.state(account), this.indexFile(account.id), opts.onProgress);
  }

  lastLsn(): bigint {
    return this.journal.lastLsn();
  }

  async readJournal(after: bigint, limit: number): Promise<readonly JournalRecord[]> {
    return this.journal.read(after, limit);
  }

  async journalAccountChange(accountId: string, data: AccountData): Promise<bigint> {
    this.assertWritable();
    const recs = await this.committer.submit({
      accounts: [accountId],
      build: (): RecordDraft[] => {
        this.assertWritable();
        return [{ accountId, kind: 'account', data }];
      },
      finish: (records) => records,
    });
    return recs[0]!.lsn;
  }

  async readAccountRecords(after: bigint, limit: number): Promise<readonly RecordOf<'account'>[]> {
    return this.journal.readKind('account', after, limit);
  }

  onJournal(listener: (records: readonly JournalRecord[]) => void): () => void {
    this.journalListeners.add(listener);
    return () => this.journalListeners.delete(listener);
  }

  onAccountJournal(accountId: string, listener: (records: readonly JournalRecord[]) => void): () => void {
    let set = this.accountListeners.get(accountId);
    if (!set) this.accountListeners.set(accountId, (set = new Set()));
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.accountListeners.get(accountId) === set) this.accountListeners.delete(accountId);
    };
  }

  /** Hand each account's records (in LSN order) to that account's listeners. */
  private notifyAccounts(records: readonly JournalRecord[]): void {
    if (this.accountListeners.size === 0) return;
    const by = new Map<string, JournalRecord[]>();
    for (const r of records) {
      if (!this.accountListeners.has(r.accountId)) continue;
      let list = by.get(r.accountId);
      if (!list) by.set(r.accountId, (list = []));
      list.push(r);
    }
    for (const [id, list] of by) {
      for (const l of this.accountListeners.get(id) ?? []) {
        try {
          l(list);
        } catch (err) {
          this.warn('store: account listener failed', err);
        }
      }
    }
  }

  /**
   * Bodies of deliveries just committed, kept (bounded, oldest dropped first)
   * only while someone ships records, so replication sends them without
   * reading each file back; a miss reads the file as before.
   */
  private keepBody(lsn: bigint, body: Buffer): void {
    if (this.commitListeners.size === 0 || body.length > LIMITS.replication.shipCacheMaxMessage) return;
    this.recentBodies.set(lsn, body);
    this.recentBytes += body.length;
    for (const [k, b] of this.recentBodies) {
      if (this.recentBytes <= LIMITS.replication.shipCacheBytes) break;
      this.recentBodies.delete(k);
      this.recentBytes -= b.length;
    }
  }

  /** The body of a just-committed delivery, once (see keepBody). */
  takeRecentBody(lsn: bigint): Buffer | undefined {
    const b = this.recentBodies.get(lsn);
    if (b) {
      this.recentBodies.delete(lsn);
      this.recentBytes -= b.length;
    }
    return b;
  }

  onCommit(listener: (records: readonly JournalRecord[]) => void): () => void {
    this.commitListeners.add(listener);
    return () => this.commitListeners.delete(listener);
  }

  /**
   * Highest LSN whose message files are in place (or never will be: the job
   * failed). Records journaled before this process opened the store count as
   * placed — recovery settles them.
   */
  placedLsn(): bigint {
    return this.placed;
  }

  private notePlaced(records: readonly JournalRecord[]): void {
    const last = records[records.length - 1];
    if (last && last.lsn > this.placed) this.placed = last.lsn;
  }

  private notifyCommitted(records: readonly JournalRecord[]): void {
    this.notePlaced(records);
    for (const l of this.commitListeners) {
      try {
        l(records);
      } catch (err) {
        this.warn('store: commit listener failed', err);
      }
    }
  }

  notifyJournal(records: readonly JournalRecord[]): void {
    this.notePlaced(records);
    this.keeper?.noteRecords(records.length);
    for (const l of this.journalListeners) {
      try {
        l(records);
      } catch (err) {
        this.warn('store: journal listener failed', err);
      }
    }
    this.notifyAccounts(records);
  }

  /** Wait for queued commits and background file work (tests, shutdown). */
  async settle(): Promise<void> {
    await this.committer.idle();
    await Promise.all([...this.discards]);
    await Promise.all([...this.states.values()].map((s) => s.fsIdle()));
    // Not in fsIdle: reindex waits for that under the account mutex, which the facts fill's journal slices take.
    await Promise.all([...this.states.values()].map((s) => s.facts.idle()));
  }

  noteText(st: AccountState, mailboxId: number, appended: readonly number[] | null = null): void {
    this.textIndexer?.note(
      st.key(mailboxId),
      (uids) => {
        if (this.closed) return null;
        return new UserStoreImpl(this, st).catchUpText(mailboxId, uids);
      },
      appended,
    );
  }

  releaseMemory(): void {
    if (this.closed) return;
    if (!this.journal.db.inTransaction) this.journal.db.pragma('shrink_memory');
    for (const st of this.lru.values()) st.releaseMemory();
    releaseFullTextMemory(this);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.textIndexer?.stop();
    await this.keeper?.stop();
    for (const st of this.states.values()) st.facts.stop();
    await this.settle();
    this.closed = true;
    this.spool.close();
    await this.watcher?.close();
    for (const st of this.states.values()) st.dropIndex();
    this.lru.clear();
    closeFullText(this);
    await this.textIndexer?.idle();
    this.journal.close();
  }
}

function sameAccount(a: Account, b: Account): boolean {
  return (
    a.maildir === b.maildir &&
    a.address === b.address &&
    a.login === b.login &&
    a.quotaBytes === b.quotaBytes &&
    a.quotaMessages === b.quotaMessages &&
    a.maxMessageSize === b.maxMessageSize &&
    a.status === b.status
  );
}
