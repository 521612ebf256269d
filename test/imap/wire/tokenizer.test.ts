import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../../src/limits.js';
import { CommandReader } from '../../../src/imap/wire/tokenizer.js';
import { GRAMMAR } from '../../../src/imap/registry.js';
import { drive, driveAll } from './drive.js';

const noop = (tag: string) => ({ kind: 'command', command: { tag, uid: false, name: 'NOOP', args: {} } });

describe('literals', () => {
  it('synchronising literal stops for a decision, then continues the command', () => {
    const ev = driveAll('a LOGIN {3}\r\njoe {6}\r\nsecret\r\n');
    expect(ev).toEqual([
      { kind: 'literal', tag: 'a', size: 3, sync: true, binary: false, append: null },
      { kind: 'literal', tag: 'a', size: 6, sync: true, binary: false, append: null },
      { kind: 'command', command: { tag: 'a', uid: false, name: 'LOGIN', args: { username: 'joe', password: 'secret' } } },
    ]);
  });

  it('non-synchronising literal (LITERAL+) needs no decision', () => {
    expect(driveAll('a LOGIN {3+}\r\njoe {0+}\r\n\r\n')).toEqual([
      { kind: 'command', command: { tag: 'a', uid: false, name: 'LOGIN', args: { username: 'joe', password: '' } } },
    ]);
  });

  it('literal bytes are opaque: CRLF, quotes, parens and NUL inside', () => {
    const ev = driveAll('a LOGIN {7+}\r\n(\r\n"\0)\\ x\r\n');
    expect(ev).toEqual([{ kind: 'command', command: { tag: 'a', uid: false, name: 'LOGIN', args: { username: '(\r\n"\0)\\', password: 'x' } } }]);
  });

  it('literal inside a list and a section', () => {
    const ev = driveAll('a FETCH 1 (BODY.PEEK[HEADER.FIELDS ({7+}\r\nSubject)] FLAGS)\r\n');
    expect(ev[0]).toMatchObject({ kind: 'command', command: { args: { items: [{ section: { fields: ['Subject'] } }, { item: 'FLAGS' }] } } });
  });

  it('refused synchronising literal: the client sends nothing more, next command is clean', () => {
    const ev = driveAll('a LOGIN {3}\r\nb NOOP\r\n', { decide: () => 'reject' });
    expect(ev).toEqual([{ kind: 'literal', tag: 'a', size: 3, sync: true, binary: false, append: null }, noop('b')]);
  });

  it('literal8 outside APPEND is refused', () => {
    expect(driveAll('a LOGIN ~{3+}\r\njoe x\r\nb NOOP\r\n')).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: 'literal8 is only allowed in APPEND' },
      noop('b'),
    ]);
  });

  it('invalid literal headers', () => {
    expect(driveAll('a LOGIN {3x}\r\nb NOOP\r\n')[0]).toMatchObject({ text: 'Invalid literal' });
    expect(driveAll('a LOGIN {3} x\r\nb NOOP\r\n')[0]).toMatchObject({ text: 'Invalid literal' });
    expect(driveAll('a LOGIN {99999999999}\r\nb NOOP\r\n')[0]).toMatchObject({ text: 'Literal size too large' });
    expect(driveAll('{3}\r\nb NOOP\r\n')).toEqual([{ kind: 'error', tag: null, status: 'BAD', code: null, text: 'Invalid or missing tag' }, noop('b')]);
  });
});

describe('APPEND streaming', () => {
  const msg = 'From: a@b\r\nSubject: x\r\n\r\nbody (with) "quotes" {5}\r\n';

  it('body is streamed, not part of the command; flags and date are known before the body', () => {
    const input = `A003 APPEND saved-messages (\\Seen) " 7-Feb-1994 21:52:25 -0800" {${msg.length}}\r\n${msg}\r\n`;
    const head = {
      index: 0,
      mailbox: 'saved-messages',
      flags: ['\\Seen'],
      internalDate: '1994-02-08T05:52:25.000Z',
      size: msg.length,
      binary: false,
      catenate: null,
    };
    expect(driveAll(input)).toEqual([
      { kind: 'literal', tag: 'A003', size: msg.length, sync: true, binary: false, append: head },
      { kind: 'body', data: msg },
      { kind: 'command', command: { tag: 'A003', uid: false, name: 'APPEND', args: { mailbox: 'saved-messages', messages: [head] } } },
    ]);
  });

  it('MULTIAPPEND with LITERAL+ and literal8', () => {
    const input = `m APPEND INBOX {5+}\r\nhello (\\Draft) ~{3+}\r\na\0b {0+}\r\n\r\n`;
    const ev = driveAll(input);
    expect(ev.map((e) => e.kind)).toEqual(['literal', 'body', 'literal', 'body', 'literal', 'body', 'command']);
    expect(ev[1]).toEqual({ kind: 'body', data: 'hello' });
    expect(ev[2]).toMatchObject({ sync: false, binary: true, append: { index: 1, flags: ['\\Draft'], size: 3, binary: true } });
    expect(ev[3]).toEqual({ kind: 'body', data: 'a\0b' });
    expect(ev[5]).toEqual({ kind: 'body', data: '' });
    expect(ev[6]).toMatchObject({ command: { args: { messages: [{ size: 5 }, { size: 3 }, { size: 0 }] } } });
  });

  it('the mailbox itself may be a literal', () => {
    const ev = driveAll('a APPEND {5+}\r\nDraft {2+}\r\nhi\r\n');
    expect(ev.map((e) => e.kind)).toEqual(['literal', 'body', 'command']);
    expect(ev[0]).toMatchObject({ append: { mailbox: 'Draft', size: 2 } });
  });

  it('bad flags or date are refused before the body is sent', () => {
    expect(driveAll('a APPEND INBOX (\\Seen %) {5}\r\nb NOOP\r\n')).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: 'Invalid flag "%"' },
      noop('b'),
    ]);
    expect(driveAll('a APPEND INBOX "31-Feb-2020 00:00:00 +0000" {5}\r\nb NOOP\r\n')[0]).toMatchObject({ text: 'Invalid date-time "31-Feb-2020 00:00:00 +0000"' });
    // A non-synchronising body that follows a refusal is skipped.
    expect(driveAll('a APPEND INBOX (%) {5+}\r\nhello\r\nb NOOP\r\n')).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: 'Invalid flag "%"' },
      noop('b'),
    ]);
  });

  it('session refusal (e.g. over quota): sync → nothing follows; non-sync → body skipped', () => {
    expect(driveAll('a APPEND INBOX {5}\r\nb NOOP\r\n', { decide: () => 'reject' }).map((e) => e.kind)).toEqual(['literal', 'command']);
    expect(
      driveAll('a APPEND INBOX {5+}\r\nhe\r\no (\\Seen) {3+}\r\nabc\r\nb NOOP\r\n', { decide: () => 'reject' }),
    ).toEqual([{ kind: 'literal', tag: 'a', size: 5, sync: false, binary: false, append: expect.anything() }, noop('b')]);
  });

  it('garbage after a streamed body spoils the command (drafts must be discarded)', () => {
    const ev = driveAll('a APPEND INBOX {2+}\r\nhi FOO\r\nb NOOP\r\n');
    expect(ev.map((e) => e.kind)).toEqual(['literal', 'body', 'error', 'command']);
    expect(ev[2]).toMatchObject({ tag: 'a', text: 'Invalid APPEND arguments: expected flags, date-time, a message literal or CATENATE' });
  });

  it('a 1 MB body comes out in slices of the pushed chunks, never buffered whole', () => {
    const size = 1024 * 1024;
    const r = new CommandReader(GRAMMAR);
    r.push(Buffer.from(`a APPEND INBOX {${size}+}\r\n`));
    expect(r.next()).toMatchObject({ kind: 'literal', size });
    r.acceptLiteral();
    let got = 0;
    let largest = 0;
    for (let i = 0; i < size / 16384; i++) {
      r.push(Buffer.alloc(16384, 0x61));
      for (let ev = r.next(); ev.kind !== 'needMore'; ev = r.next()) {
        if (ev.kind === 'appendData') {
          got += ev.chunk.length;
          largest = Math.max(largest, ev.chunk.length);
        } else {
          expect(ev.kind).toBe('appendEnd');
        }
      }
    }
    r.push(Buffer.from('\r\n'));
    expect(r.next()).toMatchObject({ kind: 'command', command: { name: 'APPEND' } });
    expect(got).toBe(size);
    expect(largest).toBeLessThanOrEqual(16384);
  });
});

describe('limits at N and N+1', () => {
  const L = LIMITS.imap.maxLineLength;

  it(`command line of exactly ${L} octets is accepted, ${L + 1} refused with the tag, and the next command works`, () => {
    const line = (n: number) => {
      const head = 'a1 LOGIN joe "';
      return head + 'x'.repeat(n - head.length - 1) + '"';
    };
    expect(line(L)).toHaveLength(L);
    const ok = drive([Buffer.from(line(L) + '\r\nb NOOP\r\n')]);
    expect(ok.map((e) => e.kind)).toEqual(['command', 'command']);
    const bad = drive([Buffer.from(line(L + 1) + '\r\nb NOOP\r\n')]);
    expect(bad).toEqual([
      { kind: 'error', tag: 'a1', status: 'BAD', code: null, text: `Command line too long (limit ${L} octets)` },
      noop('b'),
    ]);
    // Same in 1000-byte pieces (the over-long line is never held whole).
    const input = Buffer.from(line(L + 1) + '\r\nb NOOP\r\n');
    const pieces: Buffer[] = [];
    for (let i = 0; i < input.length; i += 1000) pieces.push(input.subarray(i, i + 1000));
    expect(drive(pieces)).toEqual(bad);
  });

  it('line limit at N and N+1 with a small configured limit, every split', () => {
    const limits = { maxLineLength: 20 };
    const at = 'a SELECT 1234567890'; // 19
    expect(driveAll(`${at}1\r\nb NOOP\r\n`, { limits }).map((e) => e.kind)).toEqual(['command', 'command']);
    expect(driveAll(`${at}12\r\nb NOOP\r\n`, { limits })).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: 'Command line too long (limit 20 octets)' },
      noop('b'),
    ]);
    // An over-long line that ends with a non-synchronising literal: the literal is skipped too.
    expect(driveAll(`${at}12 {4+}\r\n\r\nxy\r\nb NOOP\r\n`, { limits })).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: 'Command line too long (limit 20 octets)' },
      noop('b'),
    ]);
  });

  it('small literals count against the per-command limit', () => {
    const limits = { maxLineLength: 30 };
    // "a LOGIN x {15+}" is 15 octets: a 15-octet literal fills the command to exactly 30.
    expect(driveAll('a LOGIN x {15+}\r\n0123456789abcde\r\n', { limits }).map((e) => e.kind)).toEqual(['command']);
    expect(driveAll('a LOGIN x {16+}\r\n0123456789abcdef\r\nb NOOP\r\n', { limits })).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: 'Literal too large for this command (limit 30 octets per command)' },
      noop('b'),
    ]);
    // Text after a literal counts too.
    expect(driveAll('a LOGIN {15+}\r\n0123456789abcde xy\r\nb NOOP\r\n', { limits })).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: 'Command line too long (limit 30 octets)' },
      noop('b'),
    ]);
    expect(driveAll('a LOGIN {19}\r\nb NOOP\r\n', { limits })).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: 'Literal too large for this command (limit 30 octets per command)' },
      noop('b'),
    ]);
  });

  it(`APPEND literal of ${LIMITS.imap.maxLiteralSize} is offered, one more is TOOBIG before any byte is sent`, () => {
    const N = LIMITS.imap.maxLiteralSize;
    expect(drive([Buffer.from(`a APPEND INBOX {${N}}\r\n`)])).toEqual([
      { kind: 'literal', tag: 'a', size: N, sync: true, binary: false, append: expect.objectContaining({ size: N }) },
    ]);
    expect(driveAll(`a APPEND INBOX {${N + 1}}\r\nb NOOP\r\n`)).toEqual([
      { kind: 'error', tag: 'a', status: 'NO', code: 'TOOBIG', text: `Message too large (limit ${N} octets)` },
      noop('b'),
    ]);
  });

  it('APPEND literal limit N / N+1, non-synchronising: BAD [TOOBIG] and the bytes are skipped', () => {
    const limits = { maxLiteralSize: 10 };
    expect(driveAll('a APPEND INBOX {10+}\r\n0123456789\r\n', { limits }).map((e) => e.kind)).toEqual(['literal', 'body', 'command']);
    expect(driveAll('a APPEND INBOX {11+}\r\n0123456789A\r\nb NOOP\r\n', { limits })).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: 'TOOBIG', text: 'Message too large (limit 10 octets)' },
      noop('b'),
    ]);
  });

  it('non-synchronising literal limit (LITERAL-) N / N+1', () => {
    const limits = { maxNonSyncLiteral: 4 };
    expect(driveAll('a LOGIN {4+}\r\nabcd x\r\n', { limits }).map((e) => e.kind)).toEqual(['command']);
    expect(driveAll('a LOGIN {5+}\r\nabcde x\r\nb NOOP\r\n', { limits })).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: 'TOOBIG', text: 'Non-synchronizing literal too large (limit 4 octets)' },
      noop('b'),
    ]);
  });

  it(`with the default limits a non-synchronising literal of imap.maxNonSyncLiteral octets passes that check (the command's line limit refuses it next); one more is BAD [TOOBIG]`, () => {
    const N = LIMITS.imap.maxNonSyncLiteral;
    expect(driveAll(`a LOGIN {${N}+}\r\n`)[0]).toEqual({
      kind: 'error',
      tag: 'a',
      status: 'BAD',
      code: null,
      text: `Literal too large for this command (limit ${LIMITS.imap.maxLineLength} octets per command)`,
    });
    expect(driveAll(`a LOGIN {${N + 1}+}\r\n`)[0]).toEqual({
      kind: 'error',
      tag: 'a',
      status: 'BAD',
      code: 'TOOBIG',
      text: `Non-synchronizing literal too large (limit ${N} octets)`,
    });
  });

  it(`nesting depth ${LIMITS.imap.maxNestingDepth} accepted, ${LIMITS.imap.maxNestingDepth + 1} refused`, () => {
    const N = LIMITS.imap.maxNestingDepth;
    const nested = (d: number) => `a SEARCH ${'('.repeat(d)}ALL${')'.repeat(d)}\r\n`;
    expect(driveAll(nested(N)).map((e) => e.kind)).toEqual(['command']);
    expect(driveAll(nested(N + 1) + 'b NOOP\r\n')).toEqual([
      { kind: 'error', tag: 'a', status: 'BAD', code: null, text: `Too deeply nested (limit ${N})` },
      noop('b'),
    ]);
    // Sections count as a level.
    const limits = { maxNestingDepth: 2 };
    expect(driveAll('a FETCH 1 (BODY[HEADER.FIELDS (A)])\r\n', { limits }).map((e) => e.kind)).toEqual(['error']);
    expect(driveAll('a FETCH 1 BODY[HEADER.FIELDS (A)]\r\n', { limits }).map((e) => e.kind)).toEqual(['command']);
  });
});

describe('resynchronisation after errors', () => {
  it('a burst of bad commands each get BAD and the good ones still run', () => {
    const input = 'a1 FETCH (\r\n\r\na2 NOOP\r\na3 LOGIN "x\r\na4 STORE 1 +FLAGS {3+}\r\n(%)\r\na5 NOOP\r\n';
    expect(driveAll(input)).toEqual([
      { kind: 'error', tag: 'a1', status: 'BAD', code: null, text: 'Missing ")"' },
      noop('a2'),
      { kind: 'error', tag: 'a3', status: 'BAD', code: null, text: 'Unterminated quoted string' },
      { kind: 'error', tag: 'a4', status: 'BAD', code: null, text: 'Invalid flag: expected an atom' },
      noop('a5'),
    ]);
  });

  it('an error mid-line skips later non-synchronising literals of the same command', () => {
    const input = 'a1 LOGIN ) {5+}\r\n\r\nabc {2+}\r\nxy\r\na2 NOOP\r\n';
    expect(driveAll(input)).toEqual([{ kind: 'error', tag: 'a1', status: 'BAD', code: null, text: 'Unexpected ")"' }, noop('a2')]);
  });

  it('after an error ending in a synchronising literal, the client sends nothing more', () => {
    expect(driveAll('a1 LOGIN ) {5}\r\na2 NOOP\r\n')).toEqual([
      { kind: 'error', tag: 'a1', status: 'BAD', code: null, text: 'Unexpected ")"' },
      noop('a2'),
    ]);
  });

  it('empty lines between commands are ignored', () => {
    expect(driveAll('\r\n\r\na NOOP\r\n\nb NOOP\r\n')).toEqual([noop('a'), noop('b')]);
  });
});

describe('continuation lines (AUTHENTICATE, IDLE)', () => {
  it('expectLine gives the next line raw, then commands resume', () => {
    const ev = driveAll('a IDLE\r\nDONE\r\nb AUTHENTICATE PLAIN\r\nAGpvZQBzZWNyZXQ=\r\nc NOOP\r\n', { lineAfter: ['IDLE', 'AUTHENTICATE'] });
    expect(ev).toEqual([
      { kind: 'command', command: { tag: 'a', uid: false, name: 'IDLE', args: {} } },
      { kind: 'line', text: 'DONE' },
      { kind: 'command', command: { tag: 'b', uid: false, name: 'AUTHENTICATE', args: { mechanism: 'PLAIN', initialResponse: null } } },
      { kind: 'line', text: 'AGpvZQBzZWNyZXQ=' },
      noop('c'),
    ]);
  });

  it('an over-long continuation line is refused and skipped', () => {
    const ev = driveAll('a IDLE\r\n' + 'x'.repeat(30) + '\r\nb NOOP\r\n', { lineAfter: ['IDLE'], limits: { maxLineLength: 20 } });
    expect(ev).toEqual([
      { kind: 'command', command: { tag: 'a', uid: false, name: 'IDLE', args: {} } },
      { kind: 'error', tag: null, status: 'BAD', code: null, text: 'Line too long' },
      noop('b'),
    ]);
  });
});

describe('takeBuffered (STARTTLS / COMPRESS)', () => {
  it('returns the bytes after the command, untouched', () => {
    const r = new CommandReader(GRAMMAR);
    r.push(Buffer.from('a COMPRESS DEFLATE\r\n\x78\x9c\x01\x02', 'latin1'));
    expect(r.next()).toMatchObject({ kind: 'command', command: { name: 'COMPRESS' } });
    expect(r.takeBuffered()).toEqual(Buffer.from('\x78\x9c\x01\x02', 'latin1'));
    expect(r.next()).toEqual({ kind: 'needMore' });
  });
});

describe('performance sanity', () => {
  it('UID FETCH 1:* (FLAGS) a thousand times and a 100,000-element UID set parse quickly', () => {
    const t0 = performance.now();
    const r = new CommandReader(GRAMMAR);
    const line = Buffer.from('a UID FETCH 1:* (FLAGS)\r\n');
    for (let i = 0; i < 1000; i++) {
      r.push(line);
      expect(r.next().kind).toBe('command');
    }
    const uids: string[] = [];
    for (let i = 0; i < 100_000; i++) uids.push(String(i * 2 + 1));
    const big = Buffer.from(`b UID FETCH ${uids.join(',')} (FLAGS)\r\n`);
    expect(big.length).toBeLessThan(LIMITS.imap.maxLineLength * 20);
    const r2 = new CommandReader(GRAMMAR, { maxLineLength: big.length });
    r2.push(big);
    const ev = r2.next();
    expect(ev).toMatchObject({ kind: 'command' });
    if (ev.kind === 'command' && ev.command.name === 'FETCH' && ev.command.args.set.kind === 'ranges') {
      expect(ev.command.args.set.ranges).toHaveLength(100_000);
    }
    expect(performance.now() - t0).toBeLessThan(2000);
  });
});
