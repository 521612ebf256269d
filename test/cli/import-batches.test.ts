/**
 * `roost import imap://` batches: at most LIMITS.importImap.batch
 * messages and batchBytes of whole-fetched bodies per FETCH — each limit at
 * N (one batch) and N+1 (two).
 */
import { describe, expect, it } from 'vitest';
import { splitBatches } from '../../src/cli/commands/import-imap.js';
import { LIMITS } from '../../src/limits.js';

const L = LIMITS.importImap;
const sizes = (parts: { size: number }[][]): number[] => parts.map((p) => p.length);

describe('import batches', () => {
  it(`${L.batch} small messages are one batch, ${L.batch + 1} are two`, () => {
    expect(sizes(splitBatches(Array.from({ length: L.batch }, () => ({ size: 100 }))))).toEqual([L.batch]);
    expect(sizes(splitBatches(Array.from({ length: L.batch + 1 }, () => ({ size: 100 }))))).toEqual([L.batch, 1]);
  });

  it('bodies of batchBytes together are one batch, one byte more are two', () => {
    // Twenty bodies below inlineBytes (fetched whole, so they count) that add up to batchBytes exactly.
    const each = Math.floor(L.batchBytes / 20);
    const n = Math.floor(L.batchBytes / each);
    const exact = [...Array.from({ length: n - 1 }, () => ({ size: each })), { size: L.batchBytes - (n - 1) * each }];
    expect(sizes(splitBatches(exact))).toEqual([n]);
    const over = [...exact.slice(0, -1), { size: L.batchBytes - (n - 1) * each + 1 }];
    expect(sizes(splitBatches(over))).toEqual([n - 1, 1]);
  });

  it('streamed messages (over inlineBytes) do not count towards the bytes; one message is always a batch', () => {
    const big = { size: L.inlineBytes + 1 };
    expect(sizes(splitBatches([big, big, big]))).toEqual([3]);
    expect(sizes(splitBatches([{ size: 1 }], { batch: 1, batchBytes: 0, inlineBytes: 10 }))).toEqual([1]);
  });
});
