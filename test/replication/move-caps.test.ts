/**
 * What a peer's frames may make this node hold, outside the destination's
 * MoveBudget (move-receiver.test.ts): a received manifest's entries
 * (LIMITS.replication.maxManifestEntries, and for a move the mailboxes and
 * messages the source sent), a full resync's index image
 * (LIMITS.replication.maxSnapshotImageBytes), each at N and N+1. A
 * destination whose manifest goes past the move's bound gets move-abort and
 * the source serves on, the account not marked moved.
 */
import fs from 'node:fs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { sendMove } from '../../src/replication/move.js';
import { connectPeer } from '../../src/replication/replica.js';
import { receiveImage } from '../../src/replication/snap-frames.js';
import { ManifestBudget, receiveManifest } from '../../src/replication/verify.js';
import { deliver, message, tempDir } from '../store/helpers.js';
import { linked, moveSide } from './move-sides.js';

const root = tempDir('roost-move-caps-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const log = pino({ level: 'silent' });

/** A manifest piece of `n` messages (a sparse list: only its length is counted). */
const piece = (n: number) => ({ messages: new Array<unknown>(n) });

describe('manifest entries a peer may send', () => {
  it(`${LIMITS.replication.maxManifestEntries} entries (messages and mailbox pieces) taken, one more refused`, () => {
    const b = new ManifestBudget();
    b.add(piece(LIMITS.replication.maxManifestEntries - 2));
    b.add(piece(0));
    expect(() => b.add(piece(0))).toThrow(/more than 10000000 entries/);
    expect(() => new ManifestBudget().add({})).toThrow(/without a message list/);
  });

  it('over the link: a manifest past its bound is refused with a protocol error; a silent peer times out', { timeout: 30_000 }, async () => {
    const [a, b] = await linked();
    try {
      const entry = (uids: number[]) => ({ accountId: 'x', mailbox: 'INBOX', uidvalidity: 1, uidnext: 9, messages: uids.map((u): [number, string, string, string, string] => [u, `b${u}`, '', '1', 'f'.repeat(64)]) });
      await a.send({ t: 'manifest', entry: entry([1, 2]) });
      await a.send({ t: 'manifest-end', lastLsn: '1' });
      expect((await receiveManifest(b, { maxEntries: 3 })).entries).toHaveLength(1);
      await a.send({ t: 'manifest', entry: entry([1, 2, 3]) });
      await expect(receiveManifest(b, { maxEntries: 3 })).rejects.toThrow(/more than 3 entries/);
      // The wait for each frame is LIMITS.replication.manifestFrameTimeoutMs unless the caller gives one.
      expect(LIMITS.replication.manifestFrameTimeoutMs).toBe(120_000);
      await expect(receiveManifest(b, { timeoutMs: 200 })).rejects.toThrow();
    } finally {
      a.close();
      b.close();
    }
  });
});

describe("a full resync's index image", () => {
  it(`${LIMITS.replication.maxSnapshotImageBytes} bytes declared is read, one more refused before anything is read`, { timeout: 30_000 }, async () => {
    const [a, b] = await linked();
    try {
      const max = LIMITS.replication.maxSnapshotImageBytes;
      // At N the receiver waits for the pieces (none come: the short wait ends it); at N+1 it refuses at once.
      await expect(receiveImage(b, max, 200, max)).rejects.not.toThrow(/more than/);
      await expect(receiveImage(b, max + 1, 200, max)).rejects.toThrow(/index image of 1073741825 bytes: more than the 1073741824 this node takes/);
      expect(LIMITS.replication.snapshotFrameTimeoutMs).toBe(600_000);
    } finally {
      a.close();
      b.close();
    }
  });
});

describe('a move whose destination sends a manifest past what the source sent', () => {
  it('aborts: the destination gets move-abort, the source serves on and the account is not moved', { timeout: 60_000 }, async () => {
    const src = await moveSide(root, 'src');
    try {
      for (let i = 0; i < 3; i++) await deliver(src.store, [src.account], message(`m${i}`));
      const [a, b] = await linked();
      const moving = sendMove({ store: src.store, directory: src.directory, log }, a, src.account, 'pair2');
      moving.catch(() => undefined);
      // The peer plays the destination: it acknowledges each round, then answers a manifest of 40 messages.
      expect((await b.next(10_000)).frame.t).toBe('move-begin');
      await b.send({ t: 'move-ready' });
      let finalSeen = false;
      for (;;) {
        const r = (await b.next(10_000)).frame as { t: string; final?: boolean; files?: number; seq?: number };
        if (r.t === 'snap-flush') {
          await b.send({ t: 'snap-ack', seq: r.seq! });
          if (finalSeen) break;
        }
        if (r.t === 'move-round' && r.final) finalSeen = true;
      }
      await b.send({ t: 'move-done', messages: 3, bytes: 100 });
      // Far more than the 3 messages (and the few mailboxes) the source holds.
      const uids = Array.from({ length: 40 }, (_, i) => i + 1);
      await b.send({ t: 'manifest', entry: { accountId: src.account.id, mailbox: 'INBOX', uidvalidity: 1, uidnext: 41, messages: uids.map((u): [number, string, string, string, string] => [u, `b${u}`, '', '1', 'f'.repeat(64)]) } });
      await expect(moving).rejects.toThrow(/the peer's manifest holds more than \d+ entries/);
      expect((await b.next(10_000)).frame).toMatchObject({ t: 'move-abort', reason: expect.stringMatching(/more than/) });
      a.close();
      b.close();
      // The source serves on: not moved, deliveries taken, a new move may claim it.
      expect(src.store.replication.moves!.movedTo(src.account.id)).toBeNull();
      await deliver(src.store, [src.account], message('after'));
      const box = await src.store.user(src.account).openMailbox('INBOX');
      expect(box.snapshot().messages).toHaveLength(4);
      box.close();
      expect(src.store.replication.moves!.claim(src.account.id)).toBe(true);
      src.store.replication.moves!.release(src.account.id);
    } finally {
      await src.close();
    }
  });
});

describe('connecting to the destination', () => {
  it('gives up after the timeout it is given (LIMITS.move.connectTimeoutMs for `roost account move`)', { timeout: 30_000 }, async () => {
    expect(LIMITS.move.connectTimeoutMs).toBe(10_000);
    // Nothing listens on port 1 of loopback: refused at once, well within the timeout.
    await expect(connectPeer('127.0.0.1:1', LIMITS.move.connectTimeoutMs)).rejects.toThrow();
  });
});
