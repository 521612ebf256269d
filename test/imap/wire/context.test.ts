/**
 * RFC 5267 §4 on the wire: UPDATE, CONTEXT and PARTIAL return options of
 * SEARCH and SORT, and CANCELUPDATE (every split, drive.ts).
 */
import { describe, expect, it } from 'vitest';
import { cmd, err } from './drive.js';

describe('RFC 5267 return options', () => {
  it('UPDATE and CONTEXT are options; PARTIAL carries its range, normalised', () => {
    expect(cmd('s SEARCH RETURN (UPDATE CONTEXT COUNT) SEEN').args).toEqual({
      charset: null,
      returnOptions: ['UPDATE', 'CONTEXT', 'COUNT'],
      program: { key: 'SEEN' },
    });
    expect(cmd('s UID SEARCH RETURN (PARTIAL 500:400) ALL').args).toEqual({
      charset: null,
      returnOptions: [],
      partial: { first: 400, last: 500 },
      program: { key: 'ALL' },
    });
    expect(cmd('s SORT RETURN (partial 1:10 MIN) (DATE) UTF-8 ALL').args).toMatchObject({ returnOptions: ['MIN'], partial: { first: 1, last: 10 } });
  });

  it('bad PARTIAL forms are BAD', () => {
    expect(err('s SEARCH RETURN (PARTIAL 1) ALL').text).toBe('Invalid PARTIAL range 1');
    expect(err('s SEARCH RETURN (PARTIAL 1:*) ALL').text).toBe('Invalid PARTIAL range 1:*');
    expect(err('s SEARCH RETURN (PARTIAL) ALL').text).toBe('Invalid PARTIAL range');
    expect(err('s SEARCH RETURN (PARTIAL 0:1) ALL').text).toBe('Invalid PARTIAL range "0": out of range');
    expect(err('s SEARCH RETURN (ALL PARTIAL 1:2) ALL').text).toBe('PARTIAL and ALL cannot be combined');
    expect(err('s SEARCH RETURN (PARTIAL 1:2 PARTIAL 1:2) ALL').text).toBe('PARTIAL given twice');
  });

  it('CANCELUPDATE takes one or more quoted tags', () => {
    expect(cmd('c CANCELUPDATE "a1" "b2"')).toEqual({ tag: 'c', uid: false, name: 'CANCELUPDATE', args: { tags: ['a1', 'b2'] } });
    expect(err('c CANCELUPDATE').text).toBe('Missing search tag');
    expect(err('c CANCELUPDATE a1').text).toBe('CANCELUPDATE takes quoted tags');
  });
});
