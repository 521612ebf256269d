import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { encodeNetstring, NetstringDecoder, NetstringError, type NetstringEvent } from '../../src/qmqp/netstring.js';
import { QmqpFormatError, QmqpRequestParser, type QmqpEvent } from '../../src/qmqp/request.js';

/** Decode `input` fed as the given pieces; returns items (start length + body) or the fault. */
function decode(pieces: Buffer[], max = 1_000_000): { items: { length: number; body: string }[]; boundary: boolean } {
  const d = new NetstringDecoder(max);
  const items: { length: number; body: string }[] = [];
  let cur: { length: number; parts: Buffer[] } | null = null;
  const emit = (ev: NetstringEvent): void => {
    if (ev.kind === 'start') cur = { length: ev.length, parts: [] };
    else if (ev.kind === 'data') cur!.parts.push(Buffer.from(ev.chunk));
    else {
      items.push({ length: cur!.length, body: Buffer.concat(cur!.parts).toString('latin1') });
      cur = null;
    }
  };
  for (const p of pieces) d.feed(p, emit);
  return { items, boundary: d.atBoundary };
}

/** Every way of feeding `input`: whole, split once at each offset, byte by byte. */
function splits(input: Buffer): Buffer[][] {
  const out: Buffer[][] = [[input]];
  for (let i = 1; i < input.length; i++) out.push([input.subarray(0, i), input.subarray(i)]);
  out.push([...input].map((b) => Buffer.from([b])));
  return out;
}

describe('NetstringDecoder', () => {
  const good = Buffer.from('12:hello world!,0:,3:a,b,', 'latin1');

  it('decodes a sequence fed whole, split at every offset, and byte by byte', () => {
    for (const pieces of splits(good)) {
      const r = decode(pieces);
      expect(r.items).toEqual([
        { length: 12, body: 'hello world!' },
        { length: 0, body: '' },
        { length: 3, body: 'a,b' },
      ]);
      expect(r.boundary).toBe(true);
    }
  });

  it('reports not-at-boundary in the middle of a netstring', () => {
    expect(decode([Buffer.from('5:ab')]).boundary).toBe(false);
    expect(decode([Buffer.from('5')]).boundary).toBe(false);
    expect(decode([Buffer.from('2:ab')]).boundary).toBe(false); // comma missing yet
  });

  const faults: [string, string][] = [
    ['x:abc,', 'nondigit'],
    [':abc,', 'nondigit'],
    ['3x:abc,', 'nocolon'],
    ['03:abc,', 'leadingzero'],
    ['00:,', 'leadingzero'],
    ['3:abc;', 'nocomma'],
    ['3:abcd,', 'nocomma'],
    ['1000001:', 'toolong'],
    ['12345678901:', 'toolong'],
  ];
  for (const [input, fault] of faults) {
    it(`rejects ${JSON.stringify(input)} as ${fault} however it is split`, () => {
      for (const pieces of splits(Buffer.from(input, 'latin1'))) {
        let caught: unknown = null;
        try {
          decode(pieces);
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(NetstringError);
        expect((caught as NetstringError).fault).toBe(fault);
      }
    });
  }

  it('accepts a length exactly at the limit and refuses one above (N and N+1)', () => {
    expect(decode([Buffer.from(`5:abcde,`)], 5).items[0]!.length).toBe(5);
    expect(() => decode([Buffer.from(`6:abcdef,`)], 5)).toThrow(NetstringError);
  });

  it('accepts a length of qmqp.maxLengthDigits digits and refuses one more digit (N and N+1), whatever the body limit', () => {
    const feedLength = (digits: number): void => {
      const d = new NetstringDecoder(Number.MAX_SAFE_INTEGER);
      d.feed(Buffer.from(`${'9'.repeat(digits)}:`), () => false);
    };
    expect(() => feedLength(LIMITS.qmqp.maxLengthDigits)).not.toThrow();
    let caught: unknown;
    try {
      feedLength(LIMITS.qmqp.maxLengthDigits + 1);
    } catch (e) {
      caught = e;
    }
    expect(caught).toBeInstanceOf(NetstringError);
    expect((caught as NetstringError).fault).toBe('toolong');
  });

  it('encodes', () => {
    expect(encodeNetstring('Kok').toString()).toBe('3:Kok,');
    expect(encodeNetstring('').toString()).toBe('0:,');
  });
});

/** The example from qmqp.html (cr.yp.to/proto/qmqp.html), as qmail-qmqpc builds it. */
const EXAMPLE = Buffer.from('65:19:Subject: hi\n\nhello\n,18:sender@example.org,16:rcpt@example.net,,', 'latin1');

function parseAll(pieces: Buffer[], maxRecipients = 10): { message: string; events: QmqpEvent[] } {
  const p = new QmqpRequestParser(maxRecipients);
  const events: QmqpEvent[] = [];
  const body: Buffer[] = [];
  for (const piece of pieces)
    for (const ev of p.push(piece)) {
      if (ev.kind === 'message-data') body.push(Buffer.from(ev.chunk));
      else events.push(ev);
    }
  return { message: Buffer.concat(body).toString('latin1'), events };
}

describe('QmqpRequestParser', () => {
  it('parses the qmail-qmqpc example fed whole, split at every offset, byte by byte', () => {
    for (const pieces of splits(EXAMPLE)) {
      const r = parseAll(pieces);
      expect(r.message).toBe('Subject: hi\n\nhello\n');
      expect(r.events).toEqual([
        { kind: 'message-start', length: 19 },
        { kind: 'message-end' },
        { kind: 'done', envelope: { sender: 'sender@example.org', recipients: ['rcpt@example.net'], problem: null } },
      ]);
    }
  });

  const packet = (...items: string[]): Buffer => encodeNetstring(Buffer.concat(items.map((i) => encodeNetstring(Buffer.from(i, 'latin1')))));
  const envelopeOf = (buf: Buffer, max = 10) => {
    const done = parseAll([buf], max).events.find((e) => e.kind === 'done');
    return done && done.kind === 'done' ? done.envelope : null;
  };

  it('flags zero recipients', () => {
    expect(envelopeOf(packet('msg\n', 'a@b'))!.problem).toBe('norecipients');
  });

  it('flags an address of 1000 bytes but accepts 999 (qmail-qmqpd limit)', () => {
    const at999 = `${'a'.repeat(993)}@x.org`;
    const at1000 = `${'a'.repeat(994)}@x.org`;
    expect(at999.length).toBe(999);
    expect(envelopeOf(packet('m\n', '', at999))).toEqual({ sender: '', recipients: [at999], problem: null });
    expect(envelopeOf(packet('m\n', '', at1000))!.problem).toBe('badaddress');
    expect(envelopeOf(packet('m\n', at1000, 'a@b'))!.problem).toBe('badaddress');
  });

  it('flags NUL in an address', () => {
    expect(envelopeOf(packet('m\n', 'a\0b@c', 'x@y'))!.problem).toBe('badaddress');
    expect(envelopeOf(packet('m\n', '', 'x\0@y'))!.problem).toBe('badaddress');
  });

  it('accepts max_recipients and flags one more', () => {
    expect(envelopeOf(packet('m\n', '', 'a@b', 'c@d'), 2)!.problem).toBeNull();
    expect(envelopeOf(packet('m\n', '', 'a@b', 'c@d', 'e@f'), 2)!.problem).toBe('toomanyrecipients');
  });

  it('ignores bytes after the packet', () => {
    const r = parseAll([Buffer.concat([EXAMPLE, Buffer.from('garbage')])]);
    expect(r.events.at(-1)!.kind).toBe('done');
  });

  const bad: [string, Buffer, boolean][] = [
    ['a non-digit first byte (compressed QMQP)', Buffer.from('x\x9c...'), true],
    ['a leading zero', Buffer.from('065:19:Subject: hi\n\nhello\n,18:sender@example.org,16:rcpt@example.net,,'), false],
    ['a missing outer comma', Buffer.from('65:19:Subject: hi\n\nhello\n,18:sender@example.org,16:rcpt@example.net,;'), false],
    ['an inner netstring crossing the outer end', Buffer.from('10:5:abcde,3:,'), false],
    ['an empty packet', Buffer.from('0:,'), false],
    ['a non-digit inner length', Buffer.from('6:x:abc,,'), false],
  ];
  for (const [what, input, compressed] of bad) {
    it(`rejects ${what}`, () => {
      for (const pieces of splits(input)) {
        let caught: unknown = null;
        try {
          parseAll(pieces);
        } catch (err) {
          caught = err;
        }
        expect(caught).toBeInstanceOf(QmqpFormatError);
        expect((caught as QmqpFormatError).compressed).toBe(compressed);
      }
    });
  }
});

describe('Received line', () => {
  it('is an RFC 5321 trace line with an address literal and an RFC 5322 date, LF-terminated', async () => {
    const { receivedLine } = await import('../../src/delivery/trace.js');
    const when = new Date(Date.UTC(2026, 10, 24, 8, 5, 9));
    expect(receivedLine('192.0.2.7', 'mx.example.org', { via: 'QMQP', when }).toString()).toBe(
      'Received: from [192.0.2.7] by mx.example.org (Roost) with QMQP; Tue, 24 Nov 2026 08:05:09 +0000\n',
    );
    expect(receivedLine('::ffff:10.0.0.1', 'h', { via: 'QMQP', when }).toString()).toMatch(/^Received: from \[10\.0\.0\.1\] /);
    expect(receivedLine('2001:db8::1', 'h', { via: 'QMQP', when }).toString()).toMatch(/^Received: from \[IPv6:2001:db8::1\] /);
    // LMTP names the client's LHLO domain when it is a plain name, and only then.
    expect(receivedLine('192.0.2.7', 'mx.example.org', { via: 'LMTP', helo: 'relay.example.net', when }).toString()).toBe(
      'Received: from relay.example.net ([192.0.2.7]) by mx.example.org (Roost) with LMTP; Tue, 24 Nov 2026 08:05:09 +0000\n',
    );
    expect(receivedLine('192.0.2.7', 'h', { via: 'LMTP', helo: 'evil (forged) x', when }).toString()).toMatch(/^Received: from \[192\.0\.2\.7\] by h /);
  });
});
