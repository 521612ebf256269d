/**
 * imap.proxy_listen / pop3.proxy_listen over real sockets: a
 * trusted proxy's PROXY header (v1 and v2) names the client, and the
 * per-address connection cap and the login throttle count that client, not
 * the proxy; a peer outside proxy.trusted, a malformed, oversized or late
 * header gets the connection closed without a greeting. The header limits
 * are at N and N+1 in proxy-protocol.test.ts; here they are checked on the wire.
 */
import net from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { startImapNode, type ImapTestNode } from '../imap/helpers/node.js';
import { v2Inet } from '../helpers/proxy-header.js';
import { rawConnect, type RawConn } from '../helpers/raw-conn.js';

const limits = { net: LIMITS.net as { proxyHeaderTimeoutMs: number }, auth: LIMITS.auth as { failureDelayBaseMs: number; failureDelayMaxMs: number; perAddressFailures: number } };
const saved = { net: { ...limits.net }, auth: { ...limits.auth } };
const PER_IP = 2;
const PER_ADDRESS_FAILURES = 2;
let n: ImapTestNode;
let imapPort: number;
let pop3Port: number;
const open: net.Socket[] = [];

type Conn = RawConn;
const connect = (port: number, localAddress = '127.0.0.1'): Promise<Conn> => rawConnect(port, localAddress, open);

const v1 = (client: string, port = 40000): string => `PROXY TCP4 ${client} 127.0.0.1 ${port} 143\r\n`;

beforeAll(async () => {
  limits.net.proxyHeaderTimeoutMs = 1000;
  Object.assign(limits.auth, { failureDelayBaseMs: 1, failureDelayMaxMs: 1, perAddressFailures: PER_ADDRESS_FAILURES });
  n = await startImapNode({
    imap: { proxy_listen: '127.0.0.1:0', max_connections_per_ip: PER_IP },
    pop3: { proxy_listen: '127.0.0.1:0', max_connections_per_ip: PER_IP },
    proxy: { trusted: ['127.0.0.1/32'] },
  });
  imapPort = n.t.node.ports().imapProxy!;
  pop3Port = n.t.node.ports().pop3Proxy!;
});
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});
afterAll(async () => {
  Object.assign(limits.net, saved.net);
  Object.assign(limits.auth, saved.auth);
  await n?.stop();
});

describe('a trusted proxy names the client', () => {
  it('v1 and v2 headers, with the first command pipelined behind the header', async () => {
    const a = await connect(imapPort);
    a.s.write(`${v1('192.0.2.1')}a1 LOGIN ${n.user} ${n.pass}\r\n`);
    expect(await a.until(/a1 (OK|NO|BAD)/)).toMatch(/^\* OK .*\r\na1 OK /);
    const b = await connect(imapPort);
    b.s.write(Buffer.concat([v2Inet('192.0.2.2', '127.0.0.1', 40001, 143), Buffer.from('b1 NOOP\r\n')]));
    expect(await b.until(/b1 OK/)).toMatch(/b1 OK/);
    const p = await connect(pop3Port);
    p.s.write(`${v1('192.0.2.3')}USER ${n.user}\r\nPASS ${n.pass}\r\n`);
    expect(await p.until(/\+OK.*\r\n\+OK.*\r\n\+OK/)).toMatch(/^\+OK Roost POP3 server ready\.\r\n\+OK.*\r\n\+OK/);
  });

  it(`the largest headers are read: a v1 line of ${LIMITS.net.proxyV1MaxBytes} bytes, a v2 header with ${LIMITS.net.proxyV2MaxLength} bytes after the fixed part`, async () => {
    const longV1 = `PROXY UNKNOWN ${'x'.repeat(LIMITS.net.proxyV1MaxBytes - 16)}\r\n`;
    expect(longV1.length).toBe(LIMITS.net.proxyV1MaxBytes);
    const a = await connect(imapPort);
    a.s.write(longV1);
    expect(await a.until(/\* OK/)).toMatch(/^\* OK /);
    const longV2 = v2Inet('192.0.2.5', '127.0.0.1', 1, 143, Buffer.alloc(LIMITS.net.proxyV2MaxLength - 12));
    expect(longV2.length).toBe(16 + LIMITS.net.proxyV2MaxLength);
    const b = await connect(pop3Port);
    b.s.write(longV2);
    expect(await b.until(/\+OK/)).toMatch(/^\+OK /);
  });

  it('a header delivered byte by byte is read', async () => {
    const c = await connect(imapPort);
    for (const byte of Buffer.from(v1('192.0.2.4'))) {
      c.s.write(Buffer.from([byte]));
      await new Promise((r) => setImmediate(r));
    }
    expect(await c.until(/\* OK/)).toMatch(/^\* OK /);
  });

  it(`max_connections_per_ip (${PER_IP}) counts the client, not the proxy: N admitted, N+1 refused`, async () => {
    for (const port of [imapPort, pop3Port]) {
      const held: Conn[] = [];
      for (let i = 0; i < PER_IP; i++) {
        const c = await connect(port);
        c.s.write(v1('192.0.2.10'));
        expect(await c.until(/OK/)).toMatch(/^(\* OK|\+OK)/);
        held.push(c);
      }
      const over = await connect(port);
      over.s.write(v1('192.0.2.10'));
      expect(await over.until(/from your address/)).toMatch(/Too many connections from your address/);
      // Another client behind the same proxy still gets in: the proxy's own address holds N+1 sockets already.
      const other = await connect(port);
      other.s.write(v1('192.0.2.11'));
      expect(await other.until(/OK/)).toMatch(/^(\* OK|\+OK)/);
      for (const c of [...held, over, other]) c.s.destroy();
      await Promise.all([...held, over, other].map((c) => c.closed));
      // Slots are released on the server's 'close'; wait until a new client from that address is admitted again.
      let admitted = false;
      for (let i = 0; i < 100 && !admitted; i++) {
        const c = await connect(port);
        c.s.write(v1('192.0.2.10'));
        admitted = /^(\* OK|\+OK)/.test(await c.until(/\r\n/));
        c.s.destroy();
        await c.closed;
        if (!admitted) await new Promise((r) => setTimeout(r, 50));
      }
      expect(admitted).toBe(true);
    }
  });

  it(`the login throttle counts the client: ${PER_ADDRESS_FAILURES} failures from one address throttle it, not its neighbours`, async () => {
    const login = async (client: string, tag: string): Promise<string> => {
      const c = await connect(imapPort);
      c.s.write(`${v1(client)}${tag} LOGIN ${n.user} wrong-password\r\n`);
      const text = await c.until(new RegExp(`${tag} (OK|NO|BAD)`));
      c.s.destroy();
      return text.split('\r\n').find((l) => l.startsWith(`${tag} `)) ?? '';
    };
    for (let i = 0; i < PER_ADDRESS_FAILURES; i++) expect(await login('192.0.2.20', `f${i}`)).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
    expect(await login('192.0.2.20', 'f9')).toMatch(/NO \[UNAVAILABLE\] Too many failed logins/);
    expect(await login('192.0.2.21', 'g0')).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
  });

  it('LOGIN is offered to proxied connections (the proxy logs in with plaintext)', async () => {
    const c = await connect(imapPort);
    c.s.write(`${v1('192.0.2.30')}c1 CAPABILITY\r\n`);
    const text = await c.until(/c1 OK/);
    expect(text).not.toMatch(/LOGINDISABLED/);
    expect(text).toMatch(/AUTH=PLAIN/);
  });
});

describe('refused without a greeting', () => {
  const refused = async (conn: Conn, send: string | Buffer | null): Promise<void> => {
    if (send !== null) conn.s.write(send);
    await conn.closed;
    expect(conn.text()).toBe('');
  };

  it('a peer outside proxy.trusted (127.0.0.2 is not 127.0.0.1/32), even with a valid header', async () => {
    await refused(await connect(imapPort, '127.0.0.2'), v1('192.0.2.40'));
    await refused(await connect(pop3Port, '127.0.0.2'), v1('192.0.2.40'));
  });

  it.each([
    ['a client speaking IMAP at once', 'a1 LOGIN alice secret\r\n'],
    ['a malformed v1 header', 'PROXY TCP4 192.0.2.7 127.0.0.1 99999 143\r\n'],
    [`a v1 header over ${LIMITS.net.proxyV1MaxBytes} bytes`, `PROXY UNKNOWN ${'x'.repeat(LIMITS.net.proxyV1MaxBytes)}\r\n`],
    ['a v2 header with a bad version', Buffer.concat([v2Inet('192.0.2.7', '127.0.0.1', 1, 2).subarray(0, 12), Buffer.from([0x31, 0x11, 0, 12]), Buffer.alloc(12)])],
    [`a v2 header announcing over ${LIMITS.net.proxyV2MaxLength} bytes`, v2Inet('192.0.2.7', '127.0.0.1', 1, 2, Buffer.alloc(LIMITS.net.proxyV2MaxLength - 11)).subarray(0, 16)],
  ])('%s', async (_what, send) => {
    await refused(await connect(imapPort), send);
  });

  it('a header not complete by the deadline', async () => {
    await refused(await connect(imapPort), 'PROXY TCP4 192.0.2.7');
    await refused(await connect(pop3Port), null);
  });

  it('the direct listener does not read PROXY headers: the line is an unknown command', async () => {
    const c = await connect(n.port);
    await c.until(/\* OK/);
    c.s.write(v1('192.0.2.50'));
    expect(await c.until(/BAD/)).toMatch(/PROXY BAD/);
  });
});
