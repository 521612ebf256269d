/**
 * The LIST wildcard matcher (RFC 3501 §6.3.8) and the lenient pattern
 * decoding, as pure functions over real names and patterns.
 */
import { describe, expect, it } from 'vitest';
import { patternMatcher, wildcardMatcher } from '../../src/imap/list-match.js';
import { decodeListPattern } from '../../src/text/mutf7.js';

/** Small exhaustive reference: recursive matching, fine on tiny inputs only. */
function slowMatch(p: string, n: string): boolean {
  if (p === '') return n === '';
  const c = p[0]!;
  if (c === '*' || c === '%') {
    for (let k = 0; k <= n.length; k++) {
      if (c === '%' && n.slice(0, k).includes('.')) break;
      if (slowMatch(p.slice(1), n.slice(k))) return true;
    }
    return false;
  }
  return n[0] === c && slowMatch(p.slice(1), n.slice(1));
}

describe('wildcardMatcher', () => {
  it('matches the cases of imaptest list', () => {
    const names = ['box.test', 'box.test2', 'box.test3', 'box.test3.test4', 'box.test3.test4.test5'];
    const sel = (p: string): string[] => names.filter(wildcardMatcher(p));
    expect(sel('box.%')).toEqual(['box.test', 'box.test2', 'box.test3']);
    expect(sel('box.%.%')).toEqual(['box.test3.test4']);
    expect(sel('box.*test4')).toEqual(['box.test3.test4']);
    expect(sel('box.%3.%4')).toEqual(['box.test3.test4']);
    expect(sel('box.%t*4')).toEqual(['box.test3.test4']);
    expect(sel('box.*')).toEqual(names);
    expect(sel('*')).toEqual(names);
    expect(sel('box.test')).toEqual(['box.test']);
  });

  it('agrees with a reference matcher on every pattern over a small alphabet', () => {
    const alphabet = ['a', 'b', '.', '*', '%'];
    const patterns: string[] = [''];
    for (let len = 1; len <= 4; len++) {
      for (const p of patterns.filter((x) => x.length === len - 1)) for (const c of alphabet) patterns.push(p + c);
    }
    const names = ['', 'a', 'b', 'ab', 'a.b', 'aa.b', 'a.a.b', 'ba', '.a', 'a.', 'abab', 'a..b'];
    let compared = 0;
    for (const p of patterns) {
      const m = wildcardMatcher(p);
      for (const n of names) {
        expect([p, n, m(n)]).toEqual([p, n, slowMatch(p, n)]);
        compared++;
      }
    }
    expect(compared).toBe(patterns.length * names.length);
  });

  it('answers the pattern that makes a backtracking matcher exponential', () => {
    const name = 'a'.repeat(200);
    expect(wildcardMatcher('*a'.repeat(30) + '*b')(name)).toBe(false);
    expect(wildcardMatcher('%a'.repeat(30) + '%')(name)).toBe(true);
    expect(wildcardMatcher('*a'.repeat(30) + '*')(name)).toBe(true);
    expect(wildcardMatcher('*a'.repeat(201))(name)).toBe(false);
  });

  it('treats the INBOX prefix case-insensitively and nothing else', () => {
    expect(patternMatcher('', 'inbox')('INBOX')).toBe(true);
    expect(patternMatcher('inbox.', '%')('INBOX.Sent')).toBe(true);
    expect(patternMatcher('', 'inboxes')('INBOXes')).toBe(false);
    expect(patternMatcher('', 'sent')('Sent')).toBe(false);
  });
});

describe('decodeListPattern', () => {
  it('decodes canonical runs and keeps any other "&" literally', () => {
    expect(decodeListPattern('Entw&APw-rfe')).toBe('Entwürfe');
    expect(decodeListPattern('a&-b')).toBe('a&b');
    expect(decodeListPattern("!#$&'+,-.0123456789:;<=>?@^_`|[}%*")).toBe("!#$&'+,-.0123456789:;<=>?@^_`|[}%*");
    expect(decodeListPattern('&')).toBe('&');
    expect(decodeListPattern('x&AGE-')).toBe('x&AGE-');
    expect(decodeListPattern('&Jjo')).toBe('&Jjo');
    expect(decodeListPattern('&Jjo-*')).toBe('\u263a*');
  });
});
