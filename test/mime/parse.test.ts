/**
 * Parser cases beyond the golden fixtures: line-end variants, truncation,
 * nesting, broken boundaries, 8-bit headers, limits at N and N+1.
 */
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/store/mime/parse.js';
import { renderBodyStructure } from '../../src/imap/message/bodystructure.js';
import { fetchSection } from '../../src/imap/message/section.js';
import { headerValues } from '../../src/store/mime/header.js';
import { LIMITS } from '../../src/limits.js';

const crlf = (s: string): Buffer => Buffer.from(s.replace(/\n/g, '\r\n'), 'latin1');
const lf = (s: string): Buffer => Buffer.from(s, 'latin1');
const reader = (raw: Buffer) => async (s: number, e: number) => raw.subarray(s, e);

const MULTI = `From: a@example.org
Subject: multi
MIME-Version: 1.0
Content-Type: multipart/mixed; boundary="XX"

preamble
--XX
Content-Type: text/plain

one
two
--XX
Content-Type: text/html

<p>x</p>
--XX--
epilogue
`;

describe('parseMessage', () => {
  it('gives the same sizes for LF and CRLF storage of one message', () => {
    const a = parseMessage(crlf(MULTI));
    const b = parseMessage(lf(MULTI));
    expect(b.bareLf).toBe(true);
    expect(a.bareLf).toBe(false);
    expect(b.vSize).toBe(a.vSize);
    expect(b.vSize).toBe(crlf(MULTI).length);
    expect(renderBodyStructure(b, true)).toBe(renderBodyStructure(a, true));
    expect(a.parts!.map((p) => [p.vBodySize, p.bodyLines])).toEqual([[8, 1], [8, 0]]);
  });

  it('sends LF-stored sections with CRLF and counts them so', async () => {
    const raw = lf(MULTI);
    const t = parseMessage(raw);
    const one = await fetchSection(t, { path: [1], kind: '' }, reader(raw));
    expect(one.toString()).toBe('one\r\ntwo');
    expect(one.length).toBe(t.parts![0].vBodySize);
    const whole = await fetchSection(t, { path: [], kind: '' }, reader(raw));
    expect(whole.equals(crlf(MULTI))).toBe(true);
    const part = await fetchSection(t, { path: [], kind: '' }, reader(raw), { offset: 5, length: 10 });
    expect(part.equals(crlf(MULTI).subarray(5, 15))).toBe(true);
  });

  it('handles mixed line ends in one message', () => {
    const raw = Buffer.from('Subject: x\r\nFrom: a@b\n\r\nline1\nline2\r\nline3', 'latin1');
    const t = parseMessage(raw);
    expect(t.vSize).toBe(raw.length + 2);
    expect(t.bodyLines).toBe(2);
    expect(t.vBodySize).toBe(raw.length - t.bodyStart + 1);
  });

  it('accepts a message without a final line end, or without a body', () => {
    const t = parseMessage(crlf('Subject: x\n\nlast line'));
    expect(t.vBodySize).toBe(9);
    expect(t.bodyLines).toBe(0);
    const h = parseMessage(Buffer.from('Subject: only header', 'latin1'));
    expect(h.bodyStart).toBe(h.rawSize);
    expect(h.envelope).toContain('"only header"');
    const empty = parseMessage(Buffer.alloc(0));
    expect(renderBodyStructure(empty, false)).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)');
    expect(empty.envelope).toBe('(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)');
  });

  it('parses nested message/rfc822 with its own envelope and numbering', async () => {
    const inner = 'From: inner@example.org\nSubject: inner\nContent-Type: multipart/alternative; boundary=in\n\n--in\nContent-Type: text/plain\n\nhello\n--in\nContent-Type: text/html\n\n<b>hi</b>\n--in--\n';
    const outer = `From: outer@example.org\nSubject: outer\nContent-Type: multipart/mixed; boundary=out\n\n--out\nContent-Type: text/plain\n\nsee attached\n--out\nContent-Type: message/rfc822\n\n${inner}\n--out--\n`;
    const raw = crlf(outer);
    const t = parseMessage(raw);
    const msgPart = t.parts![1];
    expect(msgPart.message!.envelope).toContain('"inner"');
    const bs = renderBodyStructure(t, true);
    expect(bs).toContain('("message" "rfc822" NIL NIL NIL "7bit"');
    const read = reader(raw);
    expect((await fetchSection(t, { path: [2, 1], kind: '' }, read)).toString()).toBe('hello');
    expect((await fetchSection(t, { path: [2, 2], kind: '' }, read)).toString()).toBe('<b>hi</b>');
    expect((await fetchSection(t, { path: [2], kind: 'HEADER' }, read)).toString()).toMatch(/^From: inner@example.org\r\nSubject: inner\r\n.*\r\n\r\n$/s);
    expect((await fetchSection(t, { path: [2, 1], kind: 'MIME' }, read)).toString()).toBe('Content-Type: text/plain\r\n\r\n');
    await expect(fetchSection(t, { path: [3], kind: '' }, read)).rejects.toMatchObject({ code: 'NOTFOUND' });
  });

  it('survives broken boundaries: never present, never closed, no parameter, empty', () => {
    const never = parseMessage(crlf('Content-Type: multipart/mixed; boundary=zz\n\nno parts here\n'));
    expect(renderBodyStructure(never, false)).toBe('(("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0) "mixed")');
    const open = parseMessage(crlf('Content-Type: multipart/mixed; boundary=zz\n\n--zz\n\nbody\n'));
    expect(open.parts![0].vBodySize).toBe(6);
    const noParam = parseMessage(crlf('Content-Type: multipart/mixed\n\n--zz\n\nbody\n'));
    expect(noParam.parts).toHaveLength(1);
    expect(noParam.parts![0].synthetic).toBe(true);
    // An empty boundary parameter still delimits at every "--" line (Dovecot does the same).
    const emptyB = parseMessage(crlf('Content-Type: multipart/mixed; boundary=""\n\n--\n\nbody\n'));
    expect(emptyB.parts![0].synthetic).toBeUndefined();
    expect(emptyB.parts![0].vBodySize).toBe(6);
  });

  it('keeps 8-bit header bytes as they are in ENVELOPE (literal) and BODYSTRUCTURE', () => {
    const raw = Buffer.concat([
      Buffer.from('Subject: caf', 'latin1'),
      Buffer.from('é ünïcode', 'utf8'),
      Buffer.from('\r\nContent-Type: text/plain; name="', 'latin1'),
      Buffer.from('résumé.txt', 'utf8'),
      Buffer.from('"\r\n\r\nx\r\n', 'latin1'),
    ]);
    const t = parseMessage(raw);
    const subj = Buffer.from('café ünïcode', 'utf8').toString('latin1');
    expect(t.envelope).toContain(`{${subj.length}}\r\n${subj}`);
    expect(Buffer.from(renderBodyStructure(t, false), 'latin1').toString('utf8')).toContain('{12}\r\nrésumé.txt');
  });

  it('is bounded by maxMimeDepth: N nested levels parse, deeper ones become leaves', () => {
    const nest = (levels: number): Buffer => {
      let s = 'leaf\n';
      for (let i = levels; i >= 1; i--) s = `Content-Type: multipart/mixed; boundary=b${i}\n\n--b${i}\n${i === levels ? 'Content-Type: text/plain\n\n' : ''}${s}\n--b${i}--\n`;
      return crlf(s);
    };
    const depthOf = (p: { parts?: unknown[] }): number => (p.parts ? 1 + depthOf(p.parts[0] as { parts?: unknown[] }) : 0);
    const max = LIMITS.store.maxMimeDepth;
    expect(depthOf(parseMessage(nest(max)))).toBe(max);
    const deeper = parseMessage(nest(max + 1));
    expect(depthOf(deeper)).toBe(max + 1);
    // The innermost multipart past the limit is not parsed: it stands as one empty part.
    let p = deeper as { parts?: { parts?: unknown[]; synthetic?: boolean }[] };
    for (let i = 0; i < max; i++) p = p.parts![0] as typeof p;
    expect(p.parts![0].synthetic).toBe(true);
  });

  it('is bounded by maxMimeParts', () => {
    const n = LIMITS.store.maxMimeParts;
    let s = 'Content-Type: multipart/mixed; boundary=b\n\n';
    for (let i = 0; i < n + 5; i++) s += '--b\n\nx\n';
    s += '--b--\n';
    const t = parseMessage(lf(s));
    // The top-level entity counts as one part.
    expect(t.parts!.length).toBe(n - 1);
    expect(t.vSize).toBe(crlf(s).length);
  });

  it('reads header fields only within maxHeaderBytes (field starting at N-1 counts, at N does not)', () => {
    const n = LIMITS.store.maxHeaderBytes;
    const withSubjectAt = (offset: number): Buffer => {
      const filler = 'X-Filler: ' + 'f'.repeat(offset - 'X-Filler: '.length - 2) + '\r\n';
      return Buffer.from(filler + 'Subject: found\r\n\r\nbody\r\n', 'latin1');
    };
    const inside = parseMessage(withSubjectAt(n - 1));
    expect(inside.envelope).toContain('"found"');
    const outside = parseMessage(withSubjectAt(n));
    expect(outside.envelope).not.toContain('found');
    // The header still ends where it ends: the body is found and sized.
    expect(outside.vBodySize).toBe(6);
  });

  it('ignores Content-* fields of a non-MIME message (no MIME-Version, no Content-Type)', () => {
    const t = parseMessage(crlf('Subject: x\nContent-Transfer-Encoding: base64\nContent-ID: <c@x>\n\nnot base64\n'));
    expect(renderBodyStructure(t, true)).toBe('("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 12 1 NIL NIL NIL NIL)');
    const m = parseMessage(crlf('MIME-Version: 1.0\nContent-Transfer-Encoding: base64\n\naGk=\n'));
    expect(m.encoding).toBe('base64');
  });

  it('never throws on random bytes', () => {
    let seed = 42;
    const rnd = (): number => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const alphabet = ['\r\n', '\n', '--b', '--b--', 'Content-Type: multipart/mixed; boundary=b', 'Content-Type: message/rfc822', ':', ' ', 'x', '=?utf-8?q?a?=', '"', '(', '<', '@', '\x80', ';', '\t'];
    for (let i = 0; i < 300; i++) {
      let s = '';
      const len = Math.floor(rnd() * 80);
      for (let j = 0; j < len; j++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      const t = parseMessage(Buffer.from(s, 'latin1'));
      expect(t.vSize).toBeGreaterThanOrEqual(t.rawSize);
      expect(() => renderBodyStructure(t, true)).not.toThrow();
      expect(JSON.parse(JSON.stringify(t))).toEqual(t);
    }
  });
});

describe('headerValues', () => {
  it('returns every copy, unfolded, case-insensitively', () => {
    const h = crlf('Received: a\n  b\nX-A: 1\nreceived: c\n\n');
    expect(headerValues(h, 'RECEIVED')).toEqual(['a  b', 'c']);
    expect(headerValues(h, 'x-missing')).toEqual([]);
  });
});
