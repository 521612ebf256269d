/**
 * One session's view stays consistent while another changes the mailbox
 * (each case is a failure imaptest's stress mode reported):
 *  - a keyword new to the session is announced in FLAGS and PERMANENTFLAGS
 *    before any FETCH shows it, whoever set it (RFC 3501 §7.2.6);
 *  - a flag change queued from another session never shows older flags or a
 *    lower MODSEQ after the session's own STORE or FETCH answer
 *    (RFC 7162 §3.1.4.1);
 *  - after `* BYE` of LOGOUT only the tagged OK comes (RFC 3501 §6.1.3);
 *  - STORE on a message another session expunged answers OK (RFC 2180 §4.2.1);
 *  - ESEARCH MODSEQ is the highest of the returned messages (RFC 4731 §3.1,
 *    RFC 7162 §3.1.5), as imaptest's esearch-condstore group checks.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let box = 0;
const open: RawImap[] = [];

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  for (const c of open) c.close();
  await n?.stop();
});

/** A fresh mailbox with `count` messages, selected in two sessions (with `select` options). */
async function twoSessions(count: number, select = ''): Promise<{ a: RawImap; b: RawImap; name: string }> {
  const name = `View${++box}`;
  const a = await login(n.port, n.user, n.pass);
  const b = await login(n.port, n.user, n.pass);
  open.push(a, b);
  await a.cmd(`CREATE ${name}`);
  await n.deliver(
    Array.from({ length: count }, (_, i) => message(i + 1)),
    { mailbox: name },
  );
  await a.cmd(`SELECT ${name}${select}`);
  await b.cmd(`SELECT ${name}${select}`);
  return { a, b, name };
}

function modseqOf(line: string): bigint {
  const m = /MODSEQ \((\d+)\)/.exec(line);
  if (!m) throw new Error(`no MODSEQ in ${line}`);
  return BigInt(m[1]!);
}

const FLAGS_WITH = (kw: string): string => `* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft ${kw})`;

describe('keywords are announced before they are shown (RFC 3501 §7.2.6)', () => {
  it("another session's STORE: FLAGS and PERMANENTFLAGS precede the unsolicited FETCH", async () => {
    const { a, b } = await twoSessions(2);
    await a.cmd('STORE 1 +FLAGS.SILENT ($Fresh)');
    expect((await b.cmd('NOOP')).untagged).toEqual([
      FLAGS_WITH('$Fresh'),
      '* OK [PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Fresh \\*)] Flags permitted',
      '* 1 FETCH (UID 1 FLAGS ($Fresh))',
    ]);
    // Announced once: the next change with it needs no FLAGS.
    await a.cmd('STORE 2 +FLAGS.SILENT ($Fresh)');
    expect((await b.cmd('NOOP')).untagged).toEqual(['* 2 FETCH (UID 2 FLAGS ($Fresh))']);
  });

  it('APPEND and COPY by another session: FLAGS comes before the FETCH that shows the keyword', async () => {
    const { a, b, name } = await twoSessions(1);
    const msg = message(9);
    a.write(`t1 APPEND ${name} ($Appended) {${msg.length}+}\r\n${msg}\r\n`);
    expect((await a.until('t1')).tagged).toMatch(/^t1 OK/);
    expect((await b.cmd('NOOP')).untagged).toContain('* 2 EXISTS');
    const f = await b.cmd('FETCH 2 (FLAGS)');
    expect(f.untagged[0]).toBe(FLAGS_WITH('$Appended'));
    expect(f.untagged[2]).toBe('* 2 FETCH (FLAGS ($Appended))');

    await a.cmd('CREATE ViewSrc');
    await n.deliver([message(10)], { mailbox: 'ViewSrc' });
    const c = await login(n.port, n.user, n.pass);
    open.push(c);
    await c.cmd('SELECT ViewSrc');
    await c.cmd('STORE 1 +FLAGS.SILENT ($Copied)');
    expect((await c.cmd(`COPY 1 ${name}`)).tagged).toMatch(/OK/);
    expect((await b.cmd('NOOP')).untagged).toContain('* 3 EXISTS');
    const g = await b.cmd('FETCH 3 (FLAGS)');
    expect(g.untagged[0]).toBe('* FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft $Appended $Copied)');
    expect(g.untagged[2]).toBe('* 3 FETCH (FLAGS ($Copied))');
  });
});

describe('MODSEQ and flags never go back (RFC 7162 §3.1.4.1)', () => {
  it("a change queued from another session does not follow the session's own newer STORE answer with older state", async () => {
    const { a, b } = await twoSessions(2, ' (CONDSTORE)');
    const first = await b.cmd('STORE 1 +FLAGS (\\Seen)');
    const older = modseqOf(first.untagged[0]!);
    // a has b's change queued; its own STORE answers with the newer state, and nothing older may come after.
    const r = await a.cmd('STORE 1 +FLAGS (\\Flagged)');
    const lines = r.untagged.filter((l) => /^\* 1 FETCH/.test(l));
    expect(lines.length).toBeGreaterThanOrEqual(1);
    const seqs = lines.map(modseqOf);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]! >= seqs[i - 1]!).toBe(true);
    expect(seqs[0]! > older).toBe(true);
    // (\Recent is this session's own, RFC 3501 §2.3.2.)
    for (const l of lines) expect(l).toMatch(/FLAGS \((\\Recent )?\\Flagged \\Seen\)/);
  });

  it("a change queued from another session does not follow the session's own FETCH with older state", async () => {
    const { a, b } = await twoSessions(1, ' (CONDSTORE)');
    await b.cmd('STORE 1 +FLAGS (\\Answered)');
    await b.cmd('STORE 1 +FLAGS (\\Draft)');
    const r = await a.cmd('FETCH 1 (FLAGS MODSEQ)');
    const lines = r.untagged.filter((l) => /^\* 1 FETCH/.test(l));
    const seqs = lines.map(modseqOf);
    for (let i = 1; i < seqs.length; i++) expect(seqs[i]! >= seqs[i - 1]!).toBe(true);
    // Both of b's changes were queued; each message is reported once per flush, in its current state.
    expect(lines.filter((l) => l.includes('UID 1'))).toHaveLength(1);
    for (const l of lines) expect(l).toMatch(/FLAGS \((\\Recent )?\\Answered \\Draft\)/);
    expect((await a.cmd('NOOP')).untagged).toEqual([]);
  });
});

describe('nothing after BYE (RFC 3501 §6.1.3)', () => {
  it('LOGOUT with changes queued: BYE, the tagged OK, then the connection closes', async () => {
    const { a, b } = await twoSessions(3);
    await a.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
    await a.cmd('EXPUNGE');
    await a.cmd('STORE 1 +FLAGS.SILENT (\\Flagged)');
    await n.deliver([message(4)], { mailbox: `View${box}` });
    const r = await b.cmd('LOGOUT');
    expect(r.untagged).toEqual(['* BYE Logging out']);
    expect(r.tagged).toMatch(/OK/);
    expect(await b.waitClosed()).toBe(true);
    expect(b.drain()).toEqual([]);
  });
});

describe('STORE on messages another session expunged (RFC 2180 §4.2.1)', () => {
  it('answers OK for the rest and reports the expunge at the next allowed moment', async () => {
    const { a, b } = await twoSessions(3);
    await a.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
    await a.cmd('EXPUNGE');
    const r = await b.cmd('STORE 1:3 +FLAGS (\\Flagged)');
    expect(r.tagged).toMatch(/^a\d+ OK/);
    expect(r.untagged.filter((l) => l.includes('EXPUNGE'))).toEqual([]);
    expect(r.untagged.filter((l) => /FETCH/.test(l)).map((l) => l.split(' ')[1])).toEqual(['1', '3']);
    const s = await b.cmd('STORE 2 FLAGS.SILENT (\\Seen)');
    expect(s.tagged).toMatch(/^a\d+ OK/);
    expect((await b.cmd('NOOP')).untagged).toEqual(['* 2 EXPUNGE']);
  });
});

describe('COPY out of an EXAMINEd mailbox (RFC 3501 §6.3.2)', () => {
  it('copies: only the destination is written', async () => {
    const { a, name } = await twoSessions(2);
    await a.cmd('CREATE ViewDest');
    await a.cmd(`EXAMINE ${name}`);
    expect((await a.cmd('COPY 1:2 ViewDest')).tagged).toMatch(/^a\d+ OK \[COPYUID \d+ 1:2 1:2\]/);
    expect((await a.cmd('MOVE 1 ViewDest')).tagged).toMatch(/NO \[READ-ONLY\]/);
    expect((await a.cmd('STATUS ViewDest (MESSAGES)')).untagged).toEqual(['* STATUS ViewDest (MESSAGES 2)']);
  });
});

describe('ESEARCH and ESORT MODSEQ (RFC 4731 §3.1, RFC 5267 §3.1, RFC 7162 §3.1.5)', () => {
  it('is the highest modseq of the returned messages: MIN/MAX alone, else all matches', async () => {
    const { a } = await twoSessions(4, ' (CONDSTORE)');
    const ms: bigint[] = [];
    for (const i of [1, 3, 2, 4]) ms[i] = modseqOf((await a.cmd(`STORE ${i} +FLAGS (\\Seen)`)).untagged[0]!);
    const q = (ret: string, set: string): Promise<string> =>
      a.cmd(`SEARCH RETURN (${ret}) ${set} MODSEQ "/flags/\\\\seen" all 1`).then((r) => r.untagged.find((l) => l.startsWith('* ESEARCH'))!);
    expect(await q('MIN', '1:3')).toMatch(new RegExp(`MIN 1 MODSEQ ${ms[1]}$`));
    expect(await q('MAX', '1:3')).toMatch(new RegExp(`MAX 3 MODSEQ ${ms[3]}$`));
    expect(await q('', '1:3')).toMatch(new RegExp(`ALL 1:3 MODSEQ ${ms[2]}$`));
    expect(await q('MIN MAX', '2:3')).toMatch(new RegExp(`MIN 2 MAX 3 MODSEQ ${ms[2]}$`));
    expect(await q('COUNT', '1:4')).toMatch(new RegExp(`COUNT 4 MODSEQ ${ms[4]}$`));
    // ESORT (RFC 5267 §3.1): MIN/MAX are first/last in sort order, and MODSEQ is of those alone.
    const sq = (ret: string): Promise<string> =>
      a.cmd(`SORT RETURN (${ret}) (REVERSE ARRIVAL) UTF-8 1:3 MODSEQ 1`).then((r) => r.untagged.find((l) => l.startsWith('* ESEARCH'))!);
    expect(await sq('MIN')).toMatch(new RegExp(`MIN 3 MODSEQ ${ms[3]}$`));
    expect(await sq('MAX')).toMatch(new RegExp(`MAX 1 MODSEQ ${ms[1]}$`));
    expect(await sq('COUNT')).toMatch(new RegExp(`COUNT 3 MODSEQ ${ms[2]}$`));
  });
});
