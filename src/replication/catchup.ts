/**
 * Bringing a follower back onto the primary's line.
 *
 * Hand-back (split brain recovery, after Cyrus practice, sync_client(8)):
 * a node that kept accepting mail while cut off, and then met a primary of a
 * newer epoch, sends every message it delivered at or after the fork point.
 * The primary delivers each one again unless the mailbox already holds it
 * (same Maildir base name — a copy that did replicate — or the same
 * Message-ID delivered since the fork), and logs every decision with the
 * message id. Nothing accepted is dropped; nothing present is duplicated.
 *
 * Full resync (a new follower, one too far behind for the bounded journal,
 * or one whose data left the primary's line): the follower resets its store
 * (ReplicationSupport.reset), then the primary sends a snapshot — the
 * embedded directory, and per account its index image and message files
 * (../store/account-snapshot.ts) — while it keeps serving, and streams the journal
 * from the snapshot's LSN. A store without snapshots replays its journal
 * from LSN 1 instead (possible only while nothing was pruned). A follower
 * without reset() stays marked `needsResync` (roost status) and read-only
 * until an operator re-seeds it.
 */
import type { Account, Directory } from '../accounts/directory.js';
import type { Logger } from '../log/logger.js';
import type { JournalRecord, ReplicaBody, SnapshotFile, Store } from '../store/store.js';
import { LIMITS } from '../limits.js';
import { HandshakeError, expect } from './handshake.js';
import type { PeerHello } from './handshake.js';
import { receiveBody, streamed, type BodySource, type Frame, type Link, type Message } from './protocol.js';
import { receiveImage, sendImage, sendSnapshotFile } from './snap-frames.js';
import type { ReceiveSpool } from './spool.js';

type HandbackFrame = Extract<Frame, { t: 'handback' }>;

const HEADER_PEEK = LIMITS.tuning.handbackHeaderPeekBytes;

/** The Message-ID header of a message (first header block only), or null. */
export function messageIdOf(bytes: Buffer): string | null {
  const head = bytes.subarray(0, HEADER_PEEK).toString('latin1');
  const end = head.search(/\r?\n\r?\n/);
  const block = end >= 0 ? head.slice(0, end) : head;
  const m = /^message-id:[ \t]*((?:.*)(?:\r?\n[ \t].*)*)/im.exec(block);
  return m ? m[1]!.replace(/\s+/g, '').trim() || null : null;
}

/** Follower side: send every delivery at or after `fork` from our own journal. */
export async function sendHandback(store: Store, link: Link, fork: bigint, handedBackThrough: bigint, log: Logger): Promise<{ sent: number; missing: number; through: bigint }> {
  // Records handed back in an earlier attempt are not sent twice.
  let after = fork - 1n > handedBackThrough ? fork - 1n : handedBackThrough;
  const first = BigInt(store.replication.journalInfo().firstLsn);
  if (first > after + 1n) {
    // journal_max_bytes pruned part of the divergence. A resync would delete those messages with the
    // rest of this node's data, so stop here: the node stays a read-only replica until an operator acts.
    log.error(
      { fork: fork.toString(), journalFirstLsn: first.toString() },
      'replication: hand-back impossible: records after the fork were pruned from the journal; NOT resyncing — save this Maildir, then re-seed the node by hand (contrib/README.md)',
    );
    throw new HandshakeError('RESYNC', `hand-back: journal starts at ${first}, after the fork at ${fork}; manual re-seed needed`);
  }
  let id = 0;
  let sent = 0;
  let missing = 0;
  for (;;) {
    const batch: readonly JournalRecord[] = await store.readJournal(after, LIMITS.replication.readBatch);
    if (batch.length === 0) break;
    for (const r of batch) {
      after = r.lsn;
      if (r.kind !== 'deliver') continue;
      let body: { head: Buffer; body: BodySource };
      try {
        body = await handbackBody(store, r);
      } catch (err) {
        missing++;
        log.error({ lsn: r.lsn.toString(), accountId: r.accountId, err: (err as Error).message }, 'replication: hand-back: bytes of a diverged delivery are gone (expunged here); not handed back');
        continue;
      }
      const messageId = messageIdOf(body.head);
      await link.sendBody(
        {
          t: 'handback',
          id: ++id,
          accountId: r.accountId,
          mailbox: r.data.mailbox,
          basename: r.data.basename,
          sender: r.data.sender ?? '',
          internalDate: r.data.internalDate,
          flags: [...r.data.flags],
          messageId,
        },
        body.body,
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

/**
 * The bytes of a diverged delivery to hand back, and its first HEADER_PEEK
 * bytes (for its Message-ID): a large one is read from its file in chunks,
 * its head first.
 */
async function handbackBody(store: Store, r: JournalRecord): Promise<{ head: Buffer; body: BodySource }> {
  if (!streamed(r)) {
    const bytes = await store.replication.readDelivered(r);
    return { head: bytes, body: bytes };
  }
  const stream = await store.replication.openDelivered(r);
  const it = (stream as AsyncIterable<Buffer>)[Symbol.asyncIterator]();
  const first: Buffer[] = [];
  let got = 0;
  let ended = false;
  while (got < HEADER_PEEK) {
    const next = await it.next();
    if (next.done) {
      ended = true;
      break;
    }
    first.push(next.value);
    got += next.value.length;
  }
  const head = Buffer.concat(first);
  async function* rest(): AsyncGenerator<Buffer> {
    yield head;
    if (ended) return;
    for (;;) {
      const next = await it.next();
      if (next.done) return;
      yield next.value;
    }
  }
  return { head, body: rest() };
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
    const m = await link.next(10 * 60_000);
    const frame = m.frame;
    if (frame.t === 'handback-done') break;
    if (frame.t === 'refuse') throw new HandshakeError(frame.code, frame.message);
    if (frame.t !== 'handback') throw new HandshakeError('INTERNAL', `unexpected ${frame.t} during hand-back`);
    let outcome: 'delivered' | 'present' | 'failed';
    let detail: string | undefined;
    try {
      outcome = await redeliver(deps, link, frame, m);
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

/**
 * One handed-back message: its bytes stream into a draft as they come (in
 * chunks when large), so they are taken off the link whatever the outcome;
 * then it is delivered unless the mailbox already holds it.
 */
async function redeliver(deps: { store: Store; directory: Directory }, link: Link, m: HandbackFrame, first: Message): Promise<'delivered' | 'present'> {
  const draft = await deps.store.createDraft();
  try {
    await receiveBody(link, first, (piece) => draft.write(piece), 10 * 60_000);
    await draft.finish();
    const account: Account | null = await deps.directory.accountById(m.accountId);
    if (!account) throw new Error(`account ${m.accountId} unknown here`);
    const user = deps.store.user(account);
    const mailboxes = await user.listMailboxes();
    const mailbox = mailboxes.some((b) => b.name === m.mailbox) ? m.mailbox : 'INBOX';
    if (await present(user, mailbox, m)) {
      await draft.discard();
      return 'present';
    }
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

/** How the primary will re-seed a follower: its store's snapshots when it has them. */
export function resyncMethod(store: Store): 'snapshot' | 'replay' {
  const rs = store.replication;
  return rs.snapshotAccount && rs.readSnapshotFile ? 'snapshot' : 'replay';
}

/** Where the stream continues after a full resync, and the journal pin to drop once it got there. */
export interface ResyncStart {
  from: bigint;
  release: () => void;
}

/** Snapshot progress for `roost status` and the logs (both sides). */
export interface SnapshotProgress {
  accounts: number;
  accountsDone: number;
  files: number;
  bytes: number;
  lsn: string;
}

/** Full resync, primary side (after 'start' resync was sent): wait for the follower's reset, then seed it. */
export async function serveResync(deps: { store: Store; directory: Directory }, link: Link, log: Logger, progress?: (p: SnapshotProgress) => void): Promise<ResyncStart> {
  const { store } = deps;
  if (resyncMethod(store) === 'snapshot') {
    await expect(link, 'resync-ready', 10 * 60_000);
    return serveSnapshot(deps, link, log, progress);
  }
  if (store.lastLsn() > 0n) {
    const first = await store.readJournal(0n, 1);
    if (first.length === 0 || first[0]!.lsn !== 1n) {
      await link.send({ t: 'refuse', code: 'RESYNC', message: 'the journal no longer starts at LSN 1; re-seed the replica from a copy of this node' });
      throw new HandshakeError('RESYNC', 'journal truncated: cannot replay from LSN 1');
    }
  }
  await expect(link, 'resync-ready', 10 * 60_000);
  log.warn({ lastLsn: store.lastLsn().toString() }, 'replication: full resync: replaying the journal from LSN 1 to the follower');
  return { from: 0n, release: () => undefined };
}

/** Chunks of snapshot frames, each acknowledged once the follower installed it; at most two unacknowledged. */
class FlushWindow {
  private seq = 0;
  private acked = 0;
  constructor(private readonly link: Link) {}

  async flush(): Promise<void> {
    await this.link.send({ t: 'snap-flush', seq: ++this.seq });
    while (this.seq - this.acked > 2) await this.ackOne();
  }

  async drain(): Promise<void> {
    while (this.acked < this.seq) await this.ackOne();
  }

  private async ackOne(): Promise<void> {
    this.acked = (await expect(this.link, 'snap-ack', 10 * 60_000)).seq;
  }
}

const FLUSH_BYTES = LIMITS.tuning.snapshotFlushBytes;

async function serveSnapshot(deps: { store: Store; directory: Directory }, link: Link, log: Logger, progress?: (p: SnapshotProgress) => void): Promise<ResyncStart> {
  const { store, directory } = deps;
  const rs = store.replication;
  const pin = (lsn: bigint): (() => void) => rs.pinJournal(lsn);
  // The stream after the snapshot starts here, or earlier when an account had commits in flight.
  let from = store.lastLsn();
  let unpin = pin(from);
  const began = Date.now();
  try {
    const ids = await rs.listAccountIds();
    const p: SnapshotProgress = { accounts: ids.length, accountsDone: 0, files: 0, bytes: 0, lsn: from.toString() };
    log.warn({ accounts: ids.length, lsn: from.toString() }, 'replication: full resync: sending a snapshot to the follower');
    await link.send({ t: 'snap-begin', accounts: ids.length, lsn: from.toString() });
    const dirState = directory.exportState?.() ?? null;
    if (dirState) await link.sendBody({ t: 'snap-dir' }, Buffer.from(JSON.stringify(dirState)));
    const window = new FlushWindow(link);
    let logged = Date.now();
    for (const id of ids) {
      const snap = await rs.snapshotAccount!(id);
      if (!snap) continue;
      if (snap.firstAfter !== null && snap.firstAfter - 1n < from) {
        from = snap.firstAfter - 1n;
        const old = unpin;
        unpin = pin(from);
        old();
      }
      await link.send({ t: 'snap-account', accountId: id, account: snap.account, appliedLsn: snap.appliedLsn.toString(), files: snap.files.length, imageBytes: snap.image.length });
      await sendImage(link, snap.image);
      let chunk = 0;
      let chunkBytes = 0;
      for (const f of snap.files) {
        const bytes = (await sendSnapshotFile(link, store, id, f)) ?? 0;
        p.files++;
        p.bytes += bytes;
        chunkBytes += bytes;
        if (++chunk >= LIMITS.replication.snapshotWriteBatch || chunkBytes >= FLUSH_BYTES) {
          await window.flush();
          chunk = 0;
          chunkBytes = 0;
        }
      }
      await window.flush();
      p.accountsDone++;
      progress?.({ ...p });
      if (Date.now() - logged > 2000) {
        logged = Date.now();
        log.info({ ...p }, 'replication: full resync: snapshot in progress');
      }
    }
    await window.drain();
    await link.send({ t: 'snap-end', from: from.toString() });
    log.warn({ ...p, from: from.toString(), seconds: (Date.now() - began) / 1000 }, 'replication: full resync: snapshot sent; streaming the journal from its LSN');
    return { from, release: unpin };
  } catch (err) {
    unpin();
    throw err;
  }
}

/** What the follower side of a full resync needs from the replication component. */
export interface ResyncFollower {
  store: Store;
  spool: ReceiveSpool;
  directory: Directory;
  log: Logger;
  /** The account as this node's directory knows it (its own Maildir path), or null. */
  localAccount(id: string): Promise<Account | null>;
  progress?(p: SnapshotProgress): void;
}

/** Full resync, follower side: reset the spool and the store, then take the snapshot (or the replay) the primary sends. */
export async function acceptResync(f: ResyncFollower, link: Link, method: 'snapshot' | 'replay'): Promise<void> {
  const { store, spool, log } = f;
  const rs = store.replication;
  if (!rs.reset) {
    throw new HandshakeError('RESYNC', 'this store cannot reset itself; re-seed the data directory by hand (contrib/README.md)');
  }
  if (method === 'snapshot' && !(rs.installSnapshot && rs.installSnapshotFiles && rs.finishSnapshot)) {
    throw new HandshakeError('RESYNC', 'this store cannot install snapshots; re-seed the data directory by hand (contrib/README.md)');
  }
  log.warn({ lastLsn: store.lastLsn().toString(), method }, 'replication: full resync: discarding local mailbox data');
  await spool.reset();
  await rs.reset();
  await link.send({ t: 'resync-ready' });
  if (method === 'snapshot') await receiveSnapshot(f, link);
}

async function receiveSnapshot(f: ResyncFollower, link: Link): Promise<void> {
  const { store, spool, directory, log } = f;
  const rs = store.replication;
  const begin = await expect(link, 'snap-begin', LIMITS.replication.snapshotFrameTimeoutMs);
  const p: SnapshotProgress = { accounts: begin.accounts, accountsDone: 0, files: 0, bytes: 0, lsn: begin.lsn };
  const began = Date.now();
  let account: Account | null = null;
  let pending: { file: SnapshotFile; body: ReplicaBody }[] = [];
  for (;;) {
    const m = await link.next(LIMITS.replication.snapshotFrameTimeoutMs);
    const { frame, body } = m;
    switch (frame.t) {
      case 'snap-dir': {
        // The directory's state, not a message: taken whole (in pieces when large).
        const pieces: Buffer[] = [];
        await receiveBody(link, m, async (piece) => void pieces.push(piece), LIMITS.replication.snapshotFrameTimeoutMs);
        directory.replaceState?.(JSON.parse(Buffer.concat(pieces).toString('utf8')) as unknown[], BigInt(begin.lsn));
        break;
      }
      case 'snap-account': {
        account = (await f.localAccount(frame.accountId)) ?? frame.account;
        await rs.installSnapshot!(account, await receiveImage(link, frame.imageBytes, LIMITS.replication.snapshotFrameTimeoutMs, LIMITS.replication.maxSnapshotImageBytes));
        p.accountsDone++;
        f.progress?.({ ...p });
        break;
      }
      case 'snap-file': {
        if (!account || account.id !== frame.accountId) throw new HandshakeError('INTERNAL', `snapshot file for ${frame.accountId} outside its account`);
        let file: ReplicaBody = body;
        if (frame.chunked) {
          // A large file goes to the spool directory as it comes, then is linked into place at the flush.
          const writer = await spool.bodyWriter(BigInt(begin.lsn));
          try {
            file = await writer.finish(await receiveBody(link, m, (piece) => writer.write(piece), LIMITS.replication.snapshotFrameTimeoutMs));
          } catch (err) {
            await writer.abort();
            throw err;
          }
        }
        if (!frame.lost) pending.push({ file: frame.file, body: file });
        else await spool.removeBody(file);
        p.files++;
        p.bytes += Buffer.isBuffer(file) ? file.length : file.size;
        break;
      }
      case 'snap-flush':
        if (pending.length > 0) await rs.installSnapshotFiles!(account!, pending);
        for (const x of pending) await spool.removeBody(x.body);
        pending = [];
        f.progress?.({ ...p });
        await link.send({ t: 'snap-ack', seq: frame.seq });
        break;
      case 'snap-end': {
        const from = BigInt(frame.from);
        await rs.finishSnapshot!(from);
        spool.advanceTo(from);
        log.warn({ ...p, from: frame.from, seconds: (Date.now() - began) / 1000 }, 'replication: full resync: snapshot installed; following the stream from its LSN');
        return;
      }
      case 'refuse':
        throw new HandshakeError(frame.code, `primary: ${frame.message}`);
      default:
        throw new HandshakeError('INTERNAL', `unexpected ${frame.t} during a snapshot`);
    }
  }
}
