/**
 * The sliced matchers answer exactly what a whole-text scan answers:
 * NeedleSet (indexOf for a few needles, Aho-Corasick for many) against
 * String.prototype.includes over texts fed in chunks of every size, and
 * matchBodyText (decoded, folded and matched in pieces) against
 * textForSearch(...).body.toLowerCase().includes over messages larger than
 * a piece, in base64 with odd line lengths, quoted-printable, latin1 and
 * multi-byte UTF-8 straddling piece ends.
 */
import { describe, expect, it } from 'vitest';
import { NeedleSet } from '../../src/imap/search/matcher.js';
import { matchBodyText } from '../../src/imap/search/body-text.js';
import { textForSearch } from '../../src/store/mime/decode.js';
import { parseMessage } from '../../src/store/mime/parse.js';
import { WorkBudget } from '../../src/work/budget.js';
import { rng } from '../helpers/rng.js';

function feedAll(set: NeedleSet, text: string, chunk: number): boolean[] {
  const run = set.run(new WorkBudget());
  for (let i = 0; i < text.length; i += chunk) run.feed(text.slice(i, i + chunk));
  return set.needles.map((n) => run.has(n));
}

describe('NeedleSet', () => {
  it('finds exactly the needles includes() finds, for few and many needles and every chunk size', () => {
    const r = rng(7);
    const alphabet = 'abcσς é\u{1f600}';
    const chars = [...alphabet];
    const word = (len: number): string => Array.from({ length: len }, () => chars[Math.floor(r() * chars.length)]).join('');
    for (let round = 0; round < 40; round++) {
      const text = word(200 + Math.floor(r() * 200));
      for (const count of [1, 3, 8, 9, 60]) {
        const needles = Array.from({ length: count }, () => (r() < 0.5 ? text.slice(Math.floor(r() * 150), Math.floor(r() * 150) + 1 + Math.floor(r() * 6)) : word(1 + Math.floor(r() * 5))));
        needles.push('');
        const set = new NeedleSet(needles);
        const want = set.needles.map((n) => text.includes(n));
        for (const chunk of [1, 2, 3, 7, 50, 1000]) expect(feedAll(set, text, chunk)).toEqual(want);
      }
    }
  });

  it('does not match across a value boundary', () => {
    const set = new NeedleSet(['ab', 'x', 'y', 'z', 'q', 'r', 's', 't', 'u']);
    const run = set.run(new WorkBudget());
    run.feed('xa');
    run.boundary();
    run.feed('b');
    expect(run.has('ab')).toBe(false);
    expect(run.has('x')).toBe(true);
    const few = new NeedleSet(['ab']).run(new WorkBudget());
    few.feed('a');
    few.boundary();
    few.feed('b');
    expect(few.has('ab')).toBe(false);
  });
});

describe('matchBodyText', () => {
  const b64 = (s: Buffer, lineLen: number): string => {
    const t = s.toString('base64');
    let out = '';
    for (let i = 0; i < t.length; i += lineLen) out += t.slice(i, i + lineLen) + '\r\n';
    return out;
  };
  const qp = (s: string): string =>
    s
      .split('\n')
      .map((l) => l.replace(/[=\u0080-\u00ff]/g, (c) => `=${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, '0')}`).replace(/(.{70})/g, '$1=\r\n'))
      .join('\r\n');

  const text = (n: number): string => {
    const r = rng(n);
    const words = ['Straße', 'ΣΊΣΥΦΟΣ', 'naïve', 'plain', 'words', '\u{1f600}', 'end'];
    let s = '';
    while (s.length < 700_000) s += words[Math.floor(r() * words.length)] + (r() < 0.1 ? '\n' : ' ');
    return s;
  };

  const cases: [string, Buffer][] = [
    ['utf-8 base64, 61-character lines', Buffer.from(`Content-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: base64\r\n\r\n${b64(Buffer.from(text(1)), 61)}`)],
    ['utf-8 8bit', Buffer.from(`Content-Type: text/plain; charset=utf-8\r\n\r\n${text(2)}`)],
    ['latin1 quoted-printable', Buffer.from(`Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n${qp(Buffer.from(text(3).replace(/[^\x00-\xff]/gu, 'x'), 'latin1').toString('latin1'))}`, 'latin1')],
    [
      'multipart with a nested message',
      Buffer.from(
        `Content-Type: multipart/mixed; boundary=b\r\n\r\n--b\r\nContent-Type: text/plain\r\n\r\n${text(4)}\r\n--b\r\nContent-Type: message/rfc822\r\n\r\nSubject: inner ΣΟΦΙΑ\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n${text(5)}\r\n--b--\r\n`,
      ),
    ],
    // Not valid UTF-8 (one latin1 byte far into the part): the whole part reads as latin1, so "straße" is not there.
    ['no charset, a latin1 byte after 600 kB', Buffer.concat([Buffer.from(`Content-Type: text/plain\r\n\r\n${text(6)}`), Buffer.from([0xe9]), Buffer.from(' end\r\n')])],
  ];

  for (const [name, raw] of cases) {
    it(`answers as textForSearch does: ${name}`, async () => {
      const tree = parseMessage(raw);
      const whole = textForSearch(raw, tree).body.toLowerCase();
      const r = rng(raw.length);
      const needles = ['straße σίσυφος', 'ς naïve', 'end\nplain', 'σοφια', 'absent text', '\u{1f600} end'];
      for (let i = 0; i < 20; i++) {
        const at = Math.floor(r() * (whole.length - 20));
        needles.push(whole.slice(at, at + 3 + Math.floor(r() * 12)));
      }
      for (const set of [new NeedleSet(needles), ...needles.map((n) => new NeedleSet([n]))]) {
        const run = set.run(new WorkBudget());
        await matchBodyText(async (start, end) => raw.subarray(start, end), tree, run, new WorkBudget());
        for (const n of set.needles) expect(run.has(n), JSON.stringify(n)).toBe(whole.includes(n));
      }
    });
  }
});
