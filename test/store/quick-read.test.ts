/**
 * maildir/quick-read.ts: whole small files read on the main thread. Real
 * files in a temporary directory; the size limit at N and N+1.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { noteQuickReadForTest, quickRead, quickReadAllowed, quickReadCold } from '../../src/store/maildir/quick-read.js';

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-quick-read-'));
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function file(name: string, bytes: Buffer): string {
  const f = path.join(dir, name);
  fs.writeFileSync(f, bytes);
  return f;
}

describe('quickRead', () => {
  const body = Buffer.from('Subject: x\n\n' + 'line of text\n'.repeat(500));

  it('reads a file of the expected size whole', () => {
    expect(quickRead(file('exact', body), body.length).equals(body)).toBe(true);
  });

  it('reads on to the end of a file longer than expected (the index is behind)', () => {
    expect(quickRead(file('longer', body), 10).equals(body)).toBe(true);
  });

  it('returns what is there of a file shorter than expected (the caller judges truncation)', () => {
    expect(quickRead(file('shorter', body), body.length + 100).equals(body)).toBe(true);
  });

  it('reads an empty file', () => {
    expect(quickRead(file('empty', Buffer.alloc(0)), 0).length).toBe(0);
  });

  it('throws ENOENT for a missing file, so the caller looks the message up again', () => {
    expect(() => quickRead(path.join(dir, 'missing'), 10)).toThrow(expect.objectContaining({ code: 'ENOENT' }) as Error);
  });

  it('is allowed up to quickReadMaxBytes, not one byte more', async () => {
    await warm();
    expect(quickReadAllowed(LIMITS.store.quickReadMaxBytes)).toBe(true);
    expect(quickReadAllowed(LIMITS.store.quickReadMaxBytes + 1)).toBe(false);
  });
});

/** Wait out a back-off (bounded): reads above may have been slow on a loaded machine. */
async function warm(): Promise<void> {
  for (let i = 0; i < 100 && quickReadCold(); i++) await new Promise((r) => setTimeout(r, LIMITS.store.quickReadBackoffMs / 10 + 10));
  expect(quickReadCold()).toBe(false);
}

describe('quick-read back-off after slow reads', () => {
  const slow = LIMITS.store.quickReadSlowMs + 1;
  const n = LIMITS.store.quickReadSlowInARow;

  it(`stays on the main thread after ${n - 1} slow reads in a row, backs off at ${n}`, async () => {
    await warm();
    for (let i = 0; i < n - 1; i++) expect(noteQuickReadForTest(slow)).toBe(false);
    expect(noteQuickReadForTest(slow)).toBe(true);
    expect(quickReadAllowed(1)).toBe(false);
  });

  it('a fast read between two slow ones starts the count again', async () => {
    await warm();
    for (let round = 0; round < 3; round++) {
      for (let i = 0; i < n - 1; i++) expect(noteQuickReadForTest(slow)).toBe(false);
      expect(noteQuickReadForTest(0)).toBe(false);
    }
    expect(quickReadAllowed(1)).toBe(true);
  });

  it('a read just under quickReadSlowMs is not slow, however many', async () => {
    await warm();
    for (let i = 0; i < n + 2; i++) expect(noteQuickReadForTest(LIMITS.store.quickReadSlowMs - 0.5)).toBe(false);
  });
});
