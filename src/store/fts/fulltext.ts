/**
 * Full-text index for SEARCH BODY / TEXT (RFC 3501 §6.4.4), one SQLite FTS5
 * database per account in data_dir/fts/.
 *
 * What is indexed is exactly what a full scan compares: the decoded header
 * block and the decoded text parts (src/store/mime/decode.ts: base64 and
 * quoted-printable removed, charsets converted), lower-cased the way the
 * scan lower-cases them. The FTS5 `trigram` tokenizer (case-sensitive over
 * that lower-cased text) answers a quoted phrase with exactly the rows that
 * contain it as a substring, which is RFC 3501's substring semantics, so the
 * index never misses a match; the caller still confirms each candidate with
 * the scan's own check. Needles shorter than a trigram cannot be answered
 * (null: the caller scans).
 *
 * Maintenance is by reconciliation with the mailbox's live UID list (index
 * what is missing, drop what was expunged), so every way a message can
 * arrive or leave — delivery, APPEND, COPY/MOVE, replication, `roost
 * deliver` in another process, reindex, recovery — is covered without a
 * second write path. A node reconciles in the background a mailbox that
 * received mail or was opened, once it is quiet (./indexer.ts), so the index
 * is current when a search comes. A query reconciles too: a few missing
 * messages are indexed inside it; a big backlog is indexed by a background
 * job, which a query waits for (lifting its pauses) only while it has at
 * most LIMITS.store.ftsSearchWaitMessages left and for at most
 * LIMITS.store.ftsSearchWaitMs — otherwise the query scans, so no SEARCH
 * waits long for a whole mailbox to be indexed. The rows are keyed by
 * (UIDVALIDITY, UID): a mailbox whose UIDVALIDITY changed simply has no rows
 * yet.
 *
 * An FTS5 insert is one synchronous call whose time grows with the text
 * (about 0.2 µs a character with trigrams: 3 s for a 16 M character body),
 * and it cannot be split, so a message whose text parts exceed
 * LIMITS.store.ftsMaxTextBytes is not put into the index at all: it is
 * listed as unindexed and every query names it as a candidate, so the scan
 * (which works in slices, src/imap/search/body-text.ts) decides. Inserts are
 * committed in groups of at most INSERT_GROUP_CHARS characters with a turn
 * of the event loop between groups, so indexing never holds the loop for
 * more than a few tens of milliseconds.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import path from 'node:path';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { LIMITS } from '../../limits.js';
import { decodedHeaders, textForSearch } from '../mime/decode.js';
import { demandIdle } from '../demand.js';
import type { MimePart, MimeTree } from '../mime/types.js';

export const MAX_OPEN_FTS = LIMITS.tuning.ftsOpenDatabases;
const PARALLEL = LIMITS.tuning.ftsParallelReads;
const BATCH = LIMITS.tuning.ftsCommitBatch;
const BACKGROUND_PAUSE_MAX_MS = LIMITS.tuning.ftsPauseMaxMs;
export const INLINE_MAX = LIMITS.tuning.ftsInlineMax;
const INSERT_GROUP_CHARS = LIMITS.tuning.ftsInsertGroupChars;
const QUERY_MAX_CHARS = LIMITS.tuning.ftsQueryMaxChars;

const SCHEMA = `
CREATE TABLE IF NOT EXISTS docs (
  id INTEGER PRIMARY KEY,
  uidvalidity INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  UNIQUE (uidvalidity, uid)
);
CREATE VIRTUAL TABLE IF NOT EXISTS text USING fts5(headers, body, tokenize = 'trigram case_sensitive 1', content = '', contentless_delete = 1);
CREATE TABLE IF NOT EXISTS unindexed (
  uidvalidity INTEGER NOT NULL,
  uid INTEGER NOT NULL,
  PRIMARY KEY (uidvalidity, uid)
) WITHOUT ROWID;
`;

/**
 * Bytes of a message's text parts and encapsulated headers (what textForSearch
 * decodes; decoding never makes more characters than bytes), or Infinity
 * past `max` (the walk stops early).
 */
export function textBytes(tree: MimeTree, max: number): number {
  let n = tree.bodyStart - tree.headerStart;
  const walk = (p: MimePart): void => {
    if (n > max) return;
    if (p.parts) for (const c of p.parts) walk(c);
    else if (p.message) {
      n += p.message.bodyStart - p.message.headerStart;
      walk(p.message);
    } else if (p.type === 'text' && !p.synthetic) n += Math.max(0, p.bodyEnd - p.bodyStart);
  };
  walk(tree);
  return n > max ? Infinity : n;
}

/** How the index reads a message (MailboxHandle methods). */
export interface MessageSource {
  readMessage(uid: number): Promise<Buffer>;
  structure(uid: number): Promise<MimeTree>;
}

/** The header block the scan compares (the top-level header, RFC 2047 words decoded). */
export function headerTextOf(raw: Buffer, tree: MimeTree): string {
  return decodedHeaders(raw, tree.headerStart, tree.bodyStart);
}

/** A background indexing job: messages left, searches waiting for it, and its end. */
interface Job {
  left: number;
  waiters: number;
  done: Promise<void>;
}

interface Doc {
  uid: number;
  headers: string;
  body: string;
  /** False: too big for the index, listed in `unindexed`. */
  whole: boolean;
}

export class FullTextIndex {
  private readonly db: Database.Database;
  private readonly s: Record<string, Database.Statement>;
  /** Catch-ups in progress per UIDVALIDITY (concurrent searches share one). */
  private readonly running = new Map<number, Promise<void>>();
  /** Background jobs per UIDVALIDITY (a big backlog, or a quiet mailbox caught up by ./indexer.ts). */
  private readonly background = new Map<number, Job>();

  constructor(file: string) {
    fs.mkdirSync(path.dirname(file), { recursive: true });
    this.db = new Database(file);
    this.db.pragma('journal_mode = WAL');
    // A lost tail after a crash is re-indexed by the next reconciliation.
    this.db.pragma('synchronous = NORMAL');
    this.db.pragma('busy_timeout = 10000');
    this.db.exec(SCHEMA);
    const p = (sql: string): Database.Statement => this.db.prepare(sql);
    this.s = {
      uids: p('SELECT uid FROM docs WHERE uidvalidity = ? ORDER BY uid').pluck(),
      insertDoc: p('INSERT OR IGNORE INTO docs (uidvalidity, uid) VALUES (?, ?)'),
      insertText: p('INSERT INTO text (rowid, headers, body) VALUES (?, ?, ?)'),
      docId: p('SELECT id FROM docs WHERE uidvalidity = ? AND uid = ?').pluck(),
      deleteText: p('DELETE FROM text WHERE rowid = ?'),
      deleteDoc: p('DELETE FROM docs WHERE id = ?'),
      matchBody: p('SELECT d.uid FROM text JOIN docs d ON d.id = text.rowid WHERE text MATCH ? AND d.uidvalidity = ?').pluck(),
      unindexed: p('SELECT uid FROM unindexed WHERE uidvalidity = ?').pluck(),
      insertUnindexed: p('INSERT OR IGNORE INTO unindexed (uidvalidity, uid) VALUES (?, ?)'),
      deleteUnindexed: p('DELETE FROM unindexed WHERE uidvalidity = ? AND uid = ?'),
    };
  }

  /**
   * UIDs (among those indexed for `uidvalidity`) whose body, or for TEXT
   * header or body, contains `needle` case-insensitively, and those too
   * big to be indexed (the scan decides for them); null when the needle is
   * too short for trigrams.
   */
  query(uidvalidity: number, field: 'BODY' | 'TEXT', needle: string): Set<number> | null {
    const chars = [...needle.toLowerCase()];
    if (chars.length < 3) return null;
    const n = chars.slice(0, QUERY_MAX_CHARS).join('');
    const phrase = `"${n.replace(/"/g, '""')}"`;
    const expr = field === 'BODY' ? `body : ${phrase}` : `{headers body} : ${phrase}`;
    const out = new Set(this.s.matchBody!.all(expr, uidvalidity) as number[]);
    for (const uid of this.s.unindexed!.all(uidvalidity) as number[]) out.add(uid);
    return out;
  }

  /**
   * Bring the rows of one mailbox in line with its live UIDs (ascending).
   * True when the index now covers them all; false when a big backlog is
   * being indexed in the background and did not finish within the wait
   * allowed (the caller scans meanwhile).
   */
  async reconcile(uidvalidity: number, live: readonly number[], src: MessageSource): Promise<boolean> {
    const bg = this.background.get(uidvalidity);
    if (bg && !(await this.waitFor(bg))) return false;
    for (;;) {
      const run = this.running.get(uidvalidity);
      if (!run) break;
      await run;
    }
    const { missing, gone } = this.diff(uidvalidity, live);
    if (gone.length > 0) this.remove(uidvalidity, gone);
    if (missing.length === 0) return true;
    if (missing.length > INLINE_MAX) {
      const job = this.background.get(uidvalidity) ?? this.startJob(uidvalidity, missing, src);
      return (await this.waitFor(job)) && this.diff(uidvalidity, live).missing.length === 0;
    }
    const run = this.index(uidvalidity, missing, src, null).finally(() => this.running.delete(uidvalidity));
    this.running.set(uidvalidity, run);
    await run;
    return true;
  }

  /**
   * Index in the background, paced, what `live` has and the index lacks, and
   * drop what it no longer has; resolves when done (./indexer.ts, after
   * deliveries and on first open). A job already running is awaited instead.
   */
  async catchUp(uidvalidity: number, live: readonly number[], src: MessageSource): Promise<void> {
    const bg = this.background.get(uidvalidity);
    if (bg) return bg.done;
    // A search's inline indexing of the same mailbox: wait, then index only what it left.
    for (let run = this.running.get(uidvalidity); run; run = this.running.get(uidvalidity)) await run;
    if (this.background.has(uidvalidity)) return this.background.get(uidvalidity)!.done;
    const { missing, gone } = this.diff(uidvalidity, live);
    if (gone.length > 0) this.remove(uidvalidity, gone);
    if (missing.length > 0) await this.startJob(uidvalidity, missing, src).done;
  }

  /**
   * Index in the background, paced, those of `uids` (new mail, ascending)
   * that the index lacks, looking at no other row: a delivery into a big
   * mailbox costs its own messages only. A job already running is awaited
   * first (it may be indexing some of these).
   */
  async catchUpNew(uidvalidity: number, uids: readonly number[], src: MessageSource): Promise<void> {
    await this.background.get(uidvalidity)?.done;
    for (let run = this.running.get(uidvalidity); run; run = this.running.get(uidvalidity)) await run;
    if (this.background.has(uidvalidity)) return this.background.get(uidvalidity)!.done;
    const missing = uids.filter((u) => this.s.docId!.get(uidvalidity, u) === undefined);
    if (missing.length > 0) await this.startJob(uidvalidity, missing, src).done;
  }

  private startJob(uidvalidity: number, missing: readonly number[], src: MessageSource): Job {
    const job: Job = { left: missing.length, waiters: 0, done: Promise.resolve() };
    job.done = this.index(uidvalidity, missing, src, job)
      .catch(() => undefined)
      .finally(() => this.background.delete(uidvalidity));
    this.background.set(uidvalidity, job);
    return job;
  }

  /** Wait for a job with little left, for a bounded time, unpaced meanwhile; true when it finished. */
  private async waitFor(job: Job): Promise<boolean> {
    if (job.left > LIMITS.store.ftsSearchWaitMessages) return false;
    job.waiters++;
    let timer: NodeJS.Timeout | undefined;
    try {
      const late = new Promise<false>((r) => (timer = setTimeout(() => r(false), LIMITS.store.ftsSearchWaitMs)));
      return await Promise.race([job.done.then(() => true as const), late]);
    } finally {
      clearTimeout(timer);
      job.waiters--;
    }
  }

  private diff(uidvalidity: number, live: readonly number[]): { missing: number[]; gone: number[] } {
    const have = this.s.uids!.all(uidvalidity) as number[];
    const missing: number[] = [];
    const gone: number[] = [];
    let i = 0;
    let j = 0;
    while (i < live.length || j < have.length) {
      const a = i < live.length ? live[i]! : Infinity;
      const b = j < have.length ? have[j]! : Infinity;
      if (a === b) {
        i++;
        j++;
      } else if (a < b) {
        missing.push(a);
        i++;
      } else {
        gone.push(b);
        j++;
      }
    }
    return { missing, gone };
  }

  /** Index `missing`; a background `job` rests between batches unless a search waits for it. */
  private async index(uidvalidity: number, missing: readonly number[], src: MessageSource, job: Job | null): Promise<void> {
    let pending: Doc[] = [];
    for (let k = 0; k < missing.length; k += PARALLEL) {
      // Closed (store shutdown, LRU): the next reconciliation finds what is left.
      if (!this.db.open) return;
      const t0 = performance.now();
      const batch = missing.slice(k, k + PARALLEL);
      const docs = await Promise.all(
        batch.map(async (uid): Promise<Doc | null> => {
          try {
            const tree = await src.structure(uid);
            // Too much text to insert in one short call: listed as unindexed, never read here.
            if (textBytes(tree, LIMITS.store.ftsMaxTextBytes) === Infinity) return { uid, headers: '', body: '', whole: false };
            const raw = await src.readMessage(uid);
            return { uid, headers: headerTextOf(raw, tree).toLowerCase(), body: textForSearch(raw, tree).body.toLowerCase(), whole: true };
          } catch (err) {
            // Expunged while we read it: the next reconciliation has nothing to do for it.
            if ((err as { code?: string }).code === 'NOTFOUND') return null;
            throw err;
          }
        }),
      );
      for (const d of docs) if (d) pending.push(d);
      if (pending.length >= BATCH) {
        if (!(await this.add(uidvalidity, pending))) return;
        pending = [];
      }
      if (job === null) continue;
      job.left = missing.length - k - batch.length;
      // In the background, rest as long as the batch took: at most half the CPU goes to indexing, sessions keep the rest.
      if (job.waiters === 0) {
        await new Promise((r) => setTimeout(r, Math.min(BACKGROUND_PAUSE_MAX_MS, performance.now() - t0)));
        // A client waits on a fill (a first FETCH after a lazy open): step back; its structures are then stored.
        await demandIdle();
      }
      else await nextTurn();
    }
    if (pending.length > 0) await this.add(uidvalidity, pending);
  }

  /** Insert docs in groups of about INSERT_GROUP_CHARS, the event loop running in between; false once the index was closed. */
  private async add(uidvalidity: number, docs: readonly Doc[]): Promise<boolean> {
    for (let i = 0; i < docs.length; ) {
      if (!this.db.open) return false;
      let chars = 0;
      let j = i;
      while (j < docs.length && (j === i || chars + docs[j]!.body.length + docs[j]!.headers.length <= INSERT_GROUP_CHARS)) {
        chars += docs[j]!.body.length + docs[j]!.headers.length;
        j++;
      }
      const group = docs.slice(i, j);
      this.db.transaction(() => {
        for (const d of group) {
          const r = this.s.insertDoc!.run(uidvalidity, d.uid);
          if (r.changes === 0) continue;
          if (d.whole) this.s.insertText!.run(r.lastInsertRowid, d.headers, d.body);
          else this.s.insertUnindexed!.run(uidvalidity, d.uid);
        }
      })();
      i = j;
      if (i < docs.length) await nextTurn();
    }
    return this.db.open;
  }

  private remove(uidvalidity: number, uids: readonly number[]): void {
    this.db.transaction(() => {
      for (const uid of uids) {
        const id = this.s.docId!.get(uidvalidity, uid) as number | bigint | undefined;
        if (id === undefined) continue;
        this.s.deleteText!.run(id);
        this.s.deleteDoc!.run(id);
        this.s.deleteUnindexed!.run(uidvalidity, uid);
      }
    })();
  }

  /** No search or background job is using the database (it may be closed without cutting one short). */
  get idle(): boolean {
    return this.running.size === 0 && this.background.size === 0;
  }

  /** Give back the connection's page cache (PRAGMA shrink_memory), unless a transaction holds it. */
  releaseMemory(): void {
    if (this.db.open && !this.db.inTransaction) this.db.pragma('shrink_memory');
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}

/** The FTS databases of one store (LRU of MAX_OPEN_FTS), keyed by account id. */
export class FullTextIndexes {
  private readonly open = new Map<string, FullTextIndex>();

  constructor(private readonly dir: string) {}

  file(accountId: string): string {
    return path.join(this.dir, `${encodeURIComponent(accountId)}.sqlite`);
  }

  get(accountId: string): FullTextIndex {
    let idx = this.open.get(accountId);
    if (idx) {
      this.open.delete(accountId);
      this.open.set(accountId, idx);
      return idx;
    }
    idx = new FullTextIndex(this.file(accountId));
    this.open.set(accountId, idx);
    if (this.open.size > MAX_OPEN_FTS) {
      const [oldId, old] = this.open.entries().next().value as [string, FullTextIndex];
      this.open.delete(oldId);
      old.close();
    }
    return idx;
  }

  /** Close an account's index when nothing uses it (the account left the store's LRU); the file stays. */
  release(accountId: string): void {
    const idx = this.open.get(accountId);
    if (!idx?.idle) return;
    idx.close();
    this.open.delete(accountId);
  }

  releaseMemory(): void {
    for (const idx of this.open.values()) idx.releaseMemory();
  }

  close(): void {
    for (const idx of this.open.values()) idx.close();
    this.open.clear();
  }
}

const perStore = new WeakMap<object, FullTextIndexes>();

/** The FTS databases of a store (data_dir/fts), created on first use. */
export function fullTextFor(store: { readonly opts: { readonly dataDir: string } }): FullTextIndexes {
  let f = perStore.get(store);
  if (!f) perStore.set(store, (f = new FullTextIndexes(path.join(store.opts.dataDir, 'fts'))));
  return f;
}

/** Close a store's FTS databases (store close); a later fullTextFor opens them again. */
export function closeFullText(store: object): void {
  perStore.get(store)?.close();
  perStore.delete(store);
}

/** Give back the page caches of a store's open FTS databases. */
export function releaseFullTextMemory(store: object): void {
  perStore.get(store)?.releaseMemory();
}

/** Close one account's FTS database if open and idle (its index was closed); a later search opens it again. */
export function releaseFullText(store: object, accountId: string): void {
  perStore.get(store)?.release(accountId);
}

/** Can the trigram index answer this needle (at least three characters)? */
export function indexable(needle: string): boolean {
  return [...needle.toLowerCase()].length >= 3;
}
