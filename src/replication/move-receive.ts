/**
 * The destination of `roost account move` (move.ts has the protocol): a
 * primary of another pair, which trusts its peer only as far as the shared
 * replication secret goes. So what one move may make it hold is bounded
 * (MoveBudget: rounds, the index image held in memory, the bytes staged on
 * disk), every file description is checked before it becomes a path
 * (safeFile), and a failed body closes its staged file at once.
 *
 * The installed copy stays refused (arriving, ../store/freezer.ts) until
 * the source's move-commit; an abort, a refusal of ours or a broken link
 * removes it (AccountMoves.discard), so a failed move never leaves a copy
 * here that could be served.
 */
import { createHash } from 'node:crypto';
import type { Account, Directory } from '../accounts/directory.js';
import type { Logger } from '../log/logger.js';
import type { SnapshotFile, Store } from '../store/store.js';
import { LIMITS } from '../limits.js';
import { HandshakeError, expect, refuse } from './handshake.js';
import type { Link } from './protocol.js';
import { receiveBody } from './protocol.js';
import { applyImageDelta, receiveImage } from './snap-frames.js';
import { knownKey, sendManifest } from './verify.js';

/** A file's key in the maps of SHA-256s both sides keep: the one the manifest looks its hashes up by. */
export const staged = (f: { uidvalidity: number; uid: number }): string => knownKey(f.uidvalidity, f.uid);

/** A peer's file description that can become a path here: 32-bit UID and UIDVALIDITY, a plain file name. */
export function safeFile(f: { uidvalidity: unknown; uid: unknown; filename?: unknown }): boolean {
  const u32 = (n: unknown): boolean => Number.isInteger(n) && (n as number) > 0 && (n as number) <= 0xffffffff;
  // "cur/NAME" or "new/NAME" (or a bare NAME): never another directory, never a dot file.
  const plain = (s: unknown): boolean => s === undefined || (typeof s === 'string' && /^(?:(?:new|cur)\/)?[^/.\0][^/\0]*$/.test(s));
  return u32(f.uidvalidity) && u32(f.uid) && plain(f.filename);
}

/** What one move has made this node hold so far; each step past a LIMITS.move bound throws PROTOCOL. */
export class MoveBudget {
  private rounds = 0;
  private stagedBytes = 0;

  /** A move-round frame: one more round, and its image no larger than LIMITS.move.maxImageBytes. */
  round(r: { final: unknown; files: unknown; imageBytes: unknown; deltaBytes?: unknown }): void {
    if (++this.rounds > LIMITS.move.receiveRounds) throw new HandshakeError('PROTOCOL', `round ${this.rounds}: a move takes at most ${LIMITS.move.receiveRounds} rounds`);
    if (!Number.isSafeInteger(r.files) || (r.files as number) < 0) throw new HandshakeError('PROTOCOL', `move-round with ${String(r.files)} files`);
    // A catch-up round's image is the frozen round's base; a delta is held in memory too.
    for (const [what, n] of [['index image', r.imageBytes], ['image delta', r.deltaBytes ?? 0]] as const) {
      if (!Number.isSafeInteger(n) || (n as number) < 0 || (n as number) > LIMITS.move.maxImageBytes) {
        throw new HandshakeError('PROTOCOL', `${what} of ${String(n)} bytes: this node takes at most ${LIMITS.move.maxImageBytes}`);
      }
    }
  }

  /** `bytes` more of a file arrived; over LIMITS.move.maxStagedBytes for the move in all throws before they are written. */
  stage(bytes: number): void {
    if (this.stagedBytes + bytes > LIMITS.move.maxStagedBytes) throw new HandshakeError('PROTOCOL', `more than ${LIMITS.move.maxStagedBytes} message bytes staged for one move`);
    this.stagedBytes += bytes;
  }
}

/** What both sides of a move use (the store, the directory, the log). */
export interface MoveDeps {
  store: Store;
  directory: Directory;
  log: Logger;
}

/**
 * Destination side (a primary), after the handshake. `confirmed` runs once
 * the account is this node's (the source committed).
 */
export async function receiveMove(deps: MoveDeps, link: Link, peerNode: string, confirmed?: () => void): Promise<{ account: Account; messages: number; bytes: number }> {
  const { store, directory, log } = deps;
  const begin = await expect(link, 'move-begin', LIMITS.move.stepTimeoutMs);
  const moves = store.replication.moves;
  if (!moves) return refuse(link, 'INTERNAL', 'this store cannot take moved accounts');
  // This node's own view of the account (its Maildir path): a peer of another pair never chooses where files go.
  // By id first; the recipient search (an LDAP query) only when the id is not known here.
  let account = await directory.accountById(String(begin.account?.id ?? ''));
  if (!account) {
    const found = await directory.lookupRecipient(String(begin.account?.address ?? '')).catch(() => null);
    account = found?.kind === 'found' ? found.account : null;
  }
  if (!account) return refuse(link, 'NOTFOUND', `this node's directory does not know ${String(begin.account?.address)}; add the account here first`);
  if (moves.hasMail(account)) return refuse(link, 'EXISTS', `account ${account.address} already holds mail on this node; nothing was changed`);
  await moves.clearStaging(account.id);
  log.warn({ accountId: account.id, from: peerNode }, 'account move: receiving an account');
  /** Staged name → SHA-256 of the bytes received and staged (the manifest's content check). */
  const received = new Map<string, string>();
  const budget = new MoveBudget();
  try {
    await link.send({ t: 'move-ready' });
    /** The last catch-up round's image: the frozen round may send only the blocks that differ from it. */
    let base: Buffer | null = null;
    /** When the last round was acknowledged (the source's freeze begins after it). */
    let ackedAt = Date.now();
    for (;;) {
      const r = await expect(link, 'move-round', LIMITS.move.stepTimeoutMs);
      budget.round(r);
      let image: Buffer | null = null;
      const roundStart = Date.now();
      const waitedMs = roundStart - ackedAt;
      if (r.final) image = await finalImage(link, r, base);
      else if (r.imageBytes > 0) base = await receiveImage(link, r.imageBytes, LIMITS.move.stepTimeoutMs, LIMITS.move.maxImageBytes);
      const files = await receiveFiles(deps, link, account.id, r.files, budget, received);
      const flush = await expect(link, 'snap-flush', LIMITS.move.stepTimeoutMs);
      if (image) {
        const installStart = Date.now();
        const { phases, ...got } = await moves.install(account, image);
        await link.send({ t: 'snap-ack', seq: flush.seq });
        // The install's share of the source's freeze, for its log line.
        const installPhases = { waitedMs, receiveMs: installStart - roundStart, ...phases };
        await link.send({ t: 'move-done', ...got, installMs: Date.now() - installStart, installPhases });
        await sendManifest(store, directory, link, account, received);
        const verdict = await link.next(LIMITS.move.stepTimeoutMs);
        if (verdict.frame.t !== 'move-commit') {
          const why = verdict.frame.t === 'move-abort' ? verdict.frame.reason : `expected move-commit, got ${verdict.frame.t}`;
          throw new HandshakeError('INTERNAL', `the source aborted the move: ${why}`);
        }
        moves.confirm(account.id);
        confirmed?.();
        await link.send({ t: 'move-committed' }).catch(() => undefined);
        log.warn({ accountId: account.id, from: peerNode, ...got, installPhases }, 'account move: account installed and confirmed');
        // After the freeze: the staged names (the Maildir's files are linked under theirs) and leftovers.
        await moves.clearStaging(account.id).catch((e: unknown) => log.error({ accountId: account.id, err: (e as Error).message }, 'account move: could not remove the staging folder; the next move of the account removes it'));
        return { account, ...got };
      }
      // While the source serves: the round's files go into the staged Maildir, and its image is kept as the frozen round's base.
      await moves.prepareRound(account.id, files);
      if (base && r.imageBytes > 0) await moves.stageImage(account.id, base);
      await link.send({ t: 'snap-ack', seq: flush.seq });
      ackedAt = Date.now();
    }
  } catch (err) {
    if (err instanceof HandshakeError && err.code === 'PROTOCOL') await link.send({ t: 'refuse', code: err.code, message: err.message }).catch(() => undefined);
    const removed = await moves.discard(account.id).catch((e: unknown) => {
      log.error({ accountId: account.id, err: (e as Error).message }, 'account move: could not remove the unconfirmed copy; it stays refused (tried again at the next start)');
      return false;
    });
    await moves.clearStaging(account.id).catch(() => undefined);
    log.warn({ accountId: account.id, from: peerNode, err: (err as Error).message, removed }, 'account move: failed; nothing of it serves here');
    throw err;
  }
}

/** The frozen round's image: sent whole, or as a delta against `base` whose result must match the SHA-256 sent. */
async function finalImage(link: Link, r: { imageBytes: number; deltaBytes?: number; imageSha256?: string }, base: Buffer | null): Promise<Buffer> {
  if (r.deltaBytes === undefined) return receiveImage(link, r.imageBytes, LIMITS.move.stepTimeoutMs, LIMITS.move.maxImageBytes);
  if (!base) throw new HandshakeError('PROTOCOL', 'an image delta with no base image sent before it');
  const delta = await receiveImage(link, r.deltaBytes, LIMITS.move.stepTimeoutMs, LIMITS.move.maxImageBytes);
  const image = applyImageDelta(base, delta, r.imageBytes);
  if (createHash('sha256').update(image).digest('hex') !== r.imageSha256) throw new HandshakeError('PROTOCOL', 'the index image made from the delta differs from the one the source took');
  return image;
}

/** One round's snap-file frames, each staged and hashed; fdatasyncs run in the thread pool, at most syncsInFlight at once. */
async function receiveFiles(deps: MoveDeps, link: Link, accountId: string, count: number, budget: MoveBudget, received: Map<string, string>): Promise<SnapshotFile[]> {
  const moves = deps.store.replication.moves!;
  const files: SnapshotFile[] = [];
  const syncing = new Set<Promise<void>>();
  let failed: unknown = null;
  try {
    for (let i = 0; i < count; i++) {
      const m = await link.next(LIMITS.move.stepTimeoutMs);
      const frame = m.frame;
      if (frame.t !== 'snap-file') throw new HandshakeError('PROTOCOL', `expected snap-file, got ${frame.t}`);
      if (frame.lost) continue;
      if (!safeFile(frame.file)) throw new HandshakeError('PROTOCOL', 'snap-file with a UID, UIDVALIDITY or name this node will not write');
      const w = await moves.stage(accountId, frame.file);
      const hash = createHash('sha256');
      try {
        const sink = (piece: Buffer): Promise<void> => {
          budget.stage(piece.length);
          hash.update(piece);
          return w.write(piece);
        };
        await receiveBody(link, m, sink, LIMITS.move.stepTimeoutMs);
      } catch (err) {
        await w.abort();
        throw err;
      }
      received.set(staged(frame.file), hash.digest('hex'));
      files.push(frame.file);
      const done: Promise<void> = w
        .finish()
        .catch((e: unknown) => void (failed ??= e))
        .finally(() => syncing.delete(done));
      syncing.add(done);
      if (syncing.size >= LIMITS.move.syncsInFlight) await Promise.race(syncing);
      if (failed) throw failed;
    }
  } finally {
    // Also on failure: every staged file is closed before the caller removes the staging folder.
    await Promise.all([...syncing]);
  }
  if (failed) throw failed;
  return files;
}
