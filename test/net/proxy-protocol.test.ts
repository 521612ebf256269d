/**
 * The PROXY protocol parser (HAProxy proxy-protocol.txt §2.1 v1, §2.2 v2),
 * fed whole, split at every offset and byte by byte, with each limit at N
 * and N+1 and the malformed headers a confused or hostile peer sends.
 */
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { parseCidrList } from '../../src/net/cidr.js';
import { parseProxyHeader, type ParseResult } from '../../src/net/proxy-protocol.js';
import { v2, v2Inet } from '../helpers/proxy-header.js';

/** Parse `buf` fed in the pieces a split gives: the decision must not depend on the split. */
function feedSplit(buf: Buffer, cut: number): ParseResult {
  const first = parseProxyHeader(buf.subarray(0, cut));
  if (first.kind !== 'more') return first;
  return parseProxyHeader(buf);
}

function expectSameEverySplit(buf: Buffer, want: ParseResult): void {
  expect(parseProxyHeader(buf)).toEqual(want);
  for (let cut = 0; cut <= buf.length; cut++) expect(feedSplit(buf, cut)).toEqual(want);
  // Byte by byte: every proper prefix asks for more (or already fails for a bad one).
  for (let i = 1; i < buf.length; i++) {
    const r = parseProxyHeader(buf.subarray(0, i));
    if (want.kind === 'done') expect(r.kind).toBe('more');
  }
}

describe('PROXY v1 (§2.1)', () => {
  it('TCP4 and TCP6 name the source; the bytes after the CRLF are not consumed', () => {
    const h = Buffer.from('PROXY TCP4 192.0.2.7 198.51.100.1 40000 143\r\n');
    expectSameEverySplit(h, { kind: 'done', consumed: h.length, header: { kind: 'proxy', version: 1, family: 'tcp4', source: { address: '192.0.2.7', port: 40000 }, destination: { address: '198.51.100.1', port: 143 } } });
    const withCmd = Buffer.concat([h, Buffer.from('a1 CAPABILITY\r\n')]);
    expect(parseProxyHeader(withCmd)).toMatchObject({ kind: 'done', consumed: h.length });
    const h6 = Buffer.from('PROXY TCP6 2001:db8::7 2001:db8::1 65535 0\r\n');
    expectSameEverySplit(h6, { kind: 'done', consumed: h6.length, header: { kind: 'proxy', version: 1, family: 'tcp6', source: { address: '2001:db8::7', port: 65535 }, destination: { address: '2001:db8::1', port: 0 } } });
  });

  it('UNKNOWN: the connection speaks for itself', () => {
    const h = Buffer.from('PROXY UNKNOWN\r\n');
    expectSameEverySplit(h, { kind: 'done', consumed: h.length, header: { kind: 'local', version: 1 } });
  });

  it(`a header of ${LIMITS.net.proxyV1MaxBytes} bytes is read; one byte more is refused`, () => {
    const max = LIMITS.net.proxyV1MaxBytes;
    const at = (n: number): Buffer => Buffer.from(`PROXY UNKNOWN ${'x'.repeat(n - 'PROXY UNKNOWN '.length - 2)}\r\n`);
    expect(at(max).length).toBe(max);
    expect(parseProxyHeader(at(max))).toEqual({ kind: 'done', consumed: max, header: { kind: 'local', version: 1 } });
    expect(parseProxyHeader(at(max + 1))).toMatchObject({ kind: 'error' });
    // Without a line end the limit is noticed as soon as it is passed, not at the deadline.
    expect(parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(max)}`))).toMatchObject({ kind: 'error' });
    expect(parseProxyHeader(Buffer.from(`PROXY UNKNOWN ${'x'.repeat(max - 15)}`))).toEqual({ kind: 'more' });
  });

  it.each([
    ['not PROXY at all', 'a1 LOGIN user pass\r\n'],
    ['lower case', 'proxy TCP4 192.0.2.7 198.51.100.1 1 2\r\n'],
    ['LF without CR', 'PROXY TCP4 192.0.2.7 198.51.100.1 1 2\n'],
    ['unknown protocol', 'PROXY UDP4 192.0.2.7 198.51.100.1 1 2\r\n'],
    ['family mismatch', 'PROXY TCP4 2001:db8::7 198.51.100.1 1 2\r\n'],
    ['a name, not an address', 'PROXY TCP4 client.example 198.51.100.1 1 2\r\n'],
    ['port too large', 'PROXY TCP4 192.0.2.7 198.51.100.1 65536 2\r\n'],
    ['port with a leading zero', 'PROXY TCP4 192.0.2.7 198.51.100.1 0143 2\r\n'],
    ['double space', 'PROXY TCP4  192.0.2.7 198.51.100.1 1 2\r\n'],
    ['missing port', 'PROXY TCP4 192.0.2.7 198.51.100.1 1\r\n'],
    ['extra field', 'PROXY TCP4 192.0.2.7 198.51.100.1 1 2 3\r\n'],
  ])('refuses %s', (_what, text) => {
    expect(parseProxyHeader(Buffer.from(text))).toMatchObject({ kind: 'error' });
  });

  it('a peer that is not a proxy is refused at its first byte', () => {
    expect(parseProxyHeader(Buffer.from('a'))).toMatchObject({ kind: 'error' });
    expect(parseProxyHeader(Buffer.from('PROXZ'))).toMatchObject({ kind: 'error' });
    expect(parseProxyHeader(Buffer.from('PROX'))).toEqual({ kind: 'more' });
  });
});

describe('PROXY v2 (§2.2)', () => {
  it('PROXY over TCP/IPv4 and TCP/IPv6, TLVs skipped', () => {
    const h = v2Inet('192.0.2.7', '198.51.100.1', 40000, 110, Buffer.from([0x01, 0x00, 0x04, 0x69, 0x6d, 0x61, 0x70]));
    expectSameEverySplit(h, { kind: 'done', consumed: h.length, header: { kind: 'proxy', version: 2, family: 'tcp4', source: { address: '192.0.2.7', port: 40000 }, destination: { address: '198.51.100.1', port: 110 } } });
    const a6 = Buffer.alloc(36);
    Buffer.from('20010db8000000000000000000000007', 'hex').copy(a6, 0);
    Buffer.from('00000000000000000000ffffc0000201', 'hex').copy(a6, 16);
    a6.writeUInt16BE(1234, 32);
    a6.writeUInt16BE(143, 34);
    const h6 = v2(0x21, 0x21, a6);
    expectSameEverySplit(h6, { kind: 'done', consumed: h6.length, header: { kind: 'proxy', version: 2, family: 'tcp6', source: { address: '2001:db8::7', port: 1234 }, destination: { address: '::ffff:192.0.2.1', port: 143 } } });
  });

  it('LOCAL (health checks), UNSPEC and AF_UNIX: the connection speaks for itself', () => {
    expectSameEverySplit(v2(0x20, 0x00, Buffer.alloc(0)), { kind: 'done', consumed: 16, header: { kind: 'local', version: 2 } });
    expect(parseProxyHeader(v2(0x20, 0x11, Buffer.alloc(12)))).toEqual({ kind: 'done', consumed: 28, header: { kind: 'local', version: 2 } });
    expect(parseProxyHeader(v2(0x21, 0x00, Buffer.alloc(0)))).toEqual({ kind: 'done', consumed: 16, header: { kind: 'local', version: 2 } });
    expect(parseProxyHeader(v2(0x21, 0x31, Buffer.alloc(216)))).toEqual({ kind: 'done', consumed: 232, header: { kind: 'local', version: 2 } });
  });

  it(`a length of ${LIMITS.net.proxyV2MaxLength} is read; one more is refused before its bytes arrive`, () => {
    const max = LIMITS.net.proxyV2MaxLength;
    const at = (n: number): Buffer => v2Inet('192.0.2.7', '198.51.100.1', 1, 2, Buffer.alloc(n - 12));
    expect(parseProxyHeader(at(max))).toMatchObject({ kind: 'done', consumed: 16 + max });
    expect(parseProxyHeader(at(max + 1))).toMatchObject({ kind: 'error' });
    expect(parseProxyHeader(at(max + 1).subarray(0, 16))).toMatchObject({ kind: 'error' });
  });

  it.each([
    ['version 1 in the v2 format', v2(0x11, 0x11, Buffer.alloc(12))],
    ['command 2', v2(0x22, 0x11, Buffer.alloc(12))],
    ['family 4', v2(0x21, 0x41, Buffer.alloc(12))],
    ['transport 3', v2(0x21, 0x13, Buffer.alloc(12))],
    ['DGRAM', v2(0x21, 0x12, Buffer.alloc(12))],
    ['length shorter than the IPv4 block', v2(0x21, 0x11, Buffer.alloc(11))],
    ['length shorter than the IPv6 block', v2(0x21, 0x21, Buffer.alloc(35))],
    ['a damaged signature', Buffer.concat([Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0d]), Buffer.alloc(16)])],
  ])('refuses %s', (_what, buf) => {
    expect(parseProxyHeader(buf)).toMatchObject({ kind: 'error' });
  });
});

describe('proxy.trusted address lists', () => {
  it('matches addresses and prefixes, IPv4-mapped IPv6 as IPv4', () => {
    const set = parseCidrList(['127.0.0.1', '10.1.0.0/16', '2001:db8::/32']);
    expect(set.has('127.0.0.1')).toBe(true);
    expect(set.has('::ffff:127.0.0.1')).toBe(true);
    expect(set.has('127.0.0.2')).toBe(false);
    expect(set.has('10.1.255.255')).toBe(true);
    expect(set.has('10.2.0.0')).toBe(false);
    expect(set.has('2001:db8:ffff::1')).toBe(true);
    expect(set.has('2001:db9::1')).toBe(false);
    expect(set.has('')).toBe(false);
  });

  it.each([['10.0.0.0/33'], ['::/129'], ['example.org'], ['10.0.0.0/'], ['']])('refuses %j', (entry) => {
    expect(() => parseCidrList([entry])).toThrow();
  });
});
