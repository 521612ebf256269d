/**
 * Edge cases of the session: STARTTLS command injection (RFC 7817-style:
 * bytes pipelined after STARTTLS are discarded), IDLE ended by something
 * other than DONE, IDLE without a selected mailbox, APPEND into the selected
 * mailbox (EXISTS for this session), RENAME of INBOX (RFC 3501 §6.3.5),
 * SELECT of a missing mailbox leaves the session unselected, and a mailbox
 * deleted under another session's feet.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawImap, login } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;

beforeAll(async () => {
  n = await startImapNode();
  await n.deliver([message(1), message(2)]);
});
afterAll(async () => {
  await n?.stop();
});

describe('session edge cases', () => {
  it('bytes pipelined after STARTTLS are not executed', async () => {
    const c = await RawImap.connect(n.port);
    await c.line();
    c.write(`s1 STARTTLS\r\ns2 LOGIN ${n.user} ${n.pass}\r\n`);
    expect((await c.until('s1')).tagged).toMatch(/^s1 OK/);
    await c.startTls();
    // The injected LOGIN was dropped: still not authenticated.
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/BAD/);
    c.close();
  });

  it('IDLE ended by something other than DONE gets BAD; IDLE works without a selected mailbox', async () => {
    const c = await login(n.port, n.user, n.pass);
    c.write('i1 IDLE\r\n');
    expect(await c.line()).toBe('+ idling');
    c.write('NOPE\r\n');
    expect((await c.until('i1')).tagged).toMatch(/^i1 BAD/);
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
    c.close();
  });

  it('APPEND into the selected mailbox is announced with EXISTS', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('CREATE Sel');
    await c.cmd('SELECT Sel');
    const m = message(7);
    c.write(`p1 APPEND Sel {${m.length}+}\r\n${m}\r\n`);
    const r = await c.until('p1');
    expect(r.untagged).toContain('* 1 EXISTS');
    expect(r.tagged).toMatch(/APPENDUID/);
    c.close();
  });

  it('SELECT of a missing mailbox fails and leaves the session unselected', async () => {
    const c = await login(n.port, n.user, n.pass);
    await c.cmd('SELECT INBOX');
    expect((await c.cmd('SELECT Missing')).tagged).toMatch(/NO \[NONEXISTENT\]/);
    expect((await c.cmd('FETCH 1 UID')).tagged).toMatch(/BAD/);
    c.close();
  });

  it('RENAME INBOX moves its messages and leaves INBOX empty', async () => {
    const c = await login(n.port, n.user, n.pass);
    const before = (await c.cmd('STATUS INBOX (MESSAGES)')).untagged[0]!;
    const count = Number(/MESSAGES (\d+)/.exec(before)![1]);
    expect((await c.cmd('RENAME INBOX OldInbox')).tagged).toMatch(/OK/);
    expect((await c.cmd('STATUS OldInbox (MESSAGES)')).untagged[0]).toBe(`* STATUS OldInbox (MESSAGES ${count})`);
    expect((await c.cmd('STATUS INBOX (MESSAGES)')).untagged[0]).toBe('* STATUS INBOX (MESSAGES 0)');
    c.close();
  });

  it('a mailbox deleted by another session: the session that has it selected is told BYE', async () => {
    const a = await login(n.port, n.user, n.pass);
    await a.cmd('CREATE Doomed');
    const b = await login(n.port, n.user, n.pass);
    await b.cmd('SELECT Doomed');
    expect((await a.cmd('DELETE Doomed')).tagged).toMatch(/OK/);
    b.write('x NOOP\r\n');
    expect(await b.waitFor(/^\* BYE/)).toMatch(/BYE/);
    expect(await b.waitClosed()).toBe(true);
    a.close();
  });
});
