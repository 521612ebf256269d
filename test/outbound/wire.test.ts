/** The SMTP client's wire edge with real bytes: reply parsing (RFC 5321 §4.2, §4.5.3.1.5) and DATA encoding (§4.5.2). */
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { DataEncoder } from '../../src/outbound/body.js';
import { ReplyError, ReplyParser, type SmtpReply } from '../../src/outbound/reply.js';

const EHLO = Buffer.from('250-smtp.example.org hello\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 STARTTLS\r\n220 next\r\n', 'latin1');

function parseSplit(bytes: Buffer, at: number[]): SmtpReply[] {
  const p = new ReplyParser();
  const out: SmtpReply[] = [];
  let prev = 0;
  for (const cut of [...at, bytes.length]) {
    out.push(...p.push(bytes.subarray(prev, cut)));
    prev = cut;
  }
  return out;
}

describe('ReplyParser', () => {
  it('parses a multiline reply and the next one, whole, split at every offset and byte by byte', () => {
    const want = [
      { code: 250, lines: ['smtp.example.org hello', 'PIPELINING', 'SIZE 10240000', 'STARTTLS'] },
      { code: 220, lines: ['next'] },
    ];
    expect(parseSplit(EHLO, [])).toEqual(want);
    for (let i = 1; i < EHLO.length; i++) expect(parseSplit(EHLO, [i])).toEqual(want);
    expect(parseSplit(EHLO, [...Array(EHLO.length).keys()].slice(1))).toEqual(want);
  });

  it('accepts a bare code and LF-only line ends', () => {
    expect(new ReplyParser().push(Buffer.from('250\n'))).toEqual([{ code: 250, lines: [''] }]);
  });

  it(`accepts a line of ${LIMITS.outbound.maxReplyLineLength} octets with CRLF and refuses one octet more, even split`, () => {
    const max = LIMITS.outbound.maxReplyLineLength;
    const line = (n: number): Buffer => Buffer.from(`250 ${'x'.repeat(n - 6)}\r\n`, 'latin1');
    expect(line(max).length).toBe(max);
    expect(new ReplyParser().push(line(max))[0]!.code).toBe(250);
    expect(() => new ReplyParser().push(line(max + 1))).toThrow(ReplyError);
    const p = new ReplyParser();
    const long = line(max + 1);
    expect(() => {
      for (let i = 0; i < long.length; i += 100) p.push(long.subarray(i, i + 100));
    }).toThrow(ReplyError);
  });

  it(`accepts ${LIMITS.outbound.maxReplyLines} lines in one reply and refuses one more`, () => {
    const reply = (n: number): Buffer => Buffer.from(`${'250-x\r\n'.repeat(n - 1)}250 x\r\n`, 'latin1');
    expect(new ReplyParser().push(reply(LIMITS.outbound.maxReplyLines))[0]!.lines.length).toBe(LIMITS.outbound.maxReplyLines);
    expect(() => new ReplyParser().push(reply(LIMITS.outbound.maxReplyLines + 1))).toThrow(ReplyError);
  });

  it('refuses lines that are not replies and a code that changes mid-reply', () => {
    expect(() => new ReplyParser().push(Buffer.from('hello\r\n'))).toThrow(ReplyError);
    expect(() => new ReplyParser().push(Buffer.from('25 short\r\n'))).toThrow(ReplyError);
    expect(() => new ReplyParser().push(Buffer.from('250-a\r\n251 b\r\n'))).toThrow(ReplyError);
  });
});

describe('DataEncoder', () => {
  const stored = Buffer.from('Subject: x\n\n.leading dot\nCRLF already\r\n..two\nlast line', 'latin1');
  const wire = Buffer.from('Subject: x\r\n\r\n..leading dot\r\nCRLF already\r\n...two\r\nlast line\r\n.\r\n', 'latin1');

  it('makes CRLF line ends, stuffs dots and ends the body, however the input is split', () => {
    for (let i = 0; i <= stored.length; i++) {
      for (const j of [i, Math.min(stored.length, i + 1), stored.length]) {
        const e = new DataEncoder();
        const out = Buffer.concat([e.encode(stored.subarray(0, i)), e.encode(stored.subarray(i, j)), e.encode(stored.subarray(j)), e.end()]);
        expect(out.toString('latin1')).toBe(wire.toString('latin1'));
      }
    }
  });

  it('ends an empty message and one ending in a line end with just the dot line', () => {
    expect(new DataEncoder().end().toString()).toBe('.\r\n');
    const e = new DataEncoder();
    expect(Buffer.concat([e.encode(Buffer.from('a\n.\n')), e.end()]).toString()).toBe('a\r\n..\r\n.\r\n');
  });
});
