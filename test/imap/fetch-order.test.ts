/**
 * FETCH item order (RFC 3501 §7.4.2 leaves it open): UID first, then the
 * items answered inline in request order, then the literals in request
 * order, as Dovecot answers. Implicit FLAGS after \Seen stays correct.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;
const m1 = message(1);
const big = message(2, { body: 'x'.repeat(100) + '\r\n' + 'line of a long body\r\n'.repeat(2000) });

beforeAll(async () => {
  n = await startImapNode();
  await n.deliver([m1, big], { mailbox: 'INBOX' });
  c = await login(n.port, n.user, n.pass);
  // Delivered before this first SELECT: \Recent in this session (RFC 3501 §2.3.2), so every FLAGS below carries it.
  await c.cmd('SELECT INBOX');
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('FETCH item order', () => {
  it('FETCH 1 (BODY[] RFC822.SIZE FLAGS UID): UID, RFC822.SIZE, FLAGS, then the literal', async () => {
    const r = await c.cmd('FETCH 1 (BODY[] RFC822.SIZE FLAGS UID)');
    expect(r.untagged).toEqual([`* 1 FETCH (UID 1 RFC822.SIZE ${m1.length} FLAGS (\\Recent \\Seen) BODY[] {${m1.length}}\r\n${m1})`]);
  });

  it('sections and ENVELOPE: inline items first, literals in request order', async () => {
    const r = await c.cmd('FETCH 1 (BODY.PEEK[TEXT] INTERNALDATE BODY.PEEK[HEADER.FIELDS (SUBJECT)] ENVELOPE)');
    const line = r.untagged[0]!;
    expect(line).toMatch(/^\* 1 FETCH \(INTERNALDATE "[^"]+" ENVELOPE \(.*\) BODY\[TEXT\] \{\d+\}\r\nBody of message 1\.\r\n BODY\[HEADER\.FIELDS \(SUBJECT\)\] \{\d+\}\r\nSubject: Message 1\r\n\r\n\)$/s);
  });

  it('UID FETCH keeps UID first; a \\Seen-setting section brings FLAGS before the streamed literal', async () => {
    const r = await c.cmd('UID FETCH 2 (BODY[TEXT] RFC822.SIZE)');
    expect(r.untagged).toHaveLength(1);
    const head = r.untagged[0]!.slice(0, r.untagged[0]!.indexOf('\r\n'));
    expect(head).toMatch(/^\* 2 FETCH \(UID 2 FLAGS \(\\Recent \\Seen\) RFC822\.SIZE \d+ BODY\[TEXT\] \{\d+\}$/);
    expect(r.untagged[0]!.endsWith('line of a long body\r\n\r\n)')).toBe(true);
  });

  it('explicit FLAGS shows the flags after the implicit \\Seen, in its own place', async () => {
    expect((await c.cmd('STORE 1:2 -FLAGS (\\Seen)')).tagged).toMatch(/OK/);
    const r = await c.cmd('FETCH 1 (RFC822.HEADER FLAGS)');
    expect(r.untagged).toHaveLength(1);
    expect(r.untagged[0]).toMatch(/^\* 1 FETCH \(FLAGS \(\\Recent\) RFC822\.HEADER \{\d+\}\r\n/);
    const t = await c.cmd('FETCH 1 (RFC822.TEXT FLAGS)');
    expect(t.untagged).toEqual(['* 1 FETCH (FLAGS (\\Recent \\Seen) RFC822.TEXT {20}\r\nBody of message 1.\r\n)']);
  });
});
