/**
 * Section resolution and BINARY (RFC 3501 §6.4.5, RFC 3516) on hand-made
 * messages; the Dovecot-recorded corpora cover the awkward cases.
 */
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/store/mime/parse.js';
import {
  applyPartial,
  binarySize,
  fetchBinary,
  fetchSection,
  filterHeader,
  findPart,
  sectionRange,
  sectionSize,
  toCrlf,
} from '../../src/imap/message/section.js';
import { isRoostError } from '../../src/errors.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');
const reader = (raw: Buffer) => async (s: number, e: number) => raw.subarray(s, e);

const MSG = `From: a@example.org
Subject: test
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary=b

--b
Content-Type: text/plain; charset=iso-8859-1
Content-Transfer-Encoding: quoted-printable

caf=E9
--b
Content-Type: application/octet-stream
Content-Transfer-Encoding: base64

AAECAw==
--b
Content-Type: message/rfc822

From: inner@example.org
Subject: inner
Content-Type: text/plain

inner body
--b--
`;

describe('sections', () => {
  const raw = crlf(MSG);
  const tree = parseMessage(raw);
  const read = reader(raw);
  const get = async (path: number[], kind: '' | 'HEADER' | 'TEXT' | 'MIME' = ''): Promise<string> =>
    (await fetchSection(tree, { path, kind }, read)).toString('latin1');

  it('finds parts by number, into message/rfc822', () => {
    expect(findPart(tree, [1])?.type).toBe('text');
    expect(findPart(tree, [3])?.type).toBe('message');
    expect(findPart(tree, [3, 1])?.subtype).toBe('plain');
    expect(findPart(tree, [4])).toBeNull();
    expect(findPart(tree, [0])).toBeNull();
    // Dovecot reads "n.1" of a leaf part as the part itself.
    expect(findPart(tree, [1, 1])).toBe(findPart(tree, [1]));
  });

  it('returns HEADER, TEXT, MIME and part bodies', async () => {
    expect(await get([1])).toBe('caf=E9');
    expect(await get([1], 'MIME')).toBe('Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: quoted-printable\r\n\r\n');
    expect(await get([3], 'HEADER')).toBe('From: inner@example.org\r\nSubject: inner\r\nContent-Type: text/plain\r\n\r\n');
    expect(await get([3], 'TEXT')).toBe('inner body');
    expect(await get([3, 1])).toBe('inner body');
    expect((await get([], 'HEADER')).endsWith('boundary=b\r\n\r\n')).toBe(true);
    expect(await get([])).toBe(raw.toString('latin1'));
  });

  it('has no HEADER/TEXT for a part that is not a message, and no MIME for the whole message', () => {
    expect(sectionRange(tree, { path: [1], kind: 'HEADER' })).toBeNull();
    expect(sectionRange(tree, { path: [2], kind: 'TEXT' })).toBeNull();
    expect(sectionRange(tree, { path: [], kind: 'MIME' })).toBeNull();
  });

  it('knows sizes without reading', async () => {
    for (const path of [[1], [2], [3], [3, 1]]) {
      expect(sectionSize(tree, { path, kind: '' })).toBe((await fetchSection(tree, { path, kind: '' }, read)).length);
    }
    expect(sectionSize(tree, { path: [], kind: 'HEADER.FIELDS', fields: ['FROM'] })).toBeNull();
  });

  it('filters header fields (HEADER.FIELDS / .NOT)', async () => {
    const f = await fetchSection(tree, { path: [], kind: 'HEADER.FIELDS', fields: ['subject', 'X-NONE'] }, read);
    expect(f.toString()).toBe('Subject: test\r\n\r\n');
    const n = await fetchSection(tree, { path: [3], kind: 'HEADER.FIELDS.NOT', fields: ['FROM'] }, read);
    expect(n.toString()).toBe('Subject: inner\r\nContent-Type: text/plain\r\n\r\n');
    const folded = crlf('Subject: a\n b\nX-A: 1\nsubject: again\n\n');
    expect(filterHeader(folded, ['SUBJECT'], false).toString()).toBe('Subject: a\r\n b\r\nsubject: again\r\n\r\n');
    expect(filterHeader(Buffer.from('X: 1\nY: 2'), ['X'], true).toString()).toBe('Y: 2');
  });

  it('applies <partial> as RFC 3501 §6.4.5 says', async () => {
    const p = await fetchSection(tree, { path: [3], kind: 'TEXT' }, read, { offset: 2, length: 4 });
    expect(p.toString()).toBe('ner ');
    expect((await fetchSection(tree, { path: [1], kind: '' }, read, { offset: 100, length: 5 })).length).toBe(0);
    expect(applyPartial(Buffer.from('abcdef'), { offset: 4, length: 10 }).toString()).toBe('ef');
  });

  it('counts partial offsets on the CRLF form of an LF-stored message', async () => {
    const lfRaw = Buffer.from(MSG, 'latin1');
    const t = parseMessage(lfRaw);
    const whole = await fetchSection(t, { path: [], kind: '' }, reader(lfRaw));
    expect(whole.equals(raw)).toBe(true);
    const part = await fetchSection(t, { path: [], kind: '' }, reader(lfRaw), { offset: 10, length: 30 });
    expect(part.equals(raw.subarray(10, 40))).toBe(true);
    expect(toCrlf(Buffer.from('a\nb\r\nc\n')).toString()).toBe('a\r\nb\r\nc\r\n');
  });

  it('gives the same CRLF form whatever count of bare LFs the index hints', () => {
    // Bare LF first, last, doubled, beside CRLF and a lone CR: the hint is right, too low, too high or absent.
    const inputs = ['a\nb\r\nc\n', '\n\nx\r\n\ry\n', 'no line end', '\r\n\r\n', '\n', `${'long line '.repeat(20)}\n`.repeat(50)];
    for (const s of inputs) {
      const b = Buffer.from(s, 'latin1');
      const want = Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1');
      const bare = want.length - b.length;
      for (const hint of [undefined, bare, bare - 1, bare + 1, 0, 10_000]) expect(toCrlf(b, hint).equals(want), `${JSON.stringify(s.slice(0, 20))} hint ${hint}`).toBe(true);
    }
  });

  it('converts runs of every length around the byte-loop bound (text/copy-run.ts) the same', () => {
    // Lines of 0..140 octets, LF or CRLF, so runs between bare LFs fall on both sides of 64.
    let s = '';
    for (let n = 0; n <= 140; n++) s += `${'x'.repeat(n)}${n % 3 === 0 ? '\r\n' : '\n'}${'y'.repeat(140 - n)}`;
    const b = Buffer.from(s, 'latin1');
    const want = Buffer.from(s.replace(/\r?\n/g, '\r\n'), 'latin1');
    expect(toCrlf(b, want.length - b.length).equals(want)).toBe(true);
    expect(toCrlf(b).equals(want)).toBe(true);
  });
});

describe('BINARY', () => {
  const raw = crlf(MSG);
  const tree = parseMessage(raw);
  const read = reader(raw);

  it('decodes leaves', async () => {
    expect((await fetchBinary(tree, [1], read)).toString('latin1')).toBe('caf\xe9');
    expect([...(await fetchBinary(tree, [2], read))]).toEqual([0, 1, 2, 3]);
    expect(await binarySize(tree, [2], read)).toBe(4);
    expect(await binarySize(tree, [1], read)).toBe(4);
    expect((await fetchBinary(tree, [2], read, { offset: 1, length: 2 })).length).toBe(2);
  });

  it('converts base64 / quoted-printable parts inside the whole message', async () => {
    const all = (await fetchBinary(tree, [], read)).toString('latin1');
    expect(all).toContain('Content-Type: text/plain; charset=iso-8859-1\r\nContent-Transfer-Encoding: binary\r\n\r\ncaf\xe9\r\n--b');
    expect(all).toContain('Content-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n\x00\x01\x02\x03\r\n--b');
    expect(all).toContain('inner body');
    expect(await binarySize(tree, [], read)).toBe(all.length);
  });

  it('refuses unknown encodings and broken data with typed errors', async () => {
    const bad = crlf('MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=b\n\n--b\nContent-Transfer-Encoding: x-uuencode\n\nbegin\n--b\nContent-Transfer-Encoding: base64\n\n!!!\n--b\nContent-Transfer-Encoding: quoted-printable\n\nbad=ZZ\n--b--\n');
    const t = parseMessage(bad);
    const err = (p: number[]) => fetchBinary(t, p, reader(bad)).then(() => null, (e: unknown) => (isRoostError(e) ? e.code : e));
    expect(await err([1])).toBe('UNKNOWNCTE');
    expect(await err([2])).toBe('PARSE');
    expect(await err([3])).toBe('PARSE');
    expect(await err([])).toBe('UNKNOWNCTE');
    expect(await err([4])).toBe('NOTFOUND');
  });
});
