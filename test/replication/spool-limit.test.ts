/**
 * replication.maxSpoolFrameBody at N and N+1: the receive spool read back at
 * open takes a record whose inline body is N bytes and stops at one of N+1
 * (a damaged or foreign spool): the records before it are still applied,
 * that one and the rest are ignored with a warning. The spool is written by
 * the real writer (ReceiveSpool.append); the limit is read at open, lowered
 * here so the bodies stay small.
 */
import { rm } from 'node:fs/promises';
import { pino } from 'pino';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { ReceiveSpool } from '../../src/replication/spool.js';
import type { JournalRecord } from '../../src/store/store.js';
import { makeTempDir } from '../helpers/node.js';

const log = pino({ level: 'silent' });
const limits = LIMITS.replication as { maxSpoolFrameBody: number };
const saved = limits.maxSpoolFrameBody;
const dirs: string[] = [];
afterAll(async () => {
  limits.maxSpoolFrameBody = saved;
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const rec = (lsn: number, size: number): JournalRecord => ({
  lsn: BigInt(lsn),
  epoch: 1,
  time: 0,
  accountId: 'a',
  kind: 'deliver',
  data: { maildir: '/m/a', mailbox: 'INBOX', uidvalidity: 1, uid: lsn, modseq: String(lsn), basename: `m${lsn}`, filename: `new/m${lsn}`, flags: [], internalDate: 0, size, vsize: size },
});

describe('replication.maxSpoolFrameBody', () => {
  it('a spooled body of N bytes is read back and applied; at one of N+1 the read stops, keeping the records before it', async () => {
    const N = 1000;
    const dir = await makeTempDir('roost-spool-limit-');
    dirs.push(dir);
    let gate: () => void = () => undefined;
    const blocked = new Promise<void>((r) => (gate = r));
    const s1 = await ReceiveSpool.open(dir, async () => blocked, () => 0n, log);
    const sizes = [10, N, N + 1, 10];
    await s1.append(sizes.map((size, i) => ({ record: rec(i + 1, size), body: Buffer.alloc(size, 0x61 + i) })));
    const closing = s1.close();
    gate();
    await closing;

    limits.maxSpoolFrameBody = N;
    let applied = 0n;
    const seen: [number, number][] = [];
    const s2 = await ReceiveSpool.open(
      dir,
      async (items) => {
        for (const { record, body } of items) {
          seen.push([Number(record.lsn), (body as Buffer).length]);
          applied = record.lsn;
        }
      },
      () => applied,
      log,
    );
    await s2.drain();
    await s2.close();
    expect(seen).toEqual([
      [1, 10],
      [2, N],
    ]);
  });
});
