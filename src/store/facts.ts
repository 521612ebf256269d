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
import { performance } from 'node:perf_hooks';
import { LIMITS } from '../limits.js';
import type { AccountView } from './account-view.js';
import type { RecordDraft } from './journal/log.js';
import { STATE_UNLINK, type MailboxRow, type MessageRow } from './index/db.js';
import { readFound } from './maildir/scan.js';

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

  constructor(private readonly st: FactsHost) {}

  /** A mailbox got provisional rows (applyIndex): fill them in the background. */
  note(mailboxId: number): void {
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
  async ensure(mailboxId: number, uids?: readonly number[]): Promise<void> {
    if (!this.st.core.isWritable()) return;
    const db = this.st.db();
    const mb = db.mailboxById(mailboxId);
    if (!mb) return;
    let rows: LazyRow[];
    if (uids === undefined) rows = db.lazyRange(mailboxId, 0, 0xffffffff);
    else {
      if (uids.length === 0) return;
      let first = uids[0]!;
      let last = first;
      for (const u of uids) {
        if (u < first) first = u;
        if (u > last) last = u;
      }
      rows = db.lazyRange(mailboxId, first, last);
      if (rows.length > uids.length) {
        const want = new Set(uids);
        rows = rows.filter((r) => want.has(r[0]));
      }
    }
    if (rows.length === 0) return;
    this.note(mailboxId);
    await this.fill(mb, rows);
    if (uids === undefined && this.st.db().lazyPage(mailboxId, 0, 1).length === 0) this.lazy.delete(mailboxId);
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
