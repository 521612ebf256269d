/**
 * CONTEXT=SEARCH (RFC 5267 §4) over real sockets: live SEARCH RETURN (UPDATE)
 * results told as ADDTO / REMOVEFROM when this or another session changes
 * flags, appends or expunges; CANCELUPDATE; the limit on live contexts
 * (NOUPDATE) at N and N+1; PARTIAL for SEARCH and SORT.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let box = 0;

/** A fresh mailbox with `count` messages, selected by a new connection. */
async function fresh(count: number): Promise<{ c: RawImap; name: string }> {
  const name = `Ctx${++box}`;
  const c = await login(n.port, n.user, n.pass);
  await c.cmd(`CREATE ${name}`);
  // One second apart: ARRIVAL (RFC 5256 §3) is the INTERNALDATE, and messages delivered in the same instant tie —
  // a tie is broken by sequence number ascending even under REVERSE, so equal dates would make the order depend on timing.
  for (let i = 0; i < count; i++) await n.deliver([message(i + 1)], { mailbox: name, internalDate: new Date(Date.UTC(2026, 0, 1, 0, 0, i)) });
  expect((await c.cmd(`SELECT ${name}`)).tagged).toMatch(/OK/);
  return { c, name };
}

const esearch = (lines: readonly string[]): string[] => lines.filter((l) => l.startsWith('* ESEARCH'));

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  await n?.stop();
});

describe('CONTEXT=SEARCH updates', () => {
  it('is advertised', async () => {
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('CAPABILITY')).untagged[0]).toMatch(/ CONTEXT=SEARCH( |$)/);
    c.close();
  });

  it("this session's STORE, EXPUNGE and APPEND: ADDTO after EXISTS, REMOVEFROM before EXPUNGE, nothing after CANCELUPDATE", async () => {
    const { c, name } = await fresh(5);
    const tag = c.nextTag();
    c.write(`${tag} SEARCH RETURN (UPDATE) BODY body SEEN\r\n`);
    expect(await c.until(tag)).toEqual({ untagged: [`* ESEARCH (TAG "${tag}")`], tagged: `${tag} OK Search completed` });

    expect(esearch((await c.cmd('STORE 1,2,4 +FLAGS \\Seen')).untagged)).toEqual([`* ESEARCH (TAG "${tag}") ADDTO (0 1:2,4)`]);
    expect(esearch((await c.cmd('STORE 1,2 -FLAGS \\Seen')).untagged)).toEqual([`* ESEARCH (TAG "${tag}") REMOVEFROM (0 1:2)`]);
    // A change that does not alter the result says nothing.
    expect(esearch((await c.cmd('STORE 4 +FLAGS \\Flagged')).untagged)).toEqual([]);

    await c.cmd('STORE 3:5 +FLAGS \\Deleted');
    const ex = (await c.cmd('EXPUNGE')).untagged;
    // Message 4 matched: it leaves the result while its number is still valid (RFC 5267 §4.3.4).
    expect(ex).toEqual([`* ESEARCH (TAG "${tag}") REMOVEFROM (0 4)`, '* 5 EXPUNGE', '* 4 EXPUNGE', '* 3 EXPUNGE']);

    const m = message(9);
    const ap = await c.cmd(`APPEND ${name} (\\Seen) {${m.length}+}\r\n${m}`);
    const exists = ap.untagged.indexOf('* 3 EXISTS');
    expect(exists).toBeGreaterThanOrEqual(0);
    expect(ap.untagged.indexOf(`* ESEARCH (TAG "${tag}") ADDTO (0 3)`)).toBeGreaterThan(exists);

    expect((await c.cmd(`CANCELUPDATE "${tag}"`)).tagged).toMatch(/OK/);
    expect(esearch((await c.cmd('STORE 1 +FLAGS \\Seen')).untagged)).toEqual([]);
    expect((await c.cmd(`CANCELUPDATE "${tag}"`)).tagged).toMatch(/BAD Unknown update tag/);
    c.close();
  });

  it('UID SEARCH contexts answer in UIDs; changes by another session arrive with NOOP and during IDLE', async () => {
    const { c, name } = await fresh(6);
    const o = await login(n.port, n.user, n.pass);
    await o.cmd(`SELECT ${name}`);
    await o.cmd('STORE 1 +FLAGS \\Deleted');
    await o.cmd('EXPUNGE');
    await c.cmd('NOOP');
    const uids = (await c.cmd('FETCH 1:5 UID')).untagged.map((l) => Number(/UID (\d+)/.exec(l)![1]));
    await c.cmd('STORE 1,2 +FLAGS \\Seen');
    const tag = c.nextTag();
    c.write(`${tag} UID SEARCH RETURN (UPDATE ALL) OR SEEN SUBJECT s33\r\n`);
    expect((await c.until(tag)).untagged).toEqual([`* ESEARCH (TAG "${tag}") UID ALL ${uids[0]}:${uids[1]}`]);

    await o.cmd('STORE 3:5 +FLAGS \\Seen');
    const noop = (await c.cmd('NOOP')).untagged;
    expect(noop.filter((l) => / FETCH /.test(l))).toHaveLength(3);
    expect(esearch(noop)).toEqual([`* ESEARCH (TAG "${tag}") UID ADDTO (0 ${uids[2]}:${uids[4]})`]);

    // During IDLE the update comes as soon as the other session's change does.
    c.write('i1 IDLE\r\n');
    expect(await c.line()).toMatch(/^\+ /);
    await o.cmd('STORE 1:5 -FLAGS \\Seen');
    const seen: string[] = [];
    expect(await c.waitFor(/^\* ESEARCH/, 10_000, seen)).toBe(`* ESEARCH (TAG "${tag}") UID REMOVEFROM (0 ${uids[0]}:${uids[4]})`);
    c.write('DONE\r\n');
    await c.until('i1');

    // Another session's expunge: REMOVEFROM comes before our EXPUNGE.
    await o.cmd('STORE 3,4 +FLAGS \\Seen');
    await c.cmd('NOOP');
    await o.cmd('STORE 3 +FLAGS \\Deleted');
    await o.cmd('EXPUNGE');
    const after = (await c.cmd('NOOP')).untagged;
    const rm = after.indexOf(`* ESEARCH (TAG "${tag}") UID REMOVEFROM (0 ${uids[2]})`);
    expect(rm).toBeGreaterThanOrEqual(0);
    expect(after.indexOf('* 3 EXPUNGE')).toBeGreaterThan(rm);
    o.close();
    c.close();
  });

  it('sequence numbers in the program are fixed when the command runs (RFC 5267 §4.3)', async () => {
    const { c } = await fresh(4);
    const tag = c.nextTag();
    c.write(`${tag} SEARCH RETURN (UPDATE COUNT) 3:4 SEEN\r\n`);
    expect((await c.until(tag)).untagged).toEqual([`* ESEARCH (TAG "${tag}") COUNT 0`]);
    await c.cmd('STORE 1 +FLAGS \\Deleted');
    await c.cmd('EXPUNGE');
    // The messages once numbered 3 and 4 are 2 and 3 now; 1 was never part of the program.
    expect(esearch((await c.cmd('STORE 1:3 +FLAGS \\Seen')).untagged)).toEqual([`* ESEARCH (TAG "${tag}") ADDTO (0 2:3)`]);
    c.close();
  });

  it('updates end when the mailbox is selected again; a tag with live updates cannot be reused', async () => {
    const { c, name } = await fresh(2);
    const tag = c.nextTag();
    c.write(`${tag} SEARCH RETURN (UPDATE) SEEN\r\n`);
    await c.until(tag);
    c.write(`${tag} SEARCH RETURN (UPDATE) ALL\r\n`);
    expect((await c.until(tag)).tagged).toMatch(/^a\d+ BAD Tag reuse/);
    expect(esearch((await c.cmd('STORE 1 +FLAGS \\Seen')).untagged)).toHaveLength(1);
    await c.cmd(`SELECT ${name}`);
    expect(esearch((await c.cmd('STORE 2 +FLAGS \\Seen')).untagged)).toEqual([]);
    expect((await c.cmd(`CANCELUPDATE "${tag}"`)).tagged).toMatch(/BAD/);
    c.close();
  });

  it(`${LIMITS.imap.maxUpdateContexts} live contexts are kept; one more is NO [NOUPDATE] and still answered`, async () => {
    const { c } = await fresh(3);
    const N = LIMITS.imap.maxUpdateContexts;
    const tags: string[] = [];
    for (let i = 0; i < N; i++) {
      const t = c.nextTag();
      tags.push(t);
      c.write(`${t} SEARCH RETURN (UPDATE COUNT) SEEN\r\n`);
      expect(await c.until(t)).toEqual({ untagged: [`* ESEARCH (TAG "${t}") COUNT 0`], tagged: `${t} OK Search completed` });
    }
    const over = c.nextTag();
    c.write(`${over} SEARCH RETURN (UPDATE COUNT) SEEN\r\n`);
    const r = await c.until(over);
    expect(r.untagged).toEqual([`* ESEARCH (TAG "${over}") COUNT 0`, `* NO [NOUPDATE "${over}"] Too many live search updates (limit ${N})`]);
    expect(r.tagged).toMatch(/OK/);
    const upd = esearch((await c.cmd('STORE 1 +FLAGS \\Seen')).untagged);
    expect(upd.sort()).toEqual(tags.map((t) => `* ESEARCH (TAG "${t}") ADDTO (0 1)`).sort());
    // Cancelling one makes room again.
    expect((await c.cmd(`CANCELUPDATE "${tags[0]}" "${tags[1]}"`)).tagged).toMatch(/OK/);
    const again = c.nextTag();
    c.write(`${again} SEARCH RETURN (UPDATE) SEEN\r\n`);
    expect((await c.until(again)).untagged).toEqual([`* ESEARCH (TAG "${again}")`]);
    c.close();
  });
});

describe('PARTIAL (RFC 5267 §4.4)', () => {
  it('SEARCH and UID SEARCH windows, reversed ranges, beyond the end', async () => {
    const { c } = await fresh(5);
    const q = async (text: string): Promise<string> => {
      const t = c.nextTag();
      c.write(`${t} ${text}\r\n`);
      const r = await c.until(t);
      expect(r.tagged).toMatch(/OK/);
      return r.untagged[0]!.replace(`(TAG "${t}") `, '');
    };
    expect(await q('SEARCH RETURN (PARTIAL 1:1) ALL')).toBe('* ESEARCH PARTIAL (1:1 1)');
    expect(await q('SEARCH RETURN (PARTIAL 4:2) ALL')).toBe('* ESEARCH PARTIAL (2:4 2:4)');
    expect(await q('SEARCH RETURN (PARTIAL 1:6) ALL')).toBe('* ESEARCH PARTIAL (1:6 1:5)');
    expect(await q('SEARCH RETURN (PARTIAL 6:6) ALL')).toBe('* ESEARCH PARTIAL (6:6 NIL)');
    expect(await q('SEARCH RETURN (PARTIAL 2:3) 1:2,4:5')).toBe('* ESEARCH PARTIAL (2:3 2,4)');
    expect(await q('SEARCH RETURN (COUNT PARTIAL 2:10 CONTEXT) 1:2,4:5')).toBe('* ESEARCH COUNT 4 PARTIAL (2:10 2,4:5)');
    await c.cmd('STORE 2 +FLAGS \\Deleted');
    await c.cmd('EXPUNGE');
    const uids = (await c.cmd('FETCH 1:* UID')).untagged.map((l) => Number(/UID (\d+)/.exec(l)![1]));
    expect(await q('UID SEARCH RETURN (PARTIAL 2:2) ALL')).toBe(`* ESEARCH UID PARTIAL (2:2 ${uids[1]})`);
    expect(await q('UID SEARCH RETURN (PARTIAL 5:10) ALL')).toBe('* ESEARCH UID PARTIAL (5:10 NIL)');
    for (const bad of ['(PARTIAL 1)', '(PARTIAL 1:*)', '(PARTIAL *:1)', '(PARTIAL 0:3)', '(PARTIAL 1:2 ALL)', '(PARTIAL 1:2 PARTIAL 3:4)', '(PARTIAL)']) {
      expect((await c.cmd(`SEARCH RETURN ${bad} ALL`)).tagged, bad).toMatch(/^a\d+ BAD /);
    }
    c.close();
  });

  it('SORT PARTIAL follows the sort order; SORT UPDATE is refused with NOUPDATE', async () => {
    const { c } = await fresh(5);
    const t = c.nextTag();
    c.write(`${t} SORT RETURN (PARTIAL 2:4) (REVERSE ARRIVAL) US-ASCII ALL\r\n`);
    expect((await c.until(t)).untagged).toEqual([`* ESEARCH (TAG "${t}") PARTIAL (2:4 4,3,2)`]);
    const u = c.nextTag();
    c.write(`${u} SORT RETURN (UPDATE COUNT) (ARRIVAL) US-ASCII ALL\r\n`);
    const r = await c.until(u);
    expect(r.untagged).toEqual([`* ESEARCH (TAG "${u}") COUNT 5`, `* NO [NOUPDATE "${u}"] Updates of sorted results are not offered`]);
    expect(r.tagged).toMatch(/OK/);
    c.close();
  });
});
