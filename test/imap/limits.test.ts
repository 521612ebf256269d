/**
 * Limits from src/limits.ts, each at N and N+1: bad commands before BYE,
 * APPEND literal size (= APPENDLIMIT), authentication failures per
 * connection; plaintext LOGIN refused where auth.allow_plaintext says so.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { login, RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  await n?.stop();
});

describe('limits', () => {
  it(`${LIMITS.imap.maxBadCommands} bad commands are answered BAD; the next gets BYE`, async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    for (let i = 1; i <= LIMITS.imap.maxBadCommands; i++) {
      expect((await c.cmd('BLAH')).tagged).toMatch(/BAD/);
    }
    c.write('x BLAH\r\n');
    expect(await c.line()).toMatch(/^\* BYE/);
    expect(await c.waitClosed()).toBe(true);
  });

  it('APPEND literal at APPENDLIMIT is accepted for upload; one byte more is refused before sending', async () => {
    const c = await login(n.port, n.user, n.pass);
    const caps = (await c.cmd('CAPABILITY')).untagged[0]!;
    const limit = Number(/APPENDLIMIT=(\d+)/.exec(caps)![1]);
    expect(limit).toBe(52428800);
    c.write(`t1 APPEND INBOX {${limit + 1}}\r\n`);
    const r = await c.until('t1');
    expect(r.tagged).toMatch(/^t1 NO \[TOOBIG\]/);
    c.write(`t2 APPEND INBOX {${limit}}\r\n`);
    expect(await c.line()).toMatch(/^\+ /);
    c.close();
  });

  it(`${LIMITS.auth.maxFailuresPerConnection} failed logins close the connection, with growing delay`, async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    const times: number[] = [];
    for (let i = 1; i < LIMITS.auth.maxFailuresPerConnection; i++) {
      const t0 = Date.now();
      expect((await c.cmd(`LOGIN nobody${i}@example.org wrong`, 20_000)).tagged).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
      times.push(Date.now() - t0);
    }
    expect(times[0]).toBeGreaterThanOrEqual(LIMITS.auth.failureDelayBaseMs - 50);
    const last = await c.cmd('LOGIN nobody@example.org wrong', 20_000);
    expect(last.tagged).toMatch(/NO \[AUTHENTICATIONFAILED\]/);
    expect(await c.waitFor(/^\* BYE/)).toMatch(/BYE/);
    expect(await c.waitClosed()).toBe(true);
  }, 30_000);
});

describe('plaintext policy', () => {
  let strict: ImapTestNode;
  beforeAll(async () => {
    strict = await startImapNode({ auth: { allow_plaintext: 'never' } });
  });
  afterAll(async () => {
    await strict?.stop();
  });

  it('LOGINDISABLED before TLS; LOGIN refused; after STARTTLS it works', async () => {
    const c = await RawImap.connect(strict.port);
    const greet = await c.line();
    expect(greet).toContain('LOGINDISABLED');
    expect(greet).not.toContain('AUTH=PLAIN');
    expect((await c.cmd(`LOGIN ${strict.user} ${strict.pass}`)).tagged).toMatch(/NO \[PRIVACYREQUIRED\]/);
    expect((await c.cmd('STARTTLS')).tagged).toMatch(/OK/);
    await c.startTls();
    const caps = (await c.cmd('CAPABILITY')).untagged[0]!;
    expect(caps).not.toContain('LOGINDISABLED');
    expect(caps).toContain('AUTH=PLAIN');
    expect((await c.cmd(`LOGIN ${strict.user} ${strict.pass}`)).tagged).toMatch(/OK/);
    c.close();
  });
});
