/**
 * Accounts this node must not change (`roost account move`):
 *
 *  - `moving`: the last records are being transferred to the destination
 *    pair. Every commit naming the account is refused (deliveries get Z,
 *    IMAP/POP3 writes and logins a temporary failure) for the few seconds
 *    the final snapshot and its files take. In memory: a node that restarts
 *    mid-move forgets it, and the move, which then fails, leaves the source
 *    serving.
 *  - `moved`: the destination holds the account; this copy stays, frozen,
 *    until `roost account purge`. Durable (journal meta), so a restart does
 *    not start serving a stale copy again. Deliveries get Z rather than a
 *    hand-off to the new host: until the directory's mailHost changes, the
 *    new host's directory still names this one, so a QMQP hand-off would come
 *    back here and be bounced as a loop (delivery/cluster.ts, #5.4.6); a Z is
 *    retried by the relay and reaches the new host once LDAP says so.
 *
 *  - `arriving` (the destination): a moved account is installed here but
 *    the source has not confirmed it yet (its manifest check, move.ts).
 *    Refused like `moving`; durable (journal meta, with the Maildir path), so
 *    a copy whose move failed or whose node died mid-install is never served:
 *    the move removes it, and so does the next open of the store
 *    (./move-install.ts) when the process died first.
 *
 * The check sits in the group committer (./commit.ts) — the one place every
 * write passes — and in StoreImpl.user() for logins. The refusal is a TEMP
 * error: QMQP Z, IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP] — not
 * UNAVAILABLE, which the QMQP reply would call a directory outage.
 */
import { RoostError } from '../errors.js';
import type { Journal } from './journal/log.js';

const MOVED_KEY = 'moved_accounts';
const ARRIVING_KEY = 'arriving_accounts';
/** Set with a confirmed arrival: the pair's replica has no record of the account and needs a full resync. */
const RESYNC_KEY = 'follower_resync';

function savedMap(journal: Journal, key: string): Map<string, string> {
  try {
    return new Map(Object.entries(JSON.parse(journal.meta(key) ?? '{}') as Record<string, string>));
  } catch {
    // A damaged value is treated as none: the accounts serve, which the operator sees.
    return new Map();
  }
}

export class AccountFreezer {
  private readonly moving = new Set<string>();
  /** Accounts a move is running for (frozen or not yet). */
  private readonly claimed = new Set<string>();
  /** Account id → the host it moved to. */
  private readonly moved: Map<string, string>;
  /** Account id → its Maildir, for accounts installed by a move not confirmed yet. */
  private readonly arrivals: Map<string, string>;

  constructor(private readonly journal: Journal) {
    this.moved = savedMap(journal, MOVED_KEY);
    this.arrivals = savedMap(journal, ARRIVING_KEY);
  }

  /** Why a change to this account is refused now, or null. */
  refusal(accountId: string): RoostError | null {
    const to = this.moved.get(accountId);
    if (to !== undefined) return new RoostError('TEMP', `account ${accountId} moved to ${to}; waiting for its mailHost to change`);
    if (this.arrivals.has(accountId)) return new RoostError('TEMP', `account ${accountId} is arriving by a move from another pair, not confirmed yet`);
    if (this.moving.has(accountId)) return new RoostError('TEMP', `account ${accountId} is being moved; try again in a few seconds`);
    return null;
  }

  movedTo(accountId: string): string | null {
    return this.moved.get(accountId) ?? null;
  }

  /** One move per account at a time: a second would thaw the first's frozen final round. */
  claim(accountId: string): boolean {
    if (this.claimed.has(accountId) || this.moved.has(accountId)) return false;
    this.claimed.add(accountId);
    return true;
  }

  release(accountId: string): void {
    this.claimed.delete(accountId);
  }

  freeze(accountId: string): void {
    this.moving.add(accountId);
  }

  thaw(accountId: string): void {
    this.moving.delete(accountId);
  }

  /** Durable before it returns (Journal.setMeta syncs). */
  markMoved(accountId: string, host: string): void {
    this.moved.set(accountId, host);
    this.save();
    this.moving.delete(accountId);
  }

  /** Destination: durable before the install writes anything. */
  markArriving(accountId: string, maildir: string): void {
    this.arrivals.set(accountId, maildir);
    this.journal.setMeta(ARRIVING_KEY, JSON.stringify(Object.fromEntries(this.arrivals)));
  }

  isArriving(accountId: string): boolean {
    return this.arrivals.has(accountId);
  }

  /** Accounts installed by moves never confirmed (id → Maildir). */
  arriving(): ReadonlyMap<string, string> {
    return this.arrivals;
  }

  /** The account's copy was removed, or the source confirmed it (then `resync` asks the pair's replica to be re-seeded). */
  clearArriving(accountId: string, resync: boolean): void {
    // The resync request first: a crash between the two writes costs a resync, never a missed one.
    if (resync) this.journal.setMeta(RESYNC_KEY, '1');
    this.arrivals.delete(accountId);
    this.journal.setMeta(ARRIVING_KEY, JSON.stringify(Object.fromEntries(this.arrivals)));
  }

  /** A confirmed arrival asked for the replica's full resync, and it has not completed since. */
  followerResyncPending(): boolean {
    return this.journal.meta(RESYNC_KEY) === '1';
  }

  followerResynced(): void {
    this.journal.setMeta(RESYNC_KEY, '0');
  }

  private save(): void {
    this.journal.setMeta(MOVED_KEY, JSON.stringify(Object.fromEntries(this.moved)));
  }
}
