import { afterAll, describe, expect, it } from 'vitest';
import { rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { ReceiveSpool, SPOOL_FILE } from '../../src/replication/spool.js';
import type { JournalRecord } from '../../src/store/store.js';
import { makeTempDir } from '../helpers/node.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const rec = (lsn: number): JournalRecord => ({ lsn: BigInt(lsn), epoch: 1, time: 0, accountId: 'a', kind: 'deliver', data: { n: lsn } });

describe('receive spool', () => {
  it('acknowledged records survive a restart before they were applied, and are applied once, in order', async () => {
    const dir = await makeTempDir('roost-spool-');
    dirs.push(dir);
    let applied = 0n;
    const seen: number[] = [];
    let gate: () => void = () => undefined;
    const blocked = new Promise<void>((r) => (gate = r));
    // First life: the applier is stuck on record 1 when the process "dies".
    const s1 = await ReceiveSpool.open(dir, async () => blocked, () => applied, log);
    await s1.append([1, 2, 3].map((n) => ({ record: rec(n), body: Buffer.from(`body ${n}`) })));
    expect(s1.receivedLsn).toBe(3n);
    const closing = s1.close();
    gate();
    await closing;
    // Second life: nothing was applied; everything comes back from the file.
    const s2 = await ReceiveSpool.open(
      dir,
      async (items) => {
        for (const { record: r, body } of items) {
          seen.push(Number(r.lsn));
          expect(body?.toString()).toBe(`body ${r.lsn}`);
          applied = r.lsn;
        }
      },
      () => applied,
      log,
    );
    await s2.drain();
    expect(seen).toEqual([1, 2, 3]);
    // Duplicates (a reconnect re-sends) are ignored; new ones applied.
    await s2.append([3, 4].map((n) => ({ record: rec(n), body: Buffer.from(`body ${n}`) })));
    await s2.drain();
    expect(seen).toEqual([1, 2, 3, 4]);
    await new Promise((r) => setTimeout(r, 50));
    expect((await stat(path.join(dir, SPOOL_FILE))).size).toBe(0);
    await s2.close();
  });
});
