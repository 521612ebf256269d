/**
 * Connection slots, each limit at N and N+1 over real sockets:
 * max_connections and max_connections_per_ip count a socket from accept,
 * unfinished TLS handshakes included; a TLS handshake (IMAPS, POP3S,
 * STARTTLS, STLS) has a deadline; IMAP before login is bounded in commands
 * and in total time however busy the client keeps it; near the process's
 * descriptor limit new clients get a clean refusal, not a silent close.
 */
import net from 'node:net';
import { readdirSync } from 'node:fs';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { setDescriptorLimitForTests } from '../../src/net/admission.js';
import { login, RawImap } from '../imap/helpers/client.js';
import { startImapNode, type ImapTestNode } from '../imap/helpers/node.js';

const net_ = LIMITS.net as { tlsHandshakeTimeoutMs: number; fdReserve: number };
const imap = LIMITS.imap as { maxCommandsBeforeAuth: number; notAuthMaxSessionMs: number; notAuthTimeoutMs: number };
const saved = { net: { ...net_ }, imap: { ...imap } };
const PER_IP = 3;
let n: ImapTestNode;
const open: net.Socket[] = [];

/** A raw TCP connection; `lines` collects what the server says, `closed` resolves when it hangs up. */
async function raw(port: number): Promise<{ s: net.Socket; text: () => string; closed: Promise<void> }> {
  const s = await new Promise<net.Socket>((resolve, reject) => {
    const c = net.connect({ port, host: '127.0.0.1' }, () => resolve(c));
    c.once('error', reject);
  });
  open.push(s);
  let got = '';
  s.on('data', (b) => (got += b.toString('latin1')));
  s.on('error', () => undefined);
  const closed = new Promise<void>((r) => s.once('close', () => r()));
  return { s, text: () => got, closed };
}

/** First line the server sends on a fresh connection (or '' if it closes first). */
async function greeting(port: number): Promise<{ line: string; c: Awaited<ReturnType<typeof raw>> }> {
  const c = await raw(port);
  const deadline = Date.now() + 30_000;
  while (!c.text().includes('\r\n') && !c.s.destroyed && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  return { line: c.text().split('\r\n')[0] ?? '', c };
}

beforeAll(async () => {
  net_.tlsHandshakeTimeoutMs = 1000;
  n = await startImapNode({ imap: { max_connections_per_ip: PER_IP }, pop3: { max_connections_per_ip: PER_IP } });
});
afterEach(() => {
  for (const s of open.splice(0)) s.destroy();
});
afterAll(async () => {
  Object.assign(net_, saved.net);
  Object.assign(imap, saved.imap);
  setDescriptorLimitForTests(null);
  await n?.stop();
});

/** Wait until the node has noticed the closes (slots are released on 'close'). */
async function settle(port: number): Promise<void> {
  const deadline = Date.now() + 30_000;
  for (;;) {
    const { line, c } = await greeting(port);
    c.s.destroy();
    await c.closed;
    if (line.startsWith('* OK') || Date.now() > deadline) return;
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('per-address connection limit', () => {
  it(`IMAP: ${PER_IP} connections from one address are greeted, the next gets BYE, a freed slot is reusable`, async () => {
    const held = [];
    for (let i = 0; i < PER_IP; i++) {
      const g = await greeting(n.port);
      expect(g.line).toMatch(/^\* OK/);
      held.push(g.c);
    }
    const over = await greeting(n.port);
    expect(over.line).toBe('* BYE Too many connections from your address, try again later');
    await over.c.closed;
    held[0]!.s.destroy();
    await held[0]!.closed;
    await settle(n.port);
  });

  it('IMAP: unfinished TLS handshakes on the IMAPS port hold slots from accept', async () => {
    for (let i = 0; i < PER_IP; i++) await raw(n.tlsPort);
    // The plain listener shares the count: the slots are taken.
    const g = await greeting(n.port);
    expect(g.line).toMatch(/^\* BYE Too many connections from your address/);
    for (const s of open.splice(0)) s.destroy();
    await settle(n.port);
  });

  it(`POP3: ${PER_IP} greeted, the next gets -ERR [SYS/TEMP]`, async () => {
    const port = n.t.ports.pop3!;
    for (let i = 0; i < PER_IP; i++) expect((await greeting(port)).line).toMatch(/^\+OK/);
    expect((await greeting(port)).line).toBe('-ERR [SYS/TEMP] Too many connections from your address, try again later.');
  });
});

describe('TLS handshake deadline', () => {
  it('IMAPS and POP3S: a client that never sends a ClientHello is cut', async () => {
    for (const port of [n.tlsPort, n.t.ports.pop3s!]) {
      const c = await raw(port);
      await c.closed;
      expect(c.text()).toBe('');
    }
  });

  it('IMAP STARTTLS and POP3 STLS: silence after the OK is cut too', async () => {
    const c = await raw(n.port);
    c.s.write('a STARTTLS\r\n');
    await c.closed;
    expect(c.text()).toMatch(/a OK Begin TLS/);
    const p = await raw(n.t.ports.pop3!);
    p.s.write('STLS\r\n');
    await p.closed;
    expect(p.text()).toMatch(/\+OK Begin TLS/);
  });
});

describe('IMAP before login', () => {
  it(`${LIMITS.imap.maxCommandsBeforeAuth} commands are answered before login, the next gets BYE; after login there is no such limit`, async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    for (let i = 1; i <= LIMITS.imap.maxCommandsBeforeAuth; i++) expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
    c.write('x NOOP\r\n');
    expect(await c.line()).toBe('* BYE Too many commands before login');
    expect(await c.waitClosed()).toBe(true);
    const a = await login(n.port, n.user, n.pass);
    for (let i = 1; i <= LIMITS.imap.maxCommandsBeforeAuth + 1; i++) expect((await a.cmd('NOOP')).tagged).toMatch(/OK/);
    a.close();
  });

  it('a client that keeps sending commands without logging in is closed after notAuthMaxSessionMs', async () => {
    imap.notAuthMaxSessionMs = 1500;
    imap.maxCommandsBeforeAuth = 10_000;
    try {
      const c = await RawImap.connect(n.port);
      await c.line();
      // NOOPs restart the idle clock, so only the total-time limit can end this.
      const bye = c.waitFor(/^\* BYE/, 60_000);
      for (let i = 0; i < 1200 && !c.socket.destroyed; i++) {
        c.write(`k${i} NOOP\r\n`);
        await new Promise((r) => setTimeout(r, 25));
      }
      expect(await bye).toBe('* BYE Login time limit exceeded');
      expect(await c.waitClosed(30_000)).toBe(true);
    } finally {
      imap.notAuthMaxSessionMs = saved.imap.notAuthMaxSessionMs;
      imap.maxCommandsBeforeAuth = saved.imap.maxCommandsBeforeAuth;
    }
  });
});

describe('descriptor reserve', () => {
  it('near the process limit a new client gets a clean BYE / -ERR, and is served again once descriptors are back', async () => {
    // Room for exactly one more accepted connection (its client end lives in this process too).
    const now = readdirSync('/proc/self/fd').length;
    setDescriptorLimitForTests(now + LIMITS.net.fdReserve + 3);
    try {
      const first = await greeting(n.port);
      expect(first.line).toMatch(/^\* OK/);
      expect((await greeting(n.port)).line).toBe('* BYE Server is out of resources, try again later');
      expect((await greeting(n.t.ports.pop3!)).line).toBe('-ERR [SYS/TEMP] Server is out of resources, try again later.');
    } finally {
      setDescriptorLimitForTests(null);
    }
    for (const s of open.splice(0)) s.destroy();
    await settle(n.port);
  });
});

describe('max_connections', () => {
  it('IMAP and POP3: N sockets (TLS handshakes included) are admitted, N+1 is refused', async () => {
    const m = await startImapNode({ imap: { max_connections: 2 }, pop3: { max_connections: 2 } });
    try {
      await raw(m.tlsPort);
      expect((await greeting(m.port)).line).toMatch(/^\* OK/);
      expect((await greeting(m.port)).line).toBe('* BYE Too many connections, try again later');
      await raw(m.t.ports.pop3s!);
      expect((await greeting(m.t.ports.pop3!)).line).toMatch(/^\+OK/);
      expect((await greeting(m.t.ports.pop3!)).line).toBe('-ERR [SYS/TEMP] Too many connections, try again later.');
    } finally {
      for (const s of open.splice(0)) s.destroy();
      await m.stop();
    }
  });
});

describe('imap.max_userip_connections', () => {
  it('N logged-in sessions of one account from one address; the N+1th LOGIN gets NO [LIMIT]; logging out frees the slot; another account is unaffected', async () => {
    const m = await startImapNode({ imap: { max_userip_connections: 2 } });
    try {
      await m.t.addUser('bob@example.org', 'bob-pw');
      const a = await login(m.port, m.user, m.pass);
      const b = await login(m.port, m.user, m.pass);
      const c = await RawImap.connect(m.port);
      await c.line();
      expect((await c.cmd(`LOGIN ${m.user} ${m.pass}`)).tagged).toMatch(/^\S+ NO \[LIMIT\] Maximum number of connections from user\+IP exceeded/);
      // The refused connection stays usable, and other accounts are not counted against alice.
      expect((await c.cmd('LOGIN bob@example.org bob-pw')).tagged).toMatch(/OK/);
      expect((await a.cmd('LOGOUT')).tagged).toMatch(/OK/);
      await a.waitClosed(30_000);
      // The slot is released when the connection ends (asynchronously): retry until it is.
      let again = '';
      for (let i = 0; i < 100 && !/OK/.test(again); i++) {
        const d = await RawImap.connect(m.port);
        await d.line();
        again = (await d.cmd(`LOGIN ${m.user} ${m.pass}`)).tagged;
        if (!/OK/.test(again)) {
          d.close();
          await new Promise((r) => setTimeout(r, 50));
        } else d.close();
      }
      expect(again).toMatch(/OK/);
      b.close();
      c.close();
    } finally {
      await m.stop();
    }
  });
});
