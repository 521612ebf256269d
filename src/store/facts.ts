/**
 * Facts of messages a lazy first open indexed from their names alone
 * (issue 16 §4: a Maildir pointed at with mail_dir, restored from backup,
 * written by another tool). That open lists the folder and gives each file
 * its UID and flags (./recovery.ts) without opening or stat'ing it, so the
 * first SELECT of 100,000 messages does not wait for 100,000 files. Its
 * rows carry provisional facts — size and RFC822.SIZE from S= and W= in the
 * name where present, INTERNALDATE from the name's time — marked
 * `lazy` in the index. The facts read from the file (the same reading as an
 * eager index: ./maildir/scan.ts readFound) then replace them:
 *
 *  - in the background, a slice at a time (LIMITS.store.factsSliceFiles
 *    files or factsSliceMs, whichever comes first), yielding to the event
 *    loop between slices so other users' commands are answered meanwhile;
 *  - on demand, for the messages a FETCH, SEARCH, SORT, COPY or a POP3
 *    listing is about to show (MailboxHandle.ensureFacts), in the same slices.
 *
 * Each slice is one 'facts' journal record applied like any change
 * (account.ts applyIndex), so a replica gets the primary's values
 * (INTERNALDATE is the primary's file mtime) and a restart resumes from the
 * rows still marked lazy. A replica reads no file for them: it waits for
 * the records.
 */
import fs from 'node:fs';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { LIMITS } from '../limits.js';
import type { AccountView } from './account-view.js';
import type { RecordDraft } from './journal/log.js';
import { keptSearchFields, STATE_UNLINK, type MailboxRow, type MessageRow } from './index/db.js';
import { countBareLf, readFound } from './maildir/scan.js';
import { parseName } from './maildir/filename.js';
import { MimeStreamParser } from './mime/stream.js';
import { searchHeader, type SearchHeader } from './mime/search-header.js';
import type { MimeTree } from './mime/types.js';
import { demandIdle, onDemand } from './demand.js';

/**
 * A file read whole and parsed once: its facts, MIME structure and search
 * fields (null when the header is past LIMITS.store.searchHeadBytes, as
 * MailboxHandle.structure leaves it to the first SEARCH).
 */
export interface Parsed {
  readonly uid: number;
  readonly facts: Facts;
  readonly tree: MimeTree;
  readonly header: SearchHeader | null;
}

/**
 * One read buffer for every readParsed, not an allocation per file: nothing
 * keeps its bytes (the parser copies what it keeps, the search fields are
 * strings) and nothing in between yields.
 */
let readBuffer: Buffer | null = null;

/**
 * Read and parse the file `rel` of `dir` in one synchronous step: the facts
 * exactly as readFound gives them (W= from the name where present, else the
 * size plus the bare LFs counted) and the structure the on-demand parse
 * (MailboxHandle.structure) would store. Null when it cannot be read;
 * 'big' past LIMITS.store.quickReadMaxBytes (never read whole: the caller
 * reads its facts alone and its structure is parsed in chunks on demand).
 */
export function readParsed(dir: string, uid: number, rel: string): Parsed | 'big' | null {
  let fd: number;
  try {
    fd = fs.openSync(path.join(dir, rel), 'r');
  } catch {
    return null;
  }
  try {
    const st = fs.fstatSync(fd);
    if (st.size > LIMITS.store.quickReadMaxBytes) return 'big';
    const buf = (readBuffer ??= Buffer.allocUnsafe(LIMITS.store.quickReadMaxBytes)).subarray(0, st.size);
    let got = 0;
    while (got < buf.length) {
      const n = fs.readSync(fd, buf, got, buf.length - got, got);
      if (n === 0) break;
      got += n;
    }
    const data = buf.subarray(0, got);
    const named = parseName(rel.slice(4)).vsize;
    const vsize = named !== undefined && named !== null ? named : st.size + countBareLf(data);
    const parser = new MimeStreamParser();
    parser.push(data);
    const tree = parser.end();
    const header = tree.bodyStart - tree.headerStart <= LIMITS.store.searchHeadBytes ? searchHeader(data, tree.headerStart, tree.bodyStart) : null;
    return { uid, facts: [uid, st.size, vsize, Math.floor(st.mtimeMs)], tree, header };
  } catch {
    return null;
  } finally {
    fs.closeSync(fd);
  }
}

/** Read at each use (tests lower them to cut a small Maildir into many slices). */
const sliceFiles = (): number => LIMITS.store.factsSliceFiles;
const sliceMs = (): number => LIMITS.store.factsSliceMs;

/** A provisional row: [uid, basename, disk_name]. */
/** What the fill uses of its account (./account.ts FactsHost), declared here so the two modules do not import each other. */
export interface FactsHost extends AccountView {
  readonly mutex: { run<T>(fn: () => Promise<T>): Promise<T> };
  setFacts(mb: MailboxRow, facts: readonly (readonly [number, number, number, number])[]): void;
  locate(mailboxId: number, dir: string, e: { uid: number; basename: string; diskName: string; filename?: string }): string | null;
}

export type LazyRow = readonly [number, string, string];
/** Facts read from a file: [uid, size, vsize, internalDate]. */
export type Facts = [number, number, number, number];

/**
 * One slice: rows from `from` on, read with `read` until `maxFiles` files
 * or `maxMs` by `clock` (at least one file). Returns the facts read (a file
 * that could not be read is left out: it stays provisional) and where the
 * next slice starts.
 */
export function sliceFacts(
  rows: readonly LazyRow[],
  from: number,
  read: (row: LazyRow) => Facts | null,
  clock: () => number = () => performance.now(),
  maxFiles = sliceFiles(),
  maxMs = sliceMs(),
): { facts: Facts[]; next: number } {
  const t0 = clock();
  const facts: Facts[] = [];
  let i = from;
  while (i < rows.length && i - from < maxFiles && (i === from || clock() - t0 < maxMs)) {
    const f = read(rows[i]!);
    if (f) facts.push(f);
    i++;
  }
  return { facts, next: i };
}

const yieldToLoop = (): Promise<void> => new Promise((r) => setImmediate(r));

export class FactsFill {
  running = false;
  private stopped = false;
  private again = false;
  private done: (() => void)[] = [];
  /** Mailbox ids with provisional rows, as far as this process knows. */
  private readonly lazy = new Set<number>();
  /**
   * Mailbox ids that had provisional rows in this process and may still
   * hold rows without a stored structure (the background fill reads facts
   * only): ensure(…, structure) looks for them there, and nowhere else —
   * mail delivered the ordinary way has its structure stored at delivery.
   */
  private readonly unparsed = new Set<number>();

  constructor(private readonly st: FactsHost) {}

  /** A mailbox got provisional rows (applyIndex): fill them in the background. */
  note(mailboxId: number): void {
    this.unparsed.add(mailboxId);
    if (this.lazy.has(mailboxId)) return;
    this.lazy.add(mailboxId);
    this.schedule();
  }

  /**
   * After recovery or an import: rows still to be journaled, and the
   * mailboxes with provisional rows (a restart mid-fill resumes both).
   */
  resume(): void {
    const db = this.st.db();
    if (db.unjournaled().length > 0) this.schedule();
    for (const id of db.lazyMailboxes()) this.note(id);
  }

  /**
   * Journal the deliver records of rows a lazy first open wrote straight
   * into the index (../recovery.ts importMailbox), a slice at a time from
   * the mark the index keeps, so replication ships them and replay knows
   * them. The facts of the slice's provisional rows are read first: a
   * record carries the exact size (the replica checks the body it gets
   * against it) and INTERNALDATE. Each record is built from the row as it
   * is then — flags changed since are in it — and expunged rows are left
   * out (their expunge record went out already). One pass at a time.
   */
  journalPending(): Promise<void> {
    if (!this.st.core.isWritable()) return Promise.resolve();
    return (this.journaling ??= this.journalAll(false).finally(() => (this.journaling = null)));
  }
  private journaling: Promise<void> | null = null;

  /** journalPending for a caller that holds the account mutex (reindex). */
  journalLocked(): Promise<void> {
    return this.st.core.isWritable() ? this.journalAll(true) : Promise.resolve();
  }

  /**
   * Slices until no mark is left. Each runs under the account mutex, as
   * STORE, EXPUNGE, COPY and reconcile do: a flag change either is in the
   * index before the slice reads its rows, or is journaled after the
   * slice's deliver records (the replica applies it to rows it has).
   */
  private async journalAll(locked: boolean): Promise<void> {
    for (;;) {
      // A client's fill first (./demand.ts); under a reindex's mutex no fill is waited for.
      if (!locked) await demandIdle();
      if (this.stopped) return;
      const more = locked ? await this.journalSlice() : await this.st.mutex.run(() => this.journalSlice());
      if (!more) return;
      await yieldToLoop();
    }
  }

  /** One slice of the first mark (read afresh: a reindex in between brings its own); false when none is left. */
  private async journalSlice(): Promise<boolean> {
    const st = this.st;
    if (this.stopped) return false;
    const db = st.db();
    const first = db.unjournaled()[0];
    if (!first) return false;
    const [id, after, lastListed] = first;
    const mb = db.mailboxById(id);
    const rows = mb ? db.rowsAfter(id, after, lastListed, sliceFiles()) : [];
    if (!mb || rows.length === 0) {
      db.setUnjournaled(id, null);
      return true;
    }
    const read = this.reader(mb);
    const facts: Facts[] = [];
    // As a fill slice: factsSliceFiles rows or factsSliceMs of reading, whichever ends first.
    const t0 = performance.now();
    let cut = rows.length;
    for (let k = 0; k < rows.length; k++) {
      const r = rows[k]!;
      if (k > 0 && performance.now() - t0 >= sliceMs()) {
        cut = k;
        break;
      }
      if (r.state === STATE_UNLINK || r.lazy !== 1) continue;
      const f = read([r.uid, r.basename, r.disk_name]);
      if (!f) continue;
      facts.push(f);
      r.size = f[1];
      r.vsize = f[2];
      r.internal_date = f[3];
      r.lazy = 0;
    }
    const last = rows[cut - 1]!.uid;
    const drafts = rows
      .slice(0, cut)
      .filter((r) => r.state !== STATE_UNLINK)
      .map((r) => deliverOfRow(st, mb, r));
    const done = (recs: readonly { lsn: bigint }[]): void => {
      const now = st.db();
      now.tx(() => {
        // Not journaled apart: the deliver records carry them.
        st.setFacts(mb, facts);
        now.setUnjournaled(id, last, lastListed);
        // The rows are in the index already: these records count as applied.
        if (recs.length > 0) now.setAppliedLsn(recs[recs.length - 1]!.lsn);
      });
    };
    if (drafts.length === 0) done([]);
    else await st.core.committer.submit({ accounts: [st.id], rebuildWork: true, build: () => drafts, finish: done });
    return true;
  }

  /** Mailbox ids change with a rebuilt index. */
  forget(): void {
    this.lazy.clear();
    this.unparsed.clear();
  }

  /** No more slices (store close); idle() resolves after the running one. */
  stop(): void {
    this.stopped = true;
  }

  idle(): Promise<void> {
    if (!this.running) return Promise.resolve();
    return new Promise((r) => this.done.push(r));
  }

  private schedule(): void {
    if (this.stopped || !this.st.core.isWritable()) return;
    if (this.running) {
      this.again = true;
      return;
    }
    this.running = true;
    setImmediate(() => void this.run());
  }

  private async run(): Promise<void> {
    try {
      do {
        this.again = false;
        // Deliver records first: a replica needs the rows before their facts.
        await this.journalPending();
        for (const id of [...this.lazy]) {
          if (this.stopped) break;
          const mb = this.st.db().mailboxById(id);
          if (!mb) {
            this.lazy.delete(id);
            continue;
          }
          // Keyset paging: a file that cannot be read now stays provisional until the next open.
          let after = 0;
          for (;;) {
            await demandIdle();
            if (this.stopped) break;
            const page = this.st.db().lazyPage(id, after, sliceFiles());
            if (page.length === 0) {
              if (after === 0) this.lazy.delete(id);
              break;
            }
            after = page[page.length - 1]![0];
            await this.fill(mb, page);
            await yieldToLoop();
          }
          if (after !== 0 && !this.stopped && this.st.db().lazyPage(id, 0, 1).length === 0) this.lazy.delete(id);
        }
      } while (this.again && !this.stopped);
    } catch (err) {
      this.st.core.warn(`store: facts of ${this.st.id} not filled`, err);
    } finally {
      this.running = false;
      for (const d of this.done.splice(0)) d();
    }
  }

  /**
   * Fill the facts of these UIDs (all provisional rows when not given) before
   * they are shown. A no-op for a mailbox without provisional rows, and on
   * a replica (the primary's 'facts' records bring them). The index is
   * asked, not this process's list: `roost import` in another process may
   * have written the rows (one lookup in the partial index messages_lazy).
   */
  async ensure(mailboxId: number, uids?: readonly number[], structure = false): Promise<void> {
    if (!this.st.core.isWritable()) return;
    await onDemand(() => this.ensureNow(mailboxId, uids, structure));
  }

  private async ensureNow(mailboxId: number, uids: readonly number[] | undefined, structure: boolean): Promise<void> {
    const db = this.st.db();
    const mb = db.mailboxById(mailboxId);
    if (!mb) return;
    let first = 0;
    let last = 0xffffffff;
    if (uids !== undefined) {
      if (uids.length === 0) return;
      first = last = uids[0]!;
      for (const u of uids) {
        if (u < first) first = u;
        if (u > last) last = u;
      }
    }
    const want = <T extends readonly [number, ...unknown[]]>(rows: T[]): T[] => {
      if (uids === undefined || rows.length <= uids.length) return rows;
      const set = new Set(uids);
      return rows.filter((r) => set.has(r[0]));
    };
    // Provisional rows written by another process (roost import): one lookup in the partial index messages_lazy.
    if (structure && !this.unparsed.has(mailboxId) && db.lazyPage(mailboxId, 0, 1).length > 0) this.note(mailboxId);
    if (structure && this.unparsed.has(mailboxId)) {
      const rows = want(db.unparsedRange(mailboxId, first, last));
      if (rows.length === 0) {
        // Nothing left anywhere in it (asked once): later FETCHes skip the lookup.
        if (db.lazyPage(mailboxId, 0, 1).length === 0 && db.unparsedRange(mailboxId, 0, 0xffffffff).length === 0) this.unparsed.delete(mailboxId);
        return;
      }
      if (rows.some((r) => r[3] !== 0)) this.note(mailboxId);
      await this.fillParsed(mb, rows);
    } else {
      const rows = want(db.lazyRange(mailboxId, first, last));
      if (rows.length === 0) return;
      this.note(mailboxId);
      await this.fill(mb, rows);
    }
    if (uids === undefined && this.st.db().lazyPage(mailboxId, 0, 1).length === 0) this.lazy.delete(mailboxId);
  }

  /**
   * ensure() for messages about to be shown with their structure (FETCH
   * ENVELOPE, BODY, BODYSTRUCTURE): rows without a stored structure, lazy
   * or not, each file read and parsed once (readParsed) — its facts, its
   * structure and its search fields from the same bytes. Read a slice at a
   * time (factsSliceFiles or factsSliceMs, the loop turning in between);
   * one 'facts' record and one index transaction per factsSliceFiles files,
   * not per message, the next batch read while the last one is committed.
   */
  private async fillParsed(mb: MailboxRow, rows: readonly (readonly [number, string, string, number])[]): Promise<void> {
    const dir = this.st.dir(mb.name);
    const readOne = (r: readonly [number, string, string, number]): { parsed: Parsed | null; facts: Facts | null } => {
      let got = readParsed(dir, r[0], r[2]);
      if (got === null) {
        // Renamed since (a flag change's file work, another program): look it up.
        const at = this.st.locate(mb.id, dir, { uid: r[0], basename: r[1], diskName: r[2] });
        got = at ? readParsed(dir, r[0], at) : null;
      }
      if (got === 'big') {
        // Its structure is parsed in chunks when shown (MailboxHandle.structure); its facts as by the background fill.
        return { parsed: null, facts: r[3] !== 0 ? this.reader(mb)([r[0], r[1], r[2]]) : null };
      }
      return { parsed: got, facts: got && r[3] !== 0 ? got.facts : null };
    };
    let pending: Promise<void> = Promise.resolve();
    let parsed: Parsed[] = [];
    let facts: Facts[] = [];
    let inBatch = 0;
    for (let i = 0; i < rows.length; ) {
      const t0 = performance.now();
      // One slice of reading: factsSliceFiles files or factsSliceMs, at least one file.
      for (let k = 0; i < rows.length && k < sliceFiles() && (k === 0 || performance.now() - t0 < sliceMs()); k++, i++) {
        const got = readOne(rows[i]!);
        if (got.parsed) parsed.push(got.parsed);
        if (got.facts) facts.push(got.facts);
        inBatch++;
      }
      if (inBatch >= sliceFiles() || i >= rows.length) {
        await pending;
        pending = this.commitParsed(mb, facts, parsed);
        // Awaited at the next batch or the end; handled now so a failure meanwhile is no unhandled rejection.
        pending.catch(() => undefined);
        parsed = [];
        facts = [];
        inBatch = 0;
      }
      if (i < rows.length) await yieldToLoop();
    }
    await pending;
  }

  /** The facts of one batch as one record (if any row was provisional), then its structures in one transaction. */
  private async commitParsed(mb: MailboxRow, facts: Facts[], parsed: readonly Parsed[]): Promise<void> {
    if (facts.length > 0) await this.commit(mb, facts);
    if (parsed.length === 0) return;
    const db = this.st.db();
    // A rebuilt index (reindex) has other mailbox ids: what was read belongs to no row there.
    if (db.mailboxById(mb.id)?.uidvalidity !== mb.uidvalidity) return;
    db.tx(() => {
      for (const p of parsed) {
        if (!db.fillStructure(mb.id, p.uid, JSON.stringify(p.tree), JSON.stringify(p.tree.sort))) continue;
        if (p.header) db.fillSearchFields(mb.id, p.uid, keptSearchFields(p.header));
      }
    });
  }

  /** The facts of a provisional row from its file (the eager reading: ./maildir/scan.ts readFound); null when it is gone. */
  private reader(mb: MailboxRow): (r: LazyRow) => Facts | null {
    const dir = this.st.dir(mb.name);
    return (r) => {
      let m = readFound(dir, { basename: r[1], rel: r[2], letters: '' });
      if (!m) {
        // Renamed since (a flag change's file work, another program): look it up.
        const at = this.st.locate(mb.id, dir, { uid: r[0], basename: r[1], diskName: r[2] });
        m = at ? readFound(dir, { basename: r[1], rel: at, letters: '' }) : null;
      }
      return m ? [r[0], m.size, m.vsize, m.internalDate] : null;
    };
  }

  /** Read and commit facts of `rows`, a slice at a time. */
  private async fill(mb: MailboxRow, rows: readonly LazyRow[]): Promise<void> {
    const read = this.reader(mb);
    for (let i = 0; i < rows.length; ) {
      const { facts, next } = sliceFacts(rows, i, read);
      i = next;
      if (facts.length > 0) await this.commit(mb, facts);
      if (i < rows.length) await yieldToLoop();
    }
  }

  private async commit(mb: MailboxRow, facts: Facts[]): Promise<void> {
    const st = this.st;
    await st.core.committer.submit({
      accounts: [st.id],
      rebuildWork: true,
      build: () => [{ accountId: st.id, kind: 'facts', data: { maildir: st.account.maildir, mailbox: mb.name, uidvalidity: mb.uidvalidity, facts } }],
      finish: (recs) => st.applyIndex(recs),
    });
  }
}

/** The deliver record of a row a lazy first open indexed (the record ../recovery.ts deliverDraft makes for a found file). */
function deliverOfRow(st: FactsHost, mb: MailboxRow, r: MessageRow): RecordDraft {
  return {
    accountId: st.id,
    kind: 'deliver',
    data: {
      maildir: st.account.maildir,
      mailbox: mb.name,
      uidvalidity: mb.uidvalidity,
      uid: r.uid,
      modseq: String(r.modseq),
      basename: r.basename,
      filename: r.filename,
      tmp: '',
      flags: r.flags === '' ? [] : r.flags.split(' '),
      internalDate: r.internal_date,
      size: r.size,
      vsize: r.vsize,
      external: true,
      ...(r.lazy === 1 ? { lazy: true } : {}),
    },
  };
}
