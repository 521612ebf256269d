/**
 * UserStore: one account's mailboxes (LIST, CREATE, DELETE, RENAME,
 * SUBSCRIBE, STATUS, SELECT, APPEND, quota, the POP3 maildrop lock).
 * Mailbox-level changes run under the account's mutex and commit through the
 * group committer like every other change.
 */
import type { Account } from '../accounts/directory.js';
import { RoostError } from '../errors.js';
import type { AccountState } from './account.js';
import { MailboxHandleImpl } from './mailbox-handle.js';
import { STATE_UNLINK, type MailboxRow } from './index/db.js';
import { draftOf, isKind, type DistributiveOmit, type RecordDataByKind, type RecordDraft } from './journal/records.js';
import { INBOX, ancestors, assertFolderDirFits, normalizeMailboxName } from './maildir/names.js';
import { parseRecordedUidls, readRecordedUidlsText, recordedUidlsStamp, type RecordedUidls } from './maildir/pop3-uidls.js';
import { ensureMaildirAsync } from './maildir/save.js';
import { addQuotaDelta, quotaEnabled, quotaWritten, usage } from './maildir/quota.js';
import { looksChanged, reconcileMailbox } from './recovery.js';
import type { StoreInterior } from './interior.js';
import { pop3UidlsDrafts } from './side-files.js';
import type { AppendOptions, Draft, MailboxHandle, OpenOptions, UserStore } from './store.js';
import type { MailboxInfo, MailboxName, MailboxStatus, QuotaUsage, SavedMessage, SpecialUse } from './types.js';

const SPECIAL: readonly [string, SpecialUse][] = [
  ['Drafts', '\\Drafts'],
  ['Sent', '\\Sent'],
  ['Trash', '\\Trash'],
  ['Junk', '\\Junk'],
  ['Archive', '\\Archive'],
];

/** Per account: the recorded UIDLs file as the last POP3 login read it (its stat stamp and what it said). */
const uidlsSeen = new WeakMap<object, { stamp: string | null; recorded: RecordedUidls | null }>();

export class UserStoreImpl implements UserStore {
  constructor(
    private readonly store: StoreInterior,
    private readonly st: AccountState,
  ) {}

  get account(): Account {
    return this.st.account;
  }

  async listMailboxes(): Promise<readonly MailboxInfo[]> {
    const rows = this.st.db().mailboxes();
    const names = new Set(rows.map((r) => r.name));
    const all = new Map<string, MailboxInfo>();
    const hasChildren = (n: string): boolean => {
      for (const o of names) if (o.startsWith(n + '.')) return true;
      return false;
    };
    for (const r of rows) {
      all.set(r.name, {
        name: r.name,
        specialUse: (r.special_use as SpecialUse | null) ?? null,
        subscribed: r.subscribed === 1,
        hasChildren: hasChildren(r.name),
        selectable: true,
      });
      for (const a of ancestors(r.name)) {
        if (!names.has(a) && !all.has(a)) all.set(a, { name: a, specialUse: null, subscribed: false, hasChildren: true, selectable: false });
      }
    }
    return [...all.values()].sort((a, b) => (a.name === INBOX ? -1 : b.name === INBOX ? 1 : a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async subscriptions(): Promise<readonly MailboxName[]> {
    const db = this.st.db();
    const names = db.mailboxes().filter((r) => r.subscribed === 1).map((r) => r.name);
    return [...names, ...db.orphanSubscriptions()].sort();
  }

  async createMailbox(name: MailboxName, opts?: { specialUse?: SpecialUse; subscribed?: boolean }): Promise<void> {
    this.store.assertWritable();
    const n = normalizeMailboxName(name);
    assertFolderDirFits(n);
    await this.st.mutex.run(async () => {
      if (this.st.mailbox(n)) throw new RoostError('EXISTS', `mailbox ${n} exists`);
      await this.commit(() => [
        this.draft('mailbox-create', {
          mailbox: n,
          uidvalidity: this.st.nextUidvalidity(),
          specialUse: opts?.specialUse ?? null,
          subscribed: opts?.subscribed !== false,
        }),
      ]);
    });
  }

  async deleteMailbox(name: MailboxName): Promise<void> {
    this.store.assertWritable();
    const n = normalizeMailboxName(name);
    if (n === INBOX) throw new RoostError('NOPERM', 'INBOX cannot be deleted');
    await this.st.mutex.run(async () => {
      const mb = this.st.requireMailbox(n);
      await this.store.committer.idle();
      const before = quotaEnabled(this.st.account) ? this.st.db().allRows(mb.id) : [];
      await this.commit(() => [this.draft('mailbox-delete', { mailbox: n, uidvalidity: mb.uidvalidity })]);
      if (before.length > 0) {
        await addQuotaDelta(this.st.account, -before.reduce((s, r) => s + r.size, 0), -before.length);
      }
    });
  }

  async renameMailbox(from: MailboxName, to: MailboxName): Promise<void> {
    this.store.assertWritable();
    const f = normalizeMailboxName(from);
    const t = normalizeMailboxName(to);
    if (t === INBOX) throw new RoostError('EXISTS', 'INBOX exists');
    if (t === f || t.startsWith(f + '.')) throw new RoostError('BADNAME', 'cannot rename a mailbox under itself');
    assertFolderDirFits(t);
    await this.st.mutex.run(async () => {
      const mb = this.st.requireMailbox(f);
      if (this.st.mailbox(t)) throw new RoostError('EXISTS', `mailbox ${t} exists`);
      await this.store.committer.idle();
      if (f === INBOX) {
        await this.commit(() => {
          const db = this.st.db();
          const uids = db.allRows(mb.id).filter((r) => r.state !== 2).map((r) => r.uid).sort((a, b) => a - b);
          return [
            this.draft('mailbox-rename', {
              from: f,
              to: t,
              uidvalidity: this.st.nextUidvalidity(),
              uids,
              modseq: String(db.allocModseq(mb.id)),
            }),
          ];
        });
        return;
      }
      const pairs: [string, string][] = [[f, t]];
      for (const r of this.st.db().mailboxes()) {
        if (r.name.startsWith(f + '.')) {
          const nt = t + r.name.slice(f.length);
          assertFolderDirFits(nt);
          if (this.st.mailbox(nt)) throw new RoostError('EXISTS', `mailbox ${nt} exists`);
          pairs.push([r.name, nt]);
        }
      }
      await this.commit(() => [this.draft('mailbox-rename', { from: f, to: t, pairs })]);
    });
  }

  async setSubscribed(name: MailboxName, subscribed: boolean): Promise<void> {
    this.store.assertWritable();
    const n = normalizeMailboxName(name);
    await this.st.mutex.run(async () => {
      // Subscribing needs the mailbox (RFC 3501 §6.3.6 lets the server check);
      // a subscription that outlived its mailbox can still be ended.
      if (subscribed || !this.st.db().hasOrphanSubscription(n)) this.st.requireMailbox(n);
      await this.commit(() => [this.draft('subscribe', { mailbox: n, subscribed })]);
    });
  }

  async status(name: MailboxName): Promise<MailboxStatus> {
    const stale = await this.fresh(normalizeMailboxName(name));
    // Re-read: catching up with another process may just have moved the \Recent boundary (recent.ts).
    const mb = this.st.db().mailboxById(stale.id) ?? stale;
    const c = this.st.caches.get(mb.id);
    if (c && c.uidvalidity === mb.uidvalidity) {
      let unseen = 0;
      let size = 0;
      let recent = 0;
      // RFC 3501 §6.3.10 RECENT: the messages no session has been handed as recent yet (store/recent.ts).
      for (const m of c.all()) {
        if (!m.flags.includes('\\Seen')) unseen++;
        if (m.uid >= mb.recent_uid) recent++;
        size += m.vsize;
      }
      return { messages: c.count, recent, unseen, uidnext: c.uidnext, uidvalidity: c.uidvalidity, highestModseq: c.highestModseq, size };
    }
    const r = this.st
      .db()
      .db.prepare(
        `SELECT count(*) AS n, coalesce(sum(instr(flags, '\\Seen') = 0), 0) AS unseen, coalesce(sum(vsize), 0) AS size,
                coalesce(sum(uid >= ?), 0) AS recent
         FROM messages WHERE mailbox = ? AND state <> ${STATE_UNLINK}`,
      )
      .get(mb.recent_uid, mb.id) as { n: number; unseen: number; size: number; recent: number };
    return { messages: r.n, recent: r.recent, unseen: r.unseen, uidnext: mb.uidnext, uidvalidity: mb.uidvalidity, highestModseq: BigInt(mb.highestmodseq), size: r.size };
  }

  async checkMailbox(name: MailboxName): Promise<void> {
    // The row is read from the index file, so a mailbox another process made is seen too.
    this.st.requireMailbox(normalizeMailboxName(name));
  }

  async openMailbox(name: MailboxName, opts?: OpenOptions): Promise<MailboxHandle> {
    const n = normalizeMailboxName(name);
    await this.store.prepareIndex(this.st);
    let mb = await this.fresh(n);
    // The list of a mailbox not in memory is read in slices; after turns of the event loop, the row as it is now.
    if (await this.st.loadCache(mb)) mb = await this.fresh(n);
    const h = new MailboxHandleImpl(this.store, this.st, mb, opts?.readOnly === true, opts?.origin ?? null, opts?.recent === true);
    // Imported, reindexed or dropped-in mail gets indexed for SEARCH BODY before anyone searches it.
    this.store.noteText(this.st, mb.id);
    return h;
  }

  /**
   * Catch a mailbox's full-text index up in the background (the store's
   * TextIndexer): the messages `uids`, or (null) whatever it lacks; null
   * when the mailbox is gone.
   */
  catchUpText(mailboxId: number, uids: readonly number[] | null = null): Promise<void> | null {
    const mb = this.st.db().mailboxById(mailboxId);
    if (!mb) return null;
    const h = new MailboxHandleImpl(this.store, this.st, mb, true, null);
    return h.catchUpText(uids).finally(() => h.close());
  }

  async append(name: MailboxName, draft: Draft, opts?: AppendOptions): Promise<SavedMessage> {
    this.store.assertWritable();
    const n = normalizeMailboxName(name);
    this.st.requireMailbox(n);
    const [saved] = await this.store.save(draft, [{ st: this.st, mailbox: n, flags: [...(opts?.flags ?? [])] }], {
      internalDate: opts?.internalDate,
      origin: opts?.origin ?? null,
    });
    return saved!;
  }

  async quota(): Promise<QuotaUsage> {
    const a = this.st.account;
    await quotaWritten(a.maildir);
    const u = await usage(a);
    return { bytes: u.bytes, messages: u.messages, limitBytes: a.quotaBytes, limitMessages: a.quotaMessages };
  }

  async ensureSpecialMailboxes(): Promise<void> {
    this.store.assertWritable();
    await this.store.prepareIndex(this.st);
    await this.st.mutex.run(async () => {
      const drafts: RecordDraft[] = [];
      const rows = this.st.db().mailboxes();
      for (const [name, use] of SPECIAL) {
        const row = rows.find((r) => r.name === name);
        if (row && row.special_use) continue;
        if (rows.some((r) => r.special_use === use)) continue;
        drafts.push(this.draft('mailbox-create', { mailbox: name, uidvalidity: row ? row.uidvalidity : this.st.nextUidvalidity(), specialUse: use, subscribed: true }));
      }
      if (drafts.length > 0) await this.commit(() => drafts);
    });
  }

  async recordedUidls(): Promise<RecordedUidls | null> {
    const maildir = this.st.account.maildir;
    // Every POP3 login asks: the file (15 MB for 300,000 UIDLs) is read and parsed only when its
    // stat says it changed since the last login read it.
    const stamp = await recordedUidlsStamp(maildir);
    const seen = uidlsSeen.get(this.st);
    if (seen && seen.stamp === stamp) return seen.recorded;
    const text = stamp === null ? null : await readRecordedUidlsText(maildir);
    const recorded = text === null ? null : parseRecordedUidls(text);
    // On the primary the file is the source and an operator may change or remove it while the
    // node runs: what POP3 is about to answer goes to the replica now, not at the next first open.
    if (this.store.isWritable()) {
      await this.st.mutex.run(async () => {
        const drafts = pop3UidlsDrafts(this.st, text);
        if (drafts.length > 0) await this.commit(() => drafts);
      });
    }
    // Kept only once journaled: a login that failed to commit reads it again next time.
    uidlsSeen.set(this.st, { stamp, recorded });
    return recorded;
  }

  lockMaildrop(owner: string): () => void {
    if (this.st.maildropOwner !== null) throw new RoostError('INUSE', 'maildrop is locked by another session');
    this.st.maildropOwner = owner;
    let released = false;
    return () => {
      if (released) return;
      released = true;
      if (this.st.maildropOwner === owner) this.st.maildropOwner = null;
    };
  }

  // ------------------------------------------------------------ helpers

  /** The mailbox row, after reconciling with the disk if new/ or cur/ changed behind our back. */
  private async fresh(name: string): Promise<MailboxRow> {
    // A session that logged in before a reindex began must not open the half-built index either.
    this.store.refuseWhileRebuilding(this.st.id);
    let mb = this.st.requireMailbox(name);
    if (looksChanged(this.st, mb) && this.st.inflight.size === 0) {
      await reconcileMailbox(this.store, this.st, name);
      mb = this.st.requireMailbox(name);
    }
    // Another process (the CLI) may have changed the index.
    this.st.refreshFromDb(mb);
    return mb;
  }

  /** A record of a mailbox-level change to this account. */
  private draft<K extends 'mailbox-create' | 'mailbox-delete' | 'mailbox-rename' | 'subscribe'>(kind: K, data: DistributiveOmit<RecordDataByKind[K], 'maildir'>): RecordDraft {
    // `data` with exactly the field Omit took out.
    return draftOf(this.st.id, kind, { maildir: this.st.account.maildir, ...data } as unknown as RecordDataByKind[K]);
  }

  /** Commit records of a mailbox-level change: files, then index (under the account mutex). */
  private async commit(build: () => RecordDraft[]): Promise<void> {
    await this.store.committer.submit({
      accounts: [this.st.id],
      build: () => {
        this.store.assertWritable();
        return build();
      },
      afterJournal: async (recs) => {
        // New folders' directories made in the thread pool first (mkdir waits on the
        // filesystem journal); applyFs then finds them in place.
        // All at once: the first login makes five special-use folders (RFC 6154) in one commit.
        await Promise.all(
          recs.filter(isKind('mailbox-create')).map((r) => ensureMaildirAsync(this.st.dir(r.data.mailbox), r.data.mailbox !== INBOX)),
        );
        return recs.flatMap((r) => this.st.applyFs(r, {}));
      },
      finish: (recs) => this.st.applyIndex(recs),
    });
    // The Dovecot subscriptions file (written off the event loop) is in place before the client hears OK.
    await this.st.subscriptionsWritten();
  }
}
