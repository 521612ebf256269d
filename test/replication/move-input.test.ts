/**
 * What the destination of `roost account move` takes from its peer (another
 * pair, trusted only through the shared secret): file descriptions whose UID
 * and UIDVALIDITY are 32-bit (RFC 3501 §2.3.1.1) and whose names stay inside
 * new/ or cur/; and one move per account at a time on the source.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { safeFile } from '../../src/replication/move.js';
import { AccountFreezer } from '../../src/store/freezer.js';
import { Journal } from '../../src/store/journal/log.js';
import { tempDir } from '../store/helpers.js';

const root = tempDir();
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

describe('a moved file description from the peer', () => {
  it('UID and UIDVALIDITY up to 2^32-1 are taken, 2^32 and non-integers are not', () => {
    expect(safeFile({ uidvalidity: 0xffffffff, uid: 0xffffffff, filename: 'cur/1.M1P1.h,S=5:2,S' })).toBe(true);
    expect(safeFile({ uidvalidity: 0x100000000, uid: 1, filename: 'cur/a' })).toBe(false);
    expect(safeFile({ uidvalidity: 1, uid: 0x100000000, filename: 'cur/a' })).toBe(false);
    expect(safeFile({ uidvalidity: 1, uid: 0, filename: 'cur/a' })).toBe(false);
    expect(safeFile({ uidvalidity: '1', uid: 1.5, filename: 'cur/a' })).toBe(false);
  });

  it('a name in new/ or cur/ is taken; another directory, a dot file or a NUL is not', () => {
    for (const ok of ['new/1.M1P1.h', 'cur/1.M1P1.h:2,FS', '1.M1P1.h']) expect(safeFile({ uidvalidity: 1, uid: 1, filename: ok }), ok).toBe(true);
    for (const bad of ['../x', 'cur/../x', 'cur/a/b', 'tmp/x', '/etc/passwd', 'cur/.hidden', '', 'cur/', 'cur/a\0b', 7]) {
      expect(safeFile({ uidvalidity: 1, uid: 1, filename: bad }), String(bad)).toBe(false);
    }
  });
});

describe('one move per account on the source', () => {
  it('a second claim of an account being moved is refused until the first is released; a moved account cannot be claimed', () => {
    fs.mkdirSync(path.join(root, 'data'), { recursive: true });
    const journal = new Journal(path.join(root, 'data'));
    try {
      const f = new AccountFreezer(journal);
      expect(f.claim('a')).toBe(true);
      expect(f.claim('a')).toBe(false);
      expect(f.claim('b')).toBe(true);
      f.release('a');
      expect(f.claim('a')).toBe(true);
      f.markMoved('a', 'mx2.example.org');
      f.release('a');
      expect(f.claim('a')).toBe(false);
    } finally {
      journal.close();
    }
  });
});
