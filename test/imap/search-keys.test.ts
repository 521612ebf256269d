/**
 * SEARCH date and address keys over a real socket (RFC 3501 §6.4.4):
 * SENTBEFORE/SENTON/SENTSINCE on the Date header's own calendar day,
 * BEFORE/ON/SINCE on INTERNALDATE's day in the server's zone, FROM/TO/CC/BCC
 * on every form of an address, and a program of thousands of BODY keys.
 * The expected answers are worked out by hand in the comments.
 */
import { readdirSync } from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let c: RawImap;
const savedTz = process.env.TZ;

/** Deliver `raws` into a new mailbox `name` and select it. */
async function mailbox(name: string, raws: string[], dates: (Date | undefined)[] = []): Promise<void> {
  await n.t.ctx.store.user(n.account).createMailbox(name);
  for (let i = 0; i < raws.length; i++) await n.deliver([raws[i]!.replace(/\n/g, '\r\n')], { mailbox: name, internalDate: dates[i] });
  const r = await c.cmd(`SELECT ${name}`);
  expect(r.tagged).toMatch(/ OK /);
}

const search = async (cmd: string): Promise<string> => {
  const r = await c.cmd(cmd);
  expect(r.tagged).toMatch(/ OK /);
  return r.untagged.find((l) => /^\* (SEARCH|SORT|THREAD)\b/.test(l)) ?? '';
};

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
});
afterAll(async () => {
  if (savedTz === undefined) delete process.env.TZ;
  else process.env.TZ = savedTz;
  c?.close();
  await n?.stop();
});

describe('sent dates: the Date header as written (RFC 3501 §6.4.4 "disregarding time and timezone")', () => {
  /**
   * seq Date header                          day written  day in UTC
   *  1  Mon, 5 Oct 2026 23:30:00 -0700       5 Oct        6 Oct
   *  2  Tue, 6 Oct 2026 00:15:00 +0900       6 Oct        5 Oct
   *  3  Tue, 6 Oct 2026 12:00:00 +0000       6 Oct        6 Oct
   *  4  (none)                               1 Jan 1970 (Dovecot's reading)
   *  5  "someday soon" (unparseable)         1 Jan 1970
   *  6  7 Oct 2026 01:00 EDT (named zone)    7 Oct        7 Oct
   */
  beforeAll(async () => {
    const msg = (date: string | null, k: number): string => `From: a@x.example\nSubject: d${k}\n${date === null ? '' : `Date: ${date}\n`}\nbody ${k}\n`;
    await mailbox('Dates', [
      msg('Mon, 5 Oct 2026 23:30:00 -0700', 1),
      msg('Tue, 6 Oct 2026 00:15:00 +0900', 2),
      msg('Tue, 6 Oct 2026 12:00:00 +0000', 3),
      msg(null, 4),
      msg('someday soon', 5),
      msg('7 Oct 2026 01:00 EDT', 6),
    ]);
  });

  it('SENTON is the day written in the header, whatever its zone', async () => {
    expect(await search('SEARCH SENTON 5-Oct-2026')).toBe('* SEARCH 1');
    expect(await search('SEARCH SENTON 6-Oct-2026')).toBe('* SEARCH 2 3');
    expect(await search('SEARCH SENTON 7-Oct-2026')).toBe('* SEARCH 6');
  });

  it('SENTBEFORE / SENTSINCE on the same days, and their NOTs', async () => {
    expect(await search('SEARCH SENTBEFORE 6-Oct-2026')).toBe('* SEARCH 1 4 5');
    expect(await search('SEARCH SENTSINCE 6-Oct-2026')).toBe('* SEARCH 2 3 6');
    expect(await search('SEARCH SENTSINCE 7-Oct-2026')).toBe('* SEARCH 6');
    expect(await search('SEARCH NOT SENTON 6-Oct-2026')).toBe('* SEARCH 1 4 5 6');
    expect(await search('SEARCH 1:3 NOT SENTBEFORE 6-Oct-2026')).toBe('* SEARCH 2 3');
  });

  it('a structure stored before the zone was kept reads the zone from the header again', async () => {
    // Rewrite the stored structures the way the previous version wrote them (no sort.dateZone).
    const dir = path.join(n.t.dataDir, 'index');
    for (const f of readdirSync(dir).filter((x) => x.endsWith('.sqlite'))) {
      const db = new Database(path.join(dir, f));
      try {
        const rows = db.prepare('SELECT mailbox, uid, json FROM structures').all() as { mailbox: number; uid: number; json: string }[];
        expect(rows.length).toBeGreaterThan(0);
        const put = db.prepare('UPDATE structures SET json = ? WHERE mailbox = ? AND uid = ?');
        for (const r of rows) {
          const tree = JSON.parse(r.json) as { sort: Record<string, unknown> };
          delete tree.sort.dateZone;
          put.run(JSON.stringify(tree), r.mailbox, r.uid);
        }
      } finally {
        db.close();
      }
    }
    expect(await search('SEARCH SENTON 5-Oct-2026')).toBe('* SEARCH 1');
    expect(await search('SEARCH SENTON 6-Oct-2026')).toBe('* SEARCH 2 3');
  });

  it('a missing or unparseable Date is 1 January 1970, not INTERNALDATE', async () => {
    expect(await search('SEARCH SENTON 1-Jan-1970')).toBe('* SEARCH 4 5');
    expect(await search('SEARCH SENTSINCE 2-Jan-1970')).toBe('* SEARCH 1 2 3 6');
    expect(await search('SEARCH SENTBEFORE 1-Jan-1970')).toBe('* SEARCH');
  });
});

describe('internal dates: the day on the server clock', () => {
  // INTERNALDATE 5 Oct 2026 23:30 UTC is 6 Oct in Tokyo (+0900) and 5 Oct in UTC.
  beforeAll(async () => {
    await mailbox('Internal', ['Subject: i\n\nbody\n'], [new Date(Date.UTC(2026, 9, 5, 23, 30))]);
  });

  it('BEFORE / ON / SINCE follow the server time zone', async () => {
    process.env.TZ = 'UTC';
    expect(await search('SEARCH ON 5-Oct-2026')).toBe('* SEARCH 1');
    expect(await search('SEARCH SINCE 6-Oct-2026')).toBe('* SEARCH');
    process.env.TZ = 'Asia/Tokyo';
    expect(await search('SEARCH ON 6-Oct-2026')).toBe('* SEARCH 1');
    expect(await search('SEARCH BEFORE 6-Oct-2026')).toBe('* SEARCH');
    expect(await search('SEARCH SINCE 6-Oct-2026')).toBe('* SEARCH 1');
    process.env.TZ = 'UTC';
  });
});

describe('address keys match every form of the address (RFC 3501 §6.4.4 FROM/TO/CC/BCC)', () => {
  /**
   * seq From                                        To
   *  1  pat@home.example                           crew: lee@ship.example, kim@ship.example;
   *  2  Pat Quinn <pat@home.example>               undisclosed:;
   *  3  <pat (at home) @ (the) home.example>        <@relay.example:ray@far.example>
   *  4  pat@home.example (Pat Quinn)               =?utf-8?q?Doe=2C_J=C3=BCrgen?= <jd@far.example>
   *  5  other@home.example, pat2@home.example      "Quoted, Name" <qn@far.example>
   */
  beforeAll(async () => {
    const msg = (from: string, to: string): string => `From: ${from}\nTo: ${to}\nCc: cc@x.example\nSubject: a\n\nbody\n`;
    await mailbox('Addr', [
      msg('pat@home.example', 'crew: lee@ship.example, kim@ship.example;'),
      msg('Pat Quinn <pat@home.example>', 'undisclosed:;'),
      msg('<pat (at home) @ (the) home.example>', '<@relay.example:ray@far.example>'),
      msg('pat@home.example (Pat Quinn)', '=?utf-8?q?Doe=2C_J=C3=BCrgen?= <jd@far.example>'),
      msg('other@home.example, pat2@home.example', '"Quoted, Name" <qn@far.example>'),
    ]);
  });

  it('the addr-spec is found through comments and angle brackets', async () => {
    expect(await search('SEARCH FROM pat@home.example')).toBe('* SEARCH 1 2 3 4');
    expect(await search('SEARCH FROM PAT@HOME')).toBe('* SEARCH 1 2 3 4');
    expect(await search('SEARCH FROM "t@home.ex"')).toBe('* SEARCH 1 2 3 4');
  });

  it('display names, a comment standing in for one, and decoded encoded words', async () => {
    expect(await search('SEARCH FROM "pat quinn"')).toBe('* SEARCH 2 4');
    expect(await search('SEARCH FROM "pat quinn <pat@"')).toBe('* SEARCH 2 4');
    expect(await search('SEARCH TO "doe, j"')).toBe('* SEARCH 4');
    expect(await search('SEARCH TO "quoted, name"')).toBe('* SEARCH 5');
  });

  it('groups: the group name and its members; routes keep the addr-spec', async () => {
    expect(await search('SEARCH TO crew')).toBe('* SEARCH 1');
    expect(await search('SEARCH TO kim@ship.example')).toBe('* SEARCH 1');
    expect(await search('SEARCH TO undisclosed')).toBe('* SEARCH 2');
    expect(await search('SEARCH TO ray@far.example')).toBe('* SEARCH 3');
    expect(await search('SEARCH TO nobody@ship.example')).toBe('* SEARCH');
    expect(await search('SEARCH FROM pat2@home')).toBe('* SEARCH 5');
  });

  it('the header as written still matches, and HEADER stays a plain field match', async () => {
    expect(await search('SEARCH FROM "(at home)"')).toBe('* SEARCH 3');
    expect(await search('SEARCH HEADER TO ""')).toBe('* SEARCH 1 2 3 4 5');
    expect(await search('SEARCH HEADER BCC ""')).toBe('* SEARCH');
    expect(await search('SEARCH BCC cc@x.example')).toBe('* SEARCH');
    expect(await search('SEARCH CC CC@X.EXAMPLE')).toBe('* SEARCH 1 2 3 4 5');
  });
});

describe('a program of thousands of BODY keys', () => {
  beforeAll(async () => {
    await mailbox('Many', ['Subject: one\n\nAlpha Bravo\n', 'Subject: two\n\nk3999 HERE\n', 'Subject: three\n\nCharlie\n']);
  });

  it('SEARCH NOT BODY k1 ... NOT BODY k4000 (a 60 kB line) answers as the keys say', async () => {
    const keys = Array.from({ length: 4000 }, (_, i) => `NOT BODY k${i + 1}`).join(' ');
    // k3999 is in message 2 only (k3, k39 and k399 too, as substrings); nothing else matches.
    expect(await search(`SEARCH ${keys}`)).toBe('* SEARCH 1 3');
    expect(await search(`SEARCH ${'BODY BRAVO '.repeat(4000)}ALL`)).toBe('* SEARCH 1');
  });
});
