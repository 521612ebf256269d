/**
 * The primary reads delivered bodies ahead of the one it sends, bounded by
 * count (READ_AHEAD) and by bytes (LIMITS.replication.readAheadBytes), so a
 * run of 50 MB messages is read one at a time. Pure planning
 * function, at N and N+1 of each bound.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { READ_AHEAD, readAheadEnd } from '../../src/replication/primary.js';

const MAX = LIMITS.replication.readAheadBytes;

describe('replication read-ahead', () => {
  it('reads ahead up to READ_AHEAD records, not READ_AHEAD + 1', () => {
    const sizes = Array.from({ length: 40 }, () => 1);
    expect(readAheadEnd(sizes, 0, 0, 0)).toBe(READ_AHEAD);
    // One sent: one more may be read.
    expect(readAheadEnd(sizes, READ_AHEAD, 1, READ_AHEAD - 1)).toBe(READ_AHEAD + 1);
  });

  it('bytes ahead: exactly readAheadBytes fit, one byte more does not', () => {
    expect(readAheadEnd([MAX / 2, MAX / 2, 1], 0, 0, 0)).toBe(2);
    expect(readAheadEnd([MAX / 2, MAX / 2 + 1, 1], 0, 0, 0)).toBe(1);
  });

  it('a body larger than the bound is still read when its turn comes, alone', () => {
    const big = 50 * 1024 * 1024;
    expect(readAheadEnd([big, big, 10], 0, 0, 0)).toBe(1);
    // While it is held (not yet sent) nothing else is read.
    expect(readAheadEnd([big, big, 10], 1, 0, big)).toBe(1);
    // Once sent, the next big one is read alone.
    expect(readAheadEnd([big, big, 10], 1, 1, 0)).toBe(2);
  });

  it('records without bodies (flags, expunges) cost nothing', () => {
    expect(readAheadEnd([0, 0, 0, MAX, 0], 0, 0, 0)).toBe(5);
  });
});
