/**
 * APPENDLIMIT from config (RFC 7889): imap.max_message_size is
 * advertised in CAPABILITY and STATUS and is what APPEND accepts, at N and N+1.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildConfig } from '../../src/config/load.js';
import { LIMITS } from '../../src/limits.js';
import { login } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

const N = 100_000;
let n: ImapTestNode;

beforeAll(async () => {
  n = await startImapNode({ imap: { max_message_size: N } });
});
afterAll(async () => {
  await n.stop();
});

/** A message of exactly `size` octets. */
function messageOf(size: number): string {
  const head = 'Subject: big\r\n\r\n';
  return head + 'x'.repeat(size - head.length);
}

describe('APPENDLIMIT (RFC 7889)', () => {
  it('is advertised in CAPABILITY and STATUS', async () => {
    const c = await login(n.port, n.user, n.pass);
    const caps = (await c.cmd('CAPABILITY')).untagged[0]!;
    expect(caps).toContain(` APPENDLIMIT=${N}`);
    const st = await c.cmd('STATUS INBOX (APPENDLIMIT MESSAGES)');
    expect(st.tagged).toMatch(/^a\d+ OK/);
    expect(st.untagged).toContain(`* STATUS INBOX (APPENDLIMIT ${N} MESSAGES 0)`);
    c.close();
  });

  it(`takes a message of ${N} octets and refuses ${N + 1} before the bytes are sent`, async () => {
    const c = await login(n.port, n.user, n.pass);
    c.write(`t1 APPEND INBOX {${N + 1}}\r\n`);
    expect((await c.until('t1')).tagged).toMatch(/^t1 NO \[TOOBIG\]/);
    c.write(`t2 APPEND INBOX {${N + 1}+}\r\n${messageOf(N + 1)}\r\n`);
    expect((await c.until('t2', 20_000)).tagged).toMatch(/^t2 BAD \[TOOBIG\]/);
    c.write(`t3 APPEND INBOX {${N}}\r\n`);
    expect(await c.line()).toMatch(/^\+ /);
    c.write(`${messageOf(N)}\r\n`);
    expect((await c.until('t3', 20_000)).tagged).toMatch(/^t3 OK \[APPENDUID \d+ 1\]/);
    const st = await c.cmd('STATUS INBOX (MESSAGES SIZE)');
    expect(st.untagged[0]).toMatch(new RegExp(`MESSAGES 1 SIZE ${N}\\)`));
    c.close();
  }, 30_000);

  it('defaults to qmqp.max_message_size and stops the start above the hard ceiling', () => {
    const d = buildConfig({}, null);
    expect(d.imap.max_message_size).toBe(52_428_800);
    expect(d.imap.max_message_size).toBe(d.qmqp.max_message_size);
    expect(buildConfig({ imap: { max_message_size: LIMITS.imap.maxLiteralSize } }, null).imap.max_message_size).toBe(LIMITS.imap.maxLiteralSize);
    expect(() => buildConfig({ imap: { max_message_size: LIMITS.imap.maxLiteralSize + 1 } }, null)).toThrow(/imap\.max_message_size/);
  });
});
