/**
 * Bringing an account's index in line with the journal and the Maildir.
 *
 *  - replay: journal records for the account above the index's applied_lsn
 *    are applied again (files first, then index). Everything acknowledged was
 *    journaled, so nothing acknowledged is lost; application is idempotent.
 *  - reconcile: files in new/ or cur/ that the index does not know are
 *    indexed as new messages (another MDA, mutt, a restored backup); index
 *    rows whose file is gone are expunged; names changed by other programs
 *    become flag changes. Each of these gets journal records like any change.
 *  - import: a Maildir without an index (first use of an existing Maildir,
 *    `roost reindex`) is indexed keeping UIDs from dovecot-uidlist /
 *    courierimapuiddb when present.
 *
 * A delivery that crashed before its journal commit left only a link in the
 * folder's tmp/, which no reader looks at (maildir(5)); it is never adopted,
 * so a client retry cannot produce a duplicate. (One exception, power loss
 * only: a rename into new/ that reached the disk while the WAL frames of its
 * commit did not; reconcile then indexes that file, see ./commit.ts.)
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { LIMITS } from '../limits.js';
import type { AccountState, StoreCore } from './account.js';
import { PACK_MIN, dirMtimes, isOwnName } from './account.js';
import type { MailboxRow, SearchFieldsRow } from './index/db.js';
import { STATE_RENAME, STATE_UNLINK, keptSearchFields } from './index/db.js';
import { searchHeader } from './mime/search-header.js';
import { parseChunks } from './mime/stream.js';
import type { MimeTree } from './mime/types.js';
import type { RecordDraft } from './journal/log.js';
import { flagsFromLetters, flagsKey, normalizeFlags, parseName, targetName } from './maildir/filename.js';
import { readCourierKeywords } from './maildir/courier-keywords.js';
import { INBOX, mailboxDir, nameFromFolderDir } from './maildir/names.js';
import { cleanLeftovers, ensureMaildir } from './maildir/save.js';
import { addNames, listFolderDirs, listMessages, readFound, sortFound, type DiskFile, type FoundMessage } from './maildir/scan.js';
import { readUidList, readUidListSteps } from './maildir/uidlist-import.js';
import { subscribedOnImport } from './maildir/subscriptions.js';
import { keywordIndex, keywordsFromLetters, reloadKeywordTable } from './maildir/keyword-letters.js';
import type { JournalRecord } from './types.js';
import { keywordsDraft, pop3UidlsDrafts, restoreSideFiles, sideFileDrafts } from './side-files.js';

/** See LIMITS.store.importBatch and parseAtReconcile. */
const IMPORT_BATCH = LIMITS.store.importBatch;
const PARSE_AT_RECONCILE = LIMITS.store.parseAtReconcile;
/** Found files parsed at once by reconcile (each holds a descriptor and a read buffer). */
const PARSE_PARALLEL = 16;

/** First open of an account in this process (synchronous: runs inside AccountState.db()). */
export function recoverAccount(core: StoreCore, st: AccountState): void {
  const db = st.db();
  const root = st.account.maildir;
  if (core.isWritable()) ensureMaildir(root, false);
  const recs = core.journal.forAccount(st.id, db.appliedLsn());
  if (recs.length > 0) replay(core, st, recs);
  if (!core.isWritable()) {
    restoreSideFiles(st);
    return;
  }
  // A first open that stopped mid-way (kill -9, power loss) while it wrote its listed rows:
  // the rest, under the UIDs it had given them (clients may have seen them).
  for (const name of db.listings()) drain(importMailbox(core, st, name, new Map(), false, undefined, true));
  if (!db.mailbox(INBOX)) {
    // A reindex or a session's first open (the ones to set deferImport) builds the missing
    // index itself, in slices (importMaildirSliced, importAtFirstOpen), side files included.
    if (st.deferImport) return;
    importMaildir(core, st, new Map());
  } else discoverFolders(core, st);
  afterImport(core, st);
}

/** The rest of an account's first open, once its mailboxes are indexed. */
function afterImport(core: StoreCore, st: AccountState): void {
  const db = st.db();
  // Side files changed while no process had the account open (store/side-files.ts).
  commitNow(core, st, sideFileDrafts(st));
  // After replay (which may still need tmp/ files of committed deliveries).
  for (const mb of db.mailboxes()) cleanLeftovers(path.join(st.dir(mb.name), 'tmp'));
  if (db.hasPending()) st.scheduleFsWork();
  // Facts a lazy first open left provisional (./facts.ts), here or in a process that stopped mid-fill.
  st.facts.resume();
}

function replay(core: StoreCore, st: AccountState, recs: JournalRecord[]): void {
  const extras = {} as Parameters<AccountState['applyFs']>[1];
  for (const r of recs) {
    try {
      st.applyFs(r, extras);
    } catch (err) {
      core.warn(`store: replay of lsn ${r.lsn} (${r.kind}) on files failed`, err);
    }
  }
  st.applyIndex(recs, extras);
}

/** Apply records written synchronously (recovery, import): journal, files, index. */
function commitNow(core: StoreCore, st: AccountState, drafts: RecordDraft[], structures?: Map<string, string>, foundInPlace = false): void {
  if (drafts.length === 0) return;
  const recs = core.journal.append(drafts, core.epoch());
  const extras = { structures };
  for (const r of recs) if (!(foundInPlace && r.kind === 'deliver')) st.applyFs(r, extras);
  st.applyIndex(recs, extras);
  core.notifyJournal(recs);
}

/**
 * commitNow, or for a sliced import the same steps with the journal's WAL
 * synced in the thread pool (Journal.durable) instead of on the loop (a
 * synchronous fdatasync on a busy disk holds every session for as long);
 * files and index follow only once the records are durable, as in commitNow.
 */
function* commitSteps(core: StoreCore, st: AccountState, drafts: RecordDraft[], sliced: boolean, foundInPlace = false): ImportSteps<void> {
  if (!sliced) return commitNow(core, st, drafts, undefined, foundInPlace);
  if (drafts.length === 0) return;
  const recs = core.journal.appendCommitted(drafts, core.epoch());
  yield core.journal.durable();
  const extras = {};
  for (const r of recs) if (!(foundInPlace && r.kind === 'deliver')) st.applyFs(r, extras);
  st.applyIndex(recs, extras);
  core.notifyJournal(recs);
}

/** Folders created on disk by other programs become mailboxes. */
function discoverFolders(core: StoreCore, st: AccountState): void {
  const db = st.db();
  for (const dir of listFolderDirs(st.account.maildir)) {
    const name = nameFromFolderDir(dir);
    if (!name || db.mailbox(name)) continue;
    drain(importMailbox(core, st, name, new Map(), false));
  }
}

/**
 * Where an import may pause: it yields between slices of files and of
 * records, never inside a transaction, and yields a promise where it must
 * wait for one (commitSteps, the listing). The first open drains it at once (it runs
 * inside AccountState.db(), and commits with commitNow); a reindex in the
 * node lets the event loop run at each pause once LIMITS.work.sliceMs has
 * passed, so other users are answered while a big folder is rebuilt.
 */
type ImportSteps<T> = Generator<Promise<unknown> | void, T, unknown>;

/** Files read (a stat each) between two pauses of an import. */
const FILES_PER_STEP = 256;
/** Listed rows per index transaction in a sliced import (about 10 ms of inserts). */
const SLICED_ROWS = 2000;

function drain<T>(steps: ImportSteps<T>): T {
  for (;;) {
    const r = steps.next(undefined);
    if (r.done) return r.value;
    if (r.value) throw new Error('import: a synchronous import cannot wait');
  }
}

async function drainSliced<T>(steps: ImportSteps<T>): Promise<T> {
  let sliceStart = performance.now();
  let answer: unknown;
  for (;;) {
    const r = steps.next(answer);
    answer = undefined;
    if (r.done) return r.value;
    if (r.value) {
      // What the step waited for goes back to it (a directory listing).
      answer = await r.value;
      sliceStart = performance.now();
      continue;
    }
    if (performance.now() - sliceStart < LIMITS.work.sliceMs) continue;
    // setImmediate: pending socket callbacks run first.
    await nextTurn();
    sliceStart = performance.now();
  }
}

/**
 * Index every mailbox of the Maildir. `keep` maps mailbox name → (basename →
 * uid, uidvalidity, uidnext) from a previous index (reindex); UID lists on
 * disk are used where `keep` has nothing.
 */
export function importMaildir(
  core: StoreCore,
  st: AccountState,
  keep: Map<string, KeptUids>,
  onProgress?: (messages: number) => void,
): { mailboxes: number; messages: number } {
  return drain(importMaildirSteps(core, st, keep, false, onProgress));
}

/**
 * The first open of an account from a session (StoreImpl.prepareIndex,
 * before LOGIN's or SELECT's first index use): an index with no INBOX is
 * built as importMaildirSliced builds it — the listing in the thread pool,
 * the rows written SLICED_ROWS at a time with a turn of the event loop
 * between — so other users' commands are answered meanwhile (issue 16 §4).
 * The caller keeps the account's other users out until it ends. Returns
 * whether it imported.
 */
export async function importAtFirstOpen(core: StoreCore, st: AccountState): Promise<boolean> {
  st.deferImport = true;
  try {
    st.db();
  } finally {
    st.deferImport = false;
  }
  if (st.db().mailbox(INBOX)) return false;
  await drainSliced(importMaildirSteps(core, st, new Map(), true));
  afterImport(core, st);
  return true;
}

/**
 * importMaildir, yielding to the event loop between slices (`roost reindex`,
 * and `roost import` through it, in the node). No mailbox cache is built
 * from the rows: no session waits for one (they reselect), and one built
 * here stayed in memory after the rebuild (30 MB at 100,000 messages) until
 * the cache LRU dropped it.
 */
export function importMaildirSliced(
  core: StoreCore,
  st: AccountState,
  keep: Map<string, KeptUids>,
  onProgress?: (messages: number) => void,
): Promise<{ mailboxes: number; messages: number }> {
  return drainSliced(importMaildirSteps(core, st, keep, true, onProgress, false));
}

function* importMaildirSteps(
  core: StoreCore,
  st: AccountState,
  keep: Map<string, KeptUids>,
  sliced: boolean,
  onProgress?: (messages: number) => void,
  seedCaches = true,
): ImportSteps<{ mailboxes: number; messages: number }> {
  let mailboxes = 0;
  let messages = 0;
  const names = [INBOX];
  for (const dir of listFolderDirs(st.account.maildir)) {
    const n = nameFromFolderDir(dir);
    if (n && n !== INBOX) names.push(n);
  }
  for (const name of names) {
    const before = messages;
    messages += yield* importMailbox(core, st, name, keep, sliced, onProgress && ((n) => onProgress(before + n)), false, seedCaches);
    mailboxes++;
  }
  // UIDLs an import recorded from the old server's POP3 (store/side-files.ts).
  yield* commitSteps(core, st, pop3UidlsDrafts(st), sliced);
  return { mailboxes, messages };
}

export interface KeptUids {
  uidvalidity: number;
  uidnext: number;
  /** The \Recent boundary (recent.ts), so a rebuilt index does not call claimed mail recent again. */
  recentUid?: number;
  uids: Map<string, number>;
  specialUse: string | null;
  subscribed: boolean;
  flags: Map<string, string>;
}

function* importMailbox(
  core: StoreCore,
  st: AccountState,
  name: string,
  keep: Map<string, KeptUids>,
  sliced: boolean,
  onProgress?: (messages: number) => void,
  resume = false,
  seedCache = true,
): ImportSteps<number> {
  const dir = mailboxDir(st.account.maildir, name);
  const onDisk = sliced ? yield* readUidListSteps(dir) : readUidList(dir);
  // Resuming (db.listings): the mailbox row, if its create record got in, has the
  // UIDVALIDITY the rows were given; the same list gives them the same UIDs again.
  const resumed = resume ? st.db().mailbox(name) : null;
  // A kept mailbox that never held a message (INBOX made at the account's
  // first open) has no UIDs a client could have cached: a UID list on disk
  // (a migration into it) wins, so UIDVALIDITY and UIDs come across.
  const kept = onDisk && keep.get(name)?.uidnext === 1 ? null : (keep.get(name) ?? null);
  const keptAttrs = keep.get(name) ?? null;
  const list = resumed ? (onDisk?.uidvalidity === resumed.uidvalidity ? onDisk : null) : (kept ?? onDisk);
  // Files the kept index does not know but a UID list of the same UIDVALIDITY
  // names above the kept UIDNEXT (a resumed `roost import imap://…`) keep that UID.
  const extra = kept && onDisk && onDisk.uidvalidity === kept.uidvalidity ? onDisk : null;
  const uidvalidity = resumed ? resumed.uidvalidity : list ? list.uidvalidity : st.nextUidvalidity();
  st.noteUidvalidity(uidvalidity);
  // From the names alone: no file is opened or stat'ed here. Size and
  // RFC822.SIZE come from S= and W= where the name has them, INTERNALDATE from
  // the name's time; the rows are marked lazy and ./facts.ts reads the files.
  let listed: Map<string, DiskFile>;
  if (sliced) {
    // Listed in the thread pool and parsed in parts: 300,000 names take seconds to read and parse.
    listed = new Map();
    for (const sub of ['new', 'cur'] as const) {
      const names = (yield fs.promises.readdir(path.join(dir, sub)).catch(() => [] as string[])) as string[];
      for (let i = 0; i < names.length; i += FILES_PER_STEP) {
        addNames(listed, sub, names, i, Math.min(names.length, i + FILES_PER_STEP));
        yield;
      }
    }
  } else listed = listMessages(dir);
  const found: ReturnType<typeof listedFacts>[] = [];
  for (const f of listed.values()) {
    found.push(listedFacts(f));
    if (sliced && found.length % FILES_PER_STEP === 0) yield;
  }
  yield;
  sortFound(found);
  yield;
  // Files the list knows keep their UID; the rest get new ones above everything listed.
  let next = list ? list.uidnext : 1;
  const used = new Set<number>();
  const assigned = found.map((m) => {
    let u = list?.uids.get(m.basename);
    if (u === undefined && extra && kept) {
      const x = extra.uids.get(m.basename);
      if (x !== undefined && x >= kept.uidnext) u = x;
    }
    if (u !== undefined && !used.has(u)) {
      used.add(u);
      if (u >= next) next = u + 1;
      return u;
    }
    return 0;
  });
  for (let i = 0; i < found.length; i++) if (assigned[i] === 0) assigned[i] = next++;
  // A loop, not Math.max(...assigned): spreading a few hundred thousand arguments overflows the stack.
  const maxUid = assigned.reduce((a, b) => (b > a ? b : a), 0);
  // Until the last slice of rows is in (see db.setListing).
  st.db().setListing(name, true);
  if (!resumed) yield* commitSteps(core, st, [
    {
      accountId: st.id,
      kind: 'mailbox-create',
      data: {
        maildir: st.account.maildir,
        mailbox: name,
        uidvalidity,
        uidnext: Math.max(next, maxUid + 1),
        specialUse: keptAttrs?.specialUse ?? null,
        subscribed: kept?.subscribed ?? subscribedOnImport(st.account.maildir, name),
        // The subscriptions file is not rewritten for these (account.ts changesSubscriptions).
        fromMaildir: true,
      },
    },
  ], sliced);
  const keywordTable = reloadKeywordTable(dir);
  // Courier-IMAP keeps keywords beside the folder instead (./maildir/courier-keywords.ts).
  const courier = readCourierKeywords(dir);
  // The table before the names that use its letters (store/side-files.ts).
  const created = st.db().mailbox(name);
  const kw = created ? keywordsDraft(st, created, keywordTable) : null;
  if (kw) yield* commitSteps(core, st, [kw], sliced);
  // The rows go straight into the index, in one transaction; their deliver
  // records follow in the background, a slice at a time from the mark set
  // here (./facts.ts), so a restart resumes them and the replica gets every
  // row. Nothing acknowledged depends on them: a lost index is imported again.
  const db = st.db();
  // The cache of a big mailbox is built from the same rows (the SELECT that made this first open is about to ask for it).
  const seed = seedCache && found.length >= PACK_MIN && created && !st.caches.has(created.id) ? ([] as unknown[][]) : null;
  if (created) {
    const insert = (from: number, to: number): void => {
      // st.db() each time: the index LRU may close the handle while a sliced import waits.
      const idx = st.db();
      for (let i = from; i < to; i++) {
        const m = found[i]!;
        const keptFlags = kept?.flags.get(m.basename);
        const keywords = keptFlags ? keptFlags.split(' ').filter((f) => f && !f.startsWith('\\')) : [];
        // Dovecot's keyword letters a–z in the name, through the folder's dovecot-keywords.
        const lettered = keywordTable.length > 0 ? keywordsFromLetters(parseName(m.rel.slice(4)).letters, keywordTable) : [];
        const fromCourier = courier.get(m.basename) ?? [];
        const flags = flagsKey(normalizeFlags([...m.flags, ...keywords, ...lettered, ...fromCourier]));
        idx.insertListed(created.id, assigned[i]!, m.basename, m.rel, flags, m.internalDate, m.size, m.vsize);
        seed?.push([assigned[i]!, 1, flags, m.internalDate, m.size, m.vsize, m.basename, m.rel]);
        if ((i + 1) % IMPORT_BATCH === 0) onProgress?.(i + 1);
      }
    };
    // UIDNEXT and the mark go in with the first rows; a sliced import (a rebuild in the node) then
    // inserts SLICED_ROWS at a time with a pause between, so other users are answered meanwhile.
    const step = sliced ? SLICED_ROWS : Math.max(1, found.length);
    db.tx(() => {
      insert(0, Math.min(found.length, step));
      if (maxUid > 0) db.bumpUidnext(created.id, maxUid + 1);
      db.setUnjournaled(created.id, 0, maxUid);
      if (step >= found.length) db.setListing(name, false);
    });
    for (let at = step; at < found.length; at += step) {
      onProgress?.(at);
      yield;
      const to = Math.min(found.length, at + step);
      const idx = st.db();
      idx.tx(() => {
        insert(at, to);
        if (to === found.length) idx.setListing(name, false);
      });
    }
    if (found.length > 0) {
      onProgress?.(found.length);
      core.noteText(st, created.id);
    }
  } else st.db().setListing(name, false);
  const mb = st.db().mailbox(name);
  if (mb) {
    if (keptAttrs?.recentUid !== undefined) st.db().raiseRecent(mb.id, keptAttrs.recentUid);
    st.noteMtimes(mb);
    // Not packed now: the fill's facts replace what a packed list would hold (./facts.ts).
    if (seed) st.seedCache(mb, seed.sort((x, y) => (x[0] as number) - (y[0] as number)));
  }
  return found.length;
}

/**
 * What a listed file's name says (provisional until ./facts.ts reads the
 * file): S= for the size, W= for RFC822.SIZE (else the size), the
 * seconds the name begins with for INTERNALDATE (maildir(5): the delivery time).
 */
function listedFacts(f: DiskFile): Pick<FoundMessage, 'basename' | 'rel' | 'flags' | 'size' | 'vsize' | 'internalDate'> {
  const p = parseName(f.rel.slice(4));
  const size = p.size ?? 0;
  const secs = /^\d+/.exec(f.basename);
  return { basename: f.basename, rel: f.rel, flags: flagsFromLetters(f.letters), size, vsize: p.vsize ?? size, internalDate: secs ? Number(secs[0]) * 1000 : 0 };
}

export function deliverDraft(
  st: AccountState,
  mailbox: string,
  uidvalidity: number,
  uid: number,
  modseq: number,
  m: Pick<FoundMessage, 'basename' | 'rel' | 'size' | 'vsize' | 'internalDate'>,
  flags: string[],
  external: boolean,
): RecordDraft {
  return {
    accountId: st.id,
    kind: 'deliver',
    data: {
      maildir: st.account.maildir,
      mailbox,
      uidvalidity,
      uid,
      modseq: String(modseq),
      basename: m.basename,
      filename: m.rel,
      tmp: '',
      flags,
      internalDate: m.internalDate,
      size: m.size,
      vsize: m.vsize,
      external,
    },
  };
}

/** Whether new/ or cur/ changed since the index last looked (checked when a mailbox is opened). */
export function looksChanged(st: AccountState, mb: MailboxRow): boolean {
  const m = dirMtimes(st.dir(mb.name));
  return m.newMtime !== mb.new_mtime || m.curMtime !== mb.cur_mtime;
}

/** Compare one mailbox with its directory and commit the differences. */
export async function reconcileMailbox(core: StoreCore, st: AccountState, name: string): Promise<void> {
  await st.mutex.run(async () => {
    const mb = st.mailbox(name);
    if (!mb) return;
    const dir = st.dir(name);
    if (!fs.existsSync(dir)) return;
    const disk = listMessages(dir);
    const rows = st.db().allRows(mb.id);
    const table = reloadKeywordTable(dir);
    // Rows another process indexed (its files are what woke the watcher).
    const c = st.caches.get(mb.id);
    if (c) {
      const live = rows.filter((r) => r.state !== STATE_UNLINK);
      if (live.length !== c.count || live.some((r) => c.get(r.uid)?.modseq !== BigInt(r.modseq))) st.refreshFromDb(mb, true);
    }
    const known = new Set(rows.map((r) => r.basename));
    const expunged: number[] = [];
    const renamed: { uid: number; flags: string[]; filename: string }[] = [];
    for (const r of rows) {
      if (r.state === STATE_UNLINK) continue;
      const f = disk.get(r.basename);
      if (!f) {
        expunged.push(r.uid);
        continue;
      }
      // Our own names (the file work may be between rename and record, or a
      // crash came there): never read back as a flag change. The index is
      // newer than any name it gave the file.
      if (isOwnName(r, f.rel, table)) continue;
      // Keywords with a letter are as the name says (Dovecot or another tool
      // changed them); those past the 26th live only in the index.
      const unlettered = r.flags.split(' ').filter((x) => x && !x.startsWith('\\') && keywordIndex(x, table) < 0);
      const lettered = keywordsFromLetters(f.letters, table);
      renamed.push({ uid: r.uid, flags: normalizeFlags([...flagsFromLetters(f.letters), ...unlettered, ...lettered]), filename: f.rel });
    }
    const found: FoundMessage[] = [];
    for (const f of disk.values()) {
      if (known.has(f.basename) || st.inflight.has(`${mb.id}/${f.basename}`)) continue;
      // Bytes kept for parsing the structure now only for a handful; the rest are parsed on first access.
      const m = readFound(dir, f);
      if (m) found.push(m);
    }
    sortFound(found);
    if (!core.isWritable() || (expunged.length === 0 && renamed.length === 0 && found.length === 0)) {
      st.noteMtimes(mb);
      return;
    }
    const structures = new Map<string, string>();
    const sortKeys = new Map<string, string>();
    const searchFields = new Map<string, SearchFieldsRow>();
    // A handful are parsed now, before the commit and off the event loop (build() below runs
    // synchronously inside the group commit, where every other change of the process waits);
    // the rest on first access.
    const parsed = await parseFound(dir, found.slice(0, PARSE_AT_RECONCILE));
    await core.committer.submit({
    accounts: [st.id],
      build: () => {
        const db = st.db();
        const drafts: RecordDraft[] = [];
        const base = { maildir: st.account.maildir, mailbox: name, uidvalidity: mb.uidvalidity };
        // Another program's dovecot-keywords first: the names below use its letters.
        const kw = keywordsDraft(st, mb, table);
        if (kw) drafts.push(kw);
        if (expunged.length > 0) {
          drafts.push({ accountId: st.id, kind: 'expunge', data: { ...base, modseq: String(db.allocModseq(mb.id)), uids: expunged } });
        }
        if (renamed.length > 0) {
          const groups = new Map<string, { flags: string[]; uids: number[]; filenames: string[] }>();
          for (const r of renamed) {
            const k = flagsKey(r.flags);
            let g = groups.get(k);
            if (!g) groups.set(k, (g = { flags: r.flags, uids: [], filenames: [] }));
            g.uids.push(r.uid);
            g.filenames.push(r.filename);
          }
          drafts.push({ accountId: st.id, kind: 'flags', data: { ...base, modseq: String(db.allocModseq(mb.id)), updates: [...groups.values()] } });
        }
        if (found.length > 0) {
          const first = db.allocUids(mb.id, found.length);
          const modseq = db.allocModseq(mb.id);
          found.forEach((m, i) => {
            drafts.push(deliverDraft(st, name, mb.uidvalidity, first + i, modseq, m, m.flags, true));
            const p = parsed[i];
            if (p) {
              structures.set(`${name}\u0000${first + i}`, JSON.stringify(p.tree));
              sortKeys.set(`${name}\u0000${first + i}`, JSON.stringify(p.tree.sort));
              if (p.fields) searchFields.set(`${name}\u0000${first + i}`, p.fields);
            }
          });
        }
        return drafts;
      },
      finish: (recs) => {
        st.applyIndex(recs, { structures, sortKeys, searchFields });
        const again = st.mailbox(name);
        if (again) st.noteMtimes(again);
      },
    });
  });
}

/** Remove an index database and its WAL files (reindex starts from nothing). */
export function removeIndexFiles(file: string): void {
  for (const suffix of ['', '-wal', '-shm']) {
    try {
      fs.unlinkSync(file + suffix);
    } catch {
      // Not there.
    }
  }
}

/**
 * The structure of each file found at reconcile (a message another program
 * dropped in), parsed from the file in chunks through the thread pool, and
 * its search fields from its header block, so SUBJECT/FROM/HEADER searches
 * never read it (none past LIMITS.store.searchHeadBytes: the first SEARCH
 * stores those); null for a file gone or unreadable meanwhile.
 */
async function parseFound(dir: string, found: readonly FoundMessage[]): Promise<({ tree: MimeTree; fields: SearchFieldsRow | null } | null)[]> {
  const out: ({ tree: MimeTree; fields: SearchFieldsRow | null } | null)[] = [];
  // A few files at a time: parseAtReconcile of them at once would be as many open descriptors.
  for (let k = 0; k < found.length; k += PARSE_PARALLEL) out.push(...(await Promise.all(found.slice(k, k + PARSE_PARALLEL).map((m) => parseOne(dir, m)))));
  return out;
}

async function parseOne(dir: string, m: FoundMessage): Promise<{ tree: MimeTree; fields: SearchFieldsRow | null } | null> {
  const file = path.join(dir, m.rel);
  try {
    const tree = await parseChunks(fs.createReadStream(file, { highWaterMark: LIMITS.store.readChunkBytes }));
    const n = tree.bodyStart - tree.headerStart;
    if (n > LIMITS.store.searchHeadBytes) return { tree, fields: null };
    const fh = await fsp.open(file, 'r');
    try {
      const buf = Buffer.allocUnsafe(n);
      const { bytesRead } = await fh.read(buf, 0, n, tree.headerStart);
      return { tree, fields: keptSearchFields(searchHeader(buf, 0, bytesRead)) };
    } finally {
      await fh.close();
    }
  } catch {
    return null;
  }
}
