/**
 * The full-text index keeps a message whose text exceeds
 * LIMITS.store.ftsMaxTextBytes out of FTS5 (one insert of it would hold the
 * event loop), lists it as unindexed and names it as a candidate for every
 * query, so SEARCH still finds what it holds (src/store/fts/fulltext.ts).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { FullTextIndex, textBytes } from '../../src/store/fts/fulltext.js';
import { parseMessage } from '../../src/store/mime/parse.js';

const head = 'Subject: cap\r\n\r\n';
const sized = (total: number, word: string): Buffer => Buffer.from(head + word + 'x'.repeat(total - head.length - word.length));

describe('full-text index size cap', () => {
  it(`counts header and text bytes: ${LIMITS.store.ftsMaxTextBytes} fit, one more does not`, () => {
    const n = LIMITS.store.ftsMaxTextBytes;
    const at = parseMessage(sized(n, 'w '));
    expect(textBytes(at, n)).toBe(n);
    const over = parseMessage(sized(n + 1, 'w '));
    expect(textBytes(over, n)).toBe(Infinity);
  });

  it('a message over the cap is unindexed and every query names it; one at the cap is indexed', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'roost-fts-cap-'));
    const n = LIMITS.store.ftsMaxTextBytes;
    const msgs = new Map([
      [1, sized(n, 'small-word ')],
      [2, sized(n + 1, 'big-word ')],
    ]);
    const idx = new FullTextIndex(path.join(dir, 'a.sqlite'));
    try {
      const src = { readMessage: async (uid: number) => msgs.get(uid)!, structure: async (uid: number) => parseMessage(msgs.get(uid)!) };
      expect(await idx.reconcile(7, [1, 2], src)).toBe(true);
      expect([...idx.query(7, 'BODY', 'small-word')!].sort()).toEqual([1, 2]);
      expect([...idx.query(7, 'BODY', 'big-word')!]).toEqual([2]);
      expect([...idx.query(7, 'TEXT', 'nowhere at all')!]).toEqual([2]);
      // Expunged: its unindexed entry goes with it.
      expect(await idx.reconcile(7, [1], src)).toBe(true);
      expect([...idx.query(7, 'BODY', 'nowhere at all')!]).toEqual([]);
    } finally {
      idx.close();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
