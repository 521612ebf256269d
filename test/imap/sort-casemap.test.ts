/**
 * The SORT keys' i;unicode-casemap (RFC 5051 §2, RFC 5957 display names)
 * takes a short cut for all-ASCII strings (search/casemap.ts): the result
 * must be what the per-character definition gives, for every ASCII
 * character and for mixed strings, and non-ASCII strings keep the
 * definition (simple title case where it is one code point, then NFKD).
 */
import { describe, expect, it } from 'vitest';
import { asciiCasemap, unicodeCasemap } from '../../src/imap/search/sort.js';
import { rng } from '../helpers/rng.js';

const DIGRAPHS: Record<string, string> = {
  '\u01c4': '\u01c5', '\u01c5': '\u01c5', '\u01c6': '\u01c5',
  '\u01c7': '\u01c8', '\u01c8': '\u01c8', '\u01c9': '\u01c8',
  '\u01ca': '\u01cb', '\u01cb': '\u01cb', '\u01cc': '\u01cb',
  '\u01f1': '\u01f2', '\u01f2': '\u01f2', '\u01f3': '\u01f2',
};

/** RFC 5051 §2 spelled out character by character, as the key was computed before the short cut. */
function byDefinition(s: string): string {
  let out = '';
  for (const ch of s) {
    const d = DIGRAPHS[ch];
    if (d !== undefined) {
      out += d;
      continue;
    }
    const up = ch.toUpperCase();
    out += [...up].length === 1 ? up : ch;
  }
  return out.normalize('NFKD');
}

describe('i;unicode-casemap keys', () => {
  it('equals the per-character definition on every ASCII character', () => {
    for (let c = 0; c < 0x80; c++) {
      const s = `a${String.fromCharCode(c)}z`;
      expect(unicodeCasemap(s)).toBe(byDefinition(s));
    }
    expect(unicodeCasemap('Jane Q. Doe-Smith <x>')).toBe('JANE Q. DOE-SMITH <X>');
    expect(unicodeCasemap('')).toBe('');
  });

  it('equals the definition on random ASCII, Latin, Greek, digraph, astral and lone-surrogate strings', () => {
    const pools = [
      'abcxyzABCXYZ 09.-@"<>',
      'éÉßñÑøØåÅçÇ\u0301',
      'αβγΣσςΩω',
      '\u01c4\u01c5\u01c6\u01c7\u01c9\u01ca\u01cc\u01f1\u01f3',
      '\ufb01\u0149\u1e9e',
    ];
    const astral = ['\u{10428}', '\u{10400}', '\u{1F600}', '\ud800', '\udc00'];
    const next = rng(5051);
    for (let i = 0; i < 2000; i++) {
      let s = '';
      const len = Math.floor(next() * 12);
      for (let k = 0; k < len; k++) {
        const r = next();
        if (r < 0.1) s += astral[Math.floor(next() * astral.length)]!;
        else {
          const pool = pools[r < 0.6 ? 0 : 1 + Math.floor(next() * (pools.length - 1))]!;
          s += pool[Math.floor(next() * pool.length)]!;
        }
      }
      expect(unicodeCasemap(s), JSON.stringify(s)).toBe(byDefinition(s));
    }
  });

  it('keeps the RFC 5051 cases that differ from plain upper-casing', () => {
    expect(unicodeCasemap('straße')).toBe('STRAßE');
    expect(unicodeCasemap('\u01c6emal')).toBe('Dz\u030cEMAL');
    expect(unicodeCasemap('Émile')).toBe('E\u0301MILE');
    // i;ascii-casemap leaves everything but a-z alone.
    expect(asciiCasemap('émile b')).toBe('éMILE B');
  });
});
