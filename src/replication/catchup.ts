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
 * Full resync (the follower's data must be re-seeded): not available through
 * the store API yet — the follower is marked `needsResync`, reported by
 * `roost status`, and kept read-only until an operator re-seeds it.
 */
import type { Account, Directory } from '../accounts/directory.js';
import type { Logger } from '../log/logger.js';
import type { JournalRecord, Store } from '../store/store.js';
import { LIMITS } from '../limits.js';
import { HandshakeError, expect } from './handshake.js';
import type { PeerHello } from './handshake.js';
import type { Frame, Link } from './protocol.js';
import { readAll } from './primary.js';

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

/** Full resync, primary side. */
export async function sendSnapshot(link: Link): Promise<bigint> {
  await link.send({ t: 'refuse', code: 'RESYNC', message: 'full resync is not available in this version; re-seed the replica data directory' });
  throw new HandshakeError('RESYNC', 'full resync requested but not available');
}

/** Full resync, follower side. */
export async function receiveSnapshot(link: Link): Promise<bigint> {
  await expect(link, 'snap-begin');
  throw new HandshakeError('RESYNC', 'full resync is not available in this version');
}
