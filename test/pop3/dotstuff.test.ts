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

function run(msg: Buffer, bodyLines: number | null, cuts: number[], crlf = false): string {
  const d = new DotStuffer(bodyLines, crlf);
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

  // The RETR fast path for a message the index knows to be CRLF-only (size = vsize).
  const crlfOnly = {
    crlf: samples.crlf!,
    dotsEverywhere: '.a\r\n..b\r\n\r\n.\r\n.\r\n',
    noTrailingNewline: 'From: a\r\n\r\n.body',
    bareCr: 'From: a\r\n\r\nx\ry\r\n\r\r\n',
    empty: '',
  };
  for (const [name, text] of Object.entries(crlfOnly)) {
    it(`CRLF-only ${name}: same bytes as the general conversion, whole, split at every offset, byte by byte`, () => {
      const msg = Buffer.from(text, 'latin1');
      const want = reference(text, null);
      expect(run(msg, null, [], true)).toBe(want);
      for (let i = 0; i <= msg.length; i++) expect(run(msg, null, [i], true)).toBe(want);
      expect(run(msg, null, Array.from({ length: msg.length }, (_, i) => i), true)).toBe(want);
    });
  }

  it('a CRLF-only message without a dot line is passed on as the same buffer (no copy)', () => {
    const msg = Buffer.from('From: a\r\n\r\nbody\r\n', 'latin1');
    const d = new DotStuffer(null, true);
    expect(d.convert(msg)).toBe(msg);
    expect(d.contentOctets).toBe(msg.length);
  });

  it('LF-only and CRLF messages of random lines with random dots: every path gives the reference bytes and vsize', () => {
    let seed = 7;
    const rnd = (n: number): number => ((seed = (seed * 1103515245 + 12345) % 2 ** 31) % n);
    for (let m = 0; m < 200; m++) {
      const lines = Array.from({ length: 1 + rnd(30) }, () => (rnd(4) === 0 ? '.' : '') + 'x'.repeat(rnd(20)));
      const eol = rnd(2) ? '\r\n' : '\n';
      const text = lines.join(eol) + (rnd(3) ? eol : '');
      const msg = Buffer.from(text, 'latin1');
      const want = reference(text, null);
      const cut = rnd(msg.length + 1);
      expect(run(msg, null, [cut], eol === '\r\n')).toBe(want);
      expect(run(msg, null, [cut])).toBe(want);
      const d = new DotStuffer(null, eol === '\r\n');
      d.convert(msg);
      expect(d.contentOctets).toBe(Buffer.byteLength(text.replace(/\r?\n/g, '\r\n'), 'latin1'));
    }
  });

  it('counts content octets = message with CRLF line ends (vsize)', () => {
    for (const text of Object.values(samples)) {
      const d = new DotStuffer();
      d.convert(Buffer.from(text, 'latin1'));
      const crlfSize = Buffer.byteLength(text.replace(/\r?\n/g, '\r\n'), 'latin1');
      expect(d.contentOctets).toBe(crlfSize);
    }
  });
});
