import { describe, expect, it } from 'vitest';
import { DotStuffer } from '../../src/pop3/dotstuff.js';

/** Straightforward reference: whole message as a string, line by line. */
function reference(msg: string, bodyLines: number | null): string {
  const pieces = msg.split('\n');
  const partial = pieces.pop()!; // text after the final LF ('' when the message ends with LF)
  const lines = pieces.map((l) => ({ text: l.replace(/\r$/, ''), end: true }));
  if (partial !== '') lines.push({ text: partial, end: false });
  let take = lines;
  if (bodyLines !== null) {
    const blank = lines.findIndex((l) => l.text === '' && l.end);
    if (blank >= 0) take = lines.slice(0, blank + 1 + bodyLines);
  }
  let out = take.map((l) => (l.text.startsWith('.') ? '.' : '') + l.text + (l.end ? '\r\n' : '')).join('');
  const lastLine = take[take.length - 1];
  out += lastLine && !lastLine.end ? '\r\n.\r\n' : '.\r\n';
  return out;
}

function run(msg: Buffer, bodyLines: number | null, cuts: number[]): string {
  const d = new DotStuffer(bodyLines);
  const parts: Buffer[] = [];
  let prev = 0;
  for (const c of [...cuts, msg.length]) {
    parts.push(d.convert(msg.subarray(prev, c)));
    prev = c;
    if (d.done) break;
  }
  parts.push(d.end());
  return Buffer.concat(parts).toString('latin1');
}

const samples: Record<string, string> = {
  lf: 'From: a\nSubject: b\n\nline 1\n.dot line\n..two dots\nlast\n',
  crlf: 'From: a\r\nSubject: b\r\n\r\nline 1\r\n.dot line\r\n\r\n.\r\nlast\r\n',
  mixed: 'From: a\r\nX: y\n\n.\nbody\r\nmore\n',
  noTrailingNewline: 'From: a\n\nbody without end',
  dotNoTrailingNewline: 'From: a\n\n.',
  noBody: 'From: a\nSubject: only headers\n',
  empty: '',
  bareCr: 'From: a\n\nx\ry\r\n\rz\n',
};

describe('DotStuffer', () => {
  for (const [name, text] of Object.entries(samples)) {
    const msg = Buffer.from(text, 'latin1');
    for (const bodyLines of [null, 0, 1, 2, 100]) {
      it(`${name}, TOP ${bodyLines ?? 'all'}: whole, split at every offset, byte by byte`, () => {
        const want = reference(text, bodyLines);
        expect(run(msg, bodyLines, [])).toBe(want);
        for (let i = 0; i <= msg.length; i++) expect(run(msg, bodyLines, [i])).toBe(want);
        expect(run(msg, bodyLines, Array.from({ length: msg.length }, (_, i) => i))).toBe(want);
      });
    }
  }

  it('counts content octets = message with CRLF line ends (vsize)', () => {
    for (const text of Object.values(samples)) {
      const d = new DotStuffer();
      d.convert(Buffer.from(text, 'latin1'));
      const crlfSize = Buffer.byteLength(text.replace(/\r?\n/g, '\r\n'), 'latin1');
      expect(d.contentOctets).toBe(crlfSize);
    }
  });
});
