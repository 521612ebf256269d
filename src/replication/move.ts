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
 *
 * The copy is the full-resync machinery (../store/snapshot.ts, catchup.ts)
 * per account, in rounds instead of snapshot + journal tail: the tail is in
 * the source's LSNs, which mean nothing on another pair's journal. A
 * message's bytes never change under its UID, so each round sends only the
 * messages no earlier round sent; the final round, taken with the account
 * frozen, carries the index image (UIDVALIDITY, UIDs, modseqs, flags,
 * keywords, POP3 UIDLs as they are) and the last few messages. The source
 * then compares its manifest of the account with the destination's, as
 * `roost verify` does, and only when they are identical marks the account
 * moved; any failure before that thaws it, and it serves on unchanged.
 * The manifests' SHA-256s are those of the bytes as the source sent them
 * and as the destination received and staged them, hashed on the way, so
 * the comparison in the freeze does not read every message again.
 */
import { createHash, type Hash } from 'node:crypto';
import type { Account, Directory } from '../accounts/directory.js';
import { isRoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';
import type { AccountMoves, AccountSnapshot, Store } from '../store/store.js';
import { snapshotBody } from './catchup.js';
import { HandshakeError, expect, refuse } from './handshake.js';
import type { BodySource, Link } from './protocol.js';
import { receiveBody } from './protocol.js';
import { compareManifests, manifest, receiveManifest, sendManifest, type VerifyReport } from './verify.js';

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
  report: VerifyReport;
}

interface MoveDeps {
  store: Store;
  directory: Directory;
  log: Logger;
}

function movesOf(store: Store): AccountMoves {
  const rs = store.replication;
  if (!rs.moves || !rs.snapshotAccount || !rs.readSnapshotFile) throw new HandshakeError('INTERNAL', 'this store cannot move accounts');
  return rs.moves;
}

const staged = (f: { uidvalidity: number; uid: number }): string => `${f.uidvalidity}.${f.uid}`;

/** A peer's file description that can become a path here: 32-bit UID and UIDVALIDITY, a plain file name. */
export function safeFile(f: { uidvalidity: unknown; uid: unknown; filename?: unknown }): boolean {
  const u32 = (n: unknown): boolean => Number.isInteger(n) && (n as number) > 0 && (n as number) <= 0xffffffff;
  // "cur/NAME" or "new/NAME" (or a bare NAME): never another directory, never a dot file.
  const plain = (s: unknown): boolean => s === undefined || (typeof s === 'string' && /^(?:(?:new|cur)\/)?[^/.\0][^/\0]*$/.test(s));
  return u32(f.uidvalidity) && u32(f.uid) && plain(f.filename);
}

/** Source side, after the handshake. Throws when the move did not complete; the account then serves on here. */
export async function sendMove(deps: MoveDeps, link: Link, account: Account, to: string, progress?: (p: MoveProgress) => void): Promise<MoveOutcome> {
  const { store, log } = deps;
  const moves = movesOf(store);
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

  const round = async (snap: AccountSnapshot, final: boolean): Promise<number> => {
    p.round++;
    const fresh = snap.files.filter((f) => !sent.has(staged(f)));
    await link.send({ t: 'move-round', final, files: fresh.length, imageBytes: final ? snap.image.length : 0 });
    if (final) {
      const piece = LIMITS.replication.bodyChunkBytes;
      for (let off = 0; off < snap.image.length; off += piece) await link.send({ t: 'snap-image' }, snap.image.subarray(off, off + piece));
    }
    for (const f of fresh) {
      const body = await snapshotBody(store, account.id, f);
      const hash = createHash('sha256');
      await link.sendBody({ t: 'snap-file', accountId: account.id, file: f, ...(body ? {} : { lost: true }) }, body ? hashed(body, hash) : undefined);
      // A lost file (expunged since the image) is not sent; should a later image still name it, it goes again.
      if (!body) continue;
      sent.set(staged(f), hash.digest('hex'));
      p.messages++;
      p.bytes += f.size;
      progress?.({ ...p });
    }
    await link.send({ t: 'snap-flush', seq: ++seq });
    await expect(link, 'snap-ack', LIMITS.move.stepTimeoutMs);
    return fresh.length;
  };

  for (let n = 0; n < LIMITS.move.maxRounds; n++) {
    const snap = await rs.snapshotAccount!(account.id);
    if (!snap) throw new HandshakeError('INTERNAL', `account ${account.id} has no data here`);
    if ((await round(snap, false)) <= LIMITS.move.freezeBelowMessages) break;
  }
  moves.freeze(account.id);
  const frozenAt = Date.now();
  p.frozen = true;
  progress?.({ ...p });
  log.warn({ accountId: account.id, to }, 'account move: account frozen for the final round');
  let done = false;
  try {
    await round(await frozenSnapshot(store, account.id), true);
    const sentAt = Date.now();
    const result = await expect(link, 'move-done', LIMITS.move.stepTimeoutMs);
    const installedAt = Date.now();
    const [peer, local] = await Promise.all([receiveManifest(link), collect(manifest(store, deps.directory, account, sent))]);
    const report = compareManifests(local, peer.entries);
    // Where the freeze went: the last round, the destination's install, the comparison (both sides hash every message).
    const phases = { finalRoundMs: sentAt - frozenAt, installMs: installedAt - sentAt, verifyMs: Date.now() - installedAt };
    if (!report.identical) {
      log.error({ accountId: account.id, to, differences: report.differences.slice(0, 20) }, 'account move: the destination differs; the account stays here');
      throw new HandshakeError('INTERNAL', `the destination's copy differs: ${report.differences[0] ?? ''}`);
    }
    moves.markMoved(account.id, to);
    done = true;
    const freezeMs = Date.now() - frozenAt;
    log.warn({ accountId: account.id, to, messages: result.messages, bytes: result.bytes, rounds: p.round, freezeMs, ...phases }, 'account move: done; this copy stays frozen until `roost account purge`');
    return { messages: result.messages, bytes: result.bytes, rounds: p.round, freezeMs, report };
  } finally {
    if (!done) moves.thaw(account.id);
  }
}

/** The final image: taken once no commit naming the account is in flight (they are refused from now on). */
async function frozenSnapshot(store: Store, accountId: string): Promise<AccountSnapshot> {
  const until = Date.now() + LIMITS.move.settleTimeoutMs;
  for (;;) {
    try {
      const snap = await store.replication.snapshotAccount!(accountId);
      if (!snap) throw new HandshakeError('INTERNAL', `account ${accountId} has no data here`);
      if (snap.firstAfter === null) return snap;
    } catch (err) {
      if (!isRoostError(err, 'TEMP')) throw err;
    }
    if (Date.now() > until) throw new HandshakeError('BUSY', `account ${accountId}: commits still in flight after ${LIMITS.move.settleTimeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** The body as sent, each piece hashed on its way. */
function hashed(body: BodySource, hash: Hash): BodySource {
  if (Buffer.isBuffer(body)) {
    hash.update(body);
    return body;
  }
  return (async function* () {
    for await (const piece of body) {
      hash.update(piece);
      yield piece;
    }
  })();
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

/** Destination side (a primary), after the handshake. */
/** `installed` runs as soon as the account is this node's (before the manifest is sent, which may still fail). */
export async function receiveMove(deps: MoveDeps, link: Link, peerNode: string, installed?: () => void): Promise<{ account: Account; messages: number; bytes: number }> {
  const { store, directory, log } = deps;
  const begin = await expect(link, 'move-begin', LIMITS.move.stepTimeoutMs);
  const moves = store.replication.moves;
  if (!moves) return refuse(link, 'INTERNAL', 'this store cannot take moved accounts');
  // This node's own view of the account (its Maildir path): a peer of another pair never chooses where files go.
  const found = await directory.lookupRecipient(String(begin.account?.address ?? '')).catch(() => null);
  const account = (await directory.accountById(String(begin.account?.id ?? ''))) ?? (found?.kind === 'found' ? found.account : null);
  if (!account) return refuse(link, 'NOTFOUND', `this node's directory does not know ${String(begin.account?.address)}; add the account here first`);
  if (moves.hasMail(account)) return refuse(link, 'EXISTS', `account ${account.address} already holds mail on this node; nothing was changed`);
  await moves.clearStaging(account.id);
  log.warn({ accountId: account.id, from: peerNode }, 'account move: receiving an account');
  /** Staged name → SHA-256 of the bytes received and staged (the manifest's content check). */
  const received = new Map<string, string>();
  try {
    await link.send({ t: 'move-ready' });
    for (;;) {
      const r = await expect(link, 'move-round', LIMITS.move.stepTimeoutMs);
      const image = r.final ? await receiveImage(link, r.imageBytes) : null;
      // Each staged file's fdatasync runs in the thread pool while the next one arrives; at most syncsInFlight at once.
      const syncing = new Set<Promise<void>>();
      for (let i = 0; i < r.files; i++) {
        const m = await link.next(LIMITS.move.stepTimeoutMs);
        const frame = m.frame;
        if (frame.t !== 'snap-file') throw new HandshakeError('PROTOCOL', `expected snap-file, got ${frame.t}`);
        if (frame.lost) continue;
        if (!safeFile(frame.file)) throw new HandshakeError('PROTOCOL', 'snap-file with a UID, UIDVALIDITY or name this node will not write');
        const w = await moves.stage(account.id, frame.file);
        const hash = createHash('sha256');
        await receiveBody(
          link,
          m,
          (piece) => {
            hash.update(piece);
            return w.write(piece);
          },
          LIMITS.move.stepTimeoutMs,
        );
        received.set(staged(frame.file), hash.digest('hex'));
        const done: Promise<void> = w.finish().finally(() => syncing.delete(done));
        // Awaited below (race, all); this only keeps a failure seen there from also being unhandled.
        done.catch(() => undefined);
        syncing.add(done);
        if (syncing.size >= LIMITS.move.syncsInFlight) await Promise.race(syncing);
      }
      await Promise.all(syncing);
      const flush = await expect(link, 'snap-flush', LIMITS.move.stepTimeoutMs);
      if (image) {
        const got = await moves.install(account, image);
        installed?.();
        await link.send({ t: 'snap-ack', seq: flush.seq });
        await link.send({ t: 'move-done', ...got });
        await sendManifest(store, directory, link, account, received);
        log.warn({ accountId: account.id, from: peerNode, ...got }, 'account move: account installed');
        return { account, ...got };
      }
      await link.send({ t: 'snap-ack', seq: flush.seq });
    }
  } catch (err) {
    await moves.clearStaging(account.id).catch(() => undefined);
    throw err;
  }
}

async function receiveImage(link: Link, bytes: number): Promise<Buffer> {
  const pieces: Buffer[] = [];
  let got = 0;
  while (got < bytes) {
    const piece = await link.next(LIMITS.move.stepTimeoutMs);
    if (piece.frame.t !== 'snap-image') throw new HandshakeError('PROTOCOL', `expected snap-image, got ${piece.frame.t}`);
    pieces.push(piece.body);
    got += piece.body.length;
  }
  if (got !== bytes) throw new HandshakeError('PROTOCOL', `index image of ${got} bytes, expected ${bytes}`);
  return Buffer.concat(pieces);
}
