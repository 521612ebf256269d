import { describe, expect, it } from 'vitest';
import {
  astring,
  continuation,
  encodeString,
  fetchItemLabel,
  formatDateTime,
  mailboxValue,
  MAX_QUOTED_LENGTH,
  tagged,
  untagged,
  untaggedStatus,
} from '../../../src/imap/wire/encoder.js';
import { parseDateTime } from '../../../src/imap/wire/args.js';
import { formatSequenceSet, parseSequenceSet } from '../../../src/imap/wire/seqset.js';
import { CommandReader } from '../../../src/imap/wire/tokenizer.js';
import { GRAMMAR } from '../../../src/imap/registry.js';
import type { AtomValue } from '../../../src/imap/wire/types.js';

const s = (b: Buffer) => b.toString('latin1');
const atom = (value: string): AtomValue => ({ kind: 'atom', value });
const flagList = (flags: string[]): AtomValue[] => flags.map(atom);

describe('string form choice', () => {
  it('quotes safe text, escaping " and \\', () => {
    expect(s(encodeString('hello world'))).toBe('"hello world"');
    expect(s(encodeString(''))).toBe('""');
    expect(s(encodeString('say "hi" \\o/'))).toBe('"say \\"hi\\" \\\\o/"');
  });

  it('uses a literal for CR, LF, NUL, 8-bit and long strings', () => {
    expect(s(encodeString('a\r\nb'))).toBe('{4}\r\na\r\nb');
    expect(s(encodeString('a\0b'))).toBe('{3}\r\na\0b');
    expect(s(encodeString('Grüße'))).toBe('{7}\r\nGr\xc3\xbc\xc3\x9fe');
    expect(s(encodeString('x'.repeat(MAX_QUOTED_LENGTH)))).toBe(`"${'x'.repeat(MAX_QUOTED_LENGTH)}"`);
    expect(s(encodeString('x'.repeat(MAX_QUOTED_LENGTH + 1)))).toBe(`{${MAX_QUOTED_LENGTH + 1}}\r\n${'x'.repeat(MAX_QUOTED_LENGTH + 1)}`);
  });

  it('what the encoder writes, the reader reads back (strings of every byte)', () => {
    for (let c = 0; c < 256; c++) {
      const value = Buffer.from([0x61, c, 0x22, 0x5c, c]);
      const r = new CommandReader(GRAMMAR);
      r.push(Buffer.concat([Buffer.from('t LOGIN '), encodeString(value), Buffer.from(' x\r\n')]));
      let ev = r.next();
      if (ev.kind === 'literal') {
        r.acceptLiteral();
        ev = r.next();
      }
      expect(ev.kind, `byte ${c}`).toBe('command');
      if (ev.kind === 'command' && ev.command.name === 'LOGIN') expect(Buffer.from(ev.command.args.username)).toEqual(Buffer.from(value.toString('utf8')));
    }
  });

  it('astring: atoms when safe, never NIL', () => {
    expect(s(untagged(astring('INBOX')))).toBe('* INBOX\r\n');
    expect(s(untagged(astring('Sent Items')))).toBe('* "Sent Items"\r\n');
    expect(s(untagged(astring('NIL')))).toBe('* "NIL"\r\n');
    expect(s(untagged(astring('a%b')))).toBe('* "a%b"\r\n');
    expect(s(untagged(astring('[Gmail]')))).toBe('* [Gmail]\r\n');
    expect(s(untagged(astring('')))).toBe('* ""\r\n');
  });

  it('mailbox names in modified UTF-7', () => {
    expect(s(untagged(mailboxValue('Entwürfe')))).toBe('* Entw&APw-rfe\r\n');
    expect(s(untagged(mailboxValue('Gelöschte Elemente')))).toBe('* "Gel&APY-schte Elemente"\r\n');
  });
});

describe('values and responses', () => {
  it('numbers, bigints, NIL, nested lists, atoms, raw', () => {
    expect(s(untagged(5, atom('EXISTS')))).toBe('* 5 EXISTS\r\n');
    expect(s(untagged(atom('FETCH'), [atom('MODSEQ'), [9223372036854775807n]]))).toBe('* FETCH (MODSEQ (9223372036854775807))\r\n');
    expect(s(untagged(null, 'x', [], [[]]))).toBe('* NIL "x" () (())\r\n');
    expect(s(untagged({ kind: 'raw', value: 'BODY[]<0>' }, { kind: 'raw', value: Buffer.from('~{2}\r\n\0\x01', 'latin1') }))).toBe('* BODY[]<0> ~{2}\r\n\0\x01\r\n');
    expect(s(untagged(atom('FLAGS'), flagList(['\\Seen', '$Junk'])))).toBe('* FLAGS (\\Seen $Junk)\r\n');
    expect(s(untagged(atom(formatSequenceSet(parseSequenceSet('1:3,5'))), atom('7:9')))).toBe('* 1:3,5 7:9\r\n');
    expect(() => untagged(-1)).toThrow();
    expect(() => untagged(1.5)).toThrow();
  });

  it('status, tagged and continuation lines with response codes', () => {
    expect(s(untaggedStatus('OK', 'Ready', { name: 'CAPABILITY', args: [atom('IMAP4rev1'), atom('IDLE')] }))).toBe('* OK [CAPABILITY IMAP4rev1 IDLE] Ready\r\n');
    expect(s(untaggedStatus('BYE', 'Logging out'))).toBe('* BYE Logging out\r\n');
    expect(s(tagged('A1', 'OK', 'APPEND completed', { name: 'APPENDUID', args: [38505, 3955] }))).toBe('A1 OK [APPENDUID 38505 3955] APPEND completed\r\n');
    expect(s(tagged('A2', 'NO', 'Too big', { name: 'TOOBIG' }))).toBe('A2 NO [TOOBIG] Too big\r\n');
    expect(s(tagged('A3', 'OK', 'x', { name: 'PERMANENTFLAGS', args: [flagList(['\\Seen', '\\*'])] }))).toBe('A3 OK [PERMANENTFLAGS (\\Seen \\*)] x\r\n');
    expect(s(tagged('A4', 'BAD', 'line\r\nbreak'))).toBe('A4 BAD line break\r\n');
    expect(s(continuation())).toBe('+ OK\r\n');
    expect(s(continuation('idling'))).toBe('+ idling\r\n');
  });

  it('INTERNALDATE date-time format round-trips through the APPEND parser', () => {
    const t = Date.UTC(1994, 1, 7, 21, 52, 25);
    expect(formatDateTime(t)).toBe('07-Feb-1994 21:52:25 +0000');
    expect(formatDateTime(t, -480)).toBe('07-Feb-1994 13:52:25 -0800');
    expect(formatDateTime(t, 330)).toBe('08-Feb-1994 03:22:25 +0530');
    expect(parseDateTime(formatDateTime(t, -480)).getTime()).toBe(t);
    expect(parseDateTime(' 7-Feb-1994 21:52:25 +0000').getTime()).toBe(t);
  });

  it('FETCH item labels', () => {
    const sec = (part: number[], specifier: null | 'HEADER' | 'HEADER.FIELDS' | 'TEXT' | 'MIME', fields: string[] = []) => ({ part, specifier, fields });
    expect(fetchItemLabel({ item: 'BODY[]', section: sec([], null), partial: null, peek: true })).toBe('BODY[]');
    expect(fetchItemLabel({ item: 'BODY[]', section: sec([1, 2], 'MIME'), partial: null, peek: false })).toBe('BODY[1.2.MIME]');
    expect(fetchItemLabel({ item: 'BODY[]', section: sec([], 'HEADER.FIELDS', ['From', 'To']), partial: { offset: 0, length: 100 }, peek: true })).toBe(
      'BODY[HEADER.FIELDS (From To)]<0>',
    );
    expect(fetchItemLabel({ item: 'BINARY[]', part: [1], partial: { offset: 5, length: 1 }, peek: true })).toBe('BINARY[1]<5>');
    expect(fetchItemLabel({ item: 'BINARY.SIZE', part: [] })).toBe('BINARY.SIZE[]');
    expect(fetchItemLabel({ item: 'RFC822.SIZE' })).toBe('RFC822.SIZE');
  });
});
