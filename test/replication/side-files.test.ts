/**
 * The Maildir's side files follow the journal: a Maildir with
 * Dovecot keywords (dovecot-keywords and letters a–z), a v2 `subscriptions`
 * file and UIDLs recorded from the old server's POP3 (`roost-pop3-uidls`)
 * is imported on the primary with `roost import`; after `roost promote` the
 * replica answers the same POP3 UIDL list byte for byte (RFC 1939 §7), the
 * same FLAGS with keywords (RFC 3501 §2.3.2) and the same LSUB and
 * LIST (SUBSCRIBED) (§6.3.9, RFC 5258 §3), and its own Maildir files agree
 * with each other: the letters in its file names mean, through its
 * dovecot-keywords, the keywords IMAP shows. Once for a replica that follows
 * the stream, once for one seeded by a snapshot. The recorded UIDLs travel
 * in records of LIMITS.replication.pop3UidlsPerRecord: N entries take one
 * record, N + 1 two, and both arrive whole.
 */
import Database from 'better-sqlite3';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { keywordsFromLetters, parseDovecotKeywords } from '../../src/store/maildir/keyword-letters.js';
import { parseDovecotSubscriptions } from '../../src/store/maildir/subscriptions.js';
import { roostProcess } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/node.js';
import { login } from '../imap/helpers/client.js';
import { Pair, ports, qmqpSend, replStatus, testMessage, waitUntil, type PairNode } from './pair.js';

const ALICE = 'alice@example.org';
const BOB = 'bob@example.org';
const USERS = [ALICE, BOB];
const UV = 1700000000;
const PER = LIMITS.replication.pop3UidlsPerRecord;

let pair: Pair | null = null;
const temps: string[] = [];
afterEach(async () => {
  await pair?.cleanup();
  pair = null;
  for (const t of temps.splice(0)) fs.rmSync(t, { recursive: true, force: true });
});

function maildirOf(n: PairNode, user: string): string {
  const [local, domain] = user.split('@') as [string, string];
  return path.join(n.dataDir, 'mail', domain, local, 'Maildir');
}

/**
 * A Dovecot-style Maildir: INBOX with three messages (keywords by letter),
 * folders Work, Sent and Archive, subscriptions to INBOX and Work only, and
 * `uidls` recorded POP3 UIDLs for INBOX (the three messages' and more).
 */
async function sourceMaildir(tag: string, uidls: number): Promise<string> {
  const root = await makeTempDir(`roost-side-src-${tag}-`);
  temps.push(root);
  for (const dir of ['', '.Work', '.Sent', '.Archive']) for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(root, dir, sub), { recursive: true });
  const names = [`${UV + 1}.M1P1.old:2,Sa`, `${UV + 2}.M2P1.old:2,b`, `${UV + 3}.M3P1.old:2,ab`];
  names.forEach((n, i) => fs.writeFileSync(path.join(root, 'cur', n), testMessage(i, `${tag}-side`)));
  fs.writeFileSync(path.join(root, 'dovecot-keywords'), '0 $Forwarded\n1 $Junk\n');
  fs.writeFileSync(path.join(root, 'dovecot-uidlist'), `3 V${UV} N4\n` + names.map((n, i) => `${i + 1} :${n.slice(0, n.indexOf(':'))}`).join('\n') + '\n');
  fs.writeFileSync(path.join(root, 'subscriptions'), 'V\t2\n\nINBOX\nWork\n');
  let text = `V${UV}\n`;
  // The longest UIDL RFC 1939 §7 allows, so the records are as large as they get.
  for (let uid = 1; uid <= uidls; uid++) text += `${uid} ${`${tag}-${uid}-`.padEnd(70, 'u')}\n`;
  fs.writeFileSync(path.join(root, 'roost-pop3-uidls'), text);
  return root;
}

async function importInto(n: PairNode, user: string, src: string): Promise<void> {
  const r = await roostProcess(['import', user, src, '--config', n.proc!.configFile]);
  // Progress comes as JSON lines on stderr when it is not a terminal; nothing else may.
  expect(r.stderr.split('\n').filter((l) => l && !l.startsWith('{"progress"')), r.stderr).toEqual([]);
  expect(r.code).toBe(0);
}

/** The raw `UIDL` answer lines (between "+OK" and "."), exactly as the server sent them. */
async function pop3Uidl(port: number, user: string): Promise<string[]> {
  const s = net.connect({ host: '127.0.0.1', port });
  let buf = '';
  let want: { done: (text: string) => boolean; resolve: (text: string) => void } | null = null;
  s.on('data', (c: Buffer) => {
    buf += c.toString('latin1');
    if (want && want.done(buf)) {
      const w = want;
      want = null;
      const text = buf;
      buf = '';
      w.resolve(text);
    }
  });
  const read = (done: (t: string) => boolean): Promise<string> =>
    new Promise((resolve) => {
      want = { done, resolve };
      if (done(buf)) {
        want = null;
        const text = buf;
        buf = '';
        resolve(text);
      }
    });
  const line = (t: string): boolean => t.includes('\r\n');
  try {
    await read(line);
    s.write(`USER ${user}\r\n`);
    expect(await read(line)).toMatch(/^\+OK/);
    s.write(`PASS pw-${user}\r\n`);
    expect(await read(line)).toMatch(/^\+OK/);
    s.write('UIDL\r\n');
    const text = await read((t) => t.startsWith('-ERR') ? line(t) : t.endsWith('\r\n.\r\n'));
    expect(text).toMatch(/^\+OK/);
    s.write('QUIT\r\n');
    return text.split('\r\n').slice(1, -2);
  } finally {
    s.destroy();
  }
}

/** What IMAP shows of an account: FLAGS per mailbox and UID, LSUB, LIST (SUBSCRIBED). */
async function imapView(port: number, user: string): Promise<{ flags: Record<string, string[]>; lsub: string[]; subscribed: string[] }> {
  const c = await login(port, user, `pw-${user}`);
  const flags: Record<string, string[]> = {};
  for (const box of ['INBOX', 'Work', 'Sent', 'Archive']) {
    expect((await c.cmd(`EXAMINE ${box}`)).tagged).toMatch(/OK/);
    for (const l of (await c.cmd('UID FETCH 1:* (FLAGS)')).untagged) {
      const uid = /UID (\d+)/.exec(l)?.[1];
      const f = /FLAGS \(([^)]*)\)/.exec(l)?.[1];
      if (uid && f !== undefined) flags[`${box}/${uid}`] = f.split(' ').filter((x) => x && x !== '\\Recent').sort();
    }
  }
  const names = (lines: string[]): string[] => lines.map((l) => /"?([^" ]+)"?$/.exec(l)![1]!).sort();
  const lsub = names((await c.cmd('LSUB "" *')).untagged.filter((l) => l.startsWith('* LSUB')));
  const subscribed = names((await c.cmd('LIST (SUBSCRIBED) "" *')).untagged.filter((l) => l.startsWith('* LIST')));
  await c.cmd('LOGOUT');
  return { flags, lsub, subscribed };
}

/** The keywords each INBOX file's letters name through the folder's own dovecot-keywords, by base name. */
function lettered(maildir: string): Map<string, string[]> {
  const table = parseDovecotKeywords(fs.readFileSync(path.join(maildir, 'dovecot-keywords'), 'utf8'));
  const out = new Map<string, string[]>();
  for (const n of fs.readdirSync(path.join(maildir, 'cur'))) {
    const at = n.indexOf(':2,');
    out.set(n.slice(0, at), keywordsFromLetters(n.slice(at + 3), table).sort());
  }
  return out;
}

function pop3Records(n: PairNode): Map<string, number> {
  const db = new Database(path.join(n.dataDir, 'journal.sqlite'), { readonly: true, fileMustExist: true });
  try {
    const rows = db.prepare("SELECT account, count(*) AS n FROM records WHERE kind = 'pop3-uidls' GROUP BY account").all() as { account: string; n: number }[];
    return new Map(rows.map((r) => [r.account, r.n]));
  } finally {
    db.close();
  }
}

async function caughtUp(p: Pair): Promise<boolean> {
  const [b, a] = [await replStatus(p.b), await replStatus(p.a)];
  return b.replication.connected && b.replication.snapshot === null && b.replication.appliedLsn === a.replication.lastLsn;
}

/** Before failover: what the primary answers and holds. */
async function primaryView(p: Pair): Promise<Record<string, { uidl: string[]; imap: Awaited<ReturnType<typeof imapView>>; uidls: string }>> {
  const pa = await ports(p.a);
  const out: Record<string, { uidl: string[]; imap: Awaited<ReturnType<typeof imapView>>; uidls: string }> = {};
  for (const u of USERS) {
    out[u] = { uidl: await pop3Uidl(pa.pop3!, u), imap: await imapView(pa.imap!, u), uidls: fs.readFileSync(path.join(maildirOf(p.a, u), 'roost-pop3-uidls'), 'utf8') };
  }
  return out;
}

/** The replica's Maildir files (checked before it is promoted), then what it answers once promoted. */
async function checkPromoted(p: Pair, before: Awaited<ReturnType<typeof primaryView>>): Promise<void> {
  // The logins in primaryView made the special-use folders: their records too.
  await waitUntil('replicated after the logins', () => caughtUp(p), 30_000);
  for (const u of USERS) {
    const dir = maildirOf(p.b, u);
    expect(fs.readFileSync(path.join(dir, 'roost-pop3-uidls'), 'utf8'), `${u}: roost-pop3-uidls`).toBe(before[u]!.uidls);
    expect(fs.readFileSync(path.join(dir, 'dovecot-keywords'), 'utf8')).toBe(fs.readFileSync(path.join(maildirOf(p.a, u), 'dovecot-keywords'), 'utf8'));
    // The replica writes its subscriptions file off the event loop after applying the records: wait for it (bounded).
    const subscribed = (): string[] => {
      try {
        return parseDovecotSubscriptions(fs.readFileSync(path.join(dir, 'subscriptions'), 'utf8')).sort();
      } catch {
        return [];
      }
    };
    await waitUntil(`${u}: the replica's subscriptions file`, () => JSON.stringify(subscribed()) === JSON.stringify(before[u]!.imap.lsub), 30_000).catch(() => undefined);
    expect(subscribed()).toEqual(before[u]!.imap.lsub);
  }
  await p.kill(p.a, 'SIGKILL');
  const promoted = await roostProcess(['promote', '--config', p.b.proc!.configFile]);
  expect(promoted.code).toBe(0);
  const pb = await ports(p.b);
  for (const u of USERS) {
    expect(await pop3Uidl(pb.pop3!, u), `${u}: UIDL`).toEqual(before[u]!.uidl);
    const view = await imapView(pb.imap!, u);
    expect(view, `${u}: IMAP`).toEqual(before[u]!.imap);
    // The names' letters on the replica say what IMAP says (INBOX UIDs 1–3 are the three files in UID order).
    const byName = lettered(maildirOf(p.b, u));
    const expected = [1, 2, 3].map((uid) => view.flags[`INBOX/${uid}`]!.filter((f) => !f.startsWith('\\')));
    expect([...byName.keys()].sort().map((k) => byName.get(k))).toEqual(expected);
  }
}

describe('side files on the replica', () => {
  it('a streaming replica gets the recorded UIDLs (N and N + 1 entries a record), keywords and subscriptions; promoted, it answers the same', async () => {
    pair = await Pair.create({ ack: 'sync', users: USERS });
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair!.b)).replication.connected);
    await importInto(pair.a, ALICE, await sourceMaildir('a', PER + 1));
    await importInto(pair.a, BOB, await sourceMaildir('b', PER));
    expect(Object.fromEntries(pop3Records(pair.a))).toEqual({ [ALICE]: 2, [BOB]: 1 });
    // A live keyword change after the import: its new letter reaches the replica before the rename does.
    const c = await login((await ports(pair.a)).imap!, ALICE, `pw-${ALICE}`);
    await c.cmd('SELECT INBOX');
    expect((await c.cmd('UID STORE 2 +FLAGS ($Label1)')).tagged).toMatch(/OK/);
    await c.cmd('LOGOUT');
    await waitUntil('replicated', () => caughtUp(pair!), 30_000);
    await waitUntil('renames settled on both', () =>
      [pair!.a, pair!.b].every((n) => fs.readdirSync(path.join(maildirOf(n, ALICE), 'cur')).some((f) => /:2,bc$/.test(f))), 15_000);
    const before = await primaryView(pair);
    expect(before[ALICE]!.uidl).toHaveLength(3);
    expect(before[ALICE]!.uidl[0]).toBe(`1 ${'a-1-'.padEnd(70, 'u')}`);
    expect(before[ALICE]!.imap.flags['INBOX/2']).toEqual(['$Junk', '$Label1']);
    // Imported as the old server had them; the special-use folders made at the first login (Drafts, Junk, Trash) start subscribed.
    expect(before[ALICE]!.imap.lsub).toEqual(['Drafts', 'INBOX', 'Junk', 'Trash', 'Work']);
    await checkPromoted(pair, before);
  }, 180_000);

  it('a replica seeded by a snapshot writes the side files from the image; promoted, it answers the same', async () => {
    pair = await Pair.create({ ack: 'async', users: USERS });
    for (const n of [pair.a, pair.b]) (n.overrides.replication as Record<string, unknown>).journal_max_bytes = 64 * 1024;
    await pair.start(pair.a);
    await importInto(pair.a, ALICE, await sourceMaildir('a', PER + 1));
    await importInto(pair.a, BOB, await sourceMaildir('b', 3));
    const pa = await ports(pair.a);
    // Enough mail after the import that its records are pruned: the replica can only be seeded.
    for (let i = 0; i < 200; i += 8) {
      const replies = await Promise.all(Array.from({ length: 8 }, (_v, k) => qmqpSend(pa.qmqp!, testMessage(i + k, 'after'), 's@example.net', [USERS[(i + k) % 2]!])));
      for (const r of replies) expect(r[0]).toBe('K');
    }
    await waitUntil('journal pruned', async () => (await replStatus(pair!.a)).replication.journal.pruned > 0, 20_000);
    expect(pop3Records(pair.a).size).toBe(0);
    const b = await pair.start(pair.b);
    await waitUntil('seeded and caught up', () => caughtUp(pair!), 90_000);
    expect(b.output()).toMatch(/snapshot installed/);
    const before = await primaryView(pair);
    expect(before[ALICE]!.uidl.length).toBe(3 + 100);
    await checkPromoted(pair, before);
  }, 240_000);
});

describe('recorded UIDLs changed on the primary while it runs', () => {
  it('an edited roost-pop3-uidls reaches the replica at the next POP3 login, a removed one is removed there; promoted, it answers the same', async () => {
    pair = await Pair.create({ ack: 'sync', users: USERS });
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair!.b)).replication.connected);
    await importInto(pair.a, ALICE, await sourceMaildir('c', 3));
    await waitUntil('replicated after the import', () => caughtUp(pair!), 30_000);
    const file = (n: PairNode): string => path.join(maildirOf(n, ALICE), 'roost-pop3-uidls');
    const pop3 = (await ports(pair.a)).pop3!;
    expect(fs.readFileSync(file(pair.b), 'utf8')).toBe(fs.readFileSync(file(pair.a), 'utf8'));

    // An operator edits the list (RFC 1939 §7: what UIDL answers is what a client keeps).
    const edited = `V${UV}\n1 edited-1\n2 edited-2\n3 edited-3\n`;
    fs.writeFileSync(file(pair.a), edited);
    expect(await pop3Uidl(pop3, ALICE)).toEqual(['1 edited-1', '2 edited-2', '3 edited-3']);
    await waitUntil('replicated after the edit', () => caughtUp(pair!), 30_000);
    expect(fs.readFileSync(file(pair.b), 'utf8')).toBe(edited);

    // Removed: the primary answers its own UIDLs (the base names) and the replica must not keep the old list.
    fs.rmSync(file(pair.a));
    const own = await pop3Uidl(pop3, ALICE);
    expect(own).toEqual([1, 2, 3].map((i) => `${i} ${UV + i}.M${i}P1.old`));
    await waitUntil('replicated after the removal', () => caughtUp(pair!), 30_000);
    expect(fs.existsSync(file(pair.b))).toBe(false);
    // A second login with nothing changed journals nothing more.
    const lsn = (await replStatus(pair.a)).replication.lastLsn;
    expect(await pop3Uidl(pop3, ALICE)).toEqual(own);
    expect((await replStatus(pair.a)).replication.lastLsn).toBe(lsn);

    await pair.kill(pair.a, 'SIGKILL');
    expect((await roostProcess(['promote', '--config', pair.b.proc!.configFile])).code).toBe(0);
    expect(await pop3Uidl((await ports(pair.b)).pop3!, ALICE)).toEqual(own);
  }, 180_000);
});
