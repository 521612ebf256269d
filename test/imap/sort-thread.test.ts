/**
 * ESEARCH (RFC 4731), SEARCHRES (RFC 5182), WITHIN (RFC 5032), SORT and
 * SORT=DISPLAY (RFC 5256 §3, RFC 5957), ESORT (RFC 5267) and THREAD
 * ORDEREDSUBJECT / REFERENCES (RFC 5256 §3, §4) over a small designed
 * mailbox whose expected answers are worked out by hand in the comments.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;

/**
 * seq subject                 from                      Date   Message-ID  refs
 *  1  Re: Lunch               Bob <bob@x>               10:05  <b@x>       In-Reply-To <a@x>
 *  2  Lunch                   Zed Alice <alice@x>       10:00  <a@x>
 *  3  [list] Meeting          Carol <carol@x>           09:00  <c@x>
 *  4  Re: Re: lunch           Dave <dave@x>             10:10  <d@x>       References <a@x> <b@x>
 *  5  Other                   Eve <eve@x>               08:00  <e@x>       References <zz@x>
 *  6  Fwd: Meeting (fwd)      Frank <frank@x>           11:00  <f@x>
 * INTERNALDATE runs backwards (message 6 arrived first).
 */
const MSGS: [string, string, string, string, string][] = [
  ['Re: Lunch', 'Bob <bob@x.example>', '10:05', '<b@x>', 'In-Reply-To: <a@x>\r\n'],
  ['Lunch', 'Zed Alice <alice@x.example>', '10:00', '<a@x>', ''],
  ['[list] Meeting', 'Carol <carol@x.example>', '09:00', '<c@x>', ''],
  ['Re: Re: lunch', 'Dave <dave@x.example>', '10:10', '<d@x>', 'References: <a@x> <b@x>\r\n'],
  ['Other', 'Eve <eve@x.example>', '08:00', '<e@x>', 'References: <zz@x>\r\n'],
  ['Fwd: Meeting (fwd)', 'Frank <frank@x.example>', '11:00', '<f@x>', ''],
];

beforeAll(async () => {
  n = await startImapNode();
  await n.t.ctx.store.user(n.account).createMailbox('St');
  for (let i = 0; i < MSGS.length; i++) {
    const [subject, from, time, id, extra] = MSGS[i]!;
    const body = 'x'.repeat(10 + ((i * 37) % 50));
    const raw = `From: ${from}\r\nTo: alice@x.example\r\nSubject: ${subject}\r\nDate: Tue, 24 Nov 2026 ${time}:00 +0000\r\nMessage-ID: ${id}\r\n${extra}\r\n${body}\r\n`;
    await n.deliver([raw], { mailbox: 'St', internalDate: new Date(Date.UTC(2026, 0, 20 - i)) });
  }
  c = await login(n.port, n.user, n.pass);
  await c.cmd('SELECT St');
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

const first = async (cmd: string): Promise<string> => {
  const r = await c.cmd(cmd);
  expect(r.tagged).toMatch(/ OK /);
  return r.untagged[0] ?? '';
};

describe('ESEARCH, SEARCHRES, WITHIN', () => {
  it('advertises the extensions', async () => {
    const cap = await first('CAPABILITY');
    for (const x of ['ESEARCH', 'SEARCHRES', 'WITHIN', 'SORT', 'SORT=DISPLAY', 'ESORT', 'THREAD=ORDEREDSUBJECT', 'THREAD=REFERENCES']) expect(cap).toContain(` ${x}`);
  });

  it('RETURN (MIN MAX COUNT ALL), RETURN (), UID form, empty result (RFC 4731 §3.1)', async () => {
    const r = await c.cmd('SEARCH RETURN (MIN MAX COUNT) SUBJECT lunch');
    expect(r.untagged).toEqual([`* ESEARCH (TAG "${r.tagged.split(' ')[0]}") MIN 1 MAX 4 COUNT 3`]);
    const all = await c.cmd('SEARCH RETURN () NOT SUBJECT other');
    expect(all.untagged[0]).toMatch(/\) ALL 1:4,6$/);
    expect(await first('UID SEARCH RETURN (COUNT ALL) SUBJECT meeting')).toMatch(/^\* ESEARCH \(TAG "a\d+"\) UID COUNT 2 ALL 3,6$/);
    expect(await first('SEARCH RETURN (MIN COUNT) SUBJECT nothing-like-this')).toMatch(/^\* ESEARCH \(TAG "a\d+"\) COUNT 0$/);
  });

  it('SAVE keeps the result for $ (RFC 5182), alone it sends nothing; MIN with SAVE keeps only the minimum', async () => {
    const r = await c.cmd('SEARCH RETURN (SAVE) SUBJECT lunch');
    expect(r.untagged).toEqual([]);
    expect((await c.cmd('FETCH $ (UID)')).untagged).toEqual(['* 1 FETCH (UID 1)', '* 2 FETCH (UID 2)', '* 4 FETCH (UID 4)']);
    expect(await first('UID SEARCH UID $ FROM dave')).toBe('* SEARCH 4');
    expect(await first('SEARCH $')).toBe('* SEARCH 1 2 4');
    await c.cmd('SEARCH RETURN (SAVE MIN) SUBJECT lunch');
    expect(await first('SEARCH $')).toBe('* SEARCH 1');
    await c.cmd('SEARCH RETURN (SAVE) SUBJECT nothing-like-this');
    expect(await first('SEARCH $')).toBe('* SEARCH');
  });

  it('WITHIN: OLDER/YOUNGER against INTERNALDATE (RFC 5032)', async () => {
    expect(await first('SEARCH YOUNGER 3600')).toBe('* SEARCH');
    expect(await first('SEARCH OLDER 3600')).toBe('* SEARCH 1 2 3 4 5 6');
  });
});

describe('SORT (RFC 5256 §3, RFC 5957) and ESORT (RFC 5267)', () => {
  it('sorts by each key', async () => {
    // Base subjects LUNCH(1,2,4) < MEETING(3,6) < OTHER(5); ties by sequence number.
    expect(await first('SORT (SUBJECT) UTF-8 ALL')).toBe('* SORT 1 2 4 3 6 5');
    expect(await first('SORT (DATE) UTF-8 ALL')).toBe('* SORT 5 3 2 1 4 6');
    expect(await first('SORT (REVERSE DATE) UTF-8 ALL')).toBe('* SORT 6 4 1 2 3 5');
    expect(await first('SORT (ARRIVAL) UTF-8 ALL')).toBe('* SORT 6 5 4 3 2 1');
    expect(await first('SORT (FROM) UTF-8 ALL')).toBe('* SORT 2 1 3 4 5 6');
    expect(await first('SORT (DISPLAYFROM) UTF-8 ALL')).toBe('* SORT 1 3 4 5 6 2');
    expect(await first('SORT (SUBJECT REVERSE DATE) UTF-8 ALL')).toBe('* SORT 4 1 2 6 3 5');
    expect(await first('UID SORT (REVERSE ARRIVAL) UTF-8 SUBJECT meeting')).toBe('* SORT 3 6');
    // SIZE against RFC822.SIZE as FETCH reports it.
    const sizes = (await c.cmd('FETCH 1:* (RFC822.SIZE)')).untagged.map((l) => {
      const m = /^\* (\d+) FETCH \(RFC822\.SIZE (\d+)\)$/.exec(l)!;
      return { seq: Number(m[1]), size: Number(m[2]) };
    });
    const want = [...sizes].sort((a, b) => a.size - b.size || a.seq - b.seq).map((x) => x.seq);
    expect(await first('SORT (SIZE) UTF-8 ALL')).toBe(`* SORT ${want.join(' ')}`);
  });

  it('ESORT: MIN/MAX/ALL follow the sort order; SAVE works with SORT', async () => {
    expect(await first('SORT RETURN (MIN MAX COUNT ALL) (DATE) UTF-8 ALL')).toMatch(/^\* ESEARCH \(TAG "a\d+"\) MIN 5 MAX 6 COUNT 6 ALL 5,3,2,1,4,6$/);
    expect(await first('UID SORT RETURN (ALL) (ARRIVAL) UTF-8 ALL')).toMatch(/ UID ALL 6,5,4,3,2,1$/);
    await c.cmd('SORT RETURN (SAVE) (DATE) UTF-8 FROM eve');
    expect(await first('SEARCH $')).toBe('* SEARCH 5');
  });
});

describe('THREAD (RFC 5256)', () => {
  it('ORDEREDSUBJECT: subject groups, children of the first message, threads by date', async () => {
    expect(await first('THREAD ORDEREDSUBJECT UTF-8 ALL')).toBe('* THREAD (5)(3 6)(2 (1)(4))');
  });

  it('REFERENCES: chains by References/In-Reply-To, dummy parent promoted, same-subject reply gathered', async () => {
    expect(await first('THREAD REFERENCES UTF-8 ALL')).toBe('* THREAD (5)(3 6)(2 1 4)');
    expect(await first('UID THREAD REFERENCES UTF-8 SUBJECT lunch')).toBe('* THREAD (2 1 4)');
    expect(await first('THREAD REFERENCES UTF-8 SUBJECT nothing-like-this')).toBe('* THREAD');
  });
});
