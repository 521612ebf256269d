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
 * The check sits in the group committer (./commit.ts) — the one place every
 * write passes — and in StoreImpl.user() for logins. The refusal is a TEMP
 * error: QMQP Z, IMAP NO [UNAVAILABLE], POP3 -ERR [SYS/TEMP] — not
 * UNAVAILABLE, which the QMQP reply would call a directory outage.
 */
import { RoostError } from '../errors.js';
import type { Journal } from './journal/log.js';

const MOVED_KEY = 'moved_accounts';

export class AccountFreezer {
  private readonly moving = new Set<string>();
  /** Accounts a move is running for (frozen or not yet). */
  private readonly claimed = new Set<string>();
  /** Account id → the host it moved to. */
  private readonly moved: Map<string, string>;

  constructor(private readonly journal: Journal) {
    let saved: Record<string, string> = {};
    try {
      saved = JSON.parse(journal.meta(MOVED_KEY) ?? '{}') as Record<string, string>;
    } catch {
      // A damaged value is treated as none: the accounts serve, which the operator sees.
    }
    this.moved = new Map(Object.entries(saved));
  }

  /** Why a change to this account is refused now, or null. */
  refusal(accountId: string): RoostError | null {
    const to = this.moved.get(accountId);
    if (to !== undefined) return new RoostError('TEMP', `account ${accountId} moved to ${to}; waiting for its mailHost to change`);
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

  private save(): void {
    this.journal.setMeta(MOVED_KEY, JSON.stringify(Object.fromEntries(this.moved)));
  }
}
