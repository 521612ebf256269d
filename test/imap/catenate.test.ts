/**
 * CATENATE (RFC 4469) over a real socket: messages built from TEXT literals
 * and URLs of the user's stored messages, BADURL and TOOBIG refusals before
 * the client sends a literal, TRYCREATE, and MULTIAPPEND all or nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;
let uidvalidity: number;
const one = 'From: foo@example.com\r\n\r\nHello world body\r\n';
const two = 'From: foo2@example.com\r\n\r\nLookslike: header\r\n\r\nAnother body\r\n';
const multi =
  'From: m@example.com\r\nContent-Type: multipart/mixed; boundary="b"\r\n\r\n' +
  '--b\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n--b\r\nContent-Type: text/plain\r\n\r\nsecond part\r\n--b--\r\n';

/** Send an APPEND the way a LITERAL+ client does (no waiting for "+") and return its answer. */
async function append(args: string): Promise<string> {
  const tag = c.nextTag();
  c.write(`${tag} APPEND ${args}\r\n`);
  return (await c.until(tag, 10_000)).tagged;
}

/** BODY[] of every message in `box`, in order. */
async function bodies(box: string): Promise<string[]> {
  await c.cmd(`EXAMINE ${box}`);
  const r = await c.cmd('FETCH 1:* BODY.PEEK[]');
  return r.untagged.filter((l) => / FETCH /.test(l)).map((l) => /\{\d+\}\r\n([\s\S]*)\)$/.exec(l)![1]!);
}

async function count(box: string): Promise<number> {
  const l = (await c.cmd(`STATUS ${box} (MESSAGES)`)).untagged[0]!;
  return Number(/MESSAGES (\d+)/.exec(l)![1]);
}

const lit = (s: string) => `{${Buffer.byteLength(s)}+}\r\n${s}`;

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  await c.cmd('CREATE Src');
  await c.cmd('CREATE Dst');
  await n.deliver([one, two, multi], { mailbox: 'Src' });
  const st = (await c.cmd('STATUS Src (UIDVALIDITY)')).untagged[0]!;
  uidvalidity = Number(/UIDVALIDITY (\d+)/.exec(st)![1]);
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

describe('CATENATE', () => {
  it('is advertised', async () => {
    expect((await c.cmd('CAPABILITY')).untagged[0]).toMatch(/ CATENATE( |$)/);
  });

  it('builds messages from TEXT literals and URL parts, as FETCH would send each section', async () => {
    await c.cmd('UNSELECT');
    const before = await count('Dst');
    const answers = [
      await append(`Dst (\\Seen) CATENATE (URL "/Src/;uid=1/;section=header" TEXT ${lit('body1\r\n')})`),
      await append(`Dst CATENATE (URL "/Src;UIDVALIDITY=${uidvalidity}/;UID=1/;SECTION=HEADER" TEXT ${lit('body2\r\n')})`),
      await append(`Dst CATENATE (URL "/Src/;uid=2/;section=text" TEXT ${lit('body3\r\n')})`),
      await append(`Dst CATENATE (TEXT ${lit('From: new@example.com\r\nSubject: test\r\n\r\n')} URL "/Src/;uid=1/;section=1" TEXT ${lit('\r\nsuffix\r\n')})`),
      await append(`Dst CATENATE (TEXT ${lit('From: a@example.com\r\n')} TEXT ${lit('Subject: b\r\n')} TEXT ${lit('\r\nbody6\r\n')})`),
      // A partial range past the end is empty (RFC 5092 §5 / RFC 3501 §6.4.5).
      await append(`Dst CATENATE (URL "/Src/;uid=2/;partial=100000.1" TEXT ${lit('Hdr: foo\r\n\r\nbody7\r\n')})`),
      await append(`Dst CATENATE (URL "/Src/;UID=3/;SECTION=2" TEXT ${lit('\r\n')} URL "/Src/;UID=3/;SECTION=1.MIME" URL "/Src/;UID=1/;PARTIAL=6.3")`),
      await append(`Dst CATENATE (URL "/Src/;UID=3/;SECTION=HEADER.FIELDS%20(From)" URL "/Src/;UID=1")`),
    ];
    for (const a of answers) expect(a).toMatch(/^a\d+ OK \[APPENDUID \d+ \d+\] /);
    const got = (await bodies('Dst')).slice(before);
    expect(got).toEqual([
      'From: foo@example.com\r\n\r\nbody1\r\n',
      'From: foo@example.com\r\n\r\nbody2\r\n',
      'Lookslike: header\r\n\r\nAnother body\r\nbody3\r\n',
      'From: new@example.com\r\nSubject: test\r\n\r\nHello world body\r\n\r\nsuffix\r\n',
      'From: a@example.com\r\nSubject: b\r\n\r\nbody6\r\n',
      'Hdr: foo\r\n\r\nbody7\r\n',
      'second part\r\nContent-Type: text/plain\r\n\r\nfoo',
      'From: m@example.com\r\n\r\n' + one,
    ]);
    // The source messages were read without setting \Seen (a URL fetch has no side effects).
    await c.cmd('EXAMINE Src');
    const flags = (await c.cmd('FETCH 1:3 FLAGS')).untagged;
    expect(flags).toHaveLength(3);
    for (const f of flags) expect(f).not.toContain('\\Seen');
  });

  it('URLs relative to the selected mailbox; flags and date apply to the built message', async () => {
    await c.cmd('SELECT Src');
    const r = await append(`Dst (\\Flagged) "01-Feb-2026 10:00:00 +0000" CATENATE (URL ";UID=1/;SECTION=HEADER" TEXT ${lit('rel\r\n')})`);
    expect(r).toMatch(/OK \[APPENDUID/);
    await c.cmd('EXAMINE Dst');
    const last = (await c.cmd('FETCH * (FLAGS INTERNALDATE BODY.PEEK[])')).untagged[0]!;
    expect(last).toMatch(/FLAGS \((\\Recent )?\\Flagged\)/);
    expect(last).toContain('INTERNALDATE "01-Feb-2026 10:00:00 +0000"');
    expect(last).toContain('From: foo@example.com\r\n\r\nrel\r\n');
    // Without a selected mailbox a relative URL names nothing.
    await c.cmd('UNSELECT');
    expect(await append('Dst CATENATE (URL ";UID=1")')).toMatch(/^a\d+ NO \[BADURL ;UID=1\] /);
  });

  it('a bad URL before a synchronising TEXT literal is refused instead of "+", and nothing is stored', async () => {
    const before = await count('Dst');
    const bad = `/Src;UIDVALIDITY=${uidvalidity + 1}/;UID=1/;SECTION=HEADER`;
    const tag = c.nextTag();
    c.write(`${tag} APPEND Dst CATENATE (TEXT {8}\r\n`);
    expect(await c.line()).toMatch(/^\+ /);
    c.write(`hdr: 1\r\n URL "${bad}" TEXT {8}\r\n`);
    // The answer comes in place of the continuation: the client sends nothing more of the command.
    expect(await c.line()).toBe(`${tag} NO [BADURL ${bad}] Bad CATENATE URL: UIDVALIDITY differs`);
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
    expect(await count('Dst')).toBe(before);
  });

  it('bad URLs anywhere, in every way: NO [BADURL] and the mailbox unchanged', async () => {
    const before = await count('Dst');
    const cases: [string, string][] = [
      [`/Src;UIDVALIDITY=${uidvalidity + 1}/;UID=1`, `CATENATE (TEXT ${lit('hdr: 1\r\n\r\n')} URL "%u")`],
      ['/Src/;UID=99', `CATENATE (URL "%u" TEXT ${lit('x\r\n')})`],
      ['/NoSuchBox/;UID=1', 'CATENATE (URL "%u")'],
      ['/..%2F..%2FSrc/;UID=1', 'CATENATE (URL "%u")'],
      ['/Src%00/;UID=1', 'CATENATE (URL "%u")'],
      ['/Src/;UID=1/;SECTION=7', 'CATENATE (URL "/Src/;UID=2" URL "%u")'],
      ['/Src/;UID=1/;SECTION=1.HEADER', 'CATENATE (URL "%u")'],
      ['imap://alice@example.org/Src/;UID=1', 'CATENATE (URL "%u")'],
      ['/Src/;UID=1/;URLAUTH=anonymous:internal:00', 'CATENATE (URL "%u")'],
      // A "]" cannot appear in the response code (RFC 4469 errata 2002): it is left out.
      ['/Src/;UID=1/;SECTION=]', 'CATENATE (URL "%u")'],
    ];
    for (const [u, args] of cases) {
      const r = await append(`Dst ${args.replace('%u', u)}`);
      expect(r, u).toMatch(/^a\d+ NO \[BADURL [^\]]+\] /);
      expect(r, u).toContain(`[BADURL ${u.replace(']', '')}]`);
    }
    expect(await count('Dst')).toBe(before);
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
  });

  it('a missing target mailbox is TRYCREATE, before any URL is looked at', async () => {
    expect(await append('Nowhere CATENATE (URL "/Src/;UID=1/;SECTION=1")')).toMatch(/NO \[TRYCREATE\]/);
    expect(await append(`Nowhere CATENATE (TEXT ${lit('hello\r\n')} URL "/Src/;UID=1")`)).toMatch(/NO \[TRYCREATE\]/);
    expect(await append(`Nowhere CATENATE (URL "/Src;UIDVALIDITY=1/;UID=1" TEXT ${lit('hello\r\n')})`)).toMatch(/NO \[TRYCREATE\]/);
    expect(await append('Nowhere CATENATE (URL "/Src;UIDVALIDITY=1/;UID=1")')).toMatch(/NO \[TRYCREATE\]/);
  });

  it('with MULTIAPPEND: CATENATE and plain messages in one command, all or nothing', async () => {
    await c.cmd('UNSELECT');
    const before = await count('Dst');
    const r = await append(
      `Dst CATENATE (URL "/Src/;UID=1") CATENATE (URL "/Src/;UID=2/;SECTION=HEADER" TEXT ${lit('b3\r\n')}) (\\Answered) ${lit('New: m\r\n\r\nb4\r\n')}`,
    );
    expect(r).toMatch(/^a\d+ OK \[APPENDUID \d+ \d+:\d+\] /);
    expect((await bodies('Dst')).slice(before)).toEqual([one, 'From: foo2@example.com\r\n\r\nb3\r\n', 'New: m\r\n\r\nb4\r\n']);
    await c.cmd('UNSELECT');
    const mid = await count('Dst');
    for (const args of [
      'CATENATE (URL "/Src;UIDVALIDITY=1/;UID=1") CATENATE (URL "/Src/;UID=1")',
      `CATENATE (URL "/Src/;UID=1") CATENATE (URL "/Src;UIDVALIDITY=1/;UID=1" TEXT ${lit('hello\r\n')})`,
      `CATENATE (URL "/Src;UIDVALIDITY=1/;UID=1") CATENATE (TEXT ${lit('hello\r\n')})`,
      `CATENATE (URL "/Src;UIDVALIDITY=1/;UID=1") ${lit('hello\r\n')}`,
    ]) {
      expect(await append(`Dst ${args}`), args).toMatch(/NO \[BADURL /);
    }
    expect(await count('Dst')).toBe(mid);
  });

  it(`more CATENATE messages than keep a descriptor (${LIMITS.imap.appendOpenDrafts}) in one MULTIAPPEND all arrive intact`, async () => {
    const before = await count('Dst');
    const k = LIMITS.imap.appendOpenDrafts + 4;
    const parts = Array.from({ length: k }, (_, i) => `CATENATE (URL "/Src/;UID=1/;SECTION=HEADER" TEXT ${lit(`m${i}\r\n`)} URL "/Src/;UID=2/;PARTIAL=6.3")`);
    expect(await append(`Dst ${parts.join(' ')}`)).toMatch(/^a\d+ OK \[APPENDUID /);
    await c.cmd('UNSELECT');
    expect((await bodies('Dst')).slice(before)).toEqual(Array.from({ length: k }, (_, i) => `From: foo@example.com\r\n\r\nm${i}\r\nfoo`));
    await c.cmd('UNSELECT');
  });

  it('messages made of URLs only count against the MULTIAPPEND limit too (N stored, N+1 NO [LIMIT], nothing stored)', async () => {
    const limits = LIMITS.imap as { maxAppendMessages: number };
    const saved = limits.maxAppendMessages;
    limits.maxAppendMessages = 12;
    try {
      const N = limits.maxAppendMessages;
      const before = await count('Dst');
      const msgs = (k: number) => Array.from({ length: k }, () => 'CATENATE (URL "/Src/;UID=1")').join(' ');
      expect(await append(`Dst ${msgs(N)}`)).toMatch(/^a\d+ OK \[APPENDUID /);
      expect(await count('Dst')).toBe(before + N);
      expect(await append(`Dst ${msgs(N + 1)}`)).toMatch(/^a\d+ NO \[LIMIT\] /);
      expect(await count('Dst')).toBe(before + N);
    } finally {
      limits.maxAppendMessages = saved;
    }
  });

  it(`${LIMITS.imap.maxCatenateParts} parts make one message; ${LIMITS.imap.maxCatenateParts + 1} are NO [LIMIT] and nothing is stored`, async () => {
    const N = LIMITS.imap.maxCatenateParts;
    const before = await count('Dst');
    const urls = (k: number) => Array.from({ length: k }, () => 'URL "/Src/;UID=1/;PARTIAL=0.1"').join(' ');
    expect(await append(`Dst CATENATE (${urls(N)})`)).toMatch(/^a\d+ OK \[APPENDUID /);
    expect(await append(`Dst CATENATE (${urls(N + 1)})`)).toMatch(/^a\d+ NO \[LIMIT\] Too many CATENATE parts/);
    expect(await count('Dst')).toBe(before + 1);
    expect((await bodies('Dst')).slice(before)).toEqual(['F'.repeat(N)]);
    await c.cmd('UNSELECT');
  });

  it(`the catenated message may reach APPENDLIMIT (imap.max_message_size); one more octet is TOOBIG before the literal is sent`, async () => {
    const head = 'From: foo@example.com\r\n\r\n';
    const N = n.t.config.imap.max_message_size;
    const ok = c.nextTag();
    c.write(`${ok} APPEND Dst CATENATE (URL "/Src/;UID=1/;SECTION=HEADER" TEXT {${N - head.length}}\r\n`);
    expect(await c.line()).toMatch(/^\+ /);
    // Leave that command: the server drops it with the connection; nothing is stored.
    c.close();
    c = await login(n.port, n.user, n.pass);
    const before = await count('Dst');
    const big = c.nextTag();
    c.write(`${big} APPEND Dst CATENATE (URL "/Src/;UID=1/;SECTION=HEADER" TEXT {${N - head.length + 1}}\r\n`);
    expect(await c.line()).toMatch(new RegExp(`^${big} NO \\[TOOBIG\\] `));
    expect((await c.cmd('NOOP')).tagged).toMatch(/OK/);
    expect(await count('Dst')).toBe(before);
  });
});
