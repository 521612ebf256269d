/**
 * One applier per journal record kind: what a committed record does to the
 * account's files and to its index, caches and listeners, side by side. Live
 * changes, crash-recovery replay and replication all apply records through
 * this table (./account.ts applyFs/applyIndex), so the three agree, and both
 * effects are idempotent: replay may run a record twice, or after a partial
 * first run. The table is keyed by every RecordKind: a kind added to
 * ./journal/records.ts without an applier here does not compile.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';
import type { Account } from '../accounts/directory.js';
import { internFlags, uidsOf, type Entry, type MessageList } from './message-list.js';
import { STATE_OK, STATE_UNLINK, type IndexDb, type MailboxRow, type MessageRow, type SearchFieldsRow } from './index/db.js';
import type { RecordDataByKind, RecordKind } from './journal/records.js';
import { flagsKey } from './maildir/filename.js';
import { forgetKeywordTable } from './maildir/keyword-letters.js';
import { INBOX } from './maildir/names.js';
import { ensureMaildir } from './maildir/save.js';
import { findByBasename } from './maildir/scan.js';
import { applyKeywordsFs, applyKeywordsIndex, applyPop3UidlsIndex } from './side-files.js';
import type { AccountView } from './account-view.js';
import type { JournalRecord, MailboxEvent, MessageRecord } from './types.js';

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

/**
 * What the appliers use of their account (./account.ts AccountState),
 * declared here so the two modules do not import each other.
 */
export interface ApplyTarget extends AccountView {
  readonly account: Account;
  readonly caches: Map<number, MessageList>;
  readonly facts: { note(mailboxId: number): void };
  noteUidvalidity(uv: number): void;
  setFacts(mb: MailboxRow, facts: readonly (readonly [number, number, number, number])[]): void;
}

/** A committed record of kind K (JournalRecord's member, written generically so the table's lookup keeps K). */
export interface KindRecord<K extends RecordKind> {
  readonly lsn: bigint;
  readonly epoch: number;
  readonly time: number;
  readonly accountId: string;
  readonly kind: K;
  readonly data: RecordDataByKind[K];
}

/** The shared state of one applyIndex transaction over a batch of records. */
export class IndexPass {
  readonly events: [number, MailboxEvent][] = [];
  /** New messages by mailbox and origin, announced in one 'append' event each. */
  readonly appends = new Map<string, { id: number; origin: string | null; list: MessageRecord[] }>();
  /** A flag or expunge change left file work (renames, unlinks) for after the commit. */
  schedule = false;
  /** A 'pop3-uidls' series completed (a replica then writes the file). */
  uidlsDone = false;
  // Runs of deliver records (an import writes 5,000 per call): the mailbox row is looked up
  // once and UIDNEXT/HIGHESTMODSEQ raised once per mailbox, before any other kind of record.
  readonly rows = new Map<string, MailboxRow | null>();
  readonly bumps = new Map<number, { uidnext: number; modseq: number }>();

  constructor(
    readonly st: ApplyTarget,
    readonly db: IndexDb,
    readonly extras: ApplyExtras,
  ) {}

  flushBumps(): void {
    for (const [id, b] of this.bumps) {
      this.db.bumpUidnext(id, b.uidnext);
      this.db.bumpModseq(id, b.modseq);
    }
    this.bumps.clear();
    this.rows.clear();
  }
}

interface Applier<K extends RecordKind> {
  /** File effects; returns directories whose entries must be fsync'd before the change counts as done. */
  readonly fs?: (st: ApplyTarget, rec: KindRecord<K>, extras: ApplyExtras) => string[];
  /** Index, cache and event effects, inside the pass's transaction; `origin` is the session that made the change. */
  readonly index?: (pass: IndexPass, rec: KindRecord<K>, origin: string | null) => void;
  /** Gathered with the following records of the same kind (deliver's per-mailbox bumps); any other kind flushes first. */
  readonly batched?: boolean;
  /** Whether the record can change the subscription list (then the Dovecot `subscriptions` file is rewritten). */
  readonly subscriptions?: (rec: KindRecord<K>, writable: boolean) => boolean;
}

const APPLIERS: { readonly [K in RecordKind]: Applier<K> } = {
  deliver: {
    batched: true,
    fs(st, rec, extras) {
      const d = rec.data;
      const dir = st.dir(d.mailbox);
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
    },
    index(pass, rec, origin) {
      const { db, st, extras } = pass;
      const d = rec.data;
      const rk = `${d.mailbox}\u0000${d.uidvalidity}`;
      let mb = pass.rows.get(rk);
      if (mb === undefined) pass.rows.set(rk, (mb = ensureMailboxRow(st, db, d.mailbox, d.uidvalidity)));
      if (!mb) return;
      const filename = extras.renamedTo?.get(rec.lsn) ?? d.filename;
      const row: MessageRow = {
        mailbox: mb.id,
        uid: d.uid,
        basename: d.basename,
        filename,
        disk_name: filename,
        state: STATE_OK,
        flags: flagsKey(d.flags),
        modseq: Number(d.modseq),
        internal_date: d.internalDate,
        size: d.size,
        vsize: d.vsize,
        lazy: d.lazy === true ? 1 : 0,
      };
      if (!db.insertMessage(row)) return;
      if (row.lazy === 1) st.facts.note(mb.id);
      const b = pass.bumps.get(mb.id);
      if (!b) pass.bumps.set(mb.id, { uidnext: row.uid + 1, modseq: row.modseq });
      else {
        if (row.uid + 1 > b.uidnext) b.uidnext = row.uid + 1;
        if (row.modseq > b.modseq) b.modseq = row.modseq;
      }
      const key = `${d.mailbox}\u0000${row.uid}`;
      const structure = extras.structures?.get(key);
      if (structure) db.setStructure(mb.id, row.uid, structure, extras.sortKeys?.get(key));
      const sf = extras.searchFields?.get(key);
      if (sf) db.setSearchFields(mb.id, row.uid, sf);
      const c = st.caches.get(mb.id);
      const e = entryOf(row);
      if (c && c.uidvalidity === mb.uidvalidity) c.add(e);
      const ak = `${mb.id}\u0000${origin ?? ''}`;
      let group = pass.appends.get(ak);
      if (!group) pass.appends.set(ak, (group = { id: mb.id, origin, list: [] }));
      group.list.push(e);
    },
  },

  flags: {
    index(pass, rec, origin) {
      const { db, st } = pass;
      const d = rec.data;
      const mb = db.mailbox(d.mailbox);
      if (!mb || mb.uidvalidity !== d.uidvalidity) return;
      const modseq = Number(d.modseq);
      const big = BigInt(modseq);
      const updates: { uid: number; flags: readonly string[]; modseq: bigint }[] = [];
      const c = st.caches.get(mb.id);
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
        for (const [first, last] of uidsOf(u).ranges) {
          if (db.flagsRange(mb.id, first, last, key, modseq) === 0) continue;
          pass.schedule = true;
          if (!cacheOk) continue;
          for (const e of c.range(first, last)) {
            if (e.modseq >= big) continue;
            changed.push({ ...e, flags, modseq: big });
            updates.push({ uid: e.uid, flags, modseq: big });
          }
        }
      }
      db.bumpModseq(mb.id, modseq);
      if (cacheOk) {
        c.replaceMany(changed);
        c.bump(0, big);
      }
      if (updates.length > 0) pass.events.push([mb.id, { type: 'flags', origin, updates }]);
    },
  },

  expunge: {
    index(pass, rec, origin) {
      const { db, st } = pass;
      const d = rec.data;
      const mb = db.mailbox(d.mailbox);
      if (!mb || mb.uidvalidity !== d.uidvalidity) return;
      const modseq = Number(d.modseq);
      const c = st.caches.get(mb.id);
      const cacheOk = c !== undefined && c.uidvalidity === mb.uidvalidity;
      const done: number[] = [];
      for (const [first, last] of uidsOf(d).ranges) {
        if (db.expungeRange(mb.id, first, last) === 0) continue;
        pass.schedule = true;
        if (cacheOk) for (const e of c.range(first, last)) done.push(e.uid);
      }
      db.bumpModseq(mb.id, modseq);
      if (cacheOk) c.remove(done, BigInt(modseq));
      if (done.length > 0) pass.events.push([mb.id, { type: 'expunge', origin, uids: done, modseq: BigInt(modseq) }]);
    },
  },

  'mailbox-create': {
    fs(st, rec) {
      ensureMaildir(st.dir(rec.data.mailbox), rec.data.mailbox !== INBOX);
      return [st.account.maildir];
    },
    index(pass, rec) {
      const { db, st } = pass;
      const d = rec.data;
      const row = db.mailbox(d.mailbox);
      // A subscription that outlived an earlier mailbox of this name (RFC 3501 §6.3.6) applies to the new one.
      const kept = db.hasOrphanSubscription(d.mailbox);
      if (kept) db.setOrphanSubscription(d.mailbox, false);
      if (!row) db.insertMailbox(d.mailbox, d.uidvalidity, d.specialUse ?? null, d.subscribed !== false || kept, d.uidnext ?? 1);
      else if (d.specialUse !== undefined && d.specialUse !== null && row.special_use !== d.specialUse) db.setSpecialUse(row.id, d.specialUse);
      st.noteUidvalidity(d.uidvalidity);
    },
    // On the primary, mailboxes a Maildir import creates are left out: the import reads the old
    // server's file for each of them, so the file must not be rewritten halfway through. A replica
    // reads no such file (each record says whether its mailbox is subscribed) and writes its own.
    subscriptions: (rec, writable) => rec.data.fromMaildir !== true || !writable,
  },

  'mailbox-delete': {
    fs(st, rec) {
      const root = st.account.maildir;
      const d = rec.data;
      const dir = st.dir(d.mailbox);
      const row = st.db().mailbox(d.mailbox);
      if (row && row.uidvalidity !== d.uidvalidity) return [];
      forgetKeywordTable(dir);
      if (fs.existsSync(dir)) {
        // Rename first (atomic: the folder disappears at once), then remove at leisure.
        const trash = path.join(root, `..roost-trash-${Date.now()}-${Math.random().toString(36).slice(2)}`);
        fs.renameSync(dir, trash);
        // A big folder takes seconds to remove: never on the event loop (a crash leaves a
        // "..roost-trash-*" directory, which no folder scan reads).
        void fsp.rm(trash, { recursive: true, force: true }).catch((err: unknown) => st.core.warn('store: could not remove a deleted mailbox', err));
      }
      return [root];
    },
    index(pass, rec, origin) {
      const { db, st } = pass;
      const d = rec.data;
      const row = db.mailbox(d.mailbox);
      if (!row || row.uidvalidity !== d.uidvalidity) return;
      // RFC 3501 §6.3.6: the server MUST NOT drop a subscription because the mailbox is gone.
      if (row.subscribed === 1) db.setOrphanSubscription(row.name, true);
      db.deleteMailbox(row.id);
      st.caches.delete(row.id);
      pass.events.push([row.id, { type: 'gone', origin }]);
    },
    subscriptions: () => true,
  },

  'mailbox-rename': {
    fs(st, rec) {
      const root = st.account.maildir;
      const d = rec.data;
      // RENAME INBOX (RFC 3501 §6.3.5): its messages move, INBOX stays.
      if (d.pairs === undefined) {
        const to = st.dir(d.to);
        ensureMaildir(to, true);
        const inbox = st.db().mailbox(INBOX);
        for (const uid of d.uids) {
          const row = inbox ? st.db().message(inbox.id, uid) : null;
          if (!row) continue;
          const src = path.join(root, row.disk_name);
          if (fs.existsSync(src)) fs.renameSync(src, path.join(to, row.disk_name));
        }
        return [root, path.join(root, 'new'), path.join(root, 'cur'), path.join(to, 'new'), path.join(to, 'cur')];
      }
      for (const [f, t] of d.pairs) {
        const from = st.dir(f);
        const to = st.dir(t);
        forgetKeywordTable(from);
        forgetKeywordTable(to);
        if (fs.existsSync(from) && !fs.existsSync(to)) fs.renameSync(from, to);
      }
      return [root];
    },
    index(pass, rec, origin) {
      const { db, st } = pass;
      const d = rec.data;
      if (d.pairs === undefined) {
        const inbox = db.mailbox(INBOX);
        if (!inbox || db.mailbox(d.to)) return;
        const uv = d.uidvalidity;
        const modseq = Number(d.modseq);
        // The rename's own modseq counts: the primary allocated it from INBOX before this ran, a replica has not (RFC 7162 §3.1.2: never lower).
        const toId = db.insertMailbox(d.to, uv, null, true, inbox.uidnext, Math.max(inbox.highestmodseq, modseq));
        st.noteUidvalidity(uv);
        db.moveAllMessages(inbox.id, toId);
        db.bumpModseq(inbox.id, modseq);
        st.caches.get(inbox.id)?.remove(d.uids, BigInt(modseq));
        if (d.uids.length > 0) pass.events.push([inbox.id, { type: 'expunge', origin, uids: d.uids, modseq: BigInt(modseq) }]);
        return;
      }
      for (const [f, t] of d.pairs) {
        const row = db.mailbox(f);
        if (!row || db.mailbox(t)) continue;
        db.renameMailbox(row.id, t);
        if (db.hasOrphanSubscription(t)) {
          db.setOrphanSubscription(t, false);
          db.setSubscribed(row.id, true);
        }
        pass.events.push([row.id, { type: 'gone', origin }]);
      }
    },
    subscriptions: () => true,
  },

  subscribe: {
    index({ db }, rec) {
      const d = rec.data;
      const row = db.mailbox(d.mailbox);
      if (row) db.setSubscribed(row.id, d.subscribed);
      else db.setOrphanSubscription(d.mailbox, d.subscribed);
    },
    subscriptions: () => true,
  },

  recent: {
    index({ db }, rec) {
      // max(): replay and replicas never move the boundary back (recent.ts).
      const d = rec.data;
      const row = db.mailbox(d.mailbox);
      if (row && row.uidvalidity === d.uidvalidity) db.raiseRecent(row.id, d.uid);
    },
  },

  // Directory and vacation changes are applied by their own owners (src/accounts/journaled.ts,
  // src/delivery/vacation/memory.ts), not by the mail store.
  account: {},

  // Reserved: no release writes it (./journal/records.ts QuotaData).
  quota: {},

  keywords: {
    fs(st, rec) {
      applyKeywordsFs(st, rec);
      return [];
    },
    index({ db }, rec) {
      applyKeywordsIndex(db, rec);
    },
  },

  'pop3-uidls': {
    index(pass, rec) {
      if (applyPop3UidlsIndex(pass.db, rec)) pass.uidlsDone = true;
    },
  },

  facts: {
    index({ db, st }, rec) {
      const d = rec.data;
      const mb = db.mailbox(d.mailbox);
      if (mb && mb.uidvalidity === d.uidvalidity) st.setFacts(mb, d.facts);
    },
  },
};

/** The applier of `rec`'s kind (the table's type ties each kind to its data). */
function applierOf<K extends RecordKind>(rec: KindRecord<K>): Applier<K> {
  return APPLIERS[rec.kind];
}

function fsEffect<K extends RecordKind>(st: ApplyTarget, rec: KindRecord<K>, extras: ApplyExtras): string[] {
  return applierOf(rec).fs?.(st, rec, extras) ?? [];
}

function indexEffect<K extends RecordKind>(pass: IndexPass, rec: KindRecord<K>): void {
  const a = applierOf(rec);
  if (a.batched !== true) pass.flushBumps();
  const data: object = rec.data;
  a.index?.(pass, rec, 'origin' in data && typeof data.origin === 'string' ? data.origin : null);
}

function subscriptionsEffect<K extends RecordKind>(rec: KindRecord<K>, writable: boolean): boolean {
  return applierOf(rec).subscriptions?.(rec, writable) ?? false;
}

/** File effects of a committed record (idempotent). Returns directories to fsync. */
export function applyRecordFs(st: ApplyTarget, rec: JournalRecord, extras: ApplyExtras): string[] {
  return fsEffect(st, rec, extras);
}

/** Index effect of one record inside `pass`'s transaction. */
export function applyRecordIndex(pass: IndexPass, rec: JournalRecord): void {
  indexEffect(pass, rec);
}

/** Whether a record can change the subscription list (see each applier's `subscriptions`). */
export function changesSubscriptions(rec: JournalRecord, writable: boolean): boolean {
  return subscriptionsEffect(rec, writable);
}

function ensureMailboxRow(st: ApplyTarget, db: IndexDb, name: string, uidvalidity: number): MailboxRow | null {
  const row = db.mailbox(name);
  if (row) return row.uidvalidity === uidvalidity ? row : null;
  db.insertMailbox(name, uidvalidity, null, true);
  st.noteUidvalidity(uidvalidity);
  return db.mailbox(name);
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
