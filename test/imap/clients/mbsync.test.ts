/**
 * isync's mbsync (Debian package, a client no one here wrote) syncing a
 * mailbox tree both ways against a real node: server folders with a
 * hierarchy come down, local folders and messages go up (APPEND, CREATE),
 * flag changes and deletions travel both ways, names with spaces and
 * modified UTF-7 survive — and a second run right
 * after each sync changes nothing on either side (same files, same UIDs,
 * UIDVALIDITY, flags; mbsync sends no APPEND/STORE/EXPUNGE/CREATE).
 */
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { message, startImapNode, type ImapTestNode } from '../helpers/node.js';

const run = promisify(execFile);

let n: ImapTestNode;
let dir: string;
let mailDir: string;
let rc: string;

/** Commands that would change the server, as mbsync's -Dn debug output shows them (">>> 7 UID STORE ..."). */
const MUTATING = /^>>> \d+ (APPEND|UID STORE|STORE|UID EXPUNGE|EXPUNGE|CREATE|DELETE|RENAME|UID MOVE|MOVE|UID COPY|COPY)\b/m;

async function mbsync(): Promise<{ out: string }> {
  const r = await run('mbsync', ['-Dn', '-c', rc, '-a'], { timeout: 60_000, maxBuffer: 32 * 1024 * 1024 }).catch((e: { stdout?: string; stderr?: string; message: string }) => {
    throw new Error(`mbsync failed: ${e.message}\n${e.stdout ?? ''}\n${e.stderr ?? ''}`);
  });
  return { out: r.stdout + r.stderr };
}

function imap(): ImapFlow {
  return new ImapFlow({ host: '127.0.0.1', port: n.port, secure: false, doSTARTTLS: false, auth: { user: n.user, pass: n.pass }, logger: false });
}

interface ServerBox {
  uidValidity: string;
  uidNext: number;
  messages: { uid: number; flags: string[]; sha: string; shaNoTuid: string }[];
}

/** Every selectable mailbox with UIDVALIDITY, UIDNEXT and each message's UID, flags and content hash. */
async function serverSnapshot(): Promise<Record<string, ServerBox>> {
  const c = imap();
  await c.connect();
  try {
    const out: Record<string, ServerBox> = {};
    for (const box of await c.list()) {
      if (box.flags.has('\\Noselect') || box.flags.has('\\NonExistent')) continue;
      const lock = await c.getMailboxLock(box.path, { readOnly: true });
      try {
        const mb = c.mailbox;
        if (!mb) throw new Error('no mailbox');
        const messages: ServerBox['messages'] = [];
        if (mb.exists > 0) {
          for await (const m of c.fetch('1:*', { uid: true, flags: true, source: true })) {
            const src = m.source!;
            messages.push({
              uid: m.uid,
              flags: [...(m.flags ?? [])].sort(),
              sha: sha(src),
              shaNoTuid: sha(Buffer.from(src.toString('latin1').replace(/^X-TUID: .*\r\n/m, ''), 'latin1')),
            });
          }
        }
        out[box.path] = { uidValidity: String(mb.uidValidity), uidNext: mb.uidNext, messages };
      } finally {
        lock.release();
      }
    }
    return out;
  } finally {
    await c.logout();
  }
}

const sha = (b: Buffer | string): string => createHash('sha256').update(b).digest('hex').slice(0, 16);

/** Every message file under the local Maildir tree: relative path (with flags) → content hash. */
async function localSnapshot(root = mailDir): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (d: string): Promise<void> => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = path.join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else if (/\/(cur|new)$/.test(d)) out[path.relative(root, p)] = sha(await readFile(p));
    }
  };
  await walk(root);
  return out;
}

/** Local message files of one folder (relative to mailDir). */
async function localFiles(folder: string): Promise<string[]> {
  const snap = await localSnapshot();
  return Object.keys(snap).filter((k) => k.startsWith(`${folder}/cur/`) || k.startsWith(`${folder}/new/`));
}

async function makeMaildir(folder: string, messages: string[]): Promise<void> {
  const base = path.join(mailDir, folder);
  for (const sub of ['cur', 'new', 'tmp']) await mkdir(path.join(base, sub), { recursive: true });
  let i = 0;
  for (const m of messages) await writeFile(path.join(base, 'new', `1700000000.local${i++}.host`), m);
}

beforeAll(async () => {
  n = await startImapNode();
  dir = await mkdtemp(path.join(os.tmpdir(), 'roost-mbsync-'));
  mailDir = path.join(dir, 'mail');
  rc = path.join(dir, 'mbsyncrc');
  await writeFile(
    rc,
    [
      'IMAPAccount roost',
      'Host 127.0.0.1',
      `Port ${n.port}`,
      `User ${n.user}`,
      `Pass ${n.pass}`,
      // Loopback: the node allows plaintext LOGIN here (auth.allow_plaintext = loopback).
      'SSLType None',
      'AuthMechs LOGIN',
      '',
      'IMAPStore remote',
      'Account roost',
      '',
      'MaildirStore local',
      `Path ${mailDir}/`,
      `Inbox ${mailDir}/INBOX`,
      'SubFolders Verbatim',
      '',
      'Channel roost',
      'Far :remote:',
      'Near :local:',
      'Patterns *',
      'Create Both',
      'Expunge Both',
      'SyncState *',
      'CopyArrivalDate yes',
      '',
    ].join('\n'),
  );

  // Server side: INBOX with three messages, a tree Lists > dev with mail in it.
  await n.deliver([message(1), message(2), message(3)]);
  const c = imap();
  await c.connect();
  await c.mailboxCreate('Lists');
  await c.mailboxCreate('Lists.dev');
  // A name that needs quoting and modified UTF-7 on the wire (RFC 3501 §5.1.3).
  await c.mailboxCreate('Entwürfe alt');
  await c.logout();
  await n.deliver([message(40, { subject: 'alter Entwurf' })], { mailbox: 'Entwürfe alt' });
  await n.deliver([message(10, { subject: 'dev list 1' }), message(11, { subject: 'dev list 2' })], { mailbox: 'Lists.dev' });
  const c2 = imap();
  await c2.connect();
  const lock = await c2.getMailboxLock('INBOX');
  await c2.messageFlagsAdd('1', ['\\Seen']);
  lock.release();
  await c2.logout();

  // Local side: a new message in INBOX and a local tree Local > Sub.
  await makeMaildir('INBOX', [message(20, { subject: 'written offline' })]);
  await makeMaildir('Local', [message(30, { subject: 'local one' }), message(31, { subject: 'local two' })]);
  await makeMaildir('Local/Sub', [message(32, { subject: 'deep local' })]);
  await makeMaildir('Local Stuff', [message(33, { subject: 'spaced' })]);
}, 60_000);

afterAll(async () => {
  await n?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('mbsync both ways', () => {
  it('first sync: server tree comes down, local tree goes up', async () => {
    const r = await mbsync();
    expect(r.out).not.toMatch(/Error|error:/);
    // The debug trace shows what was sent (this is what the no-change runs are checked against).
    expect(r.out).toMatch(/^>>> \d+ APPEND /m);
    expect(r.out).toMatch(/^>>> \d+ CREATE /m);
    const server = await serverSnapshot();
    expect(Object.keys(server)).toEqual(expect.arrayContaining(['INBOX', 'Lists', 'Lists.dev', 'Local', 'Local.Sub', 'Local Stuff', 'Entwürfe alt', 'Sent', 'Trash']));
    expect(server['Local Stuff']!.messages).toHaveLength(1);
    // isync 1.4 keeps the wire (modified UTF-7) form as the local folder name.
    const local8 = Object.keys(await localSnapshot()).filter((k) => k.startsWith('Entw'));
    expect(local8).toHaveLength(1);
    expect(local8[0]!.startsWith('Entw&APw-rfe alt/')).toBe(true);
    expect(server.INBOX!.messages).toHaveLength(4);
    expect(server['Local']!.messages).toHaveLength(2);
    expect(server['Local.Sub']!.messages).toHaveLength(1);
    expect(server['Lists.dev']!.messages).toHaveLength(2);
    expect(await localFiles('INBOX')).toHaveLength(4);
    expect(await localFiles('Lists/dev')).toHaveLength(2);
    // \Seen on the server became S in the local file name.
    expect((await localFiles('INBOX')).filter((f) => /:2,[A-Z]*S[A-Z]*$/.test(f))).toHaveLength(1);
    // What went up is byte-identical to what was written locally, apart from
    // the X-TUID header mbsync inserts into the copy it uploads.
    const local = await localSnapshot();
    const upHashes = server['Local']!.messages.map((m) => m.shaNoTuid).sort();
    const localHashes = Object.entries(local).filter(([k]) => k.startsWith('Local/cur/') || k.startsWith('Local/new/')).map(([, v]) => v).sort();
    expect(upHashes).toEqual(localHashes);
  }, 90_000);

  it('second run changes nothing', async () => {
    const server = await serverSnapshot();
    const local = await localSnapshot();
    const r = await mbsync();
    expect(r.out).not.toMatch(MUTATING);
    expect(await serverSnapshot()).toEqual(server);
    expect(await localSnapshot()).toEqual(local);
  }, 90_000);

  it('changes on both sides travel, then again a second run changes nothing', async () => {
    // Server: flag one INBOX message, expunge another, deliver to Lists.dev.
    const c = imap();
    await c.connect();
    const lock = await c.getMailboxLock('INBOX');
    await c.messageFlagsAdd('2', ['\\Flagged']);
    const gone = await c.fetchOne('3', { uid: true, source: true });
    if (!gone || !gone.source) throw new Error('message 3 not found');
    await c.messageDelete('3');
    lock.release();
    await c.logout();
    await n.deliver([message(12, { subject: 'dev list 3' })], { mailbox: 'Lists.dev' });
    // Local: mark a Local message seen (Maildir info "2,S") and delete the other.
    const localMsgs = (await localFiles('Local')).sort();
    expect(localMsgs).toHaveLength(2);
    const [keep, drop] = localMsgs as [string, string];
    const seenName = keep.replace(/\/new\//, '/cur/').replace(/:2,[A-Z]*$/, '') + ':2,S';
    await rename(path.join(mailDir, keep), path.join(mailDir, seenName));
    await unlink(path.join(mailDir, drop));

    await mbsync();
    const server = await serverSnapshot();
    expect(server['Local']!.messages).toHaveLength(1);
    expect(server['Local']!.messages[0]!.flags).toContain('\\Seen');
    expect(server['Lists.dev']!.messages).toHaveLength(3);
    const inbox = await localFiles('INBOX');
    expect(inbox).toHaveLength(3);
    expect(Object.values(await localSnapshot())).not.toContain(sha(gone.source!));
    expect(inbox.filter((f) => /:2,[A-Z]*F[A-Z]*$/.test(f))).toHaveLength(1);
    expect(await localFiles('Lists/dev')).toHaveLength(3);

    const before = { server, local: await localSnapshot() };
    const r = await mbsync();
    expect(r.out).not.toMatch(MUTATING);
    expect(await serverSnapshot()).toEqual(before.server);
    expect(await localSnapshot()).toEqual(before.local);
  }, 120_000);
});
