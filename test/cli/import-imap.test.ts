/**
 * `roost import ADDRESS imap://…` from a live, private Dovecot:
 * folders (spaces, non-ASCII, %), UIDs with gaps, UIDVALIDITY, flags,
 * keywords, INTERNALDATE and subscriptions equal Dovecot's answers over
 * IMAP; a second run copies nothing; mail that reached Dovecot between runs
 * is copied by the next one with its UID.
 */
import { execFileSync } from 'node:child_process';
import { chmod, mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
// The bench's private-Dovecot starter (loopback ports, temp dir, no system service touched).
import { startDovecot } from '../../bench/compare/dovecot.js';
import { roost } from '../helpers/cli.js';
import { makeTempDir, startTestNode, type TestNode } from '../helpers/node.js';

const hasDovecot = (() => {
  try {
    execFileSync('dovecot', ['--version']);
    return true;
  } catch {
    return false;
  }
})();

type Dovecot = Awaited<ReturnType<typeof startDovecot>>;
let dir: string;
let dovecot: Dovecot;
let node: TestNode;
let cfg: string;

const FOLDERS = ['Work Stuff', 'Café', '50% off', 'Archive.2024'];
const msg = (n: number, extra = ''): string => `From: a@example.org\r\nSubject: message ${n}\r\nMessage-ID: <${n}@example.org>\r\n\r\nbody ${n}\r\n${extra}`;

async function connect(port: number, user: string, pass: string): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass }, tls: { rejectUnauthorized: false }, logger: false });
  await c.connect();
  return c;
}

interface Dump {
  subscribed: string[];
  folders: Record<string, { uidvalidity: number; messages: [number, string[], number][] }>;
}

/** Everything a client caches, as an IMAP client sees it. */
async function dump(c: ImapFlow): Promise<Dump> {
  const out: Dump = { subscribed: [], folders: {} };
  for (const f of await c.list()) {
    if (f.subscribed) out.subscribed.push(f.path);
    if (f.flags.has('\\Noselect')) continue;
    const mb = await c.mailboxOpen(f.path, { readOnly: true });
    const messages: [number, string[], number][] = [];
    if (mb.exists > 0) {
      for await (const m of c.fetch('1:*', { uid: true, flags: true, internalDate: true })) {
        messages.push([m.uid, [...(m.flags ?? [])].filter((x) => x !== '\\Recent').sort(), new Date(m.internalDate!).getTime()]);
      }
    }
    messages.sort((a, b) => a[0] - b[0]);
    out.folders[f.path] = { uidvalidity: Number(mb.uidValidity), messages };
  }
  out.subscribed.sort();
  return out;
}

async function runImport(): Promise<{ code: number; summary: { messages: number; folders: { folder: string; copied: number }[] }; stderr: string }> {
  const r = await roost(['import', 'new@example.org', `imap://old@127.0.0.1:${dovecot.ports.imap}`, '--config', cfg], 'oldpw\n');
  return { code: r.code, summary: r.code === 0 ? JSON.parse(r.stdout) : null, stderr: r.stderr };
}

beforeAll(async () => {
  if (!hasDovecot) return;
  dir = await makeTempDir('roost-liveimport-');
  await chmod(dir, 0o755);
  await mkdir(path.join(dir, 'dovecot'));
  dovecot = await startDovecot(path.join(dir, 'dovecot'), [{ name: 'old', password: 'oldpw' }]);
  const c = await connect(dovecot.ports.imap, 'old', 'oldpw');
  try {
    for (const f of FOLDERS) await c.mailboxCreate(f);
    const day = (d: number) => new Date(Date.UTC(2019, 0, d, 10, 30, 0));
    await c.append('INBOX', msg(1), ['\\Seen'], day(1));
    await c.append('INBOX', msg(2), ['\\Answered', '$Forwarded', '$Label1'], day(2));
    await c.append('INBOX', msg(3), ['\\Flagged', '\\Draft', 'Junk'], day(3));
    await c.append('INBOX', msg(4), [], day(4));
    await c.append('INBOX', msg(5), ['\\Deleted', '\\Seen'], day(5));
    await c.append('Work Stuff', msg(6), ['$Work'], day(6));
    await c.append('Work Stuff', msg(7), ['\\Seen'], day(7));
    await c.append('Café', msg(8), ['\\Seen', '$Label2'], day(8));
    await c.append('50% off', msg(9), [], day(9));
    await c.append('Archive.2024', msg(10, 'x'.repeat(3 * 1024 * 1024)), ['\\Seen'], day(10));
    // UID gaps: expunge INBOX UID 2 and Work Stuff UID 1.
    await c.mailboxOpen('INBOX');
    await c.messageDelete('2', { uid: true });
    await c.mailboxOpen('Work Stuff');
    await c.messageDelete('1', { uid: true });
    await c.mailboxClose();
    // imapflow's mailboxCreate subscribes: leave two folders unsubscribed.
    await c.mailboxSubscribe('INBOX');
    await c.mailboxUnsubscribe('50% off');
    await c.mailboxUnsubscribe('Archive.2024');
  } finally {
    await c.logout();
  }
  node = await startTestNode({}, { dataDir: path.join(dir, 'roost') });
  await node.addUser('new@example.org', 'newpw');
  cfg = path.join(dir, 'roost.toml');
  await writeFile(cfg, `data_dir = ${JSON.stringify(node.dataDir)}\n`);
}, 60_000);

afterAll(async () => {
  if (!hasDovecot) return;
  await node?.stop();
  await dovecot?.stop();
  await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!hasDovecot)('roost import imap:// from a live Dovecot', () => {
  it('copies folders, UIDs, UIDVALIDITY, flags, keywords, INTERNALDATE and subscriptions', async () => {
    const r = await runImport();
    expect(r.code, r.stderr).toBe(0);
    expect(r.summary.messages).toBe(8);
    const d = await connect(dovecot.ports.imap, 'old', 'oldpw');
    const n = await connect(node.ports.imap!, 'new@example.org', 'newpw');
    try {
      const want = await dump(d);
      const got = await dump(n);
      expect(Object.keys(want.folders)).toEqual(expect.arrayContaining([...FOLDERS, 'INBOX']));
      for (const [name, f] of Object.entries(want.folders)) expect(got.folders[name], name).toEqual(f);
      // Roost's own special-use folders (made at first login) are not the source's business.
      expect(want.subscribed).toEqual(['Café', 'INBOX', 'Work Stuff']);
      expect(got.subscribed.filter((s) => s in want.folders)).toEqual(want.subscribed);
      expect(want.folders.INBOX!.messages.map((m) => m[0])).toEqual([1, 3, 4, 5]);
    } finally {
      await d.logout();
      await n.logout();
    }
  }, 120_000);

  it('a second run copies nothing; mail that reached the old server meanwhile is copied with its UID', async () => {
    const again = await runImport();
    expect(again.code, again.stderr).toBe(0);
    expect(again.summary.messages).toBe(0);
    const d = await connect(dovecot.ports.imap, 'old', 'oldpw');
    try {
      await d.append('Work Stuff', msg(11), ['\\Flagged', '$Late'], new Date(Date.UTC(2020, 5, 1)));
    } finally {
      await d.logout();
    }
    const third = await runImport();
    expect(third.code, third.stderr).toBe(0);
    expect(third.summary.messages).toBe(1);
    expect(third.summary.folders.find((f) => f.folder === 'Work Stuff')?.copied).toBe(1);
    const d2 = await connect(dovecot.ports.imap, 'old', 'oldpw');
    const n = await connect(node.ports.imap!, 'new@example.org', 'newpw');
    try {
      const want = await dump(d2);
      const got = await dump(n);
      expect(got.folders['Work Stuff']).toEqual(want.folders['Work Stuff']);
      expect(got.folders['Work Stuff']!.messages.map((m) => m[0])).toEqual([2, 3]);
    } finally {
      await d2.logout();
      await n.logout();
    }
  }, 120_000);
});
