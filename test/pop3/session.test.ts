/**
 * Session behaviour beyond the transcripts: limits at N and N+1, autologout,
 * plaintext policy, implicit TLS, directory outage, concurrent store changes,
 * back-pressure with a client that does not read, LOGIN-DELAY, \Seen at QUIT.
 */
import type { Socket } from 'node:net';
import { register } from 'prom-client';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { RawClient } from '../helpers/pop3-client.js';
import { closedAfter, TIMER_SLACK_MS } from '../helpers/timing.js';
import { startNode, type Pop3TestNode } from './helpers.js';

const MSG = (n: number): string => `From: x@example.org\nSubject: message ${n}\n\nbody ${n}\n`;

async function loggedIn(node: Pop3TestNode, user = 'alice@example.org', pass = 'secret'): Promise<RawClient> {
  const c = await RawClient.connect(node.port);
  expect(await c.line()).toMatch(/^\+OK/);
  expect(await c.login(user, pass)).toMatch(/^\+OK Logged in/);
  return c;
}

describe('POP3 session', () => {
  let node: Pop3TestNode;
  beforeAll(async () => {
    node = await startNode({ allowPlaintext: 'loopback' });
    await node.addUser('alice@example.org', 'secret');
    for (let i = 1; i <= 3; i++) await node.deliver('alice@example.org', MSG(i));
  });
  afterAll(async () => {
    await node.close();
  });

  it(`line length: ${LIMITS.pop3.maxLineLength} octets accepted, one more refused, session goes on`, async () => {
    const c = await RawClient.connect(node.port);
    await c.line();
    const n = LIMITS.pop3.maxLineLength;
    expect(await c.cmd('USER ' + 'a'.repeat(n - 5))).toBe('+OK');
    expect(await c.cmd('USER ' + 'a'.repeat(n - 4))).toBe(`-ERR Line too long (limit ${n} octets).`);
    // a huge line arriving in pieces is skipped without being buffered
    c.socket.write('X'.repeat(3 * n));
    c.socket.write('Y'.repeat(3 * n) + '\r\n');
    expect(await c.line()).toMatch(/^-ERR Line too long/);
    expect(await c.login('alice@example.org', 'secret')).toMatch(/^\+OK Logged in/);
    expect(await c.cmd('QUIT')).toBe('+OK Logging out.');
  });

  it(`bad commands: ${LIMITS.pop3.maxBadCommands} answered, the next one closes`, async () => {
    const c = await loggedIn(node);
    for (let i = 0; i < LIMITS.pop3.maxBadCommands; i++) expect(await c.cmd(`GARBAGE${i}`)).toBe('-ERR Unknown command.');
    expect(await c.cmd('STAT')).toMatch(/^\+OK 3 /);
    expect(await c.cmd('GARBAGE')).toBe('-ERR Too many bad commands, closing.');
    await c.waitClosed();
  });

  it(`commands before login: ${LIMITS.pop3.maxCommandsBeforeAuth} answered, the next one closes`, async () => {
    const c = await RawClient.connect(node.port);
    await c.line();
    for (let i = 0; i < LIMITS.pop3.maxCommandsBeforeAuth; i++) expect(await c.cmd(`USER u${i}`)).toBe('+OK');
    expect(await c.cmd('USER again')).toBe('-ERR Too many commands before login, closing.');
    await c.waitClosed();
  });

  it(`failed logins: delay grows, ${LIMITS.auth.maxFailuresPerConnection} per connection`, async () => {
    const c = await RawClient.connect(node.port);
    await c.line();
    const times: number[] = [];
    for (let i = 0; i < LIMITS.auth.maxFailuresPerConnection; i++) {
      const t = performance.now();
      expect(await c.login('alice@example.org', 'wrong' + i)).toBe('-ERR [AUTH] Authentication failed.');
      times.push(performance.now() - t);
    }
    // the test node's guard: 50 ms, doubling per failure of the name, capped at 200 ms
    expect(times[0]).toBeGreaterThanOrEqual(45);
    expect(times[1]).toBeGreaterThanOrEqual(95);
    expect(times[2]).toBeGreaterThanOrEqual(195);
    expect(await c.line()).toBe('-ERR Too many failed logins, closing.');
    await c.waitClosed();
  });

  it('a delivery during the session does not change its listing; the next session sees it', async () => {
    const c = await loggedIn(node);
    c.send('UIDL');
    expect(await c.line()).toMatch(/^\+OK/);
    const before = await c.multi();
    await node.deliver('alice@example.org', MSG(4));
    expect(await c.cmd('STAT')).toMatch(/^\+OK 3 /);
    c.send('UIDL');
    await c.line();
    expect(await c.multi()).toEqual(before);
    expect(await c.cmd('LIST 4')).toBe("-ERR There's no message 4.");
    expect(await c.cmd('QUIT')).toBe('+OK Logging out.');
    const d = await loggedIn(node);
    expect(await d.cmd('STAT')).toMatch(/^\+OK 4 /);
    c.destroy();
    // remove it again so the other tests see 3 messages
    expect(await d.cmd('DELE 4')).toMatch(/^\+OK/);
    expect(await d.cmd('QUIT')).toBe('+OK Logging out, 1 messages deleted.');
  });

  it('one RETR at a time, in order and out of order, with TOP and DELE between: each reply is its own message (the next one is read as a guess)', async () => {
    await node.addUser('gus@example.org', 'secret');
    for (let i = 1; i <= 4; i++) await node.deliver('gus@example.org', MSG(i));
    const c = await loggedIn(node, 'gus@example.org', 'secret');
    const body = async (cmd: string): Promise<string> => {
      expect(await c.cmd(cmd)).toMatch(/^\+OK/);
      return (await c.multi()).join('\n');
    };
    expect(await body('RETR 1')).toContain('body 1');
    // The guess (message 2) is not what TOP 3 asks for; it is dropped.
    const top = await body('TOP 3 0');
    expect(top).toContain('Subject: message 3');
    expect(top).not.toContain('body 3');
    expect(await body('RETR 2')).toContain('body 2');
    expect(await c.cmd('DELE 3')).toMatch(/^\+OK/);
    expect(await c.cmd('RETR 3')).toMatch(/^-ERR/);
    expect(await body('RETR 4')).toContain('body 4');
    // After the last message there is nothing to guess.
    expect(await body('RETR 1')).toContain('body 1');
    expect(await c.cmd('RSET')).toMatch(/^\+OK/);
    expect(await body('RETR 3')).toContain('body 3');
    c.destroy();
  });

  it('a message expunged by another session meanwhile: RETR says so, QUIT still works', async () => {
    await node.deliver('alice@example.org', MSG(5));
    const c = await loggedIn(node);
    const account = node.accounts.get('alice@example.org')!;
    const box = await node.store.user(account).openMailbox('INBOX');
    const uid = box.snapshot().messages.at(-1)!.uid;
    await box.expunge({ uids: [uid], force: true });
    box.close();
    expect(await c.cmd('RETR 4')).toBe('-ERR Message was removed by another session.');
    expect(await c.cmd('DELE 4')).toMatch(/^\+OK/);
    expect(await c.cmd('QUIT')).toMatch(/^\+OK Logging out/);
  });

  it('RETR marks \\Seen at QUIT (as Dovecot), not on a dropped connection', async () => {
    const account = node.accounts.get('alice@example.org')!;
    const flags = async (): Promise<string[][]> => {
      const box = await node.store.user(account).openMailbox('INBOX', { readOnly: true });
      const f = box.snapshot().messages.map((m) => [...m.flags]);
      box.close();
      return f;
    };
    const c = await loggedIn(node);
    c.send('RETR 1');
    await c.line();
    await c.multi();
    c.destroy();
    await new Promise((r) => setTimeout(r, 100));
    expect((await flags())[0]).not.toContain('\\Seen');
    const d = await loggedIn(node);
    d.send('RETR 1');
    await d.line();
    await d.multi();
    expect(await d.cmd('TOP 2 0')).toMatch(/^\+OK/);
    await d.multi();
    expect(await d.cmd('QUIT')).toBe('+OK Logging out.');
    const f = await flags();
    expect(f[0]).toContain('\\Seen');
    expect(f[1]).not.toContain('\\Seen');
  });

  it('metrics: logins by result, messages and bytes retrieved, sessions open', async () => {
    const text = await register.metrics();
    expect(text).toMatch(/roost_pop3_logins_total\{result="ok"\} [1-9]/);
    expect(text).toMatch(/roost_pop3_logins_total\{result="failed"\} [1-9]/);
    expect(text).toMatch(/roost_pop3_messages_retrieved_total [1-9]/);
    expect(text).toMatch(/roost_pop3_bytes_retrieved_total [1-9]/);
    expect(text).toMatch(/roost_pop3_sessions_open \d/);
  });

  it('implicit TLS listener', async () => {
    const c = await RawClient.connect(node.tlsPort, true);
    expect(await c.line()).toBe('+OK Roost POP3 server ready.');
    c.send('CAPA');
    expect(await c.line()).toMatch(/^\+OK/);
    const caps = await c.multi();
    expect(caps).toContain('USER');
    expect(caps).not.toContain('STLS');
    expect(await c.login('alice@example.org', 'secret')).toMatch(/^\+OK Logged in, 3 messages/);
    c.send('RETR 3');
    expect(await c.line()).toMatch(/^\+OK \d+ octets$/);
    expect(await c.multi()).toEqual(['From: x@example.org', 'Subject: message 3', '', 'body 3']);
    expect(await c.cmd('QUIT')).toBe('+OK Logging out.');
  });
});

describe('POP3 back-pressure', () => {
  let node: Pop3TestNode;
  const big = 'From: big@example.org\nSubject: big\n\n' + ('0123456789'.repeat(7) + '\n').repeat(15_000); // ~1.1 MB
  beforeAll(async () => {
    node = await startNode();
    await node.addUser('alice@example.org', 'secret');
    for (let i = 0; i < 12; i++) await node.deliver('alice@example.org', big);
  });
  afterAll(async () => {
    await node.close();
  });

  it('a client that pipelines RETRs without reading holds the server at a bounded buffer; nothing is lost', async () => {
    const c = await loggedIn(node);
    c.socket.pause(); // stop reading: the kernel buffers fill up, then the server must wait
    c.socket.write(Array.from({ length: 12 }, (_, i) => `RETR ${i + 1}\r\n`).join('') + 'QUIT\r\n');
    let maxBuffered = 0;
    for (let i = 0; i < 40; i++) {
      await new Promise((r) => setTimeout(r, 25));
      maxBuffered = Math.max(maxBuffered, node.server.bufferedBytes());
    }
    // 13 MB was asked for; the server holds little more than one chunk in memory.
    expect(maxBuffered).toBeGreaterThan(0); // the server did fill its socket and wait
    expect(maxBuffered).toBeLessThan(512 * 1024);
    c.socket.resume();
    const want = Buffer.byteLength(big.replace(/\n/g, '\r\n'));
    for (let i = 0; i < 12; i++) {
      expect(await c.line(20_000)).toBe(`+OK ${want} octets`);
      const body = await c.multiRaw(20_000);
      expect(body.length).toBe(want + 3);
    }
    expect(await c.line()).toBe('+OK Logging out.');
  });

  it('TOP of a streamed (large) message stops after the requested lines', async () => {
    const c = await loggedIn(node);
    expect(await c.cmd('TOP 1 2')).toBe('+OK Top of message follows.');
    expect(await c.multi()).toEqual(['From: big@example.org', 'Subject: big', '', '0123456789'.repeat(7), '0123456789'.repeat(7)]);
    expect(await c.cmd('NOOP')).toBe('+OK');
    c.destroy();
  });
});

describe('POP3 policies', () => {
  it('plaintext refused before TLS when auth.allow_plaintext = "never"; allowed after STLS', async () => {
    const node = await startNode({ allowPlaintext: 'never' });
    try {
      await node.addUser('alice@example.org', 'secret');
      const c = await RawClient.connect(node.port);
      await c.line();
      c.send('CAPA');
      await c.line();
      const caps = await c.multi();
      expect(caps).toContain('STLS');
      expect(caps).not.toContain('USER');
      expect(caps.some((l) => l.startsWith('SASL'))).toBe(false);
      const refused = '-ERR [AUTH] Plaintext authentication disallowed on non-secure (SSL/TLS) connections.';
      expect(await c.cmd('USER alice@example.org')).toBe(refused);
      expect(await c.cmd('PASS secret')).toBe(refused);
      expect(await c.cmd('AUTH PLAIN AGFsaWNlQGV4YW1wbGUub3JnAHNlY3JldA==')).toBe(refused);
      expect(await c.cmd('STLS')).toBe('+OK Begin TLS negotiation.');
      await c.startTls();
      expect(await c.login('alice@example.org', 'secret')).toMatch(/^\+OK Logged in/);
      expect(await c.cmd('QUIT')).toBe('+OK Logging out.');
    } finally {
      await node.close();
    }
  });

  it('autologout (pop3.idleTimeoutMs): silent for less is kept, at the limit closed; its deletions are not applied, the lock is released', async () => {
    const limits = LIMITS.pop3 as { idleTimeoutMs: number };
    const saved = limits.idleTimeoutMs;
    const IDLE = 2000;
    limits.idleTimeoutMs = IDLE; // the server's default, read when it is created
    const node = await startNode();
    limits.idleTimeoutMs = saved;
    try {
      await node.addUser('alice@example.org', 'secret');
      await node.deliver('alice@example.org', MSG(1));
      const c = await loggedIn(node);
      const since = performance.now();
      expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
      const closed = closedAfter(c.socket as Socket, since, IDLE * 15);
      expect(await c.line(IDLE * 15)).toBe('-ERR Autologout; idle for too long.');
      expect(await closed).toBeGreaterThanOrEqual(IDLE - TIMER_SLACK_MS);
      const d = await loggedIn(node);
      expect(await d.cmd('STAT')).toMatch(/^\+OK 1 /);
      expect(await d.cmd('QUIT')).toBe('+OK Logging out.');
    } finally {
      await node.close();
    }
  });

  it('directory outage: -ERR [SYS/TEMP], never [AUTH]', async () => {
    const node = await startNode();
    try {
      await node.addUser('alice@example.org', 'secret');
      const c = await RawClient.connect(node.port);
      await c.line();
      await node.directory.close(); // the sqlite backend is gone: every query fails
      expect(await c.login('alice@example.org', 'secret')).toBe('-ERR [SYS/TEMP] Authentication service unavailable, try again later.');
      expect(await c.login('alice@example.org', 'wrong')).toBe('-ERR [SYS/TEMP] Authentication service unavailable, try again later.');
      expect(await c.cmd('QUIT')).toBe('+OK Logging out.');
    } finally {
      await node.close();
    }
  });

  it('LOGIN-DELAY advertised and enforced when configured', async () => {
    const node = await startNode({ loginDelay: 60 });
    try {
      await node.addUser('alice@example.org', 'secret');
      const c = await RawClient.connect(node.port);
      await c.line();
      c.send('CAPA');
      await c.line();
      expect(await c.multi()).toContain('LOGIN-DELAY 60');
      expect(await c.login('alice@example.org', 'secret')).toMatch(/^\+OK Logged in/);
      expect(await c.cmd('QUIT')).toBe('+OK Logging out.');
      const d = await RawClient.connect(node.port);
      await d.line();
      expect(await d.login('alice@example.org', 'secret')).toBe('-ERR [LOGIN-DELAY] Minimum time between logins is 60 seconds.');
    } finally {
      await node.close();
    }
  });

  it('server close() ends open sessions without applying their deletions', async () => {
    const node = await startNode();
    await node.addUser('alice@example.org', 'secret');
    await node.deliver('alice@example.org', MSG(1));
    const c = await loggedIn(node);
    expect(await c.cmd('DELE 1')).toMatch(/^\+OK/);
    await node.server.close();
    await c.waitClosed();
    expect(node.server.sessionCount).toBe(0);
    await node.server.listen();
    const port = node.server.addresses().listen!;
    const d = await RawClient.connect(port);
    await d.line();
    expect(await d.login('alice@example.org', 'secret')).toMatch(/^\+OK Logged in, 1 messages/);
    d.destroy();
    await node.close();
  });
});
