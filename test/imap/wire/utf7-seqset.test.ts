import { describe, expect, it } from 'vitest';
import { decodeMailboxName, encodeMailboxName, Utf7Error } from '../../../src/text/mutf7.js';
import {
  compactSet,
  expandSequenceSet,
  expandUidSet,
  formatSequenceSet,
  normalizeRanges,
  parseSequenceSet,
  SeqSetError,
  selectUids,
  setContains,
  toSequenceSet,
} from '../../../src/imap/wire/seqset.js';

describe('modified UTF-7 (RFC 3501 §5.1.3)', () => {
  const pairs: Array<[string, string]> = [
    ['~peter/mail/台北/日本語', '~peter/mail/&U,BTFw-/&ZeVnLIqe-'],
    ['INBOX', 'INBOX'],
    ['A&B', 'A&-B'],
    ['&', '&-'],
    ['Entwürfe', 'Entw&APw-rfe'],
    ['Gelöschte Elemente', 'Gel&APY-schte Elemente'],
    ['Отправленные', '&BB4EQgQ,BEAEMAQyBDsENQQ9BD0ESwQ1-'],
    ['😀 smile', '&2D3eAA- smile'],
    ['tab\there', 'tab&AAk-here'],
    ['', ''],
  ];

  it.each(pairs)('%s <-> %s', (unicode, wire) => {
    expect(encodeMailboxName(unicode)).toBe(wire);
    expect(decodeMailboxName(wire)).toBe(unicode);
  });

  it('round-trips every BMP code unit class and astral characters', () => {
    const samples = ['a', 'é', '\u0100', '\u07ff', '\u0800', '\uffff', '\u{10000}', '\u{10ffff}', '~', ' ', '&'];
    for (const a of samples) for (const b of samples) {
      const s = `x${a}${b}y${a}`;
      expect(decodeMailboxName(encodeMailboxName(s))).toBe(s);
    }
  });

  it.each([
    ['&AGE-', 'encoded printable ASCII'],
    ['&U,BTFw', 'unterminated shift'],
    ['&U,BTF-', 'bad padding bits / odd length'],
    ['&ZeVnLIqe-&U,BTFw-', 'adjacent shifted runs'],
    ['&2D0-', 'lone high surrogate'],
    ['&3gA-', 'lone low surrogate'],
    ['&U/BTFw-', '"/" instead of ","'],
    ['&U,BTFw=-', 'padding character'],
    ['caf\u00e9', '8-bit character'],
    ['a\tb', 'control character'],
  ])('refuses %s (%s)', (wire) => {
    expect(() => decodeMailboxName(wire)).toThrow(Utf7Error);
  });

  it('passes an encoded control character through (the store refuses such names, with NO)', () => {
    expect(decodeMailboxName('&AAA-')).toBe('\0');
  });
});

describe('sequence sets', () => {
  it('parses and formats', () => {
    const s = parseSequenceSet('1,3:5,9:7,*,10:*');
    expect(s).toEqual({
      kind: 'ranges',
      ranges: [
        { from: 1, to: 1 },
        { from: 3, to: 5 },
        { from: 9, to: 7 },
        { from: '*', to: '*' },
        { from: 10, to: '*' },
      ],
    });
    expect(formatSequenceSet(s)).toBe('1,3:5,9:7,*,10:*');
    expect(parseSequenceSet('$')).toEqual({ kind: 'saved' });
    expect(() => parseSequenceSet('$', false)).toThrow(SeqSetError);
    for (const bad of ['', '0', '1:0', '1,', ',1', '1::2', 'a', '01', '4294967296', '1:2:3', '-1']) {
      expect(() => parseSequenceSet(bad), bad).toThrow(SeqSetError);
    }
    expect(parseSequenceSet('4294967295')).toEqual({ kind: 'ranges', ranges: [{ from: 4294967295, to: 4294967295 }] });
  });

  it('expands message sequence numbers against the mailbox size', () => {
    expect([...expandSequenceSet(parseSequenceSet('5:3,1,*,4'), 10)]).toEqual([1, 3, 4, 5, 10]);
    expect([...expandSequenceSet(parseSequenceSet('2:*'), 3)]).toEqual([2, 3]);
    expect([...expandSequenceSet(parseSequenceSet('*:2'), 3)]).toEqual([2, 3]);
    expect(() => expandSequenceSet(parseSequenceSet('4'), 3)).toThrow('Invalid message sequence number');
    expect([...expandSequenceSet(parseSequenceSet('1:*'), 0)]).toEqual([]);
    expect(() => expandSequenceSet(parseSequenceSet('1'), 0)).toThrow(SeqSetError);
  });

  it('expands UID sets: missing UIDs ignored, n:* includes the last UID (RFC 3501 §6.4.8)', () => {
    const uids = Uint32Array.from([3, 5, 7, 100, 101, 200]);
    expect([...expandUidSet(parseSequenceSet('1:6'), uids)]).toEqual([1, 2]);
    expect([...expandUidSet(parseSequenceSet('6,100:150,*'), uids)]).toEqual([4, 5, 6]);
    expect([...expandUidSet(parseSequenceSet('999:*'), uids)]).toEqual([6]);
    expect([...selectUids(parseSequenceSet('101:5'), uids)]).toEqual([5, 7, 100, 101]);
    expect([...expandUidSet(parseSequenceSet('1:*'), [])]).toEqual([]);
    expect(setContains(parseSequenceSet('1:3,9:*'), 10, 10)).toBe(true);
    expect(setContains(parseSequenceSet('1:3,9:*'), 12, 10)).toBe(false);
    expect(setContains(parseSequenceSet('1:3,9:*'), 5, 10)).toBe(false);
  });

  it('UID and sequence expansion agree with a brute-force reading on random sets', () => {
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return seed % n;
    };
    for (let round = 0; round < 300; round++) {
      const uids: number[] = [];
      for (let u = 1 + rnd(5); uids.length < 1 + rnd(60); u += 1 + rnd(4)) uids.push(u);
      const star = uids[uids.length - 1]!;
      const parts: string[] = [];
      for (let i = 0, k = 1 + rnd(6); i < k; i++) {
        const a = rnd(5) === 0 ? '*' : String(1 + rnd(star + 10));
        const b = rnd(5) === 0 ? '*' : String(1 + rnd(star + 10));
        parts.push(rnd(3) === 0 ? a : `${a}:${b}`);
      }
      const set = parseSequenceSet(parts.join(','));
      const want: number[] = [];
      uids.forEach((u, i) => {
        if (setContains(set, u, star)) want.push(i + 1);
      });
      expect([...expandUidSet(set, Uint32Array.from(uids))], parts.join(',')).toEqual(want);
      const count = uids.length;
      const seqWant: number[] = [];
      for (let q = 1; q <= count; q++) if (setContains(set, q, count)) seqWant.push(q);
      const inRange = set.kind === 'ranges' && set.ranges.every((r) => (r.from === '*' || r.from <= count) && (r.to === '*' || r.to <= count));
      if (inRange) expect([...expandSequenceSet(set, count)]).toEqual(seqWant);
      else expect(() => expandSequenceSet(set, count)).toThrow(SeqSetError);
    }
  });

  it('normalises overlapping and adjacent ranges', () => {
    const s = parseSequenceSet('5:9,1:2,3,8:12,20');
    if (s.kind !== 'ranges') throw new Error('unexpected');
    expect(normalizeRanges(s.ranges, 0)).toEqual([
      [1, 3],
      [5, 12],
      [20, 20],
    ]);
  });

  it('compacts number lists', () => {
    expect(compactSet([1, 2, 3, 5, 9, 8, 8])).toBe('1:3,5,8:9');
    expect(compactSet([])).toBe('');
    expect(compactSet([7])).toBe('7');
    // COPYUID order: source order kept, runs only when consecutive in that order.
    expect(compactSet([5, 6, 7, 2, 3], true)).toBe('5:7,2:3');
    expect(toSequenceSet([])).toEqual({ kind: 'ranges', ranges: [] });
    expect(formatSequenceSet(toSequenceSet([4, 2, 3]))).toBe('2:4');
  });

  it('100,000 messages: expansion and compaction stay linear', () => {
    const n = 100_000;
    const uids = new Uint32Array(n);
    for (let i = 0; i < n; i++) uids[i] = i * 3 + 1;
    const every: number[] = [];
    for (let i = 0; i < n; i++) every.push(i * 3 + 1);
    const t0 = performance.now();
    const text = compactSet(every);
    expect(text.split(',')).toHaveLength(n);
    const set = parseSequenceSet(text);
    const seqs = expandUidSet(set, uids);
    expect(seqs.length).toBe(n);
    expect(seqs[n - 1]).toBe(n);
    expect(expandSequenceSet(parseSequenceSet('1:*'), n).length).toBe(n);
    const reversed = parseSequenceSet(every.slice().reverse().join(','));
    expect(expandUidSet(reversed, uids).length).toBe(n);
    expect(compactSet(Array.from({ length: n }, (_, i) => n - i))).toBe(`1:${n}`);
    expect(performance.now() - t0).toBeLessThan(3000);
  });
});
