/**
 * Pipelined RETR/TOP read-ahead (src/pop3/commands/retrieve.ts): the
 * messages opened ahead of the one on the wire are bounded in count
 * (LIMITS.pop3.readAheadMessages) and in bytes held
 * (LIMITS.pop3.readAheadBytes, a streamed message counting one chunk of
 * LIMITS.pop3.readWholeMaxBytes), each at N and N+1.
 */
import { describe, expect, it } from 'vitest';
import { readAheadCount } from '../../src/pop3/commands/retrieve.js';
import { LIMITS } from '../../src/limits.js';

const COUNT = LIMITS.pop3.readAheadMessages;
const BYTES = LIMITS.pop3.readAheadBytes;
const WHOLE = LIMITS.pop3.readWholeMaxBytes;

describe('POP3 read-ahead budget', () => {
  it(`messages: ${COUNT} pipelined are all read ahead, of ${COUNT + 1} the last waits`, () => {
    expect(readAheadCount(new Array<number>(COUNT).fill(100))).toBe(COUNT);
    expect(readAheadCount(new Array<number>(COUNT + 1).fill(100))).toBe(COUNT);
    expect(readAheadCount([])).toBe(0);
  });

  it('the shipped values: messages of readWholeMaxBytes are read ahead as many as readAheadBytes holds, the first always', () => {
    const fit = Math.max(1, Math.floor(BYTES / WHOLE));
    expect(readAheadCount(new Array<number>(COUNT + 1).fill(WHOLE))).toBe(Math.min(COUNT, fit));
    // Messages of a few KiB (most mail): the count binds, not the bytes.
    expect(COUNT * 16 * 1024).toBeLessThanOrEqual(BYTES);
    expect(readAheadCount(new Array<number>(COUNT + 1).fill(16 * 1024))).toBe(COUNT);
  });

  it(`bytes: exactly ${BYTES} held fit, one byte more leaves the last message for later`, () => {
    // More messages allowed than the bytes admit, so the byte bound is the one reached.
    const limits = { ...LIMITS.pop3, readAheadMessages: 1000 };
    const exact = [...new Array<number>(8).fill(120_000), BYTES - 960_000];
    expect(exact.reduce((a, b) => a + b, 0)).toBe(BYTES);
    expect(readAheadCount(exact, limits)).toBe(exact.length);
    const over = [...exact.slice(0, -1), exact[exact.length - 1]! + 1];
    expect(readAheadCount(over, limits)).toBe(exact.length - 1);
  });

  it('a streamed message holds one chunk, not its size; the first goes whatever its size', () => {
    expect(readAheadCount([50 * 1024 * 1024, 100])).toBe(2);
    expect(readAheadCount([BYTES * 4])).toBe(1);
    const limits = { ...LIMITS.pop3, readAheadMessages: 1000 };
    expect(readAheadCount([BYTES, 1], { ...limits, readWholeMaxBytes: BYTES })).toBe(1);
    expect(readAheadCount([BYTES - 1, 1], { ...limits, readWholeMaxBytes: BYTES })).toBe(2);
  });
});
