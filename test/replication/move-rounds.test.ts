/**
 * The rounds of `roost account move` (src/replication/move.ts) between two
 * stores in this process, over a loopback socket (the handshake is tested
 * with real nodes in move.test.ts): LIMITS.move.freezeBelowMessages at N and
 * N+1, and the destination's copy equal to the source's.
 */
import fs from 'node:fs';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { pino } from 'pino';
import { receiveMove, sendMove } from '../../src/replication/move.js';
import { compareManifests, manifest } from '../../src/replication/verify.js';
import type { Store } from '../../src/store/store.js';
import { deliver, message, tempDir } from '../store/helpers.js';
import { linked, moveSide } from './move-sides.js';

const root = tempDir('roost-move-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const side = (name: string) => moveSide(root, name);

async function collect(store: Store, directory: Awaited<ReturnType<typeof side>>['directory'], account: Awaited<ReturnType<typeof side>>['account']) {
  const out = [];
  for await (const m of manifest(store, directory, account)) out.push(m);
  return out;
}

describe('account move rounds', () => {
  it.each([
    [LIMITS.move.freezeBelowMessages, 2],
    [LIMITS.move.freezeBelowMessages + 1, 3],
  ])('%i messages before the move: %i rounds (the last one frozen), identical copy', { timeout: 120_000 }, async (count, rounds) => {
    const src = await side(`src-${count}`);
    const dst = await side(`dst-${count}`);
    try {
      for (let i = 0; i < count; i++) await deliver(src.store, [src.account], message(`m${i}`, `body ${i}\n`));
      const box = await src.store.user(src.account).openMailbox('INBOX');
      await box.storeFlags([1, 2, 3], 'add', ['\\Seen', '$Label1']);
      box.close();
      const [a, b] = await linked();
      const log = pino({ level: 'silent' });
      const [out, got] = await Promise.all([
        sendMove({ store: src.store, directory: src.directory, log }, a, src.account, 'pair2'),
        receiveMove({ store: dst.store, directory: dst.directory, log }, b, 'test'),
      ]);
      a.close();
      b.close();
      expect(out.rounds).toBe(rounds);
      // The frozen round sent the blocks of the index that changed since the last catch-up round's image, not all of it.
      const image = (await src.store.replication.snapshotAccount!(src.account.id))!.image.length;
      expect(out.frozenImageBytes).toBeLessThan(image / 4);
      expect(out.report.identical).toBe(true);
      expect(got.messages).toBe(count);
      const report = compareManifests(await collect(src.store, src.directory, src.account), await collect(dst.store, dst.directory, dst.account));
      expect(report.differences).toEqual([]);
      expect(report.messages).toBe(count);
      // The source refuses the account now; the destination takes mail for it.
      await expect(deliver(src.store, [src.account], message('late'))).rejects.toThrow(/moved to pair2/);
      await deliver(dst.store, [dst.account], message('after'));
    } finally {
      await src.store.close();
      await dst.store.close();
      await src.directory.close();
      await dst.directory.close();
    }
  });
});
