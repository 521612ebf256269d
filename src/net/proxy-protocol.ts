/**
 * The PROXY protocol (HAProxy's "proxy-protocol.txt", versions 1 and 2): a
 * proxy in front of Roost (nginx's mail module with `proxy_protocol on;`,
 * HAProxy with `send-proxy`/`send-proxy-v2`) sends one header before the
 * first byte of the client's session, naming the client's address and port.
 * Roost reads it on listeners marked as proxied (`imap.proxy_listen`,
 * `pop3.proxy_listen`), from proxies in `proxy.trusted` only, so connection
 * limits, the login throttle, `max_userip_connections` and logs see the
 * user's address instead of the proxy's.
 *
 * The parser is incremental and pure (bytes in, a decision out), so it can
 * be fed a header split at any offset; `readProxyHeader` drives it on a
 * socket with a deadline and hands the bytes after the header back to the
 * stream (a client may pipeline its first command behind the header).
 */
import { isIP, type Socket } from 'node:net';
import { LIMITS } from '../limits.js';

export interface ProxyEndpoint {
  readonly address: string;
  readonly port: number;
}

export type ProxyHeader =
  /** A relayed connection: the client is `source`. */
  | { kind: 'proxy'; version: 1 | 2; family: 'tcp4' | 'tcp6'; source: ProxyEndpoint; destination: ProxyEndpoint }
  /**
   * The proxy speaks for itself (v2 LOCAL, e.g. health checks), or the
   * client's address is not an IP one (v1 UNKNOWN, v2 UNSPEC/UNIX): §2.1 and
   * §2.2 say to use the connection's own addresses then.
   */
  | { kind: 'local'; version: 1 | 2 };

export type ParseResult =
  | { kind: 'more' }
  | { kind: 'error'; reason: string }
  /** `consumed` bytes of the input were the header; the rest belongs to the session. */
  | { kind: 'done'; header: ProxyHeader; consumed: number };

/** §2.2: the 12-byte v2 signature, chosen so it cannot start any text protocol. */
const V2_SIGNATURE = Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
const V1_PREFIX = Buffer.from('PROXY ', 'latin1');
/** v2 fixed part: signature, version/command, family/transport, 16-bit length. */
const V2_FIXED = 16;
/** §2.2: bytes of the address block for AF_INET, AF_INET6, AF_UNIX. */
const V2_ADDRESS_BYTES: Record<number, number> = { 0x1: 12, 0x2: 36, 0x3: 216 };

/**
 * Parse a PROXY header at the start of `buf`. Rejects as soon as the bytes
 * seen cannot begin a valid header, so a client that is not a proxy gets
 * its answer without waiting for the deadline.
 */
export function parseProxyHeader(buf: Buffer): ParseResult {
  if (buf.length === 0) return { kind: 'more' };
  if (buf[0] === V2_SIGNATURE[0]) return parseV2(buf);
  if (buf[0] === V1_PREFIX[0]) return parseV1(buf);
  return { kind: 'error', reason: 'not a PROXY protocol header' };
}

/** True while `buf` agrees with `prefix` over their common length. */
function agrees(buf: Buffer, prefix: Buffer): boolean {
  const n = Math.min(buf.length, prefix.length);
  return buf.subarray(0, n).equals(prefix.subarray(0, n));
}

// §2.1: "PROXY" SP ("TCP4" | "TCP6" | "UNKNOWN") SP src SP dst SP sport SP dport CRLF,
// at most 107 bytes including the CRLF. UNKNOWN may be followed by anything up to the CRLF.
function parseV1(buf: Buffer): ParseResult {
  if (!agrees(buf, V1_PREFIX)) return { kind: 'error', reason: 'not a PROXY protocol header' };
  const max = LIMITS.net.proxyV1MaxBytes;
  const lf = buf.subarray(0, max).indexOf(0x0a);
  if (lf < 0) return buf.length >= max ? { kind: 'error', reason: `v1 header longer than ${max} bytes` } : { kind: 'more' };
  if (lf === 0 || buf[lf - 1] !== 0x0d) return { kind: 'error', reason: 'v1 header does not end in CRLF' };
  const line = buf.toString('latin1', V1_PREFIX.length, lf - 1);
  const consumed = lf + 1;
  const parts = line.split(' ');
  const proto = parts[0];
  if (proto === 'UNKNOWN') return { kind: 'done', header: { kind: 'local', version: 1 }, consumed };
  if (proto !== 'TCP4' && proto !== 'TCP6') return { kind: 'error', reason: `v1 protocol ${JSON.stringify(proto)} is not TCP4, TCP6 or UNKNOWN` };
  if (parts.length !== 5) return { kind: 'error', reason: 'v1 header needs source, destination and two ports, single-spaced' };
  const [, src, dst, sport, dport] = parts as [string, string, string, string, string];
  const want = proto === 'TCP4' ? 4 : 6;
  if (isIP(src) !== want || isIP(dst) !== want) return { kind: 'error', reason: `v1 addresses are not ${proto} addresses` };
  const sp = v1Port(sport);
  const dp = v1Port(dport);
  if (sp === null || dp === null) return { kind: 'error', reason: 'v1 port is not a number in 0..65535' };
  const family = proto === 'TCP4' ? 'tcp4' : 'tcp6';
  return { kind: 'done', consumed, header: { kind: 'proxy', version: 1, family, source: { address: src, port: sp }, destination: { address: dst, port: dp } } };
}

/** Decimal, no sign, no leading zeros (§2.1 "a decimal number"), at most 65535. */
function v1Port(text: string): number | null {
  if (!/^(?:0|[1-9]\d{0,4})$/.test(text)) return null;
  const n = Number(text);
  return n <= 65535 ? n : null;
}

function parseV2(buf: Buffer): ParseResult {
  if (!agrees(buf, V2_SIGNATURE)) return { kind: 'error', reason: 'not a PROXY protocol header' };
  if (buf.length < V2_FIXED) return { kind: 'more' };
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return { kind: 'error', reason: `v2 version ${verCmd >> 4} is not 2` };
  const command = verCmd & 0x0f;
  if (command > 1) return { kind: 'error', reason: `v2 command ${command} is neither LOCAL nor PROXY` };
  const famTrans = buf[13]!;
  const family = famTrans >> 4;
  const transport = famTrans & 0x0f;
  const length = buf.readUInt16BE(14);
  if (length > LIMITS.net.proxyV2MaxLength) return { kind: 'error', reason: `v2 header announces ${length} bytes, more than ${LIMITS.net.proxyV2MaxLength}` };
  if (family > 3) return { kind: 'error', reason: `v2 address family ${family} is unknown` };
  if (transport > 2) return { kind: 'error', reason: `v2 transport ${transport} is unknown` };
  const need = V2_ADDRESS_BYTES[family] ?? 0;
  // §2.2: the length covers the address block and TLVs; a shorter one cannot hold the addresses.
  if (command === 1 && length < need) return { kind: 'error', reason: `v2 length ${length} is too short for the address block` };
  if (buf.length < V2_FIXED + length) return { kind: 'more' };
  const consumed = V2_FIXED + length;
  // §2.2: LOCAL means the proxy's own connection; the receiver ignores the addresses.
  if (command === 0) return { kind: 'done', consumed, header: { kind: 'local', version: 2 } };
  // The client reached the proxy over a datagram transport: not a stream we can serve.
  if (transport === 2) return { kind: 'error', reason: 'v2 transport is DGRAM' };
  // UNSPEC or AF_UNIX: no IP address to account the client by; §2.2 says use the real ones.
  if (family === 0 || family === 3 || transport === 0) return { kind: 'done', consumed, header: { kind: 'local', version: 2 } };
  const a = buf.subarray(V2_FIXED, V2_FIXED + need);
  if (family === 1) {
    const source = { address: ipv4(a.subarray(0, 4)), port: a.readUInt16BE(8) };
    const destination = { address: ipv4(a.subarray(4, 8)), port: a.readUInt16BE(10) };
    return { kind: 'done', consumed, header: { kind: 'proxy', version: 2, family: 'tcp4', source, destination } };
  }
  const source = { address: ipv6(a.subarray(0, 16)), port: a.readUInt16BE(32) };
  const destination = { address: ipv6(a.subarray(16, 32)), port: a.readUInt16BE(34) };
  return { kind: 'done', consumed, header: { kind: 'proxy', version: 2, family: 'tcp6', source, destination } };
}

const ipv4 = (b: Buffer): string => `${b[0]}.${b[1]}.${b[2]}.${b[3]}`;

/** RFC 5952 §4 text form (lower case, longest zero run as "::"), as Node reports socket addresses. */
function ipv6(b: Buffer): string {
  const groups: number[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(b.readUInt16BE(i));
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (gs: number[]): string => gs.map((g) => g.toString(16)).join(':');
  // IPv4-mapped (::ffff:a.b.c.d), as Node writes it for dual-stack sockets.
  if (bestStart === 0 && bestLen === 5 && groups[5] === 0xffff) return `::ffff:${ipv4(b.subarray(12, 16))}`;
  if (bestStart < 0) return hex(groups);
  return `${hex(groups.slice(0, bestStart))}::${hex(groups.slice(bestStart + bestLen))}`;
}

export type ReadResult = { kind: 'done'; header: ProxyHeader } | { kind: 'error'; reason: string };

/**
 * Read the header from `socket` within LIMITS.net.proxyHeaderTimeoutMs.
 * On success the bytes after the header are put back into the socket, which
 * is left paused: the session attaches its reader, then resumes it. On
 * failure the caller closes the socket.
 */
export function readProxyHeader(socket: Socket, timeoutMs: number = LIMITS.net.proxyHeaderTimeoutMs): Promise<ReadResult> {
  return new Promise((resolve) => {
    let got: Buffer = Buffer.alloc(0);
    let settled = false;
    const finish = (r: ReadResult, rest?: Buffer): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.pause();
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('close', onEnd);
      socket.off('error', onEnd);
      if (rest && rest.length > 0) socket.unshift(rest);
      resolve(r);
    };
    const onData = (chunk: Buffer): void => {
      got = got.length === 0 ? chunk : Buffer.concat([got, chunk]);
      const r = parseProxyHeader(got);
      if (r.kind === 'more') return;
      if (r.kind === 'error') return finish(r);
      finish({ kind: 'done', header: r.header }, got.subarray(r.consumed));
    };
    const onEnd = (): void => finish({ kind: 'error', reason: 'connection ended before the PROXY header' });
    const timer = setTimeout(() => finish({ kind: 'error', reason: `no complete PROXY header within ${timeoutMs} ms` }), timeoutMs);
    socket.on('data', onData);
    socket.once('end', onEnd);
    socket.once('close', onEnd);
    socket.once('error', onEnd);
  });
}
