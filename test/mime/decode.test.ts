import { describe, expect, it } from 'vitest';
import {
  bodyToText,
  charsetToString,
  decodeBase64,
  decodeHeaderValue,
  decodeQuotedPrintable,
  decodeTransfer,
  textForSearch,
} from '../../src/store/mime/decode.js';
import { parseMessage } from '../../src/store/mime/parse.js';
import { baseSubject, parseRfc5322Date } from '../../src/store/mime/sort.js';
import { isRoostError } from '../../src/errors.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');

describe('RFC 2047 header decoding', () => {
  it('decodes B and Q words in several charsets', () => {
    expect(decodeHeaderValue('=?UTF-8?B?w6lsw6h2ZQ==?=')).toBe('élève');
    expect(decodeHeaderValue('=?iso-8859-1?Q?Andr=E9_Pirard?= <a@b>')).toBe('André Pirard <a@b>');
    expect(decodeHeaderValue('=?koi8-r?B?8NLJ18XU?=')).toBe('Привет');
    expect(decodeHeaderValue('=?utf-8*en?q?hi?=')).toBe('hi');
  });
  it('drops whitespace only between adjacent encoded words (§6.2)', () => {
    expect(decodeHeaderValue('=?utf-8?q?a?= =?utf-8?q?b?=')).toBe('ab');
    expect(decodeHeaderValue('=?utf-8?q?a?=\r\n  =?utf-8?q?b?=')).toBe('ab');
    expect(decodeHeaderValue('x =?utf-8?q?a?= y')).toBe('x a y');
  });
  it('leaves invalid words alone', () => {
    expect(decodeHeaderValue('=?x-unknown?q?a?=')).toBe('=?x-unknown?q?a?=');
    expect(decodeHeaderValue('=?utf-8?x?a?=')).toBe('=?utf-8?x?a?=');
    expect(decodeHeaderValue('=?utf-8?b?!!!?=')).toBe('=?utf-8?b?!!!?=');
    expect(decodeHeaderValue('=?utf-8?q?unterminated')).toBe('=?utf-8?q?unterminated');
  });
  it('reads raw 8-bit as UTF-8 when valid, else latin1', () => {
    expect(decodeHeaderValue(Buffer.from('Grüße', 'utf8').toString('latin1'))).toBe('Grüße');
    expect(decodeHeaderValue('Gr\xfc\xdfe')).toBe('Grüße');
  });
  it('takes linear time on hostile input', () => {
    const s = '=?'.repeat(50_000) + '?=' + ' =?utf-8?q?'.repeat(20_000);
    const t0 = performance.now();
    decodeHeaderValue(s);
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});

describe('transfer decoding', () => {
  it('decodes quoted-printable: soft breaks, lower-case hex, trailing blanks', () => {
    expect(decodeQuotedPrintable(Buffer.from('a=3Db=\r\nc=e9  \r\nd=20\r\n=\n')).toString('latin1')).toBe('a=bc\xe9\r\nd \r\n');
    expect(decodeQuotedPrintable(Buffer.from('bad =ZZ =')).toString()).toBe('bad =ZZ ');
  });
  it('decodes base64 and reports bad data', () => {
    expect(decodeBase64(Buffer.from('aGVs\r\nbG8=')).data.toString()).toBe('hello');
    const unp = decodeBase64(Buffer.from('aGVsbG8'));
    expect(unp.data.toString()).toBe('hello');
    expect(unp.unpadded).toBe(true);
    expect(decodeBase64(Buffer.from('aGV!sbG8=')).invalid).toBe(true);
    expect(decodeBase64(Buffer.from('aGVs=bG8=')).invalid).toBe(true);
  });
  it('maps unknown encodings and bad base64 to typed errors for BINARY', () => {
    const e1 = (() => { try { decodeTransfer(Buffer.from('x'), 'x-uuencode'); } catch (e) { return e; } })();
    expect(isRoostError(e1, 'UNKNOWNCTE')).toBe(true);
    const e2 = (() => { try { decodeTransfer(Buffer.from('!!'), 'BASE64'); } catch (e) { return e; } })();
    expect(isRoostError(e2, 'PARSE')).toBe(true);
    expect(decodeTransfer(Buffer.from('abc'), null).toString()).toBe('abc');
  });
  it('converts charsets to UTF-8', () => {
    expect(charsetToString(Buffer.from([0xcf, 0xf0, 0xe8]), 'windows-1251')).toBe('При');
    expect(charsetToString(Buffer.from([0xa4, 0xa4]), 'euc-jp')).toBe('い');
    expect(charsetToString(Buffer.from('plain'), 'x-nonsense')).toBe('plain');
    expect(bodyToText(Buffer.from('w6k=\r\n'), 'base64', 'utf-8')).toBe('é');
  });
});

describe('textForSearch', () => {
  it('collects decoded headers and text parts, skipping binary parts', () => {
    const raw = crlf(`Subject: =?utf-8?q?caf=C3=A9?=
From: x@example.org
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

na=EFve
--b
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

c2VjcmV0
--b
Content-Type: message/rfc822

Subject: inner =?utf-8?b?w7w=?=

inner body
--b--
`);
    const t = textForSearch(raw, parseMessage(raw));
    expect(t.headers).toContain('Subject: café');
    expect(t.body).toContain('naïve');
    expect(t.body).toContain('Subject: inner ü');
    expect(t.body).toContain('inner body');
    expect(t.body).not.toContain('secret');
  });
});

describe('sort keys', () => {
  it('computes RFC 5256 base subjects', () => {
    expect(baseSubject('Re: [list] Fwd: hello (fwd)')).toEqual({ base: 'hello', isReply: true });
    expect(baseSubject('[fwd: Re: x]')).toEqual({ base: 'x', isReply: true });
    expect(baseSubject('  plain   words ')).toEqual({ base: 'plain words', isReply: false });
    expect(baseSubject('[only a blob]').base).toBe('[only a blob]');
  });
  it('parses RFC 5322 dates with zones', () => {
    expect(parseRfc5322Date('Tue, 30 Jul 2024 11:27:49 +1245')).toBe(Date.UTC(2024, 6, 29, 22, 42, 49));
    expect(parseRfc5322Date('1 Jan 99 00:00 GMT')).toBe(Date.UTC(1999, 0, 1));
    expect(parseRfc5322Date('Tue, 30 Feb 2021 25:61:61 +9999')).toBeNull();
    expect(parseRfc5322Date('garbage')).toBeNull();
  });
  it('fills tree.sort from the top-level header', () => {
    const raw = crlf('From: "Zed, Z." <ZED@example.org>\nTo: =?utf-8?q?J=C3=BCrgen?= <j@x>\nSubject: Re: Hi\nDate: 1 Jan 2020 00:00:00 +0000\nMessage-ID: <m1@x>\nIn-Reply-To: junk <m0@x>\nReferences: <a@x> <b@x>\n\nbody\n');
    expect(parseMessage(raw).sort).toEqual({
      date: Date.UTC(2020, 0, 1),
      dateZone: 0,
      subject: 'Hi',
      isReply: true,
      from: 'zed',
      to: 'j',
      cc: '',
      displayFrom: 'Zed, Z.',
      displayTo: 'Jürgen',
      messageId: '<m1@x>',
      inReplyTo: '<m0@x>',
      references: ['<a@x>', '<b@x>'],
    });
  });

  it('keeps the Date zone, and takes a group first in To/Cc as the first address (RFC 5256 §3, RFC 5957 §3)', () => {
    const raw = crlf('From: =?utf-8?q??= <empty@x>\nTo: team: a@x, b@y;\nCc: list:;\nDate: Sun, 25 Mar 2007 00:30:00 +0200\n\nbody\n');
    const sort = parseMessage(raw).sort;
    // 00:30 +0200 is 22:30 UTC the day before; the zone lets SEARCH SENTON see 25 March.
    expect(sort.date).toBe(Date.UTC(2007, 2, 24, 22, 30));
    expect(sort.dateZone).toBe(120);
    expect(sort.to).toBe('team');
    expect(sort.cc).toBe('list');
    expect(sort.displayTo).toBe('team');
    // A display name that decodes to nothing falls back to the addr-spec.
    expect(sort.displayFrom).toBe('empty@x');
  });
});

describe('base64 and quoted-printable bodies with line breaks anywhere (RFC 2045 §6.7, §6.8)', () => {
  const bytes = Buffer.from(Array.from({ length: 301 }, (_v, i) => (i * 37 + 11) & 0xff));
  const b64 = bytes.toString('base64');
  const lines = (s: string, width: number, eol: string): Buffer => {
    const out: string[] = [];
    for (let i = 0; i < s.length; i += width) out.push(s.slice(i, i + width));
    return Buffer.from(out.join(eol) + eol, 'latin1');
  };

  it('every decoder gives the whole part at every line width from 1 to 80, CRLF and LF', () => {
    for (let width = 1; width <= 80; width++) {
      for (const eol of ['\r\n', '\n']) {
        const body = lines(b64, width, eol);
        const r = decodeBase64(body);
        expect(r.invalid || r.unpadded, `width ${width}`).toBe(false);
        expect(r.data.equals(bytes), `width ${width}`).toBe(true);
        expect(decodeTransfer(body, 'base64').equals(bytes), `width ${width}`).toBe(true);
        expect(bodyToText(body, 'base64', 'iso-8859-1'), `width ${width}`).toBe(bytes.toString('latin1'));
      }
    }
  });

  it('textForSearch finds a word whose base64 straddles odd line breaks', () => {
    const word = Buffer.from('one two zebrafinch three', 'utf8').toString('base64');
    const raw = Buffer.from(`Content-Type: text/plain\r\nContent-Transfer-Encoding: base64\r\n\r\n${lines(word, 7, '\r\n').toString('latin1')}`, 'latin1');
    expect(textForSearch(raw, parseMessage(raw)).body).toBe('one two zebrafinch three');
  });

  it('quoted-printable soft breaks inside a word and inside an escape sequence pair', () => {
    const qp = Buffer.from('zebra=\r\nfinch caf=C3=\r\n=A9 end=\n', 'latin1');
    expect(decodeTransfer(qp, 'quoted-printable').toString('utf8')).toBe('zebrafinch café end');
    expect(bodyToText(qp, 'quoted-printable', 'utf-8')).toBe('zebrafinch café end');
  });
});
