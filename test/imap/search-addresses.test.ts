/**
 * store.maxSearchAddresses at N and N+1: SEARCH TO matches the members of
 * an address list in their canonical form (comments gone, so
 * `<user (c)@ (c) far.example>` is found as user@far.example) for the first
 * N members; past them the list is matched in its decoded text only, where
 * the comments stay. Real IMAP SEARCH over a socket against a running node.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { login } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

const N = LIMITS.store.maxSearchAddresses;
let n: ImapTestNode;

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  await n?.stop();
});

/** A message whose To: holds `before` plain members, then the commented address. */
function withMemberAt(before: number, subject: string): string {
  const fillers = Array.from({ length: before }, (_, i) => `f${i}@fill.example`);
  const to = [...fillers, 'user (c)@ (c) far.example'].join(',\r\n ');
  return `From: a@example.org\r\nTo: ${to}\r\nSubject: ${subject}\r\n\r\nbody\r\n`;
}

describe('store.maxSearchAddresses', () => {
  it(`the ${N}th member of a To: list is matched in its canonical form; the ${N + 1}st only as text`, { timeout: 60_000 }, async () => {
    await n.deliver([withMemberAt(N - 1, 'at N'), withMemberAt(N, 'at N+1')]);
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/OK/);
    // Canonical form: only the message where the member is within the first N.
    expect((await c.cmd('SEARCH TO "user@far.example"')).untagged).toEqual(['* SEARCH 1']);
    // Text form: both hold it as written.
    expect((await c.cmd('SEARCH TO "user (c)@ (c) far.example"')).untagged).toEqual(['* SEARCH 1 2']);
    // A plain member past N is still found (in the text).
    expect((await c.cmd(`SEARCH TO "f${N - 1}@fill.example"`)).untagged).toEqual(['* SEARCH 2']);
    await c.cmd('LOGOUT');
  });
});
