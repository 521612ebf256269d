/**
 * A real Dovecot 2.3 account moved with `roost import`:
 * a private Dovecot is filled through LMTP and IMAP (flags, keywords,
 * folders named with %, *, spaces and non-ASCII, subscriptions on some,
 * expunges leaving UID gaps, a 60 MB message); after `roost import` of its
 * Maildir, and after `roost import imap://` from it while it runs, every
 * folder, UIDVALIDITY, UID, flag, keyword, INTERNALDATE, subscription and
 * POP3 UIDL (pop3.uidl_format = %08Xu%08Xv, Dovecot's default) is what
 * Dovecot answered, over IMAP and POP3 (the live import records Dovecot's
 * POP3 UIDLs with --pop3, for an account whose own form would differ). A
 * second import of either kind
 * changes nothing, and a Dovecot pointed at the Maildir Roost wrote sees
 * the keywords Roost set and its subscriptions. mbsync, synced with Dovecot
 * and then pointed at Roost, transfers nothing (a client notices
 * nothing).
 *
 * Skips only when Dovecot is not installed (CI installs it).
 */
import { execFile, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roost } from '../helpers/cli.js';
// The bench's private-Dovecot starter (loopback ports, temp dir, no system service touched).
import { dovecotVersion, startDovecot } from '../../bench/compare/dovecot.js';
import { LmtpClient } from '../helpers/lmtp.js';
import { makeTempDir, startTestNode, type TestNode } from '../helpers/node.js';
import { login, type RawImap } from '../imap/helpers/client.js';

const has = dovecotVersion() !== null;
const hasMbsync = spawnSync('mbsync', ['--version']).status === 0;
type PrivateDovecot = Awaited<ReturnType<typeof startDovecot>>;
const USER = 'mig';
const PASS = 'pw-mig';
const ADDRESS = 'mig@example.org';
/** The account filled by the live import (same password, so `answers` logs in to both alike). */
const LIVE = 'live@example.org';
/** Folders (IMAP names on the wire, modified UTF-7 for "Über Ordner"). */
const FOLDERS = ['Work', 'Work.2024', '"Per% 50"', '"Star*"', '"With Space"', '"&ANw-ber Ordner"'];
const SUBSCRIBED = ['INBOX', 'Work.2024', '"Per% 50"', '"&ANw-ber Ordner"'];
const BIG = 60 * 1024 * 1024;

interface Answers {
  folders: string[];
  subscribed: string[];
  boxes: Record<string, { uidvalidity: string; messages: string[] }>;
  uidl: string[];
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
/** An INTERNALDATE (RFC 3501 date-time) as the instant it names: servers may answer it in another zone. */
function instant(d: string): string {
  const m = /^ ?(\d{1,2})-(\w{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)$/.exec(d);
  if (!m) throw new Error(`bad INTERNALDATE ${d}`);
  const utc = Date.UTC(Number(m[3]), MONTHS.indexOf(m[2]!), Number(m[1]), Number(m[4]), Number(m[5]), Number(m[6]));
  const off = (Number(m[8]) * 60 + Number(m[9])) * 60_000 * (m[7] === '-' ? -1 : 1);
  return new Date(utc - off).toISOString();
}

const unquote = (s: string): string => (s.startsWith('"') ? s.slice(1, -1) : s);

/** What a server says about the account, over IMAP and POP3. */
async function answers(imapPort: number, pop3Port: number, user: string): Promise<Answers> {
  const c = await login(imapPort, user, PASS);
  const names = (await c.cmd('LIST "" "*"')).untagged.map((l) => unquote(/^\* LIST \([^)]*\) (?:"."|NIL) (.*)$/.exec(l)![1]!));
  const folders = [...names].sort();
  const subscribed = (await c.cmd('LSUB "" "*"')).untagged.map((l) => unquote(/^\* LSUB \([^)]*\) (?:"."|NIL) (.*)$/.exec(l)![1]!)).sort();
  const boxes: Answers['boxes'] = {};
  for (const n of folders) {
    const sel = await c.cmd(`EXAMINE "${n}"`);
    if (!/OK/.test(sel.tagged)) continue;
    const uidvalidity = /UIDVALIDITY (\d+)/.exec(sel.untagged.join('\n'))?.[1] ?? '';
    const fetched = (await c.cmd('UID FETCH 1:* (UID FLAGS INTERNALDATE RFC822.SIZE)', 60_000)).untagged
      .filter((l) => / FETCH /.test(l))
      .map((l) => {
        const uid = /UID (\d+)/.exec(l)![1]!;
        const flags = /FLAGS \(([^)]*)\)/.exec(l)![1]!.split(' ').filter((f) => f && f !== '\\Recent').sort().join(' ');
        const date = instant(/INTERNALDATE "([^"]+)"/.exec(l)![1]!);
        const size = /RFC822\.SIZE (\d+)/.exec(l)![1]!;
        return `${uid} ${date} ${size} ${flags}`;
      })
      .sort();
    boxes[n] = { uidvalidity, messages: fetched };
  }
  await c.cmd('LOGOUT');
  c.close();
  return { folders, subscribed, boxes, uidl: await pop3Uidl(pop3Port, user) };
}

/** The POP3 UIDL listing (RFC 1939 §7) after USER/PASS. */
async function pop3Uidl(port: number, user: string): Promise<string[]> {
  const s = net.connect(port, '127.0.0.1');
  let buf = '';
  s.setEncoding('latin1');
  // The server may reset the connection after QUIT's answer.
  s.on('error', () => undefined);
  s.on('data', (d: string) => (buf += d));
  const until = async (done: (b: string) => boolean): Promise<void> => {
    for (let i = 0; i < 600 && !done(buf); i++) await new Promise((r) => setTimeout(r, 50));
    if (!done(buf)) throw new Error(`POP3: no answer, have ${JSON.stringify(buf.slice(-300))}`);
  };
  await until((b) => b.includes('\r\n'));
  s.write(`USER ${user}\r\nPASS ${PASS}\r\n`);
  await until((b) => (b.match(/^\+OK/gm) ?? []).length >= 3);
  buf = '';
  s.write('UIDL\r\n');
  await until((b) => b.includes('\r\n.\r\n'));
  const lines = buf.split('\r\n').slice(1, -2);
  s.end('QUIT\r\n');
  return lines;
}

async function lmtpDeliver(port: number, messages: Buffer[]): Promise<void> {
  const { client } = await LmtpClient.connect(port);
  expect((await client.cmd('LHLO test')).code).toBe(250);
  for (const m of messages) {
    expect((await client.cmd('MAIL FROM:<sender@example.net>')).code).toBe(250);
    const rcpt = await client.cmd(`RCPT TO:<${USER}>`);
    expect(rcpt.code, rcpt.text).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    client.send(m);
    client.send('\r\n.\r\n');
    const done = await client.reply(120_000);
    expect(done.code, done.text).toBe(250);
  }
  await client.cmd('QUIT');
  client.close();
}

const msg = (n: number): Buffer =>
  Buffer.from(`From: s${n}@example.net\r\nTo: ${USER}@example.org\r\nSubject: message ${n}\r\nMessage-ID: <m${n}@example.net>\r\n\r\nbody ${n}\r\n`);

async function append(c: RawImap, box: string, flags: string, date: string, body: Buffer): Promise<void> {
  c.write(`ap APPEND ${box} (${flags}) "${date}" {${body.length}+}\r\n`);
  c.write(body);
  c.write('\r\n');
  expect((await c.until('ap')).tagged).toMatch(/OK/);
}

let dir: string;
let dv: PrivateDovecot | null = null;
let dv2: PrivateDovecot | null = null;
let node: TestNode | null = null;
let before: Answers;

beforeAll(async () => {
  if (!has) return;
  dir = await makeTempDir('roost-dovecot-');
  fs.mkdirSync(path.join(dir, 'dv'));
  dv = await startDovecot(path.join(dir, 'dv'), [{ name: USER, password: PASS }]);
  // INBOX through LMTP: six small messages and one of 60 MB (lines of 78 bytes).
  const line = 'x'.repeat(76) + '\r\n';
  const big = Buffer.concat([Buffer.from('From: big@example.net\r\nSubject: big\r\n\r\n'), Buffer.from(line.repeat(Math.ceil(BIG / line.length)))]);
  await lmtpDeliver(dv.ports.lmtp, [msg(1), msg(2), msg(3), big, msg(4), msg(5), msg(6)]);
  const c = await login(dv.ports.imap, USER, PASS);
  for (const f of FOLDERS) expect((await c.cmd(`CREATE ${f}`)).tagged).toMatch(/OK/);
  for (const f of SUBSCRIBED) expect((await c.cmd(`SUBSCRIBE ${f}`)).tagged).toMatch(/OK/);
  await c.cmd('SELECT INBOX');
  expect((await c.cmd('UID STORE 1 +FLAGS (\\Seen $Forwarded $Label1)')).tagged).toMatch(/OK/);
  expect((await c.cmd('UID STORE 2 +FLAGS (\\Answered \\Flagged $Junk)')).tagged).toMatch(/OK/);
  expect((await c.cmd('UID STORE 3,5 +FLAGS (\\Deleted)')).tagged).toMatch(/OK/);
  expect((await c.cmd('EXPUNGE')).tagged).toMatch(/OK/);
  expect((await c.cmd('UID STORE 6 +FLAGS ($Label1 \\Draft)')).tagged).toMatch(/OK/);
  for (const [i, f] of FOLDERS.entries()) {
    await append(c, f, '\\Seen $NotJunk', '01-Feb-2021 10:0' + i + ':00 +0100', msg(100 + i));
    await append(c, f, '', '15-Mar-2022 23:59:5' + i + ' -0500', msg(200 + i));
    await append(c, f, '$Label2', '02-Apr-2023 08:00:00 +0000', msg(300 + i));
  }
  await c.cmd(`SELECT ${FOLDERS[1]}`);
  expect((await c.cmd('UID STORE 2 +FLAGS (\\Deleted)')).tagged).toMatch(/OK/);
  expect((await c.cmd('EXPUNGE')).tagged).toMatch(/OK/);
  await c.cmd('LOGOUT');
  c.close();
  before = await answers(dv.ports.imap, dv.ports.pop3, USER);

  fs.writeFileSync(path.join(dir, 'roost.toml'), 'data_dir = "./data"\n');
}, 300_000);

afterAll(async () => {
  await node?.stop();
  await dv?.stop();
  await dv2?.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** The answers about the folders the Dovecot account had. */
function onlyDovecots(a: Answers): Answers {
  const keep = new Set(before.folders);
  return { ...a, folders: a.folders.filter((f) => keep.has(f)), subscribed: a.subscribed.filter((f) => keep.has(f)), boxes: Object.fromEntries(Object.entries(a.boxes).filter(([k]) => keep.has(k))) };
}

/**
 * A Maildir import takes INTERNALDATE from each file's mtime (Dovecot's own
 * rule when it has no index). For mail Dovecot took over LMTP it answers, we believe, the
 * arrival time it cached in dovecot.index.cache, which the import does not
 * carry, and which can be a second before the file's mtime when the write
 * crossed a second (seen with the message after the 60 MB one). So, in INBOX
 * only, a date one second later than Dovecot's, with UID, size and flags the
 * same, counts as Dovecot's; anything else must still be equal.
 */
function lmtpDatesAsDovecots(a: Answers): Answers {
  const ref = before.boxes['INBOX']?.messages ?? [];
  const inbox = a.boxes['INBOX'];
  if (!inbox) return a;
  const parse = (m: string): { uid: string; at: number; rest: string } => {
    const [uid, date, ...rest] = m.split(' ');
    return { uid: uid!, at: Date.parse(date!), rest: rest.join(' ') };
  };
  const byUid = new Map(ref.map((m) => [parse(m).uid, m]));
  const messages = inbox.messages.map((m) => {
    const theirs = byUid.get(parse(m).uid);
    if (!theirs || theirs === m) return m;
    const x = parse(m);
    const y = parse(theirs);
    return x.rest === y.rest && x.at - y.at === 1000 ? theirs : m;
  });
  return { ...a, boxes: { ...a.boxes, INBOX: { ...inbox, messages } } };
}

const cfg = (): string => path.join(dir, 'roost.toml');

async function startRoost(): Promise<TestNode> {
  const t = await startTestNode({ pop3: { uidl_format: '%08Xu%08Xv' } }, { dataDir: path.join(dir, 'data') });
  return t;
}

describe.skipIf(!has)(`migration from a real Dovecot${has ? '' : ' (skipped: no dovecot binary; .ci/run installs dovecot-imapd, -pop3d, -lmtpd)'}`, () => {
  it('Dovecot answered what it was given (the test data is what it claims)', () => {
    expect(before.folders).toEqual(expect.arrayContaining(['INBOX', 'Per% 50', 'Star*', 'With Space', '&ANw-ber Ordner', 'Work.2024']));
    expect(before.boxes['INBOX']!.messages.map((m) => m.split(' ')[0])).toEqual(['1', '2', '4', '6', '7']);
    expect(before.boxes['INBOX']!.messages.some((m) => Number(m.split(' ')[2]) > BIG)).toBe(true);
    expect(before.subscribed).toEqual(['&ANw-ber Ordner', 'INBOX', 'Per% 50', 'Work.2024']);
    expect(before.uidl.length).toBe(5);
  });

  it('roost import of the Maildir: folders, UIDs, UIDVALIDITY, flags, keywords, dates, subscriptions and UIDLs are Dovecot\'s', async () => {
    expect((await roost(['user', 'add', ADDRESS, '--password-stdin', '--config', cfg()], `${PASS}\n`)).code).toBe(0);
    const r = await roost(['import', ADDRESS, path.join(dir, 'dv', 'mail', USER, 'Maildir'), '--config', cfg()]);
    expect(r.code, r.stderr).toBe(0);
    node = await startRoost();
    const after = await answers(node.ports.imap!, node.ports.pop3!, ADDRESS);
    // Roost adds its default special-use folders (empty); every Dovecot folder is there as it was.
    expect(after.folders).toEqual(expect.arrayContaining(before.folders));
    expect(lmtpDatesAsDovecots(onlyDovecots(after))).toEqual(before);
    // A second import changes nothing (the account has mail: it is refused, and the answers stay).
    await node.stop();
    node = null;
    const again = await roost(['import', ADDRESS, path.join(dir, 'dv', 'mail', USER, 'Maildir'), '--config', cfg()]);
    expect(again.code).toBe(1);
    node = await startRoost();
    expect(lmtpDatesAsDovecots(onlyDovecots(await answers(node.ports.imap!, node.ports.pop3!, ADDRESS)))).toEqual(before);
  }, 300_000);

  it.skipIf(!hasMbsync)('a client synced with Dovecot and pointed at Roost after the import transfers nothing (mbsync)', async () => {
    const local = path.join(dir, 'mbsync');
    fs.mkdirSync(local);
    const rc = path.join(dir, 'mbsyncrc');
    const write = (port: number, user: string): void =>
      fs.writeFileSync(
        rc,
        [
          'IMAPAccount acct',
          'Host 127.0.0.1',
          `Port ${port}`,
          `User ${user}`,
          `Pass ${PASS}`,
          'SSLType None',
          'AuthMechs LOGIN',
          '',
          'IMAPStore far',
          'Account acct',
          '',
          'MaildirStore near',
          `Path ${local}/`,
          `Inbox ${local}/INBOX`,
          'SubFolders Verbatim',
          '',
          'Channel c',
          'Far :far:',
          'Near :near:',
          'Patterns *',
          // Roost's own empty special-use folders may appear locally; nothing may go up.
          'Create Near',
          'Expunge None',
          'SyncState *',
          '',
        ].join('\n'),
      );
    const mbsync = async (): Promise<string> => {
      const r = await promisify(execFile)('mbsync', ['-Dn', '-c', rc, '-a'], { timeout: 120_000, maxBuffer: 64 * 1024 * 1024 });
      return r.stdout + r.stderr;
    };
    /** Every local message file (name with flags) per folder. */
    const files = (): string[] => {
      const out: string[] = [];
      const walk = (d: string): void => {
        for (const e of fs.readdirSync(d, { withFileTypes: true })) {
          if (e.isDirectory()) walk(path.join(d, e.name));
          else if (/\/(cur|new)$/.test(d)) out.push(path.relative(local, path.join(d, e.name)));
        }
      };
      walk(local);
      return out.sort();
    };
    write(dv!.ports.imap, USER);
    // The first sync downloads everything: the trace shows the body fetches the second must not have.
    expect(await mbsync()).toMatch(/BODY\.PEEK\[\]/);
    const synced = files();
    expect(synced.length).toBe(Object.values(before.boxes).reduce((n, b) => n + b.messages.length, 0));
    write(node!.ports.imap!, ADDRESS);
    const out = await mbsync();
    // -Dn traces the IMAP commands: no FETCH of a body, nothing that changes the server.
    expect(out).not.toMatch(/^>>> \d+ (?:UID )?(?:APPEND|STORE|EXPUNGE|CREATE|DELETE|RENAME|MOVE|COPY)\b/m);
    expect(out).not.toMatch(/BODY\.PEEK\[\]|UIDVALIDITY.*changed/i);
    expect(files()).toEqual(synced);
  }, 300_000);

  it('roost import imap:// --pop3 from the running Dovecot: the same answers, UIDLs recorded from its POP3; a second run copies nothing', async () => {
    expect(node).not.toBeNull();
    expect((await roost(['user', 'add', LIVE, '--password-stdin', '--config', cfg()], `${PASS}\n`)).code).toBe(0);
    // Roost's own UIDLs for this account would be file names: only the recorded ones can equal Dovecot's.
    expect((await roost(['user', 'uidl', LIVE, 'filename', '--config', cfg()])).code).toBe(0);
    const url = `imap://${USER}@127.0.0.1:${dv!.ports.imap}`;
    const pop3 = ['--pop3', `pop3://${USER}@127.0.0.1:${dv!.ports.pop3}`];
    const r = await roost(['import', LIVE, url, ...pop3, '--config', cfg()], `${PASS}\n`);
    expect(r.code, r.stderr).toBe(0);
    const summary = JSON.parse(r.stdout) as { messages: number; refused: unknown[]; pop3Uidls: number };
    expect(summary.refused).toEqual([]);
    expect(summary.messages).toBe(Object.values(before.boxes).reduce((n, b) => n + b.messages.length, 0));
    expect(summary.pop3Uidls).toBe(before.uidl.length);
    const found = await node!.ctx.directory.lookupRecipient(LIVE);
    if (found.kind !== 'found') throw new Error('account missing');
    const names = fs.readdirSync(path.join(found.account.maildir, 'cur')).map((f) => f.split(':2,')[0]);
    expect(before.uidl.some((l) => names.includes(l.split(' ')[1]))).toBe(false);
    expect(onlyDovecots(await answers(node!.ports.imap!, node!.ports.pop3!, LIVE))).toEqual(before);
    const again = await roost(['import', LIVE, url, ...pop3, '--config', cfg()], `${PASS}\n`);
    expect(again.code, again.stderr).toBe(0);
    expect(JSON.parse(again.stdout) as { messages: number; pop3Uidls: number }).toMatchObject({ messages: 0, pop3Uidls: before.uidl.length });
    expect(onlyDovecots(await answers(node!.ports.imap!, node!.ports.pop3!, LIVE))).toEqual(before);
    await dv!.stop();
    dv = null;
  }, 300_000);

  it('a Dovecot reading the Maildir Roost wrote sees the keywords Roost set and its subscriptions', async () => {
    expect(node).not.toBeNull();
    const c = await login(node!.ports.imap!, ADDRESS, PASS);
    await c.cmd('SELECT INBOX');
    expect((await c.cmd('UID STORE 4 +FLAGS ($RoostSet)')).tagged).toMatch(/OK/);
    expect((await c.cmd('UID STORE 1 -FLAGS ($Forwarded)')).tagged).toMatch(/OK/);
    expect((await c.cmd('UNSUBSCRIBE "Per% 50"')).tagged).toMatch(/OK/);
    expect((await c.cmd('SUBSCRIBE "Star*"')).tagged).toMatch(/OK/);
    c.close();
    const found = await node!.ctx.directory.lookupRecipient(ADDRESS);
    if (found.kind !== 'found') throw new Error('account missing');
    const maildir = found.account.maildir;
    // The renames run in the background: wait (bounded) for the names to follow.
    const settled = (): boolean => {
      const kw = fs.readFileSync(path.join(maildir, 'dovecot-keywords'), 'utf8');
      const letter = /^(\d+) \$RoostSet$/m.exec(kw);
      return letter !== null && fs.readdirSync(path.join(maildir, 'cur')).some((f) => f.split(':2,')[1]?.includes(String.fromCharCode(0x61 + Number(letter[1]))));
    };
    for (let i = 0; i < 400 && !settled(); i++) await new Promise((r) => setTimeout(r, 50));
    expect(settled()).toBe(true);
    const roostSays = await answers(node!.ports.imap!, node!.ports.pop3!, ADDRESS);
    await node!.stop({ keep: true });
    node = null;

    // Dovecot's user U reads <mailRoot>/U/Maildir: point it at Roost's account directory.
    const mailRoot = path.dirname(path.dirname(maildir));
    const user = path.basename(path.dirname(maildir));
    fs.mkdirSync(path.join(dir, 'dv2'));
    dv2 = await startDovecot(path.join(dir, 'dv2'), [{ name: user, password: PASS }], { mailRoot });
    let dovecotSays: Answers;
    try {
      dovecotSays = await answers(dv2.ports.imap, dv2.ports.pop3, user);
    } catch (err) {
      throw new Error(`${String(err)}\n${fs.readFileSync(path.join(dir, 'dv2', 'dovecot.log'), 'utf8').slice(-2000)}`);
    }
    expect(dovecotSays.subscribed).toEqual(roostSays.subscribed);
    expect(dovecotSays.subscribed).toContain('Star*');
    expect(dovecotSays.subscribed).not.toContain('Per% 50');
    const flagsOf = (a: Answers, box: string): string[] => a.boxes[box]!.messages.map((m) => `${m.split(' ')[0]} ${m.split(' ').slice(3).join(' ')}`);
    for (const box of roostSays.folders) expect(flagsOf(dovecotSays, box), box).toEqual(flagsOf(roostSays, box));
    expect(flagsOf(dovecotSays, 'INBOX').find((m) => m.startsWith('4 '))).toContain('$RoostSet');
  }, 300_000);
});
