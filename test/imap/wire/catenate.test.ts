/**
 * CATENATE on the wire (RFC 4469 §5): TEXT literals inside the CATENATE
 * list stream like message literals, URL parts arrive typed, and IMAP URLs
 * (RFC 5092) parse into references. Every reader case runs whole, split at
 * each offset and byte by byte (drive.ts).
 */
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../src/limits.js';
import { parseImapUrl } from '../../../src/imap/wire/imap-url.js';
import { drive, driveAll, type Seen } from './drive.js';

const noop = (tag: string) => ({ kind: 'command', command: { tag, uid: false, name: 'NOOP', args: {} } });
const url = (u: string) => ({ kind: 'url', url: u, ref: parseImapUrl(u) });

describe('CATENATE in the command reader', () => {
  it('TEXT literals stream; the head of each lists the parts so far, the command all of them', () => {
    const u = '/INBOX;UIDVALIDITY=7/;UID=3/;SECTION=1';
    const ev = driveAll(`a APPEND Sent (\\Seen) CATENATE (TEXT {4}\r\nHdr: URL "${u}" TEXT {3+}\r\nEnd)\r\n`);
    expect(ev.map((e) => e.kind)).toEqual(['literal', 'body', 'literal', 'body', 'command']);
    expect(ev[0]).toMatchObject({ size: 4, sync: true, append: { index: 0, flags: ['\\Seen'], catenate: [{ kind: 'text', size: 4, binary: false }] } });
    expect(ev[0]).not.toHaveProperty('before');
    expect(ev[1]).toEqual({ kind: 'body', data: 'Hdr:' });
    expect(ev[2]).toMatchObject({ size: 3, sync: false, append: { index: 0, catenate: [{ kind: 'text', size: 4 }, url(u), { kind: 'text', size: 3 }] } });
    expect(ev[3]).toEqual({ kind: 'body', data: 'End' });
    expect(ev[4]).toMatchObject({
      command: { name: 'APPEND', args: { mailbox: 'Sent', messages: [{ index: 0, catenate: [{ kind: 'text' }, url(u), { kind: 'text' }] }] } },
    });
  });

  it('URL-only CATENATE needs no literal; MULTIAPPEND mixes CATENATE and plain literals', () => {
    const u = '/INBOX/;UID=1';
    const ev = driveAll(`a APPEND INBOX CATENATE (URL "${u}") (\\Answered) {2+}\r\nhi catenate (text ~{1+}\r\n\0)\r\n`);
    expect(ev.map((e) => e.kind)).toEqual(['literal', 'body', 'literal', 'body', 'command']);
    // Earlier CATENATE messages come along, complete, so the session can finish them before this body.
    expect(ev[0]).toMatchObject({ append: { index: 1, flags: ['\\Answered'], size: 2, catenate: null }, before: [{ index: 0, catenate: [url(u)] }] });
    expect(ev[2]).toMatchObject({ append: { index: 2, catenate: [{ kind: 'text', size: 1, binary: true }] }, before: [{ index: 0 }] });
    expect((ev[2] as Extract<Seen, { kind: 'literal' }>).before).toHaveLength(1);
    const cmd = ev[4] as { command: { args: { messages: { catenate: unknown }[] } } };
    expect(cmd.command.args.messages.map((m) => m.catenate)).toEqual([[url(u)], null, [{ kind: 'text', size: 1, binary: true }]]);
    expect(driveAll(`a APPEND INBOX CATENATE (URL "${u}")\r\n`)).toMatchObject([{ kind: 'command', command: { args: { messages: [{ catenate: [url(u)] }] } } }]);
  });

  it('a URL given as a literal is an ordinary literal, not streamed', () => {
    const u = '/INBOX/;UID=9';
    const ev = driveAll(`a APPEND INBOX CATENATE (URL {${u.length}}\r\n${u} TEXT {1}\r\nx)\r\n`);
    expect(ev.map((e) => e.kind)).toEqual(['literal', 'literal', 'body', 'command']);
    expect(ev[0]).toMatchObject({ append: null });
    expect(ev[1]).toMatchObject({ append: { catenate: [url(u), { kind: 'text', size: 1 }] } });
  });

  it('bad CATENATE syntax is refused, and the next command works', () => {
    expect(driveAll('a APPEND INBOX CATENATE ()\r\nb NOOP\r\n')).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: 'Empty CATENATE list' },
      noop('b'),
    ]);
    expect(driveAll('a APPEND INBOX CATENATE (TEXT "quoted")\r\nb NOOP\r\n')[0]).toMatchObject({ status: 'BAD', text: 'CATENATE TEXT needs a literal' });
    expect(driveAll('a APPEND INBOX CATENATE (FOO "x")\r\nb NOOP\r\n')[0]).toMatchObject({ status: 'BAD', text: 'Unknown CATENATE part FOO' });
    // An unknown part before a TEXT literal: refused before the body is sent; a non-synchronising body is skipped.
    expect(driveAll('a APPEND INBOX CATENATE (FOO "x" TEXT {3+}\r\nabc)\r\nb NOOP\r\n')).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: 'Unknown CATENATE part FOO' },
      noop('b'),
    ]);
  });

  it(`${LIMITS.imap.maxCatenateParts} parts are accepted, ${LIMITS.imap.maxCatenateParts + 1} refused with NO [LIMIT]`, () => {
    const N = LIMITS.imap.maxCatenateParts;
    const urls = (n: number) => Array.from({ length: n }, (_, i) => `URL "/INBOX/;UID=${i + 1}"`).join(' ');
    const ok = drive([Buffer.from(`a APPEND INBOX CATENATE (${urls(N)})\r\n`)]);
    expect(ok).toMatchObject([{ kind: 'command' }]);
    expect((ok[0] as { command: { args: { messages: { catenate: unknown[] }[] } } }).command.args.messages[0]!.catenate).toHaveLength(N);
    expect(drive([Buffer.from(`a APPEND INBOX CATENATE (${urls(N + 1)})\r\nb NOOP\r\n`)])).toEqual([
      { kind: 'error', tag: 'a', status: 'NO', code: 'LIMIT', text: `Too many CATENATE parts (limit ${N})` },
      noop('b'),
    ]);
    // Counted as TEXT literals arrive too: the (N+1)th is refused before its bytes are sent.
    const texts = (n: number) => Array.from({ length: n }, () => 'TEXT {1+}\r\nx').join(' ');
    expect(drive([Buffer.from(`a APPEND INBOX CATENATE (${texts(N)})\r\n`)]).filter((e) => e.kind === 'body')).toHaveLength(N);
    const over = drive([Buffer.from(`a APPEND INBOX CATENATE (${texts(N + 1)})\r\nb NOOP\r\n`)]);
    expect(over.filter((e) => e.kind === 'body')).toHaveLength(N);
    expect(over.slice(-2)).toEqual([{ kind: 'error', tag: 'a', status: 'NO', code: 'LIMIT', text: `Too many CATENATE parts (limit ${N})` }, noop('b')]);
  });

  it('a TEXT literal above the literal limit is TOOBIG before it is sent', () => {
    const limits = { maxLiteralSize: 10 };
    expect(driveAll('a APPEND INBOX CATENATE (TEXT {10}\r\n0123456789)\r\n', { limits }).map((e) => e.kind)).toEqual(['literal', 'body', 'command']);
    expect(driveAll('a APPEND INBOX CATENATE (TEXT {11}\r\nb NOOP\r\n', { limits })).toEqual([
      { kind: 'error', tag: 'a', status: 'NO', code: 'TOOBIG', text: 'Message too large (limit 10 octets)' },
      noop('b'),
    ]);
  });
});

describe('IMAP URLs (RFC 5092) for CATENATE', () => {
  it('absolute paths with UIDVALIDITY, SECTION and PARTIAL; keys in any case', () => {
    expect(parseImapUrl('/INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9')).toEqual({
      mailbox: 'INBOX',
      uidvalidity: 785799047,
      uid: 113330,
      section: { part: [1, 5, 9], specifier: null, fields: [] },
      partial: null,
    });
    expect(parseImapUrl('/inbox/;uid=2/;section=header/;partial=100000.1')).toEqual({
      mailbox: 'INBOX',
      uidvalidity: null,
      uid: 2,
      section: { part: [], specifier: 'HEADER', fields: [] },
      partial: { offset: 100000, length: 1 },
    });
    expect(parseImapUrl('/Sent/;UID=5/;PARTIAL=10')).toMatchObject({ section: null, partial: { offset: 10, length: null } });
    expect(parseImapUrl('/a/;UID=1/;SECTION=2.HEADER.FIELDS%20(From%20To)')).toMatchObject({
      section: { part: [2], specifier: 'HEADER.FIELDS', fields: ['From', 'To'] },
    });
    expect(parseImapUrl('/a/;UID=1/;SECTION=1.MIME')).toMatchObject({ section: { part: [1], specifier: 'MIME' } });
  });

  it('mailbox names are %-escaped UTF-8 and may hold the hierarchy separator', () => {
    expect(parseImapUrl('/Archiv.%C3%84lter%20Kram/;UID=4')).toMatchObject({ mailbox: 'Archiv.Älter Kram', uid: 4 });
    expect(parseImapUrl('/INBOX.sub/;UID=4')).toMatchObject({ mailbox: 'INBOX.sub' });
  });

  it('relative to the selected mailbox', () => {
    expect(parseImapUrl(';UID=20/;SECTION=TEXT')).toEqual({
      mailbox: null,
      uidvalidity: null,
      uid: 20,
      section: { part: [], specifier: 'TEXT', fields: [] },
      partial: null,
    });
  });

  it('what cannot be resolved here is null (NO [BADURL])', () => {
    for (const u of [
      'imap://joe@example.com/INBOX/;UID=1',
      '//example.com/INBOX/;UID=1',
      '/INBOX',
      '/INBOX/;UID=0',
      '/INBOX/;UID=4294967296',
      '/INBOX;UIDVALIDITY=0/;UID=1',
      '/INBOX;FOO=1/;UID=1',
      '/%ZZ/;UID=1',
      '/%C3/;UID=1',
      '//;UID=1',
      '/INBOX/;UID=1/;SECTION=',
      '/INBOX/;UID=1/;SECTION=HEADERX',
      '/INBOX/;UID=1/;SECTION=MIME',
      '/INBOX/;UID=1/;SECTION=HEADER.FIELDS',
      '/INBOX/;UID=1/;SECTION=0',
      '/INBOX/;UID=1/;PARTIAL=1.0',
      '/INBOX/;UID=1/;PARTIAL=x',
      '/INBOX/;UID=1/;PARTIAL=1/;SECTION=1',
      '/INBOX/;UID=1/;URLAUTH=anonymous:internal:0123',
      '/INBOX/;UID=1/;EXPIRE=2030-01-01T00:00:00Z',
      'INBOX/;UID=1',
      '',
    ]) {
      expect(parseImapUrl(u), u).toBeNull();
    }
  });
});
