/**
 * The frozen round of `roost account move` sends its index image as the
 * blocks that differ from the image the last catch-up round sent
 * (src/replication/snap-frames.ts imageDelta / applyImageDelta): real
 * SQLite images, an image that grew and one that shrank, and a peer's delta
 * that names a block outside the image, is cut short, has no base or does
 * not give the image its SHA-256 names — each refused with a protocol error
 * and no copy left on the destination.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import fs from 'node:fs';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { receiveMove } from '../../src/replication/move.js';
import { IMAGE_DELTA_BLOCK, applyImageDelta, imageDelta } from '../../src/replication/snap-frames.js';
import { stagingDir } from '../../src/store/move-install.js';
import { tempDir } from '../store/helpers.js';
import { linked, moveSide } from './move-sides.js';

const root = tempDir('roost-move-delta-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const log = pino({ level: 'silent' });

/** A SQLite image with `rows` rows of 200 bytes, and the same database after `change` ran. */
function images(rows: number, change: (db: Database.Database) => void): [Buffer, Buffer] {
  const db = new Database(':memory:');
  try {
    db.exec('CREATE TABLE m (uid INTEGER PRIMARY KEY, flags TEXT, body TEXT)');
    const ins = db.prepare('INSERT INTO m VALUES (?, ?, ?)');
    db.transaction(() => {
      for (let i = 1; i <= rows; i++) ins.run(i, '', `${i}`.padEnd(200, 'x'));
    })();
    const before = db.serialize();
    change(db);
    return [before, db.serialize()];
  } finally {
    db.close();
  }
}

const blocksOf = (delta: Buffer): number => {
  let n = 0;
  for (let at = 0; at < delta.length; n++) at += 4 + IMAGE_DELTA_BLOCK;
  return n;
};

describe('index image delta', () => {
  it('a flag change on one row: a few blocks travel, and the base becomes the new image', () => {
    const [base, next] = images(5000, (db) => db.prepare("UPDATE m SET flags = '\\Seen' WHERE uid = 2500").run());
    const delta = imageDelta(base, next);
    expect(next.length).toBeGreaterThan(100 * IMAGE_DELTA_BLOCK);
    expect(blocksOf(delta)).toBeGreaterThan(0);
    expect(blocksOf(delta)).toBeLessThanOrEqual(4);
    expect(applyImageDelta(base, delta, next.length).equals(next)).toBe(true);
    expect(imageDelta(next, next).length).toBe(0);
  });

  it('an image that grew (its new blocks travel) and one that shrank (cut to its length)', () => {
    const [base, grown] = images(2000, (db) => db.transaction(() => {
      for (let i = 2001; i <= 3000; i++) db.prepare('INSERT INTO m VALUES (?, ?, ?)').run(i, '', 'y'.repeat(200));
    })());
    expect(grown.length).toBeGreaterThan(base.length);
    expect(applyImageDelta(base, imageDelta(base, grown), grown.length).equals(grown)).toBe(true);
    // An odd length: the last block is short.
    const odd = Buffer.concat([grown, Buffer.from('tail')]);
    expect(applyImageDelta(base, imageDelta(base, odd), odd.length).equals(odd)).toBe(true);
    const shrunk = grown.subarray(0, base.length - 3 * IMAGE_DELTA_BLOCK);
    expect(applyImageDelta(grown, imageDelta(grown, shrunk), shrunk.length).equals(shrunk)).toBe(true);
  });

  it("a peer's delta naming a block past the image, or cut short, is a protocol error", () => {
    const base = Buffer.alloc(3 * IMAGE_DELTA_BLOCK, 1);
    const block = (i: number, size = IMAGE_DELTA_BLOCK): Buffer => {
      const head = Buffer.alloc(4);
      head.writeUInt32BE(i);
      return Buffer.concat([head, Buffer.alloc(size, 2)]);
    };
    // The last block inside the image is taken, the one after it is not.
    expect(applyImageDelta(base, block(2), base.length).subarray(2 * IMAGE_DELTA_BLOCK).every((b) => b === 2)).toBe(true);
    expect(() => applyImageDelta(base, block(3), base.length)).toThrow(/names a block at byte 12288 of a 12288-byte image/);
    expect(() => applyImageDelta(base, block(0xffffffff), base.length)).toThrow(/names a block/);
    expect(() => applyImageDelta(base, block(1, IMAGE_DELTA_BLOCK - 1), base.length)).toThrow(/cut inside a block$/);
    expect(() => applyImageDelta(base, Buffer.from([0, 0]), base.length)).toThrow(/cut inside a block number/);
  });

  it('over the link: a delta with no base, or whose result differs from the SHA-256 sent, is refused and leaves no copy', { timeout: 60_000 }, async () => {
    const dst = await moveSide(root, 'dst');
    try {
      const [base, next] = images(500, (db) => db.prepare("UPDATE m SET flags = 'x' WHERE uid = 7").run());
      const delta = imageDelta(base, next);
      const sha = (b: Buffer): string => createHash('sha256').update(b).digest('hex');
      for (const c of [
        { sendBase: false, imageSha256: sha(next), refusal: /an image delta with no base image/ },
        { sendBase: true, imageSha256: sha(base), refusal: /made from the delta differs/ },
      ]) {
        const [a, b] = await linked();
        const receiving = receiveMove({ store: dst.store, directory: dst.directory, log }, b, 'test');
        receiving.catch(() => undefined);
        await a.send({ t: 'move-begin', account: dst.account });
        expect((await a.next(10_000)).frame.t).toBe('move-ready');
        if (c.sendBase) {
          await a.send({ t: 'move-round', final: false, files: 0, imageBytes: base.length });
          await a.send({ t: 'snap-image' }, base);
          await a.send({ t: 'snap-flush', seq: 1 });
          expect((await a.next(10_000)).frame).toEqual({ t: 'snap-ack', seq: 1 });
        }
        await a.send({ t: 'move-round', final: true, files: 0, imageBytes: next.length, deltaBytes: delta.length, imageSha256: c.imageSha256 });
        await a.send({ t: 'snap-image' }, delta);
        const refused = (await a.next(10_000)).frame;
        expect(refused).toMatchObject({ t: 'refuse', code: 'PROTOCOL' });
        expect((refused as { message: string }).message).toMatch(c.refusal);
        await expect(receiving).rejects.toThrow(c.refusal);
        a.close();
        b.close();
        expect(fs.existsSync(stagingDir(dst.store, dst.account.id))).toBe(false);
        expect(fs.existsSync(dst.store.indexFile(dst.account.id))).toBe(false);
      }
    } finally {
      await dst.close();
    }
  });
});
