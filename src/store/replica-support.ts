/**
 * ReplicationSupport: what src/replication needs beyond the
 * journal. A replica applies the primary's records with the same LSNs, file
 * names, UIDs, UIDVALIDITY and modseqs through the same applyFs/applyIndex
 * code the primary used, so both sides run one implementation.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { Account } from '../accounts/directory.js';
import { RoostError } from '../errors.js';
import { Mutex, type AccountState } from './account.js';
import { findByBasename } from './maildir/scan.js';
import { fsyncDir, ensureMaildir } from './maildir/save.js';
import { placeDurable, readWhole } from './maildir/fd.js';
import { addQuotaDelta } from './maildir/quota.js';
import { INBOX, mailboxDir } from './maildir/names.js';
import { parseMessage } from './mime/parse.js';
import { parseChunks } from './mime/stream.js';
import { LIMITS } from '../limits.js';
import type { StoreInterior } from './interior.js';
import { accountHasMail, clearStaging, confirmArrival, discardArrival, installMoved, prepareRound, preparedMove, purgeMoved, stageImage, stageWriter, type PreparedMove } from './move-install.js';
import { installFiles, installIndex, openSnapshotFile, readSnapshotFile, takeSnapshot } from './account-snapshot.js';
import type { AccountMoves, AccountSnapshot, JournalInfo, ReplicaBody, ReplicationSupport, SnapshotFile } from './store.js';
import type { JournalRecord } from './types.js';
import { asKind, withData, type AccountData, type RecordOf } from './journal/records.js';

const APPLIED_KEY = 'replica_applied_lsn';

/** The MIME structure of a replicated body, as the index stores it: a file body is parsed from the file in chunks. */
/**
 * The extras (structure and its sort keys, as delivery keeps them) for a
 * replicated message's body; none when it does not parse. The sort keys are
 * given, so setStructure need not parse the structure's JSON back for them.
 */
async function structureExtras(key: string, body: ReplicaBody): Promise<Parameters<AccountState['applyFs']>[1]> {
  try {
    const tree = Buffer.isBuffer(body) ? parseMessage(body) : await parseChunks(fs.createReadStream(body.file, { highWaterMark: LIMITS.store.readChunkBytes }));
    return { structures: new Map([[key, JSON.stringify(tree)]]), sortKeys: new Map([[key, JSON.stringify(tree.sort)]]) };
  } catch {
    // Parsed on first access instead.
    return {};
  }
}

/**
 * The account row an 'account' record of the first releases carried in
 * place of directory changes (id, maildir, quotas, status): remembered as
 * before. Null for every record this release writes.
 */
function legacyAccountRow(data: AccountData): Account | null {
  const a = data as unknown as Partial<Record<keyof Account, unknown>>;
  const ok =
    typeof a.id === 'string' &&
    typeof a.address === 'string' &&
    typeof a.login === 'string' &&
    typeof a.maildir === 'string' &&
    typeof a.quotaBytes === 'number' &&
    typeof a.quotaMessages === 'number' &&
    typeof a.maxMessageSize === 'number' &&
    typeof a.status === 'string';
  return ok ? (data as unknown as Account) : null;
}

export class ReplicationImpl implements ReplicationSupport {
  private applied: bigint | null = null;
  /** The role followRole last saw, for its edges (a new store is writable). */
  private wasWritable = true;
  private readonly chain = new Mutex();
  /** Accounts whose index this process has seen the stream pass (see inSnapshot). */
  private readonly caughtUp = new Set<string>();
  /** Moves arriving here: what their catch-up rounds placed in staging (move-install.ts). */
  private readonly prepared = new Map<string, PreparedMove>();

  readonly moves: AccountMoves;

  constructor(private readonly store: StoreInterior) {
    const st = store;
    this.moves = {
      claim: (id) => st.freezer.claim(id),
      release: (id) => st.freezer.release(id),
      freeze: (id) => st.freezer.freeze(id),
      thaw: (id) => st.freezer.thaw(id),
      committed: (next) => (next ? st.committer.nextBatch() : st.committer.inFlight()),
      markMoved: (id, host) => {
        st.freezer.markMoved(id, host);
        // Open sessions on the account hear 'gone' and end (IMAP BYE): they would show a copy that no longer changes.
        st.forgetAccount(id);
      },
      movedTo: (id) => st.freezer.movedTo(id),
      purge: (account) => purgeMoved(st, account),
      hasMail: (account) => accountHasMail(st, account),
      stage: (id, file) => stageWriter(st, id, file),
      clearStaging: (id) => {
        this.prepared.delete(id);
        return clearStaging(st, id);
      },
      prepareRound: (id, files) => prepareRound(st, id, files, this.preparing(id)),
      stageImage: (id, image) => stageImage(st, id, image, this.preparing(id)),
      install: (account, image) => this.chain.run(() => installMoved(st, account, image, this.preparing(account.id))),
      confirm: (id) => confirmArrival(st, id),
      discard: (id) => {
        this.prepared.delete(id);
        return this.chain.run(() => discardArrival(st, id));
      },
      followerResyncPending: () => st.freezer.followerResyncPending(),
      followerResynced: () => st.freezer.followerResynced(),
    };
  }

  private preparing(accountId: string): PreparedMove {
    let p = this.prepared.get(accountId);
    if (!p) this.prepared.set(accountId, (p = preparedMove()));
    return p;
  }

  private account(rec: JournalRecord): AccountState {
    const known = this.store.stateById(rec.accountId);
    if (known) return known;
    const maildir = rec.kind === 'account' ? '' : (rec.data.maildir ?? '');
    if (!maildir) throw new RoostError('NOTFOUND', `unknown account ${rec.accountId}`);
    const a: Account = {
      id: rec.accountId,
      address: rec.accountId,
      login: rec.accountId,
      maildir,
      quotaBytes: 0,
      quotaMessages: 0,
      maxMessageSize: 0,
      status: 'active',
    };
    return this.store.state(a);
  }

  async openDelivered(record: JournalRecord): Promise<Readable> {
    return this.withDelivered(record, async (file) => (await fsp.open(file, 'r')).createReadStream({ autoClose: true }));
  }

  readDelivered(record: JournalRecord): Promise<Buffer> {
    const kept = this.store.takeRecentBody(record.lsn);
    if (kept) return Promise.resolve(kept);
    return this.withDelivered(record, (file) => readWhole(file, record.kind === 'deliver' ? record.data.size : undefined));
  }

  /** Run `use` on the file of a 'deliver' record wherever it is now (ENOENT: looked up again); NOTFOUND when gone. */
  private async withDelivered<T>(record: JournalRecord, use: (file: string) => Promise<T>): Promise<T> {
    if (record.kind !== 'deliver') throw new RoostError('NOTFOUND', 'not a deliver record');
    const st = this.account(record);
    const d = record.data;
    // The mailbox may have been renamed since: UIDVALIDITY survives a rename
    // and is unique within the account, so it finds the mailbox.
    const uv = d.uidvalidity;
    const rows = st.db().mailboxes();
    const mb = rows.find((r) => r.name === d.mailbox && r.uidvalidity === uv) ?? rows.find((r) => r.uidvalidity === uv) ?? null;
    const dir = mailboxDir(st.account.maildir, mb ? mb.name : d.mailbox);
    const want = { uid: d.uid, basename: d.basename, filename: d.filename, diskName: d.filename };
    for (let attempt = 0; attempt < 3; attempt++) {
      // A background flag rename may move the file between looking and opening.
      const n = attempt === 0 ? want.filename : mb ? st.locate(mb.id, dir, want) : findByBasename(dir, want.basename);
      if (n === null) break;
      try {
        return await use(path.join(dir, n));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    throw new RoostError('NOTFOUND', `message ${d.basename} is gone`);
  }

  apply(record: JournalRecord, body: ReplicaBody | null): Promise<void> {
    return this.chain.run(() => this.applyOne(record, body));
  }

  /**
   * Apply a run of records in LSN order, as apply() would one by one, but
   * with consecutive deliveries group-committed: their files are written and
   * fdatasync'd in parallel, then one journal transaction for all of them
   * (its WAL fdatasync shared, ./journal/log.ts), renames, one fsync per
   * directory and one index transaction per account. Other kinds go one at
   * a time through applyOne. Durable when it resolves.
   */
  applyBatch(items: readonly { record: JournalRecord; body: ReplicaBody | null }[]): Promise<void> {
    return this.chain.run(async () => {
      let run: { record: JournalRecord; body: ReplicaBody | null }[] = [];
      for (const it of items) {
        if (it.record.kind === 'deliver') {
          run.push(it);
          continue;
        }
        if (run.length > 0) await this.applyDeliveries(run);
        run = [];
        await this.applyOne(it.record, it.body);
      }
      if (run.length > 0) await this.applyDeliveries(run);
    });
  }

  private async applyDeliveries(items: readonly { record: JournalRecord; body: ReplicaBody | null }[]): Promise<void> {
    const todo: { st: AccountState; rec: RecordOf<'deliver'>; extras: Parameters<AccountState['applyFs']>[1] }[] = [];
    /** Every new record in LSN order, the ones a snapshot already holds included (journaled, not applied). */
    const journaled: JournalRecord[] = [];
    const writes: Promise<void>[] = [];
    // Items come in LSN order: anything at or below the last one taken is a repeat.
    let last = this.appliedLsn();
    for (const { record, body } of items) {
      let rec = asKind(record, 'deliver');
      if (rec.lsn <= last) continue;
      last = rec.lsn;
      const st = this.account(rec);
      if (this.inSnapshot(st, rec)) {
        journaled.push(rec);
        continue;
      }
      const d = rec.data;
      const dir = mailboxDir(st.account.maildir, d.mailbox);
      ensureMaildir(dir, d.mailbox !== INBOX);
      const extras: Parameters<AccountState['applyFs']>[1] = {};
      // A record above the applied LSN cannot have been renamed by a later flag change (those
      // come after it), so its file is at `filename` or nowhere: no directory scan needed.
      if (!fs.existsSync(path.join(dir, d.filename))) {
        if (!body) {
          // The primary no longer has it (expunged since); a later expunge record covers it.
          extras.lost = new Set([rec.lsn]);
        } else {
          const tmp = path.join(dir, d.tmp || `tmp/${d.basename}`);
          writes.push(placeDurable(tmp, body, new Date(d.internalDate)));
          rec = withData(rec, { ...d, tmp: path.relative(dir, tmp) });
        }
      }
      if (body && !extras.lost) Object.assign(extras, await structureExtras(`${d.mailbox}\u0000${d.uid}`, body));
      todo.push({ st, rec, extras });
      journaled.push(rec);
    }
    if (journaled.length === 0) return;
    // Data first, as in applyOne: a durable record never names a file whose bytes are not.
    await Promise.all(writes);
    const recs = journaled;
    this.store.journal.appendAtCommitted(recs, APPLIED_KEY);
    const walSynced = this.store.journal.durable();
    // Renames may precede the WAL fdatasync: see the invariant in ./commit.ts.
    const dirs = new Set<string>();
    for (const t of todo) {
      if (t.extras.lost) continue;
      for (const x of t.st.applyFs(t.rec, t.extras)) dirs.add(x);
    }
    await Promise.all([walSynced, ...[...dirs].map((x) => fsyncDir(x).catch(() => undefined))]);
    this.applied = recs[recs.length - 1]!.lsn;
    const byAccount = new Map<AccountState, { recs: RecordOf<'deliver'>[]; extras: Parameters<AccountState['applyFs']>[1] }>();
    for (const t of todo) {
      let g = byAccount.get(t.st);
      if (!g) byAccount.set(t.st, (g = { recs: [], extras: { structures: new Map(), sortKeys: new Map(), lost: new Set() } }));
      g.recs.push(t.rec);
      for (const [k, v] of t.extras.structures ?? []) g.extras.structures!.set(k, v);
      for (const [k, v] of t.extras.sortKeys ?? []) g.extras.sortKeys!.set(k, v);
      for (const l of t.extras.lost ?? []) g.extras.lost!.add(l);
      for (const [k, v] of t.extras.renamedTo ?? []) (g.extras.renamedTo ??= new Map()).set(k, v);
    }
    const deltas: Promise<void>[] = [];
    for (const [st, g] of byAccount) {
      st.applyIndex(g.recs, g.extras);
      // maildirsize follows deliveries here as on the primary (expunges subtract in file-work.ts).
      for (const r of g.recs) if (!g.extras.lost?.has(r.lsn)) deltas.push(addQuotaDelta(st.account, r.data.size, 1));
    }
    this.store.notifyJournal(recs);
    await Promise.all(deltas);
  }

  private async applyOne(rec: JournalRecord, body: ReplicaBody | null): Promise<void> {
    if (rec.lsn <= this.appliedLsn()) return;
    if (rec.kind === 'account') {
      const a = legacyAccountRow(rec.data);
      if (a) this.store.journal.rememberAccount(a);
      this.store.journal.appendAt(rec, APPLIED_KEY);
      this.applied = rec.lsn;
      // The embedded directory follows these through onJournal (src/accounts/journaled.ts), before the ack.
      this.store.notifyJournal([rec]);
      return;
    }
    const st = this.account(rec);
    if (this.inSnapshot(st, rec)) {
      this.store.journal.appendAt(rec, APPLIED_KEY);
      this.applied = rec.lsn;
      return;
    }
    if (rec.kind === 'deliver') {
      const d = rec.data;
      const dir = mailboxDir(st.account.maildir, d.mailbox);
      ensureMaildir(dir, d.mailbox !== INBOX);
      const target = path.join(dir, d.filename);
      if (!fs.existsSync(target)) {
        if (!body) {
          // The primary no longer has it (expunged since: openDelivered said
          // NOTFOUND). Journal the record; a later expunge record covers it.
          this.store.journal.appendAt(rec, APPLIED_KEY);
          this.applied = rec.lsn;
          st.applyIndex([rec], { lost: new Set([rec.lsn]) });
          this.store.notifyJournal([rec]);
          return;
        }
        const tmp = path.join(dir, d.tmp || `tmp/${d.basename}`);
        await placeDurable(tmp, body, new Date(d.internalDate));
        rec = withData(rec, { ...d, tmp: path.relative(dir, tmp) });
      }
    }
    this.store.journal.appendAt(rec, APPLIED_KEY);
    this.applied = rec.lsn;
    const extras = rec.kind === 'deliver' && body ? await structureExtras(`${rec.data.mailbox}\u0000${rec.data.uid}`, body) : {};
    const dirs = st.applyFs(rec, extras);
    await Promise.all([...new Set(dirs)].map((x) => fsyncDir(x).catch(() => undefined)));
    st.applyIndex([rec], extras);
    if (rec.kind === 'deliver' && !extras.lost?.has(rec.lsn)) await addQuotaDelta(st.account, rec.data.size, 1);
    this.store.notifyJournal([rec]);
  }

  /**
   * A node's own records count as applied: a primary that steps down holds
   * everything up to its journal head, though it received none of it.
   */
  /**
   * A record the account's index already reflects: after a snapshot the
   * stream starts at or below each account's image, and those records are
   * journaled without being applied again. Once a record above the index's
   * applied LSN has come, no later one can be below it, so the index is
   * asked once per account and process, not per record. Opening the index
   * here also runs recovery before new records land.
   */
  private inSnapshot(st: AccountState, rec: JournalRecord): boolean {
    const db = st.db();
    if (this.caughtUp.has(st.id)) return false;
    if (rec.lsn <= db.appliedLsn()) return true;
    this.caughtUp.add(st.id);
    return false;
  }

  appliedLsn(): bigint {
    if (this.applied === null) {
      const received = BigInt(this.store.journal.meta(APPLIED_KEY) ?? '0');
      const own = this.store.journal.lastLsn();
      this.applied = own > received ? own : received;
    }
    return this.applied;
  }

  setEpoch(epoch: number): void {
    this.store.currentEpoch = epoch;
    this.store.journal.setMeta('epoch', String(epoch));
  }

  followRole(isPrimary: () => boolean): void {
    this.store.writableSource = isPrimary;
    const writable = isPrimary();
    if (writable === this.wasWritable) return;
    this.wasWritable = writable;
    if (writable) this.store.recoverAgainWhenWritable();
    // Stepping down: the records written as primary are applied (appliedLsn reads the head again).
    else this.applied = null;
  }

  setWritable(writable: boolean): void {
    this.followRole(() => writable);
  }

  /**
   * Full resync on a replica: remove every known account's Maildir and
   * index and empty the journal, so the primary's journal applies from LSN 1.
   */
  async reset(): Promise<void> {
    if (this.store.isWritable()) throw new RoostError('NOPERM', 'reset is for replicas only');
    await this.chain.run(async () => {
      await this.store.settle();
      const ids = this.store.journal.accountIds();
      const maildirs = ids.map((id) => this.store.journal.account(id)?.maildir).filter((m): m is string => !!m);
      this.store.forgetAccounts();
      this.caughtUp.clear();
      for (const m of maildirs) await fsp.rm(m, { recursive: true, force: true });
      this.store.journal.clear(APPLIED_KEY);
      this.applied = 0n;
    });
  }

  async listAccountIds(): Promise<readonly string[]> {
    return this.store.journal.accountIds();
  }

  // --- Bounded journal and snapshots (./journal/keeper.ts, ./snapshot.ts) ---

  journalInfo(): JournalInfo {
    const j = this.store.journal;
    const s = this.store.keeper?.status() ?? { firstLsn: j.firstLsn(), lastLsn: j.lastLsn(), usedBytes: j.usedBytes(), maxBytes: null, pruned: 0 };
    return { ...s, firstLsn: s.firstLsn.toString(), lastLsn: s.lastLsn.toString() };
  }

  pinJournal(lsn: bigint): () => void {
    return this.store.keeper ? this.store.keeper.pin(lsn) : () => undefined;
  }

  async snapshotAccount(accountId: string): Promise<AccountSnapshot | null> {
    return takeSnapshot(this.store, accountId);
  }

  readSnapshotFile(accountId: string, file: SnapshotFile): Promise<Buffer | null> {
    return readSnapshotFile(this.store, accountId, file);
  }

  installSnapshot(account: Account, image: Buffer): Promise<void> {
    if (this.store.isWritable()) return Promise.reject(new RoostError('NOPERM', 'snapshots are installed on replicas only'));
    this.caughtUp.delete(account.id);
    return this.chain.run(() => installIndex(this.store, account, image, this.store.indexFile(account.id)));
  }

  openSnapshotFile(accountId: string, file: SnapshotFile): Promise<Readable | null> {
    return openSnapshotFile(this.store, accountId, file);
  }

  installSnapshotFiles(account: Account, items: readonly { file: SnapshotFile; body: ReplicaBody }[]): Promise<void> {
    return installFiles(account, items);
  }

  finishSnapshot(lsn: bigint): Promise<void> {
    return this.chain.run(async () => {
      this.store.journal.startAt(lsn, APPLIED_KEY);
      this.applied = lsn;
    });
  }
}


