/**
 * Seeded random garbage mixed with real syntax: the reader never throws,
 * gives the same events however the bytes are cut, and is back in step for
 * the next good command (every bad input gets a clear protocol
 * error and the connection survives).
 */
import { describe, expect, it } from 'vitest';
import { drive, type Seen } from './drive.js';
import { rng } from '../../helpers/rng.js';

const WORDS = [
  'a1', 'FETCH', 'UID', 'STORE', 'SEARCH', 'APPEND', 'LOGIN', 'SELECT', 'LIST', 'INBOX', '1:*', '$', '*', '\\Seen',
  '+FLAGS', 'BODY[', 'BODY.PEEK[HEADER.FIELDS', 'BINARY[1]', ']', '<0.10>', '(', ')', '((', '))', 'NIL', 'OR', 'NOT',
  'CHARSET', 'UTF-8', 'RETURN', 'CHANGEDSINCE', '"x y"', '"a\\"b"', '"bad\\q"', '"open', '%', '&AGE-', '{', '}', '~',
];

const STARTS = ['APPEND INBOX', 'APPEND INBOX (\\Seen)', 'LOGIN', 'SEARCH', 'FETCH 1', 'UID STORE 1 +FLAGS', 'SELECT', 'LIST ""', 'NOOP', 'ID'];

const VALID = [
  'TAG NOOP\r\n',
  'TAG APPEND INBOX (\\Seen) {5+}\r\nhello\r\n',
  'TAG APPEND INBOX {3}\r\nabc ~{2+}\r\n\x00\x01\r\n',
  'TAG LOGIN {3+}\r\njoe "x"\r\n',
  'TAG UID FETCH 1:* (FLAGS BODY.PEEK[HEADER.FIELDS (From)]<0.10>)\r\n',
  'TAG SEARCH CHARSET UTF-8 OR (FROM {2+}\r\nab) NOT SEEN\r\n',
];

function garbage(r: () => number, lines: number): Buffer {
  const parts: Buffer[] = [];
  for (let l = 0; l < lines; l++) {
    if (r() < 0.25) {
      parts.push(Buffer.from(VALID[Math.floor(r() * VALID.length)]!.replace('TAG', `v${l}`), 'latin1'));
      continue;
    }
    const n = 1 + Math.floor(r() * 8);
    const words: string[] = [];
    if (r() < 0.6) words.push(`t${l}`, STARTS[Math.floor(r() * STARTS.length)]!);
    for (let i = 0; i < n; i++) {
      const x = r();
      if (x < 0.7) words.push(WORDS[Math.floor(r() * WORDS.length)]!);
      else if (x < 0.85) words.push(String.fromCharCode(...Array.from({ length: 1 + Math.floor(r() * 5) }, () => Math.floor(r() * 256))));
      else words.push(String(Math.floor(r() * 1000)));
    }
    parts.push(Buffer.from(words.join(r() < 0.9 ? ' ' : ''), 'latin1'));
    const end = r();
    if (end < 0.15) {
      // a literal announced at the end of the line, its bytes following
      const size = Math.floor(r() * 20);
      const kind = r();
      parts.push(Buffer.from(` ${kind < 0.2 ? '~' : ''}{${size}${kind < 0.6 ? '+' : ''}}\r\n`));
      parts.push(Buffer.from(Array.from({ length: size }, () => Math.floor(r() * 256))));
    } else {
      parts.push(Buffer.from(end < 0.5 ? '\n' : '\r\n'));
    }
  }
  return Buffer.concat(parts);
}

function cut(input: Buffer, r: () => number): Buffer[] {
  const out: Buffer[] = [];
  for (let i = 0; i < input.length; ) {
    const n = 1 + Math.floor(r() * 40);
    out.push(input.subarray(i, i + n));
    i += n;
  }
  return out;
}

describe('random input', () => {
  it.each(Array.from({ length: 40 }, (_, i) => i + 1))('seed %i: no throw, split-invariant, back in step', (seed) => {
    const r = rng(seed);
    // Padding: a skipped literal is at most 20 octets and then one line.
    const input = Buffer.concat([garbage(r, 60), Buffer.from('\r\n'.repeat(40) + 'zz NOOP\r\n')]);
    let k = 0;
    const decide = () => (k++ % 3 === 0 ? 'reject' : 'accept') as 'accept' | 'reject';
    const whole = drive([input], { decide, limits: { maxLineLength: 200, maxNestingDepth: 4 } });
    k = 0;
    const pieces = drive(cut(input, rng(seed * 7919)), { decide, limits: { maxLineLength: 200, maxNestingDepth: 4 } });
    expect(pieces).toEqual(whole);
    const last = whole[whole.length - 1] as Seen;
    expect(last).toEqual({ kind: 'command', command: { tag: 'zz', uid: false, name: 'NOOP', args: {} } });
    for (const e of whole) if (e.kind === 'error') expect(e.text.length).toBeGreaterThan(0);
    // The garbage really was garbage (and some of it real syntax).
    expect(whole.filter((e) => e.kind === 'error').length).toBeGreaterThan(10);
    if (process.env.FUZZ_STATS) console.log(seed, JSON.stringify(whole.reduce<Record<string, number>>((a, e) => ({ ...a, [e.kind]: (a[e.kind] ?? 0) + 1 }), {})));
  });
});
