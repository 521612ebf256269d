/**
 * The LMTP wire-edge decoders and the delivery header scan, fed whole, split
 * at every offset, and byte by byte.
 */
import { describe, expect, it } from 'vitest';
import { parseCommand } from '../../src/lmtp/command.js';
import { CrlfDecoder, DataDecoder } from '../../src/lmtp/data.js';
import { TraceScanner } from '../../src/delivery/trace.js';
import { LIMITS } from '../../src/limits.js';

/** Every way of cutting `input` into two pieces, plus one byte at a time. */
function splits(input: Buffer): Buffer[][] {
  const out: Buffer[][] = [[input]];
  for (let i = 1; i < input.length; i++) out.push([input.subarray(0, i), input.subarray(i)]);
  out.push([...input].map((b) => Buffer.from([b])));
  return out;
}

function decodeData(pieces: Buffer[]): { data: string; rest: string } {
  const d = new DataDecoder();
  const data: Buffer[] = [];
  let rest = '';
  for (const p of pieces) {
    if (d.done) {
      rest += p.toString('latin1');
      continue;
    }
    const r = d.push(p);
    data.push(r.data);
    if (r.end >= 0) rest += p.subarray(r.end).toString('latin1');
  }
  expect(d.done).toBe(true);
  return { data: Buffer.concat(data).toString('latin1'), rest };
}

describe('DataDecoder (RFC 5321 §4.5.2)', () => {
  const cases: [string, string, string][] = [
    ['Subject: a\r\n\r\nbody\r\n.\r\n', 'Subject: a\n\nbody\n', ''],
    ['..leading dot\r\n.x\r\n.\r\nQUIT\r\n', '.leading dot\nx\n', 'QUIT\r\n'],
    ['bare\rCR and\nbare LF\r\n.\r\n', 'bare\rCR and\nbare LF\n', ''],
    ['.\r\n', '', ''],
    ['a\r\n..\r\n.\r\r\n.\r\n', 'a\n.\n\r\n', ''],
    ['line.\r\n. \r\n.\r\nRSET\r\n', 'line.\n \n', 'RSET\r\n'],
    ['\u00e9\u00ff 8-bit\r\n.\n', '\u00e9\u00ff 8-bit\n', ''],
  ];
  for (const [wire, stored, rest] of cases) {
    it(`decodes ${JSON.stringify(wire)} whole, split at every offset and byte by byte`, () => {
      for (const pieces of splits(Buffer.from(wire, 'latin1'))) {
        expect(decodeData(pieces)).toEqual({ data: stored, rest });
      }
    });
  }
});

describe('CrlfDecoder (BDAT)', () => {
  for (const [wire, stored] of [
    ['a\r\nb\r\n', 'a\nb\n'],
    ['.dots stay\r\n.\r\n', '.dots stay\n.\n'],
    ['cr at end\r', 'cr at end\r'],
    ['\r\r\n\n', '\r\n\n'],
  ]) {
    it(`turns ${JSON.stringify(wire)} into ${JSON.stringify(stored)} however it is split`, () => {
      for (const pieces of splits(Buffer.from(wire!, 'latin1'))) {
        const d = new CrlfDecoder();
        const out = Buffer.concat([...pieces.map((p) => d.push(p)), d.end()]).toString('latin1');
        expect(out).toBe(stored);
      }
    });
  }
});

describe('TraceScanner (loop checks)', () => {
  const header =
    'Received: from a\r\n  by b\r\nDelivered-To: Alice@Example.ORG\r\nreceived: x\nX-Delivered-To: bob@example.org\r\n' +
    'Delivered-To:  <carol@example.org> \n\r\nDelivered-To: dave@example.org\nReceived: in the body\n';
  it('counts Received lines and collects Delivered-To addresses of the header only, however split', () => {
    for (const pieces of splits(Buffer.from(header, 'latin1'))) {
      const s = new TraceScanner();
      for (const p of pieces) s.push(p);
      expect(s.received).toBe(2);
      expect(s.hasDeliveredTo('alice@example.org')).toBe(true);
      expect(s.hasDeliveredTo('CAROL@example.org')).toBe(true);
      expect(s.hasDeliveredTo('bob@example.org')).toBe(false);
      expect(s.hasDeliveredTo('dave@example.org')).toBe(false);
    }
  });

  it('looks at no more than LIMITS.delivery.maxTraceHeaderBytes of header', () => {
    const line = 'Received: x\n';
    const fits = Math.floor(LIMITS.delivery.maxTraceHeaderBytes / line.length);
    const s = new TraceScanner();
    s.push(Buffer.from(line.repeat(fits + 50)));
    expect(s.received).toBe(fits);
  });
});

describe('parseCommand', () => {
  it('parses the commands into typed arguments', () => {
    expect(parseCommand('LHLO relay.example')).toEqual({ verb: 'LHLO', domain: 'relay.example' });
    expect(parseCommand('mail from:<a@b> SIZE=100 BODY=8BITMIME')).toEqual({ verb: 'MAIL', sender: 'a@b', size: 100, body: '8BITMIME' });
    expect(parseCommand('MAIL FROM:<>')).toEqual({ verb: 'MAIL', sender: '', size: null, body: '7BIT' });
    expect(parseCommand('MAIL FROM: <@relay:a@b>')).toMatchObject({ verb: 'MAIL', sender: 'a@b' });
    expect(parseCommand('RCPT TO:<"odd >name"@example.org>')).toEqual({ verb: 'RCPT', recipient: '"odd >name"@example.org' });
    expect(parseCommand('BDAT 100 LAST')).toEqual({ verb: 'BDAT', size: 100, last: true });
    expect(parseCommand('BDAT 0')).toEqual({ verb: 'BDAT', size: 0, last: false });
    expect(parseCommand('EHLO x')).toEqual({ verb: 'HELO' });
  });

  it('refuses malformed ones with 5xx codes', () => {
    expect(parseCommand('MAIL FROM:a@b')).toMatchObject({ verb: null, code: 501 });
    expect(parseCommand('MAIL FROM:<a@b> BODY=BINARYMIME')).toMatchObject({ verb: null, code: 555 });
    expect(parseCommand('MAIL FROM:<a@b> SIZE=abc')).toMatchObject({ verb: null, code: 501 });
    expect(parseCommand('RCPT TO:<>')).toMatchObject({ verb: null, code: 501 });
    expect(parseCommand('RCPT TO:<a@b> NOTIFY=NEVER')).toMatchObject({ verb: null, code: 555 });
    expect(parseCommand(`RCPT TO:<${'a'.repeat(LIMITS.qmqp.maxAddressLength - 2)}@b>`)).toMatchObject({ verb: 'RCPT' });
    expect(parseCommand(`RCPT TO:<${'a'.repeat(LIMITS.qmqp.maxAddressLength - 1)}@b>`)).toMatchObject({ verb: null, code: 501, status: '5.1.3' });
    expect(parseCommand('DATA now')).toMatchObject({ verb: null, code: 501 });
    expect(parseCommand('XYZZY')).toMatchObject({ verb: null, code: 500 });
    expect(parseCommand(`BDAT ${'9'.repeat(LIMITS.lmtp.maxChunkSizeDigits)}`)).toMatchObject({ verb: 'BDAT' });
    expect(parseCommand(`BDAT ${'9'.repeat(LIMITS.lmtp.maxChunkSizeDigits + 1)}`)).toMatchObject({ verb: null, fatal: true });
    expect(parseCommand('BDAT ten')).toMatchObject({ verb: null, code: 501, fatal: true });
  });
});
