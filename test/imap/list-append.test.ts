/**
 * LIST-EXTENDED (RFC 5258), LIST-STATUS (RFC 5819), CREATE-SPECIAL-USE
 * (RFC 6154 §3) and MULTIAPPEND (RFC 3502, all or nothing).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  await c.cmd('CREATE Lists.A');
  await c.cmd('CREATE Lists.B');
  await c.cmd('CREATE Other');
  // CREATE does not subscribe (RFC 3501 §6.3.3): only Lists.A is subscribed.
  await c.cmd('SUBSCRIBE Lists.A');
  await n.deliver([message(1), message(2)], { mailbox: 'Lists.A' });
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('LIST-EXTENDED and LIST-STATUS', () => {
  it('advertises them', async () => {
    const cap = (await c.cmd('CAPABILITY')).untagged[0]!;
    for (const x of ['LIST-EXTENDED', 'LIST-STATUS', 'CREATE-SPECIAL-USE', 'MULTIAPPEND']) expect(cap).toContain(` ${x}`);
  });

  it('(SUBSCRIBED) selection, RECURSIVEMATCH with CHILDINFO, RETURN (SUBSCRIBED)', async () => {
    const sub = await c.cmd('LIST (SUBSCRIBED) "" "Lists*"');
    expect(sub.untagged).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "." Lists.A']);
    const rec = await c.cmd('LIST (SUBSCRIBED RECURSIVEMATCH) "" "%"');
    expect(rec.untagged.find((l) => l.includes(' Lists'))).toMatch(/^\* LIST \([^)]*\) "\." Lists \("CHILDINFO" \("SUBSCRIBED"\)\)$/);
    expect(rec.untagged.some((l) => l.includes('Other'))).toBe(false);
    const ret = await c.cmd('LIST "" "Lists.*" RETURN (SUBSCRIBED)');
    expect(ret.untagged).toEqual(['* LIST (\\HasNoChildren \\Subscribed) "." Lists.A', '* LIST (\\HasNoChildren) "." Lists.B']);
  });

  it('RETURN (STATUS (MESSAGES UIDNEXT SIZE)) adds a STATUS line per selectable mailbox (RFC 5819)', async () => {
    const r = await c.cmd('LIST "" "Lists*" RETURN (STATUS (MESSAGES UIDNEXT))');
    expect(r.tagged).toMatch(/OK/);
    const i = r.untagged.indexOf('* LIST (\\HasNoChildren) "." Lists.A');
    expect(i).toBeGreaterThanOrEqual(0);
    expect(r.untagged[i + 1]).toBe('* STATUS Lists.A (MESSAGES 2 UIDNEXT 3)');
    expect(r.untagged).toContain('* STATUS Lists.B (MESSAGES 0 UIDNEXT 1)');
    // The parent that exists only through its children gets no STATUS.
    expect(r.untagged.some((l) => l.startsWith('* STATUS Lists ('))).toBe(false);
  });
});

describe('CREATE-SPECIAL-USE and MULTIAPPEND', () => {
  it('CREATE with USE sets the special use; two uses are refused', async () => {
    expect((await c.cmd('CREATE Saved (USE (\\Archive))')).tagged).toMatch(/OK/);
    expect((await c.cmd('LIST "" Saved')).untagged[0]).toMatch(/\\Archive/);
    expect((await c.cmd('CREATE Two (USE (\\Archive \\Flagged))')).tagged).toMatch(/NO \[USEATTR\]/);
  });

  it('MULTIAPPEND stores every message with one APPENDUID', async () => {
    const a = message(11);
    const b = message(12);
    c.write(`m1 APPEND Other (\\Seen) {${a.length}+}\r\n${a} {${b.length}+}\r\n${b}\r\n`);
    const r = await c.until('m1');
    expect(r.tagged).toMatch(/^m1 OK \[APPENDUID \d+ 1:2\]/);
    expect((await c.cmd('STATUS Other (MESSAGES)')).untagged[0]).toBe('* STATUS Other (MESSAGES 2)');
  });

  it('MULTIAPPEND is all or nothing: over quota on the second message leaves the mailbox unchanged', async () => {
    await n.t.addUser('tiny@example.org', 'tiny-pw', { quotaMessages: 1 });
    const t = await login(n.port, 'tiny@example.org', 'tiny-pw');
    const a = message(21);
    const b = message(22);
    t.write(`m2 APPEND INBOX {${a.length}+}\r\n${a} {${b.length}+}\r\n${b}\r\n`);
    expect((await t.until('m2')).tagged).toMatch(/^m2 NO \[OVERQUOTA\]/);
    expect((await t.cmd('STATUS INBOX (MESSAGES)')).untagged[0]).toBe('* STATUS INBOX (MESSAGES 0)');
    t.close();
  });
});
