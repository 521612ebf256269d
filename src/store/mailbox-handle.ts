/**
 * A selected mailbox (IMAP SELECT/EXAMINE, a POP3 maildrop). Reads come from
 * the shared in-memory cache; writes run under the account mutex and commit
 * through the group committer.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import { Readable } from 'node:stream';
import { RoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { AccountState } from './account.js';
import { toRanges, uidsOf, type MessageList, type Entry } from './message-list.js';
import { keptSearchFields, type MailboxRow, type SearchFieldsRow } from './index/db.js';
import { searchHeader, type SearchHeader, type StoredSearchFields } from './mime/search-header.js';
import { draftOf, isKind, type RecordDataByKind, type RecordDraft } from './journal/records.js';
import { curName, flagsKey, normalizeFlags, uniqueName, withSizes } from './maildir/filename.js';
import { ensureKeywordLetters } from './maildir/keyword-letters.js';
import { journalKeywords } from './side-files.js';
import { normalizeMailboxName } from './maildir/names.js';
import { addQuotaDelta, wouldExceed } from './maildir/quota.js';
import { placeInTmp } from './maildir/save.js';
import { fdCloseLater, fdOpen, fdRead, fdStat, readToEnd } from './maildir/fd.js';
import { parseChunks } from './mime/stream.js';
import { fullTextFor, indexable } from './fts/fulltext.js';
import { noteForeground } from './file-work.js';
import type { MimeTree, SortKeys } from './mime/types.js';
import type { StoreInterior } from './interior.js';
import type { MailboxHandle, MessageFile, StoredFieldsNeedle } from './store.js';
import { FdMessageFile } from './maildir/message-file.js';
import { quickRead, quickReadAllowed } from './maildir/quick-read.js';
import type { CopyResult, FlagOp, MailboxEvent, MailboxSnapshot, RecentRange, StoreFlagsResult } from './types.js';

export class MailboxHandleImpl implements MailboxHandle {
  readonly name: string;
  readonly uidvalidity: number;
  readonly recent: RecentRange | null;
  private readonly mailboxId: number;
  private closed = false;
  private readonly unsubs = new Set<() => void>();
  private last: MessageList;
  /** The mailbox directory as last resolved from the index (openFile); null until the first open. */
  private knownDir: string | null = null;

  constructor(
    private readonly store: StoreInterior,
    private readonly st: AccountState,
    mb: MailboxRow,
    readonly readOnly: boolean,
    private readonly origin: string | null,
    trackRecent = false,
  ) {
    this.name = mb.name;
    this.uidvalidity = mb.uidvalidity;
    this.mailboxId = mb.id;
    this.last = st.cache(mb);
    const all = this.last.all();
    this.recent = trackRecent ? st.recent.open(mb.id, all.length > 0 ? all[all.length - 1]!.uid : 0, readOnly) : null;
    st.handles.set(mb.id, (st.handles.get(mb.id) ?? 0) + 1);
    store.watcher?.add(st, mb.id);
  }

  /** The shared cache (reloaded if the LRU dropped it). */
  private cache(): MessageList {
    const c = this.st.caches.get(this.mailboxId);
    if (c) return (this.last = c);
    const mb = this.st.db().mailboxById(this.mailboxId);
    if (mb && mb.uidvalidity === this.uidvalidity) this.last = this.st.cache(mb);
    return this.last;
  }

  private row(): MailboxRow {
    const mb = this.st.db().mailboxById(this.mailboxId);
    if (!mb || mb.uidvalidity !== this.uidvalidity) throw new RoostError('NOTFOUND', `mailbox ${this.name} is gone`);
    return mb;
  }

  private dir(): string {
    return this.st.dir(this.row().name);
  }

  snapshot(): MailboxSnapshot {
    return this.cache().snapshot();
  }

  ensureFacts(uids?: readonly number[], opts?: { structure?: boolean }): Promise<void> {
    return this.st.facts.ensure(this.mailboxId, uids, opts?.structure === true);
  }

  onChange(listener: (event: MailboxEvent) => void): () => void {
    const off = this.store.hub.on(this.st.key(this.mailboxId), listener);
    this.unsubs.add(off);
    return () => {
      off();
      this.unsubs.delete(off);
    };
  }

  private entry(uid: number): Entry {
    const e = this.cache().get(uid);
    if (!e) throw new RoostError('NOTFOUND', `no message with UID ${uid}`);
    return e;
  }

  /**
   * Open the message file wherever it is now (a flag rename may be running).
   * The first try is the path the cache knows under the directory last
   * resolved, with no index query and no stat: a POP3 download or a FETCH of
   * thousands of bodies opens each file with one system call. Only when that
   * name is missing (RENAME or DELETE of the mailbox, a rename of the file)
   * is the directory looked up again and the file searched for.
   */
  private async openFile(uid: number): Promise<fsp.FileHandle>;
  private async openFile(uid: number, open: (file: string) => Promise<number>): Promise<number>;
  private async openFile(uid: number, open: (file: string) => Promise<fsp.FileHandle | number> = (f) => fsp.open(f, 'r')): Promise<fsp.FileHandle | number> {
    const e = this.entry(uid);
    noteForeground();
    if (this.knownDir !== null) {
      try {
        return await open(path.join(this.knownDir, e.diskName));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    const dir = (this.knownDir = this.dir());
    for (let attempt = 0; attempt < 3; attempt++) {
      const n = attempt === 0 ? e.diskName : this.st.locate(this.mailboxId, dir, e);
      if (n === null) break;
      try {
        return await open(path.join(dir, n));
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      }
    }
    throw new RoostError('NOTFOUND', `message UID ${uid} is gone`);
  }

  async openMessage(uid: number, range?: { start: number; end: number }): Promise<Readable> {
    const fh = await this.openFile(uid);
    if (range && range.end <= range.start) {
      await fh.close();
      return Readable.from([]);
    }
    return fh.createReadStream(range ? { start: range.start, end: range.end - 1, autoClose: true } : { autoClose: true });
  }

  async readMessage(uid: number, range?: { start: number; end: number }): Promise<Buffer> {
    if (!range && this.knownDir !== null) {
      // A small file at the name the cache knows: read on the main thread while the disk is warm (maildir/quick-read.ts).
      const e = this.entry(uid);
      if (quickReadAllowed(e.size)) {
        noteForeground();
        try {
          return quickRead(path.join(this.knownDir, e.diskName), e.size);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
        }
      }
    }
    // Plain descriptors and callbacks: a FileHandle costs noticeably more per call, and SEARCH/FETCH read thousands of small files.
    const fd = await this.openFile(uid, fdOpen);
    try {
      if (!range) return await readToEnd(fd, this.entry(uid).size);
      // A small range is clamped by reading to EOF as well as by a stat: one file-system call fewer per read
      // (SEARCH header probes, FETCH of small messages); a big range still asks the file's size first.
      const size = range.end - range.start <= 1024 * 1024 ? Number.MAX_SAFE_INTEGER : (await fdStat(fd)).size;
      const start = Math.min(range.start, size);
      const end = Math.max(start, Math.min(range.end, size));
      // Not zeroed: only the bytes read are returned.
      const buf = Buffer.allocUnsafe(end - start);
      let off = 0;
      while (off < buf.length) {
        const bytesRead = await fdRead(fd, buf, off, start + off);
        if (bytesRead === 0) break;
        off += bytesRead;
      }
      return off === buf.length ? buf : buf.subarray(0, off);
    } finally {
      fdCloseLater(fd);
    }
  }

  async openMessageFile(uid: number): Promise<MessageFile> {
    return new FdMessageFile(await this.openFile(uid, fdOpen));
  }

  async structure(uid: number): Promise<MimeTree> {
    this.entry(uid);
    const db = this.st.db();
    const json = db.structure(this.mailboxId, uid);
    if (json) return JSON.parse(json) as MimeTree;
    // Parsed from the file in chunks: a large message is never read whole.
    const tree = await parseChunks(await this.openMessage(uid));
    // A message that arrived without its search fields (imported, reindexed, dropped in by another
    // program) gets them now, from the header block just parsed (in the page cache), so SUBJECT/FROM/
    // HEADER searches never read its file. A header past searchHeadBytes is left to the first SEARCH.
    const headerBytes = tree.bodyStart - tree.headerStart;
    const header =
      headerBytes <= LIMITS.store.searchHeadBytes && !db.searchFields(this.mailboxId, uid)
        ? await this.readMessage(uid, { start: tree.headerStart, end: tree.bodyStart })
        : null;
    // Parse once: keep it for the next FETCH.
    const now = this.st.db();
    now.tx(() => {
      now.setStructure(this.mailboxId, uid, JSON.stringify(tree), JSON.stringify(tree.sort));
      if (header) now.fillSearchFields(this.mailboxId, uid, keptSearchFields(searchHeader(header, 0, header.length)));
    });
    return tree;
  }

  async searchFields(uids: readonly number[]): Promise<readonly (readonly [number, StoredSearchFields | null])[]> {
    if (uids.length === 0) return [];
    const db = this.st.db();
    const first = uids[0]!;
    const last = uids[uids.length - 1]!;
    // Dense UIDs: one range query; sparse ones (after narrowing): a lookup each, not every row in between.
    const rows =
      last - first < 4 * uids.length
        ? db.searchFieldsRange(this.mailboxId, first, last)
        : uids.flatMap((uid) => {
            const r = db.searchFields(this.mailboxId, uid);
            return r ? [[uid, r.fields, r.addresses] as [number, string | null, string | null]] : [];
          });
    return rows.map(([uid, fields, addresses]) => [uid, fields === null || addresses === null ? null : { fields, addresses }] as const);
  }

  async sortKeys(uids: readonly number[]): Promise<ReadonlyMap<number, SortKeys>> {
    const out = new Map<number, SortKeys>();
    if (uids.length === 0) return out;
    const db = this.st.db();
    let first = uids[0]!;
    let last = first;
    for (const u of uids) {
      if (u < first) first = u;
      if (u > last) last = u;
    }
    // Dense UIDs: one range query; sparse ones: a lookup each.
    if (last - first < 4 * uids.length) {
      for (const [uid, json] of db.sortKeysRange(this.mailboxId, first, last)) out.set(uid, JSON.parse(json) as SortKeys);
    } else {
      for (const uid of uids) {
        const json = db.sortKeys(this.mailboxId, uid);
        if (json !== null) out.set(uid, JSON.parse(json) as SortKeys);
      }
    }
    // As structure(): a message expunged meanwhile has none.
    const cache = this.cache();
    for (const uid of out.keys()) if (!cache.get(uid)) out.delete(uid);
    // Structures stored before the sort keys were kept: take them from there, once.
    const missing = uids.filter((u) => !out.has(u) && cache.get(u));
    if (missing.length > 0) {
      db.tx(() => {
        for (const uid of missing) {
          const json = db.structure(this.mailboxId, uid);
          if (json === null) continue;
          const keys = (JSON.parse(json) as MimeTree).sort;
          db.setSortKeys(this.mailboxId, uid, JSON.stringify(keys));
          out.set(uid, keys);
        }
      });
    }
    return out;
  }

  async sortColumns(): Promise<Buffer | null> {
    return this.st.db().sortColumns(this.mailboxId, this.uidvalidity);
  }

  async saveSortColumns(image: Buffer): Promise<void> {
    this.st.db().setSortColumns(this.mailboxId, this.uidvalidity, image);
  }

  async searchFieldsExcluded(needles: readonly StoredFieldsNeedle[]): Promise<ReadonlySet<number>> {
    return new Set(this.st.db().searchFieldsExcluded(this.mailboxId, needles));
  }

  async keepSearchFields(headers: readonly (readonly [number, SearchHeader])[]): Promise<void> {
    if (headers.length === 0) return;
    const db = this.st.db();
    db.tx(() => {
      for (const [uid, h] of headers) db.fillSearchFields(this.mailboxId, uid, keptSearchFields(h));
    });
  }

  /** `changesThis` false: the write goes elsewhere (COPY out of a mailbox opened read-only, RFC 3501 §6.3.2). */
  private assertWrite(changesThis = true): void {
    if (this.closed) throw new RoostError('TEMP', 'mailbox handle is closed');
    this.store.assertWritable();
    if (changesThis && this.readOnly) throw new RoostError('READONLY', 'mailbox is open read-only');
  }

  async storeFlags(
    uids: readonly number[],
    op: FlagOp,
    flags: readonly string[],
    opts?: { unchangedSince?: bigint },
  ): Promise<StoreFlagsResult> {
    this.assertWrite();
    const given = normalizeFlags(flags);
    return this.st.mutex.run(async () => {
      const mb = this.row();
      const c = this.cache();
      const modified: number[] = [];
      const groups = new Map<string, { flags: string[]; uids: number[] }>();
      for (const uid of uids) {
        const e = c.get(uid);
        if (!e) continue;
        // RFC 7162 §3.2: UNCHANGEDSINCE fails for a message whose modseq is higher.
        if (opts?.unchangedSince !== undefined && e.modseq > opts.unchangedSince) {
          modified.push(uid);
          continue;
        }
        const next = applyOp(e.flags, op, given);
        const k = flagsKey(next);
        if (k === flagsKey(e.flags)) continue;
        let g = groups.get(k);
        if (!g) groups.set(k, (g = { flags: next, uids: [] }));
        g.uids.push(uid);
      }
      if (groups.size === 0) return { updated: [], modified };
      const changed = new Set<number>();
      for (const g of groups.values()) for (const u of g.uids) changed.add(u);
      // New keywords get their letters now, and the table is journaled before the flags record
      // (store/side-files.ts), so the replica's renames use the primary's letters.
      await ensureKeywordLetters(this.st.dir(mb.name), [...new Set([...groups.values()].flatMap((g) => g.flags))]);
      await journalKeywords(this.st, mb.name);
      await this.store.committer.submit({
        accounts: [this.st.id],
        build: () => {
          this.store.assertWritable();
          const modseq = this.st.db().allocModseq(mb.id);
          // Ranges keep the record small: STORE 1:* on 100,000 messages is one range.
          const updates = [...groups.values()].map((g) => ({ flags: g.flags, ranges: toRanges([...g.uids].sort((a, b) => a - b), c) }));
          return [this.draft('flags', { modseq: String(modseq), updates })];
        },
        finish: (recs) => this.st.applyIndex(recs),
      });
      const after = this.cache();
      const updated = [...changed]
        .sort((a, b) => a - b)
        .map((uid) => after.get(uid))
        .filter((e): e is Entry => e !== undefined)
        .map((e) => ({ uid: e.uid, flags: e.flags, modseq: e.modseq }));
      return { updated, modified };
    });
  }

  async expunge(opts?: { uids?: readonly number[]; force?: boolean }): Promise<readonly number[]> {
    this.assertWrite();
    return this.st.mutex.run(async () => {
      const mb = this.row();
      const c = this.cache();
      const within = opts?.uids ? new Set(opts.uids) : null;
      const targets = c
        .all()
        .filter((e) => (within ? within.has(e.uid) : true) && (opts?.force ? within !== null : e.flags.includes('\\Deleted')))
        .map((e) => e.uid);
      if (targets.length === 0) return [];
      await this.store.committer.submit({
        accounts: [this.st.id],
        build: () => {
          this.store.assertWritable();
          return [this.draft('expunge', { modseq: String(this.st.db().allocModseq(mb.id)), ranges: toRanges(targets, c) })];
        },
        finish: (recs) => this.st.applyIndex(recs),
      });
      return targets;
    });
  }

  expungedSince(modseq: bigint): readonly (readonly [number, number])[] {
    const ranges: [number, number][] = [];
    const history = this.store.journal.expungesSince(this.st.id, this.uidvalidity, this.name, modseq);
    if (history === null) {
      // The journal no longer reaches back to `modseq` (pruned, or a replica
      // seeded by a snapshot): every UID below UIDNEXT that is not live is
      // reported. A client ignores UIDs it does not hold (RFC 7162 §3.2.10).
      const uidnext = this.row().uidnext;
      if (uidnext > 1) ranges.push([1, uidnext - 1]);
    }
    for (const d of history ?? []) {
      const u = uidsOf(d);
      for (const r of u.ranges) ranges.push([r[0], r[1]]);
    }
    ranges.sort((a, b) => a[0] - b[0]);
    // Merge, then cut out any UID that is live now: VANISHED must never name an existing message.
    const merged: [number, number][] = [];
    for (const r of ranges) {
      const last = merged[merged.length - 1];
      if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    const live = this.cache().all();
    const out: [number, number][] = [];
    let i = 0;
    for (const [first, last] of merged) {
      let from = first;
      while (i < live.length && live[i]!.uid < from) i++;
      while (i < live.length && live[i]!.uid <= last) {
        if (live[i]!.uid > from) out.push([from, live[i]!.uid - 1]);
        from = live[i]!.uid + 1;
        i++;
      }
      if (from <= last) out.push([from, last]);
    }
    return out;
  }

  /**
   * Index this mailbox's missing text in the background, paced
   * (./text-indexer.ts): of the messages `uids` that are still here, or
   * (null) of every message the index lacks.
   */
  catchUpText(uids: readonly number[] | null = null): Promise<void> {
    const idx = fullTextFor(this.store).get(this.st.id);
    if (uids === null) return idx.catchUp(this.uidvalidity, this.cache().all().map((e) => e.uid), this);
    const c = this.cache();
    return idx.catchUpNew(this.uidvalidity, [...new Set(uids)].filter((u) => c.get(u) !== undefined).sort((a, b) => a - b), this);
  }

  async textCandidates(field: 'BODY' | 'TEXT', needle: string): Promise<ReadonlySet<number> | null> {
    if (!indexable(needle)) return null;
    const idx = fullTextFor(this.store).get(this.st.id);
    if (!(await idx.reconcile(this.uidvalidity, this.cache().all().map((e) => e.uid), this))) return null;
    return idx.query(this.uidvalidity, field, needle);
  }

  async copyTo(uids: readonly number[], dest: string, opts?: { move?: boolean }): Promise<CopyResult> {
    this.assertWrite(opts?.move === true);
    const destName = normalizeMailboxName(dest);
    return this.st.mutex.run(async () => {
      const src = this.row();
      const dst = this.st.requireMailbox(destName);
      // RFC 6851 §3.3 allows MOVE into the same mailbox: the copies get new UIDs and the originals are expunged, all in one commit.
      const c = this.cache();
      const sorted = [...new Set(uids)].sort((a, b) => a - b);
      // The copies' names and records carry sizes and INTERNALDATE (RFC 3501 §6.4.7: preserved).
      await this.ensureFacts(sorted);
      const entries = sorted.map((u) => c.get(u)).filter((e): e is Entry => e !== undefined);
      if (entries.length === 0) return { uidvalidity: dst.uidvalidity, pairs: [] };
      if (!opts?.move) {
        const bytes = entries.reduce((s, e) => s + e.size, 0);
        if (await wouldExceed(this.st.account, bytes, entries.length)) throw new RoostError('OVERQUOTA', 'copy would exceed the quota');
      }
      const srcDir = this.st.dir(src.name);
      const dstDir = this.st.dir(dst.name);
      const placed: { e: Entry; basename: string; filename: string; tmp: string }[] = [];
      try {
        for (const e of entries) {
          const basename = withSizes(uniqueName(this.store.hostname), e.size, e.vsize);
          const tmp = `tmp/${basename}`;
          let ok = false;
          for (let attempt = 0; attempt < 3 && !ok; attempt++) {
            const n = attempt === 0 ? e.diskName : this.st.locate(src.id, srcDir, e);
            if (n === null) break;
            try {
              await placeInTmp(path.join(srcDir, n), path.join(dstDir, tmp));
              ok = true;
            } catch {
              // Renamed meanwhile by the background renamer: look again.
            }
          }
          if (!ok) continue;
          // The copy's keywords get the target folder's letters (its dovecot-keywords written first).
          const filename = e.flags.length > 0 ? `cur/${curName(basename, e.flags, '', await ensureKeywordLetters(dstDir, e.flags))}` : `new/${basename}`;
          placed.push({ e, basename, filename, tmp });
        }
        if (placed.some((p) => p.filename.startsWith('cur/'))) await journalKeywords(this.st, dst.name);
        const structures = new Map<string, string>();
        const searchFields = new Map<string, SearchFieldsRow>();
        const sortKeys = new Map<string, string>();
        let lastLsn: bigint | undefined;
        const srcDb = this.st.db();
        const result = await this.store.committer.submit({
        accounts: [this.st.id],
          build: () => {
            this.store.assertWritable();
            const db = this.st.db();
            const first = db.allocUids(dst.id, placed.length);
            const modseq = db.allocModseq(dst.id);
            const drafts: RecordDraft[] = placed.map((p, i) => {
              const s = srcDb.structure(src.id, p.e.uid);
              if (s) structures.set(`${dst.name}\u0000${first + i}`, s);
              const k = srcDb.sortKeys(src.id, p.e.uid);
              if (k) sortKeys.set(`${dst.name}\u0000${first + i}`, k);
              const f = srcDb.searchFields(src.id, p.e.uid);
              if (f) searchFields.set(`${dst.name}\u0000${first + i}`, f);
              return {
                accountId: this.st.id,
                kind: 'deliver',
                data: {
                  maildir: this.st.account.maildir,
                  mailbox: dst.name,
                  uidvalidity: dst.uidvalidity,
                  uid: first + i,
                  modseq: String(modseq),
                  basename: p.basename,
                  filename: p.filename,
                  tmp: p.tmp,
                  flags: [...p.e.flags],
                  internalDate: p.e.internalDate,
                  size: p.e.size,
                  vsize: p.e.vsize,
                  copyOf: { mailbox: src.name, uidvalidity: src.uidvalidity, uid: p.e.uid },
                  ...(this.origin ? { origin: this.origin } : {}),
                },
              };
            });
            if (opts?.move && placed.length > 0) {
              drafts.push(this.draft('expunge', { modseq: String(db.allocModseq(src.id)), ranges: toRanges(placed.map((p) => p.e.uid), c) }));
            }
            return drafts;
          },
          afterJournal: (recs) => recs.flatMap((r) => this.st.applyFs(r, {})),
          finish: (recs) => {
            this.st.applyIndex(recs, { structures, sortKeys, searchFields });
            const again = this.st.mailbox(dst.name);
            if (again) this.st.noteMtimes(again);
            // The last record's LSN: COPY/MOVE answer OK once the replica has it.
            lastLsn = recs.length > 0 ? recs[recs.length - 1]!.lsn : undefined;
            return recs.filter(isKind('deliver')).map((r, i) => [placed[i]!.e.uid, r.data.uid] as const);
          },
          abort: () => {
            for (const p of placed) void fsp.unlink(path.join(dstDir, p.tmp)).catch(() => undefined);
          },
        });
        if (!opts?.move) {
          await addQuotaDelta(this.st.account, placed.reduce((s, p) => s + p.e.size, 0), placed.length);
        }
        return { uidvalidity: dst.uidvalidity, pairs: result, ...(lastLsn !== undefined ? { lsn: lastLsn } : {}) };
      } catch (err) {
        for (const p of placed) await fsp.unlink(path.join(dstDir, p.tmp)).catch(() => undefined);
        throw err;
      }
    });
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    if (this.recent) this.st.recent.close(this.mailboxId, this.recent);
    for (const off of this.unsubs) off();
    this.unsubs.clear();
    const n = (this.st.handles.get(this.mailboxId) ?? 1) - 1;
    if (n <= 0) {
      this.st.handles.delete(this.mailboxId);
      this.store.watcher?.remove(this.st, this.mailboxId);
      // Pack a large list when the last session leaves, off the critical path and in slices.
      setImmediate(() => {
        if (!this.st.handles.has(this.mailboxId)) void this.st.packSliced(this.mailboxId);
      });
    } else this.st.handles.set(this.mailboxId, n);
  }

  /** A record about this mailbox, from this handle's session. */
  private draft<K extends 'flags' | 'expunge'>(kind: K, data: Omit<RecordDataByKind[K], 'maildir' | 'mailbox' | 'uidvalidity' | 'origin'>): RecordDraft {
    const whole = {
      maildir: this.st.account.maildir,
      mailbox: this.name,
      uidvalidity: this.uidvalidity,
      ...data,
      ...(this.origin ? { origin: this.origin } : {}),
    };
    // `whole` is `data` with exactly the fields Omit took out.
    return draftOf(this.st.id, kind, whole as unknown as RecordDataByKind[K]);
  }
}

function applyOp(current: readonly string[], op: FlagOp, given: readonly string[]): string[] {
  if (op === 'set') return [...given];
  const lower = new Set(given.map((f) => f.toLowerCase()));
  if (op === 'remove') return current.filter((f) => !lower.has(f.toLowerCase()));
  return normalizeFlags([...current, ...given]);
}
