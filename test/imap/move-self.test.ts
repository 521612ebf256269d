/**
 * MOVE and COPY into the selected mailbox itself (RFC 6851 §3.3, RFC 3501
 * §6.4.7): legal; the copies get new UIDs (COPYUID, RFC 4315 §3), MOVE
 * expunges the originals and the copies arrive as EXISTS (imaptest move).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
/** \Recent is another matter (RFC 3501 §2.3.2); these tests look at EXPUNGE/EXISTS order. */
const noRecent = (lines: string[]): string[] => lines.filter((l) => !/^\* \d+ RECENT$/.test(l));
let c: RawImap;

beforeAll(async () => {
  n = await startImapNode();
  await n.deliver([message(1), message(2), message(3)], { mailbox: 'INBOX' });
  c = await login(n.port, n.user, n.pass);
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('MOVE and COPY into the selected mailbox', () => {
  it('MOVE 1 to itself: COPYUID with a new UID, EXPUNGE of the original, EXISTS of the copy', async () => {
    const sel = await c.cmd('SELECT INBOX');
    const uv = /UIDVALIDITY (\d+)/.exec(sel.untagged.join('\n'))![1];
    expect(sel.untagged).toContain('* 3 EXISTS');
    const mv = await c.cmd('MOVE 1 INBOX');
    expect(mv.tagged).toMatch(/^a\d+ OK/);
    expect(noRecent(mv.untagged)).toEqual([`* OK [COPYUID ${uv} 1 4] Moved UIDs`, '* 1 EXPUNGE', '* 3 EXISTS']);
    const f = await c.cmd('FETCH 1:* (UID FLAGS)');
    expect(f.untagged.map((l) => /UID (\d+)/.exec(l)![1])).toEqual(['2', '3', '4']);
    const body = await c.cmd('UID FETCH 4 BODY.PEEK[HEADER.FIELDS (SUBJECT)]');
    expect(body.untagged[0]).toContain('Subject: Message 1');
  });

  it('UID MOVE keeps the flags and the contents; UID COPY to itself adds a copy', async () => {
    expect((await c.cmd('UID STORE 2 +FLAGS (\\Flagged)')).tagged).toMatch(/OK/);
    const mv = await c.cmd('UID MOVE 2 INBOX');
    expect(noRecent(mv.untagged)).toEqual([expect.stringMatching(/^\* OK \[COPYUID \d+ 2 5\]/), '* 1 EXPUNGE', '* 3 EXISTS']);
    const f = await c.cmd('UID FETCH 5 (FLAGS)');
    // Moved into the mailbox this session owns: \Recent here (RFC 3501 §2.3.2).
    expect(f.untagged).toEqual(['* 3 FETCH (UID 5 FLAGS (\\Recent \\Flagged))']);
    const cp = await c.cmd('UID COPY 3 INBOX');
    expect(cp.tagged).toMatch(/^a\d+ OK \[COPYUID \d+ 3 6\]/);
    expect(noRecent(cp.untagged)).toEqual(['* 4 EXISTS']);
    const st = await c.cmd('STATUS INBOX (MESSAGES UIDNEXT)');
    expect(st.untagged).toEqual(['* STATUS INBOX (MESSAGES 4 UIDNEXT 7)']);
  });

  it('a second session sees the MOVE as EXPUNGE and EXISTS', async () => {
    const d = await login(n.port, n.user, n.pass);
    try {
      const sel = await d.cmd('SELECT INBOX');
      expect(sel.untagged, sel.untagged.join('\n')).toContain('* 4 EXISTS');
      const mv = await c.cmd('MOVE 1 INBOX');
      expect(mv.tagged).toMatch(/OK/);
      const noop = await d.cmd('NOOP');
      expect(noRecent(noop.untagged)).toEqual(['* 1 EXPUNGE', '* 4 EXISTS']);
      const f = await d.cmd('FETCH 4 (UID)');
      expect(f.untagged).toEqual(['* 4 FETCH (UID 7)']);
    } finally {
      d.close();
    }
  });
});
