/**
 * `roost reindex ADDRESS`: rebuild an account's index from its Maildir.
 * UIDs, UIDVALIDITY and UIDNEXT come from the old index when it still has
 * the mailbox (what clients last saw), otherwise from a dovecot-uidlist or
 * courierimapuiddb in the folder (migration), otherwise they are new.
 * Keywords survive from the old index; system flags come from file names.
 */
import type { AccountState } from './account.js';
import { STATE_UNLINK } from './index/db.js';
import { importMaildir, removeIndexFiles, type KeptUids } from './recovery.js';
import type { StoreImpl } from './store-impl.js';

export async function reindexAccount(store: StoreImpl, st: AccountState, file: string): Promise<{ mailboxes: number; messages: number }> {
  return st.mutex.run(async () => {
    await store.committer.idle();
    await st.fsIdle();
    const keep = new Map<string, KeptUids>();
    const db = st.db();
    for (const mb of db.mailboxes()) {
      const uids = new Map<string, number>();
      const flags = new Map<string, string>();
      for (const r of db.allRows(mb.id)) {
        if (r.state === STATE_UNLINK) continue;
        uids.set(r.basename, r.uid);
        flags.set(r.basename, r.flags);
      }
      keep.set(mb.name, {
        uidvalidity: mb.uidvalidity,
        uidnext: mb.uidnext,
        recentUid: mb.recent_uid,
        uids,
        flags,
        specialUse: mb.special_use,
        subscribed: mb.subscribed === 1,
      });
    }
    const lastUv = db.meta('last_uidvalidity');
    // Subscriptions that outlived their mailbox are not in the Maildir (RFC 3501 §6.3.6: keep them).
    const orphans = db.orphanSubscriptions();
    // Mailbox ids change with the new index: open sessions must reselect.
    for (const mb of db.mailboxes()) st.emit(mb.id, { type: 'gone', origin: null });
    st.caches.clear();
    st.dropIndex();
    removeIndexFiles(file);
    const fresh = st.db();
    // Old journal records describe the old index: the new one starts after them.
    fresh.setAppliedLsn(store.journal.refreshLastLsn());
    if (lastUv) fresh.setMeta('last_uidvalidity', lastUv);
    for (const name of orphans) fresh.setOrphanSubscription(name, true);
    return importMaildir(store, st, keep);
  });
}
