/**
 * MULTIAPPEND (RFC 3502) bounds: a message count per command
 * (LIMITS.imap.maxAppendMessages, N accepted, N+1 refused with NO [LIMIT] and
 * nothing stored: the command is atomic), and descriptors: while a client
 * holds an unfinished MULTIAPPEND open, only the first
 * LIMITS.imap.appendOpenDrafts messages keep a spool fd; the rest are synced
 * and closed, and still arrive intact when the command ends.
 */
import { readdirSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { login } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

const limits = LIMITS.imap as { maxAppendMessages: number };
const saved = limits.maxAppendMessages;
const N = 40;
let n: ImapTestNode;

beforeAll(async () => {
  limits.maxAppendMessages = N;
  n = await startImapNode();
});
afterAll(async () => {
  limits.maxAppendMessages = saved;
  await n?.stop();
});

const msg = (i: number): string => `Subject: m${i}\r\n\r\nbody ${i}\r\n`;
/** One message of a MULTIAPPEND with a LITERAL+ literal. */
const part = (i: number): string => ` {${Buffer.byteLength(msg(i))}+}\r\n${msg(i)}`;
/** Descriptors this process holds on spool files (the node runs in-process; other files, e.g. the background full-text indexer's reads, do not count). */
const fds = (): number => {
  const spool = path.join(n.t.dataDir, 'spool');
  let count = 0;
  for (const fd of readdirSync('/proc/self/fd')) {
    try {
      if (readlinkSync(`/proc/self/fd/${fd}`).startsWith(spool)) count++;
    } catch {
      // closed meanwhile
    }
  }
  return count;
};

describe('MULTIAPPEND limits', () => {
  it(`${N} messages in one APPEND are stored; ${N + 1} are refused with NO [LIMIT] and none is stored`, async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('CREATE Many');
    await c.cmd('CREATE TooMany');
    c.write(`a1 APPEND Many${Array.from({ length: N }, (_, i) => part(i)).join('')}\r\n`);
    expect(await c.waitFor(/^a1 /, 60_000)).toMatch(/^a1 OK \[APPENDUID \d+ 1:40\]/);
    c.write(`a2 APPEND TooMany${Array.from({ length: N + 1 }, (_, i) => part(i)).join('')}\r\n`);
    expect(await c.waitFor(/^a2 /, 60_000)).toMatch(/^a2 NO \[LIMIT\]/);
    // The connection keeps serving, and the refused command left nothing behind.
    expect((await c.cmd('STATUS Many (MESSAGES)')).untagged).toContain('* STATUS Many (MESSAGES 40)');
    expect((await c.cmd('STATUS TooMany (MESSAGES)')).untagged).toContain('* STATUS TooMany (MESSAGES 0)');
    c.close();
  });

  it('an unfinished MULTIAPPEND holds at most appendOpenDrafts spool descriptors; its messages arrive intact', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('CREATE Held');
    const before = fds();
    // 30 messages sent, the command left open (no final CRLF).
    c.write(`h1 APPEND Held${Array.from({ length: 30 }, (_, i) => part(i)).join('')}`);
    // Wait until the server has taken them all (it answers NOOP-free: poll the spool fds it holds).
    const deadline = Date.now() + 60_000;
    let peak = 0;
    let stable = 0;
    let last = -1;
    while (Date.now() < deadline && stable < 20) {
      const now = fds() - before;
      peak = Math.max(peak, now);
      stable = now === last ? stable + 1 : 0;
      last = now;
      await new Promise((r) => setTimeout(r, 25));
    }
    // Open drafts plus a few the spool pool keeps ready; never one per message.
    expect(peak).toBeLessThanOrEqual(LIMITS.imap.appendOpenDrafts + 8);
    // The count sees the drafts at all (not a vacuous bound).
    expect(peak).toBeGreaterThan(0);
    c.write('\r\n');
    expect(await c.waitFor(/^h1 /, 60_000)).toMatch(/^h1 OK/);
    await c.cmd('SELECT Held');
    const f = await c.cmd('FETCH 30 (BODY[])');
    expect(f.untagged.join('\r\n')).toContain('body 29');
    c.close();
  });
});
