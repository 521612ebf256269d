/**
 * LIST patterns over a real socket (RFC 3501 §6.3.8): patterns are not
 * mailbox names, wildcard matching is linear, the pattern bounds.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';
import { LIMITS } from '../../src/limits.js';

let n: ImapTestNode;
let c: RawImap;

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  expect((await c.cmd(`CREATE ${'a'.repeat(200)}`)).tagged).toMatch(/OK/);
  expect((await c.cmd('CREATE Entw&APw-rfe')).tagged).toMatch(/OK/);
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('LIST patterns', () => {
  it('a pattern with an "&" that starts no modified UTF-7 run is answered OK and matches nothing (imaptest atoms)', async () => {
    const r = await c.cmd("LIST \"\" !#$&'+,-.0123456789:;<=>?@^_`|[}%*");
    expect(r.tagged).toMatch(/^a\d+ OK/);
    expect(r.untagged).toEqual([]);
    // SELECT still takes a mailbox name, and refuses the same text.
    expect((await c.cmd("SELECT !#$&'+,-.0123456789:;<=>?@^_`|[}")).tagged).toMatch(/^a\d+ NO/);
  });

  it('a canonical run in a pattern still matches the decoded name', async () => {
    const r = await c.cmd('LIST "" Entw&APw-*');
    expect(r.untagged).toEqual(['* LIST (\\HasNoChildren) "." Entw&APw-rfe']);
  });

  it('a pattern that is exponential for a backtracking matcher is answered at once', async () => {
    const long = 'a'.repeat(200);
    const miss = await c.cmd(`LIST "" "${'*a'.repeat(40)}*b"`, 20_000);
    expect(miss.tagged).toMatch(/OK/);
    expect(miss.untagged).toEqual([]);
    const hit = await c.cmd(`LIST "" "${'%a'.repeat(40)}%"`, 20_000);
    expect(hit.untagged).toEqual([`* LIST (\\HasNoChildren) "." ${long}`]);
    // The session is still responsive afterwards.
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
  });

  it(`takes patterns and references of ${LIMITS.imap.maxListPatternLength} octets and refuses one more`, async () => {
    const max = LIMITS.imap.maxListPatternLength;
    const ok = await c.cmd(`LIST "" "${'*'.repeat(max - 1)}b"`);
    expect(ok.tagged).toMatch(/OK/);
    const over = await c.cmd(`LIST "" "${'*'.repeat(max)}b"`);
    expect(over.tagged).toMatch(/^a\d+ NO \[LIMIT\]/);
    expect((await c.cmd(`LSUB "${'x'.repeat(max)}" "*"`)).tagged).toMatch(/OK/);
    expect((await c.cmd(`LSUB "${'x'.repeat(max + 1)}" "*"`)).tagged).toMatch(/^a\d+ NO \[LIMIT\]/);
  });

  it(`takes ${LIMITS.imap.maxListPatterns} patterns in a LIST-EXTENDED list and refuses one more`, async () => {
    const max = LIMITS.imap.maxListPatterns;
    const list = (k: number): string => Array.from({ length: k }, (_, i) => (i === 0 ? 'Entw*' : `p${i}`)).join(' ');
    const ok = await c.cmd(`LIST "" (${list(max)})`);
    expect(ok.tagged).toMatch(/OK/);
    expect(ok.untagged).toEqual(['* LIST (\\HasNoChildren) "." Entw&APw-rfe']);
    expect((await c.cmd(`LIST "" (${list(max + 1)})`)).tagged).toMatch(/^a\d+ NO \[LIMIT\]/);
  });
});
