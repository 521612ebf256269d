/**
 * The \Recent flag (RFC 3501 §2.3.2): a message is recent in exactly one
 * session, the first to be told about it, and §6.3.2 forbids EXAMINE from
 * taking it away. Kept the way Dovecot keeps it:
 *
 *  - Per mailbox a durable boundary UID (`mailboxes.recent_uid` in the
 *    per-user index): every UID below it has already been handed to some
 *    session as recent. Messages at or above it are recent for whoever
 *    claims them next; STATUS RECENT (§6.3.10) counts exactly those, not
 *    the ones recent in a live session (Dovecot's answer too: imaptest's
 *    `append` script expects RECENT 0 from STATUS while a session that has
 *    the mailbox selected holds the new message as recent).
 *  - A read-write SELECT that finds no other owner in this process becomes
 *    the mailbox's owner: its recent messages are every UID from the old
 *    boundary on, including all that arrive while it stays selected (the
 *    store moves the boundary past each arrival, `arrived`). A later
 *    SELECT while the owner lives gets nothing recent — a message is recent
 *    in one session only — and inherits ownership, from the boundary at
 *    that moment, when the owner leaves (the Dovecot session that syncs
 *    next would claim them the same way).
 *  - EXAMINE sees the unclaimed messages present when it opened as recent
 *    and claims nothing, so the next SELECT still gets them.
 *
 * A session's recent set is therefore one UID range [from, to) — two
 * numbers, never a per-message structure, however big the mailbox.
 *
 * Durability and replication: the index row is written at once (STATUS and
 * the next SELECT see it), and a `recent` journal record carries the new
 * boundary when a SELECT claims and when an owner that received arrivals
 * leaves — not at each arrival, which would double the journal. Replay and
 * replicas apply it with max(), so the boundary never goes backwards; after
 * a crash or a failover, messages that arrived while an owner was live are
 * reported recent once more: too many, never too few (a client misses no
 * "new mail" hint). `roost reindex` keeps the boundary of every mailbox it
 * finds in the old index.
 *
 * Ownership is per process: a second server process on the same data would
 * claim separately.
 */
import type { IndexDb } from './index/db.js';
import type { RecentRange } from './types.js';

class Claim implements RecentRange {
  from = 0;
  to = 0;
  /** While owner: the boundary last written to the journal. */
  journaled = 0;
}

export class RecentOwners {
  /** Read-write claims per mailbox id, in SELECT order; the first is the owner. */
  private readonly live = new Map<number, Claim[]>();

  constructor(
    private readonly db: () => IndexDb,
    /** Write a `recent` journal record (best effort, not awaited). */
    private readonly journal: (mailboxId: number, uid: number) => void,
  ) {}

  /**
   * A session selects (or, `readOnly`, examines) a mailbox whose highest
   * UID is now `lastUid`. The returned range is kept current by the store
   * (ownership may pass to it later); the caller hands it back to `close`.
   */
  open(mailboxId: number, lastUid: number, readOnly: boolean): RecentRange {
    const c = new Claim();
    const db = this.db();
    const boundary = db.mailboxById(mailboxId)?.recent_uid ?? 1;
    if (readOnly) {
      c.from = boundary;
      c.to = Math.max(boundary, lastUid + 1);
      return c;
    }
    let list = this.live.get(mailboxId);
    if (!list) this.live.set(mailboxId, (list = []));
    if (list.length === 0) {
      c.from = boundary;
      c.to = Infinity;
      c.journaled = boundary;
      if (db.raiseRecent(mailboxId, lastUid + 1)) {
        c.journaled = lastUid + 1;
        this.journal(mailboxId, lastUid + 1);
      }
    }
    list.push(c);
    return c;
  }

  /** The session left the mailbox; an owner's successor takes what arrives from now on. */
  close(mailboxId: number, range: RecentRange): void {
    const list = this.live.get(mailboxId);
    const i = list ? list.indexOf(range as Claim) : -1;
    if (!list || i < 0) return;
    list.splice(i, 1);
    if (list.length === 0) this.live.delete(mailboxId);
    if (i !== 0) return;
    const row = this.db().mailboxById(mailboxId);
    if (!row) return;
    // What the leaving owner was handed since it claimed reaches the journal now.
    if (row.recent_uid > (range as Claim).journaled) this.journal(mailboxId, row.recent_uid);
    if (list.length === 0) return;
    const next = list[0]!;
    next.journaled = row.recent_uid;
    next.from = row.recent_uid;
    next.to = Infinity;
  }

  /**
   * The mailbox is gone for its sessions (deleted, renamed, UIDVALIDITY
   * changed, index rebuilt): their claims end now, not when each session
   * gets round to closing, so a new mailbox that reuses the id starts free.
   */
  forget(mailboxId: number): void {
    this.live.delete(mailboxId);
  }

  /**
   * Messages were added to a mailbox (any writer, before listeners hear of
   * it): with a live owner they are its recent messages, so the boundary
   * moves past them and nobody else (STATUS, the next SELECT) sees them.
   */
  arrived(mailboxId: number, uids: readonly { readonly uid: number }[]): void {
    const list = this.live.get(mailboxId);
    if (!list || list.length === 0 || uids.length === 0) return;
    let max = 0;
    for (const m of uids) if (m.uid > max) max = m.uid;
    this.db().raiseRecent(mailboxId, max + 1);
  }
}
