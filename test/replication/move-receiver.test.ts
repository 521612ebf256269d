/**
 * The destination of `roost account move` against what its peer sends
 * (src/replication/move-receive.ts): the LIMITS.move bounds on rounds, the
 * index image and the bytes staged, each at N and N+1; a body cut short
 * leaves no staged file open; and a move whose final check fails (a byte
 * changed on the way, by a relay between the two stores) leaves no copy on
 * the destination, and the source serving, so the next move succeeds. A
 * mailbox's manifest goes in frames of LIMITS.replication.manifestEntriesPerFrame
 * messages (a 10,000-message mailbox outgrew one frame header).
 * Two stores in this process over loopback sockets; the peer playing the
 * source in the bounds tests writes the frames the protocol defines.
 */
import fs from 'node:fs';
import path from 'node:path';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { MoveBudget } from '../../src/replication/move-receive.js';
import { receiveMove, sendMove } from '../../src/replication/move.js';
import { manifestPieces, receiveManifest } from '../../src/replication/verify.js';
import { stagingDir } from '../../src/store/move-install.js';
import { deliver, message, tempDir } from '../store/helpers.js';
import { linked, moveSide } from './move-sides.js';

const root = tempDir('roost-move-recv-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const log = pino({ level: 'silent' });
const side = (name: string) => moveSide(root, name);

/** This process's open descriptors whose target lies under `dir`. */
function fdsUnder(dir: string): string[] {
  const out: string[] = [];
  for (const fd of fs.readdirSync('/proc/self/fd')) {
    try {
      const target = fs.readlinkSync(`/proc/self/fd/${fd}`);
      if (target.startsWith(dir)) out.push(target);
    } catch {
      // Closed between the listing and the read.
    }
  }
  return out;
}

const file = (uid: number, size: number) => ({ mailbox: 'INBOX', uidvalidity: 1, uid, basename: `${uid}.M1P1.h`, filename: `cur/${uid}.M1P1.h:2,`, diskName: `cur/${uid}.M1P1.h:2,`, size, internalDate: 0 });

describe('the destination bounds what one move makes it hold (LIMITS.move)', () => {
  it(`rounds: ${LIMITS.move.receiveRounds} taken, one more refused`, () => {
    const b = new MoveBudget();
    for (let i = 0; i < LIMITS.move.receiveRounds; i++) b.round({ final: false, files: 0, imageBytes: 0 });
    expect(() => b.round({ final: true, files: 0, imageBytes: 0 })).toThrow(/at most 9 rounds/);
    // The source's own most: maxRounds catch-up rounds and the frozen one.
    expect(LIMITS.move.receiveRounds).toBe(LIMITS.move.maxRounds + 1);
  });

  it(`index image: ${LIMITS.move.maxImageBytes} bytes taken, one more refused; a round's sizes must be counts`, () => {
    expect(() => new MoveBudget().round({ final: true, files: 0, imageBytes: LIMITS.move.maxImageBytes })).not.toThrow();
    expect(() => new MoveBudget().round({ final: true, files: 0, imageBytes: LIMITS.move.maxImageBytes + 1 })).toThrow(/index image of 1073741825 bytes/);
    expect(() => new MoveBudget().round({ final: true, files: 0, imageBytes: -1 })).toThrow(/index image/);
    expect(() => new MoveBudget().round({ final: false, files: 1.5, imageBytes: 0 })).toThrow(/1\.5 files/);
  });

  it(`staged bytes: ${LIMITS.move.maxStagedBytes} in all taken, one more refused`, () => {
    const b = new MoveBudget();
    b.stage(LIMITS.move.maxStagedBytes - 10);
    b.stage(10);
    expect(() => b.stage(1)).toThrow(/more than 274877906944 message bytes/);
  });

  it('over the link: round N is acknowledged, round N+1 refused with a protocol error; an oversized image is refused before it is read', { timeout: 60_000 }, async () => {
    const dst = await side('bounds');
    try {
      for (const oversized of [false, true]) {
        const [a, b] = await linked();
        const receiving = receiveMove({ store: dst.store, directory: dst.directory, log }, b, 'test');
        receiving.catch(() => undefined);
        await a.send({ t: 'move-begin', account: dst.account });
        expect((await a.next(10_000)).frame.t).toBe('move-ready');
        if (oversized) {
          await a.send({ t: 'move-round', final: true, files: 0, imageBytes: LIMITS.move.maxImageBytes + 1 });
        } else {
          for (let i = 1; i <= LIMITS.move.receiveRounds; i++) {
            await a.send({ t: 'move-round', final: false, files: 0, imageBytes: 0 });
            await a.send({ t: 'snap-flush', seq: i });
            expect((await a.next(10_000)).frame).toEqual({ t: 'snap-ack', seq: i });
          }
          await a.send({ t: 'move-round', final: false, files: 0, imageBytes: 0 });
        }
        const refused = (await a.next(10_000)).frame;
        expect(refused).toMatchObject({ t: 'refuse', code: 'PROTOCOL' });
        expect((refused as { message: string }).message).toMatch(oversized ? /index image of \d+ bytes: this node takes at most/ : /round 10: a move takes at most 9 rounds/);
        await expect(receiving).rejects.toThrow();
        a.close();
        b.close();
        expect(fs.existsSync(stagingDir(dst.store, dst.account.id))).toBe(false);
      }
    } finally {
      await dst.close();
    }
  });

  it('a body cut short closes its staged file: no descriptor left open under the staging folder', { timeout: 60_000 }, async () => {
    const dst = await side('fd');
    try {
      const staging = stagingDir(dst.store, dst.account.id);
      for (let i = 1; i <= 5; i++) {
        const [a, b] = await linked();
        const receiving = receiveMove({ store: dst.store, directory: dst.directory, log }, b, 'test');
        receiving.catch(() => undefined);
        await a.send({ t: 'move-begin', account: dst.account });
        expect((await a.next(10_000)).frame.t).toBe('move-ready');
        await a.send({ t: 'move-round', final: false, files: 1, imageBytes: 0 });
        // A chunked body that stops after its first piece: the next frame is no chunk.
        await a.send({ t: 'snap-file', accountId: dst.account.id, file: file(i, 600_000), chunked: true });
        await a.send({ t: 'chunk' }, Buffer.alloc(300_000, 0x61));
        await a.send({ t: 'snap-flush', seq: 1 });
        await expect(receiving).rejects.toThrow(/expected a chunk, got snap-flush/);
        a.close();
        b.close();
      }
      expect(fdsUnder(path.dirname(staging))).toEqual([]);
      expect(fs.existsSync(staging)).toBe(false);
    } finally {
      await dst.close();
    }
  });
});

describe('a move whose final check fails', () => {
  it('leaves nothing on the destination and the source serving; the next move succeeds', { timeout: 120_000 }, async () => {
    const src = await side('src');
    const dst = await side('dst');
    try {
      for (let i = 0; i < 20; i++) await deliver(src.store, [src.account], message(`m${i}`, i % 4 === 3 ? `MARK-AAAA ${i}\n` : `body ${i}\n`));
      // The relay changes messages' bytes on their way (five carry the marker: one read splitting each of them is not
      // to be expected), so the manifests' SHA-256s differ.
      let changed = 0;
      const corrupt = (d: Buffer): Buffer => {
        for (let at = d.indexOf('MARK-AAAA'); at >= 0; at = d.indexOf('MARK-AAAA', at + 1)) {
          d.write('MARK-BBBB', at, 'latin1');
          changed++;
        }
        return d;
      };
      const [a, b] = await linked(corrupt);
      const [out, got] = await Promise.allSettled([
        sendMove({ store: src.store, directory: src.directory, log }, a, src.account, 'pair2'),
        receiveMove({ store: dst.store, directory: dst.directory, log }, b, 'test'),
      ]);
      a.close();
      b.close();
      expect(changed).toBeGreaterThan(0);
      expect(out.status).toBe('rejected');
      expect(String((out as PromiseRejectedResult).reason)).toMatch(/the destination's copy differs/);
      expect(got.status).toBe('rejected');
      expect(String((got as PromiseRejectedResult).reason)).toMatch(/the source aborted the move: the destination's copy differs/);
      // Nothing of the account on the destination: no index, no Maildir, no staging, no mark; it holds no mail.
      expect(fs.existsSync(dst.store.indexFile(dst.account.id))).toBe(false);
      expect(fs.existsSync(dst.account.maildir)).toBe(false);
      expect(fs.existsSync(stagingDir(dst.store, dst.account.id))).toBe(false);
      expect(dst.store.freezer.isArriving(dst.account.id)).toBe(false);
      expect(dst.store.replication.moves!.hasMail(dst.account)).toBe(false);
      // The source serves on.
      await deliver(src.store, [src.account], message('after the failed move'));
      const [a2, b2] = await linked();
      const [out2, got2] = await Promise.all([
        sendMove({ store: src.store, directory: src.directory, log }, a2, src.account, 'pair2'),
        receiveMove({ store: dst.store, directory: dst.directory, log }, b2, 'test'),
      ]);
      a2.close();
      b2.close();
      expect(out2.report.identical).toBe(true);
      expect(got2.messages).toBe(21);
    } finally {
      await src.close();
      await dst.close();
    }
  });
});

describe(`a mailbox manifest in frames of ${LIMITS.replication.manifestEntriesPerFrame} messages`, () => {
  const N = LIMITS.replication.manifestEntriesPerFrame;
  const mailbox = (count: number) => ({
    accountId: 'alice@example.org',
    mailbox: 'INBOX',
    uidvalidity: 1,
    uidnext: count + 1,
    // Long names and every flag: the largest entries a frame carries.
    messages: Array.from({ length: count }, (_, i): [number, string, string, string, string] => [i + 1, `${1_700_000_000 + i}.M${i}P99999Q12345.${'h'.repeat(120)}`, '$Label1 \\Answered \\Flagged \\Seen', String(i + 1), 'f'.repeat(64)]),
  });

  it('N messages go in one frame (under maxFrameHeader), N+1 in two; the receiver joins them', { timeout: 60_000 }, async () => {
    expect(manifestPieces(mailbox(N))).toHaveLength(1);
    expect(JSON.stringify({ t: 'manifest', entry: mailbox(N) }).length).toBeLessThan(LIMITS.replication.maxFrameHeader);
    const big = mailbox(5 * N + 1);
    const pieces = manifestPieces(big);
    expect(pieces.map((p) => p.messages.length)).toEqual([N, N, N, N, N, 1]);
    const [a, b] = await linked();
    try {
      const other = { ...mailbox(3), mailbox: 'Archive' };
      const sending = (async () => {
        for (const entry of [big, other]) for (const piece of manifestPieces(entry)) await a.send({ t: 'manifest', entry: piece });
        await a.send({ t: 'manifest-end', lastLsn: '7' });
      })();
      const got = await receiveManifest(b);
      await sending;
      expect(got.entries).toEqual([big, other]);
      expect(got.lastLsn).toBe(7n);
    } finally {
      a.close();
      b.close();
    }
  });
});
