/**
 * SORT on address keys when the first address is a group (RFC 5256 §3
 * CC/FROM/TO, RFC 5957 §3 DISPLAYFROM/DISPLAYTO), and THREAD=REFERENCES
 * when a message's own References contradict the parent an earlier message
 * gave it (RFC 5256 §4 step 1C), over a real socket. Expected answers are
 * worked out by hand in the comments.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';
import { unicodeCasemap } from '../../src/imap/search/sort.js';

let n: ImapTestNode;
let c: RawImap;

async function mailbox(name: string, raws: string[]): Promise<void> {
  await n.t.ctx.store.user(n.account).createMailbox(name);
  // INTERNALDATE one minute apart in delivery order, so arrival and sent-date fallbacks are known.
  for (let i = 0; i < raws.length; i++) {
    await n.deliver([raws[i]!.replace(/\n/g, '\r\n')], { mailbox: name, internalDate: new Date(Date.UTC(2026, 5, 1, 12, i)) });
  }
  expect((await c.cmd(`SELECT ${name}`)).tagged).toMatch(/ OK /);
}

const answer = async (cmd: string): Promise<string> => {
  const r = await c.cmd(cmd);
  expect(r.tagged).toMatch(/ OK /);
  return r.untagged.find((l) => /^\* (SORT|THREAD)\b/.test(l)) ?? '';
};

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('SORT: a group first in the list sorts by the group name', () => {
  /**
   * seq Cc (first address)            CC key   To                               DISPLAYTO key
   *  1  mona@b.example                mona     Mona Lisa <m@b.example>          mona lisa
   *  2  mona: x@b.example;            mona     hal@b.example                    hal@b.example
   *  3  kay@b.example                 kay      board: p@b.example, q@b.example; board
   *  4  (none)                        ""       =?utf-8?q?=C3=89mile?= <e@b.e>   émile
   *  5  zed@b.example                 zed      nobody:;                         nobody
   * CC: 4 ("") 3 (kay) 1 2 (mona, tie on sequence) 5.
   * DISPLAYTO under i;unicode-casemap (RFC 5051: titlecase, then decomposed, so É is E + U+0301):
   * BOARD, E\u0301MILE, HAL@B.EXAMPLE, MONA LISA, NOBODY.
   */
  beforeAll(async () => {
    const msg = (cc: string | null, to: string, k: number): string => `From: f${k}@a.example\nTo: ${to}\n${cc === null ? '' : `Cc: ${cc}\n`}Subject: s${k}\n\nbody\n`;
    await mailbox('Groups', [
      msg('mona@b.example', 'Mona Lisa <m@b.example>', 1),
      msg('mona: x@b.example;', 'hal@b.example', 2),
      msg('kay@b.example', 'board: p@b.example, q@b.example;', 3),
      msg(null, '=?utf-8?q?=C3=89mile?= <e@b.example>', 4),
      msg('zed@b.example', 'nobody:;', 5),
    ]);
  });

  it('SORT (CC) and (REVERSE CC): ties stay in sequence order', async () => {
    expect(await answer('SORT (CC) US-ASCII ALL')).toBe('* SORT 4 3 1 2 5');
    expect(await answer('SORT (REVERSE CC) US-ASCII ALL')).toBe('* SORT 5 1 2 3 4');
    expect(await answer('SORT (CC REVERSE ARRIVAL) US-ASCII ALL')).toBe('* SORT 4 3 2 1 5');
  });

  it('SORT (DISPLAYTO): display name, else addr-spec, a group by its name', async () => {
    expect(await answer('SORT (DISPLAYTO) UTF-8 ALL')).toBe('* SORT 3 4 2 1 5');
    expect(await answer('SORT (REVERSE DISPLAYTO) UTF-8 ALL')).toBe('* SORT 5 1 2 4 3');
  });
});

describe('i;unicode-casemap keys (RFC 5051 §2)', () => {
  it('simple title case, then NFKD', () => {
    expect(unicodeCasemap('Émile')).toBe('E\u0301MILE');
    // No one-character title case: unchanged (full upper case would give "SS").
    expect(unicodeCasemap('straße')).toBe('STRAßE');
    // Digraphs take their title-case form (U+01C5 "Dž"), not their upper case ("DŽ"), then decompose.
    expect(unicodeCasemap('\u01c6emal')).toBe('Dz\u030cEMAL');
    expect(unicodeCasemap('\u01c4EMAL')).toBe('Dz\u030cEMAL');
    // Compatibility decomposition: the ligature becomes two letters.
    expect(unicodeCasemap('\ufb01le')).toBe('fiLE');
  });
});

describe('THREAD=REFERENCES: step 1C drops an earlier parent, and a loop leaves a root', () => {
  /**
   * seq Message-ID  References        INTERNALDATE (no Date: header)
   *  1  <r1@t>                        12:00
   *  2  <r2@t>      <r1@t> <r3@t>     12:01   r3 becomes r1's child, r2 r3's child
   *  3  <r3@t>      <r2@t>            12:02   r3's parent is now r2 (drop r1); r2 is r3's child: a loop,
   *                                           so r3 stays a root with r2 under it
   * Roots by their own date: r1 (12:00), then r3 (12:02): (1)(3 2). Keeping r1 as r3's parent
   * instead gave (1 3 2).
   */
  beforeAll(async () => {
    await mailbox('Loop', [
      'Message-ID: <r1@t>\nSubject: one\n\nb\n',
      'Message-ID: <r2@t>\nReferences: <r1@t> <r3@t>\nSubject: two\n\nb\n',
      'Message-ID: <r3@t>\nReferences: <r2@t>\nSubject: three\n\nb\n',
    ]);
  });

  it('answers (1)(3 2), and after r1 is expunged (2 1)', async () => {
    expect(await answer('THREAD REFERENCES US-ASCII ALL')).toBe('* THREAD (1)(3 2)');
    expect(await answer('UID THREAD REFERENCES US-ASCII ALL')).toBe('* THREAD (1)(3 2)');
    await c.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await c.cmd('EXPUNGE');
    // Left: r2 (seq 1, refs r1 r3) and r3 (seq 2, refs r2): r3 a root, r2 its child; r1 is an empty dummy and goes.
    expect(await answer('THREAD REFERENCES US-ASCII ALL')).toBe('* THREAD (2 1)');
  });
});
