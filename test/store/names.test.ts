import { describe, expect, it } from 'vitest';
import {
  compareNames,
  curName,
  escapeHost,
  flagsFromLetters,
  lettersFor,
  normalizeFlags,
  parseName,
  uniqueName,
  withSizes,
} from '../../src/store/maildir/filename.js';
import { folderDirName, nameFromFolderDir, normalizeMailboxName, safeFileName } from '../../src/store/maildir/names.js';
import { decodeMailboxName, encodeMailboxName } from '../../src/text/mutf7.js';
import { LIMITS } from '../../src/limits.js';
import { isRoostError } from '../../src/errors.js';

describe('Maildir file names', () => {
  it('generates unique, increasing names with the host escaped', () => {
    const a = uniqueName('mx/1:a.example');
    const b = uniqueName('mx/1:a.example');
    expect(a).not.toBe(b);
    expect(a).toMatch(/^\d+\.M\d+P\d+Q\d+\.mx\\0571\\072a\.example$/);
    expect(compareNames(a, b)).toBeLessThan(0);
    expect(escapeHost('')).toBe('localhost');
  });

  it('parses S=, W= and the info part (Dovecot rules)', () => {
    const p = parseName('1035478339.27041_118.foo.org,S=1000,W=1030:2,RS');
    expect(p).toEqual({ basename: '1035478339.27041_118.foo.org,S=1000,W=1030', size: 1000, vsize: 1030, letters: 'RS', hasInfo: true });
    expect(parseName('123.x.host').size).toBeNull();
    expect(parseName('123.x.host,S=12x').size).toBeNull();
    expect(parseName('1.a.h:2,S,extra').letters).toBe('S');
    expect(parseName('1.a.h:1,xyz').hasInfo).toBe(false);
    expect(withSizes('1.a.h', 5, 7)).toBe('1.a.h,S=5,W=7');
  });

  it('maps flags to letters in ASCII order and keeps unknown letters', () => {
    expect(lettersFor(['\\Seen', '\\Answered', '\\Flagged', '\\Deleted', '\\Draft'])).toBe('DFRST');
    expect(lettersFor(['\\Seen'], 'Pab')).toBe('PSab');
    expect(lettersFor([], 'PS')).toBe('P');
    expect(flagsFromLetters('FRSPa')).toEqual(['\\Answered', '\\Flagged', '\\Seen']);
    expect(curName('1.a.h', ['$Junk', '\\Seen'])).toBe('1.a.h:2,S');
  });

  it('normalizes flags: canonical system case, no \\Recent, no duplicates, sorted', () => {
    expect(normalizeFlags(['\\seen', '\\SEEN', '$Junk', '$junk', '\\Recent', '\\Bogus', 'a b', 'Work'])).toEqual(['$Junk', 'Work', '\\Seen']);
  });

  it('sorts found names by seconds, microseconds, then name', () => {
    const names = ['20.M5P1.h', '10.M900P1.h', '10.M1000P1.h', '9.x.h'];
    expect([...names].sort(compareNames)).toEqual(['9.x.h', '10.M900P1.h', '10.M1000P1.h', '20.M5P1.h']);
  });
});

describe('mailbox names', () => {
  it('normalizes INBOX and validates', () => {
    expect(normalizeMailboxName('inbox')).toBe('INBOX');
    expect(normalizeMailboxName('Inbox.Sub')).toBe('INBOX.Sub');
    expect(normalizeMailboxName('Archive.2024')).toBe('Archive.2024');
    // Legal names (Dovecot and Courier keep them); LIST reads them as wildcards only in patterns.
    expect(normalizeMailboxName('a*')).toBe('a*');
    expect(normalizeMailboxName('Percent 50%')).toBe('Percent 50%');
    const bad = ['', '.', '..', 'a..b', '.a', 'a.', 'a/b', 'x\u0001', 'x'.repeat(LIMITS.store.maxMailboxNameLength + 1), Array(LIMITS.store.maxMailboxDepth + 1).fill('a').join('.')];
    for (const b of bad) {
      let err: unknown = null;
      try {
        normalizeMailboxName(b);
      } catch (e) {
        err = e;
      }
      expect(isRoostError(err, 'BADNAME'), JSON.stringify(b)).toBe(true);
    }
    expect(normalizeMailboxName('x'.repeat(LIMITS.store.maxMailboxNameLength))).toHaveLength(LIMITS.store.maxMailboxNameLength);
    expect(normalizeMailboxName(Array(LIMITS.store.maxMailboxDepth).fill('a').join('.'))).toBeTruthy();
  });

  it('encodes modified UTF-7 as RFC 3501 §5.1.3', () => {
    expect(encodeMailboxName('~peter/mail/台北/日本語')).toBe('~peter/mail/&U,BTFw-/&ZeVnLIqe-');
    expect(encodeMailboxName('a&b')).toBe('a&-b');
    expect(decodeMailboxName('~peter/mail/&U,BTFw-/&ZeVnLIqe-')).toBe('~peter/mail/台北/日本語');
    expect(decodeMailboxName('a&-b')).toBe('a&b');
    expect(folderDirName('Entwürfe.Alt')).toBe('.Entw&APw-rfe.Alt');
    expect(nameFromFolderDir('.Entw&APw-rfe.Alt')).toBe('Entwürfe.Alt');
    expect(nameFromFolderDir('..roost-trash-1')).toBeNull();
    // Only the canonical form names a mailbox: ".&AGE-" (an encoded "a") is not a second ".a".
    expect(nameFromFolderDir('.&AGE-')).toBeNull();
    expect(nameFromFolderDir('.a')).toBe('a');
  });

  it('makes safe, distinct index file names', () => {
    expect(safeFileName('alice@example.org')).toBe('alice@example%2Eorg');
    const long = safeFileName('x'.repeat(300));
    expect(long.length).toBeLessThanOrEqual(200);
    expect(long).not.toBe(safeFileName('x'.repeat(301)));
    expect(safeFileName('../x')).not.toContain('/');
    expect(safeFileName('a.b')).not.toBe(safeFileName('a_b'));
  });
});

describe('packed mailbox lists', () => {
  it('round-trips entries exactly', async () => {
    const { pack, unpack } = await import('../../src/store/index/list-image.js');
    const { internFlags } = await import('../../src/store/message-list.js');
    const entries = Array.from({ length: 50 }, (_, i) => ({
      uid: i * 3 + 1,
      modseq: BigInt(1000 + i),
      flags: internFlags(i % 2 ? '\\Seen' : i % 3 ? '$Junk \\Flagged' : ''),
      internalDate: 1700000000123 + i,
      size: 100 + i,
      vsize: 104 + i,
      basename: `17000000${i}.M${i}P1.hést,S=${100 + i}`,
      diskName: `cur/17000000${i}.M${i}P1.hést,S=${100 + i}:2,S`,
    }));
    const back = unpack(pack(entries), internFlags);
    expect(back).toEqual(entries);
    expect(unpack(pack([]), internFlags)).toEqual([]);
  });
});
