/**
 * Bringing a follower back onto the primary's line.
 *
 * Hand-back (split brain recovery, after Cyrus practice in protocols.md §5.3):
 * a node that kept accepting mail while cut off, and then met a primary of a
 * newer epoch, sends every message it delivered at or after the fork point.
 * The primary delivers each one again unless the mailbox already holds it
 * (same Maildir base name — a copy that did replicate — or the same
 * Message-ID delivered since the fork), and logs every decision with the
 * message id. Nothing accepted is dropped; nothing present is duplicated.
 *
 * Full resync (the follower's data must be re-seeded): the follower resets
 * its store (ReplicationSupport.reset) and the primary replays its journal
 * from LSN 1. A store without reset() leaves the follower marked
 * `needsResync` (roost status) and read-only until an operator re-seeds it.
 */
import type { Account, Directory } from '../accounts/directory.js';
import type { Logger } from '../log/logger.js';
import type { JournalRecord, Store } from '../store/store.js';
import { LIMITS } from '../limits.js';
import { HandshakeError, expect } from './handshake.js';
import type { PeerHello } from './handshake.js';
import type { Frame, Link } from './protocol.js';
import { readAll } from './primary.js';
import type { ReceiveSpool } from './spool.js';

type HandbackFrame = Extract<Frame, { t: 'handback' }>;

const HEADER_PEEK = 16 * 1024;

/** The Message-ID header of a message (first header block only), or null. */
export function messageIdOf(bytes: Buffer): string | null {
  const head = bytes.subarray(0, HEADER_PEEK).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const block = end >= 0 ? head.slice(0, end) : head;
  const m = /^message-id:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(block);
  return m ? m[1]!.replace(/\s+/g, '').trim() || null : null;
}

function str(v: unknown, fallback: string): string {
  return typeof v === 'string' ? v : fallback;
}

/** Follower side: send every delivery at or after `fork` from our own journal. */
export async function sendHandback(store: Store, link: Link, fork: bigint, handedBackThrough: bigint, log: Logger): Promise<{ sent: number; missing: number; through: bigint }> {
  // Records handed back in an earlier attempt are not sent twice.
  let after = fork - 1n > handedBackThrough ? fork - 1n : handedBackThrough;
  let id = 0;
  let sent = 0;
  let missing = 0;
  for (;;) {
    const batch: readonly JournalRecord[] = await store.readJournal(after, LIMITS.replication.readBatch);
    if (batch.length === 0) break;
    for (const r of batch) {
      after = r.lsn;
      if (r.kind !== 'deliver') continue;
      let body: Buffer;
      try {
        body = await readAll(await store.replication.openDelivered(r));
      } catch (err) {
        missing++;
        log.error({ lsn: r.lsn.toString(), accountId: r.accountId, err: (err as Error).message }, 'replication: hand-back: bytes of a diverged delivery are gone (expunged here); not handed back');
        continue;
      }
      const messageId = messageIdOf(body);
      await link.send(
        {
          t: 'handback',
          id: ++id,
          accountId: r.accountId,
          mailbox: str(r.data.mailbox, 'INBOX'),
          basename: str(r.data.basename, ''),
          sender: str(r.data.sender, ''),
          internalDate: typeof r.data.internalDate === 'number' ? r.data.internalDate : r.time,
          flags: Array.isArray(r.data.flags) ? (r.data.flags as string[]) : [],
          messageId,
        },
        body,
      );
      sent++;
      log.warn({ lsn: r.lsn.toString(), accountId: r.accountId, messageId }, 'replication: handing back a delivery the new primary lacks');
    }
  }
  await link.send({ t: 'handback-done' });
  // The primary answers every hand-back (in order) before it moves on to 'start'.
  let failed = 0;
  for (let answered = 0; answered < sent; answered++) {
    const ok = await expect(link, 'handback-ok', 10 * 60_000);
    if (ok.outcome === 'failed') failed++;
  }
  if (failed > 0) throw new HandshakeError('INTERNAL', `hand-back: ${failed} of ${sent} deliveries failed on the primary; will retry`);
  return { sent, missing, through: after };
}

/** Primary side: deliver handed-back messages unless already present. */
export async function receiveHandback(
  deps: { store: Store; directory: Directory; log: Logger },
  link: Link,
  fork: bigint,
  peer: PeerHello,
): Promise<{ delivered: number; present: number; failed: number }> {
  const counts = { delivered: 0, present: 0, failed: 0 };
  const log = deps.log.child({ handbackFrom: peer.nodeId, fork: fork.toString() });
  for (;;) {
    const { frame, body } = await link.next(10 * 60_000);
    if (frame.t === 'handback-done') break;
    if (frame.t === 'refuse') throw new HandshakeError(frame.code, frame.message);
    if (frame.t !== 'handback') throw new HandshakeError('INTERNAL', `unexpected ${frame.t} during hand-back`);
    let outcome: 'delivered' | 'present' | 'failed';
    let detail: string | undefined;
    try {
      outcome = await redeliver(deps, frame, body);
    } catch (err) {
      outcome = 'failed';
      detail = (err as Error).message;
    }
    counts[outcome]++;
    const fields = { accountId: frame.accountId, mailbox: frame.mailbox, messageId: frame.messageId, basename: frame.basename };
    if (outcome === 'failed') log.error({ ...fields, err: detail }, 'replication: hand-back delivery FAILED');
    else log.warn(fields, outcome === 'delivered' ? 'replication: handed-back message delivered again' : 'replication: handed-back message already present; not duplicated');
    await link.send({ t: 'handback-ok', id: frame.id, outcome, ...(detail ? { detail } : {}) });
  }
  log.warn(counts, 'replication: hand-back finished');
  return counts;
}

async function redeliver(deps: { store: Store; directory: Directory }, m: HandbackFrame, body: Buffer): Promise<'delivered' | 'present'> {
  const account: Account | null = await deps.directory.accountById(m.accountId);
  if (!account) throw new Error(`account ${m.accountId} unknown here`);
  const user = deps.store.user(account);
  const mailboxes = await user.listMailboxes();
  const mailbox = mailboxes.some((b) => b.name === m.mailbox) ? m.mailbox : 'INBOX';
  if (await present(user, mailbox, m)) return 'present';
  const draft = await deps.store.createDraft();
  try {
    await draft.write(body);
    await draft.finish();
    await deps.store.deliver([account], draft, { sender: m.sender, internalDate: new Date(m.internalDate), mailbox });
  } catch (err) {
    await draft.discard();
    throw err;
  }
  return 'delivered';
}

async function present(user: ReturnType<Store['user']>, mailbox: string, m: HandbackFrame): Promise<boolean> {
  const box = await user.openMailbox(mailbox, { readOnly: true });
  try {
    const messages = box.snapshot().messages;
    if (m.basename && messages.some((r) => r.basename === m.basename)) return true;
    if (!m.messageId) return false;
    // A sender that got no K from the cut-off node retried here: same Message-ID, delivered around the same time.
    const since = m.internalDate - 24 * 3600 * 1000;
    for (const r of messages) {
      if (r.internalDate < since) continue;
      const head = await box.readMessage(r.uid, { start: 0, end: Math.min(r.size, HEADER_PEEK) });
      if (messageIdOf(head) === m.messageId) return true;
    }
    return false;
  } finally {
    box.close();
  }
}

/**
 * Full resync, primary side: the follower resets its store, then streams from
 * LSN 0 — the journal replayed from the start. Refused when the journal no
 * longer starts at LSN 1 (a snapshot transfer would be needed).
 */
export async function serveResync(store: Store, link: Link, log: Logger): Promise<bigint> {
  if (store.lastLsn() > 0n) {
    const first = await store.readJournal(0n, 1);
    if (first.length === 0 || first[0]!.lsn !== 1n) {
      await link.send({ t: 'refuse', code: 'RESYNC', message: 'the journal no longer starts at LSN 1; re-seed the replica from a copy of this node' });
      throw new HandshakeError('RESYNC', 'journal truncated: cannot replay from LSN 1');
    }
  }
  await expect(link, 'resync-ready', 10 * 60_000);
  log.warn({ lastLsn: store.lastLsn().toString() }, 'replication: full resync: replaying the journal from LSN 1 to the follower');
  return 0n;
}

/** Full resync, follower side: reset the spool and the store, then tell the primary to replay. */
export async function acceptResync(store: Store, spool: ReceiveSpool, link: Link, log: Logger): Promise<void> {
  if (!store.replication.reset) {
    throw new HandshakeError('RESYNC', 'this store cannot reset itself; re-seed the data directory by hand (contrib/README.md)');
  }
  log.warn({ lastLsn: store.lastLsn().toString() }, 'replication: full resync: discarding local mailbox data and following from LSN 0');
  await spool.reset();
  await store.replication.reset();
  await link.send({ t: 'resync-ready' });
}
