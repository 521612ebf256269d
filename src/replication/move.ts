/**
 * `roost account move`: one account handed from this pair's
 * primary to another pair's, over a replication link (purpose `move`,
 * authenticated with replication.secret, which both pairs must share).
 *
 *   S → D  move-begin {account}          D: refuse EXISTS when it holds mail for it, ROLE unless primary
 *   D → S  move-ready
 *   S → D  move-round {final:false} + snap-file… + snap-flush      repeated while the source serves
 *   D → S  snap-ack
 *   S → D  move-round {final:true} + snap-image… + snap-file… + snap-flush   the account frozen
 *   D → S  snap-ack, move-done {messages, bytes}, manifest…, manifest-end
 *   S → D  move-commit (manifests identical) | move-abort {reason}
 *   D → S  move-committed                     (the copy serves from now on)
 *
 * The copy is the full-resync machinery (../store/account-snapshot.ts, catchup.ts)
 * per account, in rounds instead of snapshot + journal tail: the tail is in
 * the source's LSNs, which mean nothing on another pair's journal. A
 * message's bytes never change under its UID, so each round sends only the
 * messages no earlier round sent; the final round, taken with the account
 * frozen, carries the index image (UIDVALIDITY, UIDs, modseqs, flags,
 * keywords, POP3 UIDLs as they are) and the last few messages. The source
 * then compares its manifest of the account with the destination's, as
 * `roost verify` does, and only when they are identical commits and, once
 * the destination answers move-committed, marks the account moved; any
 * failure before that thaws it, and it serves on unchanged. The destination
 * holds its installed copy refused (arriving, ../store/freezer.ts) until the
 * commit, and removes it on an abort or any failure (move-receive.ts): a
 * failed move leaves no copy there that could be served.
 * The manifests' SHA-256s are those of the bytes as the source sent them
 * and as the destination received and staged them, hashed on the way, so
 * the comparison in the freeze does not read every message again.
 */
import { createHash } from 'node:crypto';
import type { Account } from '../accounts/directory.js';
import { isRoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { AccountMoves, AccountSnapshot, SnapshotFile, Store } from '../store/store.js';
import { HandshakeError, expect } from './handshake.js';
import type { Link, MailboxManifest } from './protocol.js';
import { imageDelta, sendImage, sendSnapshotFile } from './snap-frames.js';
import { compareManifests, manifest, receiveManifest, type VerifyReport } from './verify.js';

import { staged, type MoveDeps } from './move-receive.js';

export { receiveMove, safeFile, type MoveDeps } from './move-receive.js';

export interface MoveProgress {
  round: number;
  messages: number;
  bytes: number;
  frozen: boolean;
}

export interface MoveOutcome {
  messages: number;
  bytes: number;
  rounds: number;
  /** How long the account refused changes and logins. */
  freezeMs: number;
  /** Bytes of index image the frozen round put on the wire (a delta against the last catch-up round's image when there was one). */
  frozenImageBytes: number;
  report: VerifyReport;
}

function movesOf(store: Store): AccountMoves {
  const rs = store.replication;
  if (!rs.moves || !rs.snapshotAccount || !rs.readSnapshotFile) throw new HandshakeError('INTERNAL', 'this store cannot move accounts');
  return rs.moves;
}

/** Source side, after the handshake. Throws when the move did not complete; the account then serves on here. */
export async function sendMove(deps: MoveDeps, link: Link, account: Account, to: string, progress?: (p: MoveProgress) => void): Promise<MoveOutcome> {
  const moves = movesOf(deps.store);
  if (!moves.claim(account.id)) throw new HandshakeError('INTERNAL', `account ${account.id} is being moved already, or was moved`);
  try {
    return await sendClaimed(deps, link, account, to, moves, progress);
  } finally {
    moves.release(account.id);
  }
}

async function sendClaimed(deps: MoveDeps, link: Link, account: Account, to: string, moves: AccountMoves, progress?: (p: MoveProgress) => void): Promise<MoveOutcome> {
  const { store, log } = deps;
  const rs = store.replication;
  await link.send({ t: 'move-begin', account });
  await expect(link, 'move-ready', LIMITS.move.stepTimeoutMs);
  /** Staged name → SHA-256 of the bytes sent. */
  const sent = new Map<string, string>();
  const p: MoveProgress = { round: 0, messages: 0, bytes: 0, frozen: false };
  let seq = 0;

  /** The image the last catch-up round sent: the frozen round sends only the blocks that differ from it. */
  let base: Buffer | null = null;
  /** Bytes of the frozen round's image (or delta) on the wire, and the time its delta and SHA-256 took. */
  let imageSent = 0;
  let deltaMs = 0;
  /** When the last round's frames were all written (the rest of it is the destination's). */
  let flushedAt = 0;
  const unsent = (snap: AccountSnapshot): SnapshotFile[] => snap.files.filter((f) => !sent.has(staged(f)));

  /** `whileAcked`: started once the round's frames are written, to run while the destination works on them. */
  const round = async (snap: AccountSnapshot, final: boolean, withBase = false, whileAcked?: () => void): Promise<number> => {
    p.round++;
    const fresh = unsent(snap);
    if (final && base) {
      const deltaStart = Date.now();
      const delta = imageDelta(base, snap.image);
      const imageSha256 = createHash('sha256').update(snap.image).digest('hex');
      deltaMs = Date.now() - deltaStart;
      await link.send({ t: 'move-round', final, files: fresh.length, imageBytes: snap.image.length, deltaBytes: delta.length, imageSha256 });
      await sendImage(link, delta);
      imageSent = delta.length;
    } else {
      const image = final || withBase ? snap.image : null;
      await link.send({ t: 'move-round', final, files: fresh.length, imageBytes: image ? image.length : 0 });
      if (image) await sendImage(link, image);
      if (final) imageSent = snap.image.length;
      if (withBase) base = snap.image;
    }
    for (const f of fresh) {
      const hash = createHash('sha256');
      // A lost file (expunged since the image) is not sent; should a later image still name it, it goes again.
      if ((await sendSnapshotFile(link, store, account.id, f, hash)) === null) continue;
      sent.set(staged(f), hash.digest('hex'));
      p.messages++;
      p.bytes += f.size;
      progress?.({ ...p });
    }
    await link.send({ t: 'snap-flush', seq: ++seq });
    if (whileAcked) {
      await link.flushed();
      whileAcked();
    }
    flushedAt = Date.now();
    await expect(link, 'snap-ack', LIMITS.move.stepTimeoutMs);
    return fresh.length;
  };

  for (let n = 0; n < LIMITS.move.maxRounds; n++) {
    const snap = await rs.snapshotAccount!(account.id);
    if (!snap) throw new HandshakeError('INTERNAL', `account ${account.id} has no data here`);
    // The last catch-up round (few messages left, or no rounds left) also sends its image, the frozen round's base.
    const last = n === LIMITS.move.maxRounds - 1 || unsent(snap).length <= LIMITS.move.freezeBelowMessages;
    await round(snap, false, last);
    if (last) break;
  }
  moves.freeze(account.id);
  const frozenAt = Date.now();
  p.frozen = true;
  progress?.({ ...p });
  log.warn({ accountId: account.id, to }, 'account move: account frozen for the final round');
  let done = false;
  try {
    const snap = await frozenSnapshot(store, moves, account.id);
    const snappedAt = Date.now();
    // The frozen account no longer changes: its manifest is built here while the destination installs,
    // begun once the round's frames have left this process (begun before, its synchronous stretches held them back).
    let manifestAt = 0;
    let localManifest: Promise<MailboxManifest[]> | null = null;
    const buildManifest = (): void => {
      localManifest = collect(manifest(store, deps.directory, account, sent)).then((m) => {
        manifestAt = Date.now();
        return m;
      });
      localManifest.catch(() => undefined);
    };
    const finalFiles = await round(snap, true, false, buildManifest);
    const sentAt = Date.now();
    const result = await expect(link, 'move-done', LIMITS.move.stepTimeoutMs);
    const installedAt = Date.now();
    // A true copy has the mailboxes and messages this image names and no more: a peer's manifest past that is refused unread.
    const boxes = (await store.user(account, { frozenToo: true }).listMailboxes()).length;
    const maxEntries = boxes + snap.files.length + Math.ceil(snap.files.length / LIMITS.replication.manifestEntriesPerFrame);
    const [peer, local] = await Promise.all([receiveManifest(link, { maxEntries }), localManifest ?? collect(manifest(store, deps.directory, account, sent))]).catch(async (err: unknown) => {
      // The destination removes its copy on the abort (or when the link closes).
      await link.send({ t: 'move-abort', reason: (err as Error).message }).catch(() => undefined);
      throw err;
    });
    const report = compareManifests(local, peer.entries);
    // Where the freeze went: the last round, the destination's install, the comparison (both sides hash every message).
    const phases = {
      snapshotMs: snappedAt - frozenAt,
      imageBytes: snap.image.length,
      imageSentBytes: imageSent,
      deltaMs,
      finalRoundSentMs: flushedAt - frozenAt,
      finalRoundMs: sentAt - frozenAt,
      finalFiles: finalFiles,
      destinationInstallMs: typeof result.installMs === 'number' ? result.installMs : null,
      destinationPhases: result.installPhases ?? null,
      installMs: installedAt - sentAt,
      verifyMs: Date.now() - installedAt,
      localManifestMs: manifestAt - frozenAt,
    };
    if (!report.identical) {
      log.error({ accountId: account.id, to, differences: report.differences.slice(0, 20) }, 'account move: the destination differs; the account stays here');
      const reason = `the destination's copy differs: ${report.differences[0] ?? ''}`;
      // Best effort: without it the destination removes its copy when the link closes.
      await link.send({ t: 'move-abort', reason }).catch(() => undefined);
      throw new HandshakeError('INTERNAL', reason);
    }
    await link.send({ t: 'move-commit' });
    await expect(link, 'move-committed', LIMITS.move.stepTimeoutMs);
    moves.markMoved(account.id, to);
    done = true;
    const freezeMs = Date.now() - frozenAt;
    log.warn({ accountId: account.id, to, messages: result.messages, bytes: result.bytes, rounds: p.round, freezeMs, ...phases }, 'account move: done; this copy stays frozen until `roost account purge`');
    return { messages: result.messages, bytes: result.bytes, rounds: p.round, freezeMs, frozenImageBytes: imageSent, report };
  } finally {
    if (!done) moves.thaw(account.id);
  }
}

/**
 * The final image: taken once the commits in flight at the freeze have
 * finished (no commit naming the account begins after it). Should the image
 * still name a record not yet applied to the index, it is taken again after
 * the next commit finishes, until LIMITS.move.settleTimeoutMs.
 */
async function frozenSnapshot(store: Store, moves: AccountMoves, accountId: string): Promise<AccountSnapshot> {
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((r) => (timer = setTimeout(() => r('expired'), LIMITS.move.settleTimeoutMs)));
  try {
    for (let next = false; ; next = true) {
      if ((await Promise.race([moves.committed(next), expired])) === 'expired') {
        throw new HandshakeError('BUSY', `account ${accountId}: commits still in flight after ${LIMITS.move.settleTimeoutMs} ms`);
      }
      try {
        const snap = await store.replication.snapshotAccount!(accountId);
        if (!snap) throw new HandshakeError('INTERNAL', `account ${accountId} has no data here`);
        if (snap.firstAfter === null) return snap;
      } catch (err) {
        if (!isRoostError(err, 'TEMP')) throw err;
      }
    }
  } finally {
    clearTimeout(timer);
  }
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}
