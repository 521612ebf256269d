import { afterAll, describe, expect, it } from 'vitest';
import { readFile, readdir, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pino } from 'pino';
import { ReceiveSpool, SPOOL_BODIES, SPOOL_FILE } from '../../src/replication/spool.js';
import type { JournalRecord, ReplicaBody } from '../../src/store/store.js';
import { makeTempDir } from '../helpers/node.js';

const log = pino({ level: 'silent' });
const dirs: string[] = [];
afterAll(async () => {
  for (const d of dirs) await rm(d, { recursive: true, force: true });
});

const rec = (lsn: number): JournalRecord => ({
  lsn: BigInt(lsn),
  epoch: 1,
  time: 0,
  accountId: 'a',
  kind: 'deliver',
  data: { maildir: '/m/a', mailbox: 'INBOX', uidvalidity: 1, uid: lsn, modseq: String(lsn), basename: `m${lsn}`, filename: `new/m${lsn}`, flags: [], internalDate: 0, size: 6, vsize: 6 },
});

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

  it('a body received in chunks is spooled as its own file, survives a restart, is applied from it and then removed; strays are removed at open', async () => {
    const dir = await makeTempDir('roost-spool-');
    dirs.push(dir);
    let applied = 0n;
    let gate: () => void = () => undefined;
    const blocked = new Promise<void>((r) => (gate = r));
    const s1 = await ReceiveSpool.open(dir, async () => blocked, () => applied, log);
    const w = await s1.bodyWriter(1n);
    const pieces = [Buffer.alloc(300_000, 0x61), Buffer.alloc(123, 0x62)];
    for (const p of pieces) await w.write(p);
    await expect(w.finish(300_124)).rejects.toThrow(/300123 bytes, its end says 300124/);
    const w2 = await s1.bodyWriter(1n);
    for (const p of pieces) await w2.write(p);
    const body = await w2.finish(300_123);
    expect(body.size).toBe(300_123);
    await s1.append([{ record: rec(1), body }]);
    // The spool file holds the record and the file's name, not the bytes.
    expect((await stat(path.join(dir, SPOOL_FILE))).size).toBeLessThan(1000);
    // A body cut off mid-way (the process died while it came in).
    const cut = await s1.bodyWriter(2n);
    await cut.write(Buffer.from('partial'));
    const closing = s1.close();
    gate();
    await closing;
    await writeFile(path.join(dir, SPOOL_BODIES, 'stray'), 'x');
    const seen: ReplicaBody[] = [];
    const s2 = await ReceiveSpool.open(
      dir,
      async (items) => {
        for (const i of items) {
          const b = i.body!;
          expect(Buffer.isBuffer(b)).toBe(false);
          if (!Buffer.isBuffer(b)) expect((await readFile(b.file)).equals(Buffer.concat(pieces))).toBe(true);
          seen.push(b);
          applied = i.record.lsn;
        }
      },
      () => applied,
      log,
    );
    await s2.drain();
    expect(seen).toHaveLength(1);
    await new Promise((r) => setTimeout(r, 50));
    // Applied, so removed; the partial one and the stray went at open.
    expect(await readdir(path.join(dir, SPOOL_BODIES))).toEqual([]);
    await s2.close();
  });
});
