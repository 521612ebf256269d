/**
 * Implicit \Seen (RFC 3501 §6.4.5) is applied per window of
 * LIMITS.imap.fetchSeenWindow messages, after the window's files are read
 * or opened (commands/fetch.ts). At N and N+1 messages every answer still
 * carries the new FLAGS and its own body, and under CONDSTORE the MODSEQ of
 * its own change (RFC 7162 §3.1), across the window boundary.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

const N = LIMITS.imap.fetchSeenWindow;
let n: ImapTestNode;
let c: RawImap;

beforeAll(async () => {
  n = await startImapNode();
  await n.deliver(
    Array.from({ length: N + 1 }, (_, i) => message(i + 1)),
    { mailbox: 'INBOX' },
  );
  c = await login(n.port, n.user, n.pass);
  await c.cmd('SELECT INBOX');
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

const seenOf = async (): Promise<number[]> => {
  const r = await c.cmd('FETCH 1:* (FLAGS)');
  return r.untagged.filter((l) => /\\Seen/.test(l)).map((l) => Number(/^\* (\d+) /.exec(l)![1]));
};
const range = (from: number, to: number): number[] => Array.from({ length: to - from + 1 }, (_, i) => from + i);

describe('FETCH sets \\Seen window by window', () => {
  it(`${N} messages (one window): each answer has FLAGS (\\Seen) and its own text`, async () => {
    const r = await c.cmd(`FETCH 1:${N} BODY[TEXT]`, 20_000);
    expect(r.tagged).toMatch(/OK/);
    expect(r.untagged).toHaveLength(N);
    for (const [i, line] of r.untagged.entries()) {
      expect(line).toBe(`* ${i + 1} FETCH (FLAGS (\\Recent \\Seen) BODY[TEXT] {${`Body of message ${i + 1}.\r\n`.length}}\r\nBody of message ${i + 1}.\r\n)`);
    }
    expect(await seenOf()).toEqual(range(1, N));
  });

  it(`${N + 1} messages (two windows), whole bodies: every answer flagged and whole`, async () => {
    expect((await c.cmd('STORE 1:* -FLAGS.SILENT (\\Seen)')).tagged).toMatch(/OK/);
    const r = await c.cmd(`FETCH 1:${N + 1} BODY[]`, 20_000);
    expect(r.tagged).toMatch(/OK/);
    expect(r.untagged).toHaveLength(N + 1);
    for (const [i, line] of r.untagged.entries()) {
      const m = message(i + 1);
      expect(line).toBe(`* ${i + 1} FETCH (FLAGS (\\Recent \\Seen) BODY[] {${m.length}}\r\n${m})`);
    }
    expect(await seenOf()).toEqual(range(1, N + 1));
  });

  it(`${N + 1} messages under CONDSTORE: each answer reports the MODSEQ its own change got`, async () => {
    expect((await c.cmd('STORE 1:* -FLAGS.SILENT (\\Seen)')).tagged).toMatch(/OK/);
    // RFC 7162 §3.1: FETCH MODSEQ is a CONDSTORE-enabling command (ENABLE is for the authenticated state).
    expect((await c.cmd('FETCH 1 (MODSEQ)')).tagged).toMatch(/OK/);
    const r = await c.cmd(`FETCH 1:${N + 1} BODY[TEXT]`, 20_000);
    expect(r.tagged).toMatch(/OK/);
    expect(r.untagged).toHaveLength(N + 1);
    const reported = r.untagged.map((l) => /^\* \d+ FETCH \(UID \d+ FLAGS \(\\Recent \\Seen\) MODSEQ \((\d+)\) BODY\[TEXT\]/.exec(l)?.[1]);
    expect(reported.every((m) => m !== undefined)).toBe(true);
    const now = (await c.cmd('FETCH 1:* (MODSEQ)')).untagged.map((l) => /MODSEQ \((\d+)\)/.exec(l)![1]);
    expect(reported).toEqual(now);
  });
});
