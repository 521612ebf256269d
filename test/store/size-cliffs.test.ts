/**
 * No size cliffs, and a failed index rebuild never locks a user out.
 *
 * 300,000 files in one folder take minutes to write and index on the shared
 * test machine, so the 300k-element code paths are driven as pure functions
 * (UID list parsing, the packed mailbox list, envelope address lists) and the
 * import/reindex path end to end at 6,000 messages (more than one import batch
 * of 5,000 and more than PACK_MIN).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { internFlags, type Entry } from '../../src/store/message-list.js';
import { pack, unpack } from '../../src/store/index/list-image.js';
import { parseUidList } from '../../src/store/maildir/uidlist-import.js';
import { envelopeFields } from '../../src/store/mime/envelope.js';
import { splitFields } from '../../src/store/mime/header.js';
import { RawImap } from '../imap/helpers/client.js';
import { RawClient } from '../helpers/pop3-client.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { openStore } from '../../src/store/open.js';
import { account, open, tempDir } from './helpers.js';

const BIG = 300_000;

describe('300,000-element paths (pure functions)', () => {
  it('parses a dovecot-uidlist of 300,000 lines with UID gaps', () => {
    const lines = ['3 V1700000000 N1 G0123456789abcdef0123456789abcdef'];
    for (let i = 0; i < BIG; i++) lines.push(`${2 * i + 1} :${1600000000 + i}.M${i}P1.old:2,S`);
    const list = parseUidList(lines.join('\n'), 'dovecot-uidlist')!;
    expect(list.uids.size).toBe(BIG);
    expect(list.uids.get(`${1600000000 + BIG - 1}.M${BIG - 1}P1.old`)).toBe(2 * BIG - 1);
    // N1 in the header is below the highest UID: UIDNEXT follows the list.
    expect(list.uidnext).toBe(2 * BIG);
  });

  it('packs and unpacks a 300,000-message list', () => {
    const flags = Object.freeze(['\\Seen']);
    const entries: Entry[] = [];
    for (let i = 0; i < BIG; i++) {
      const basename = `${1600000000 + i}.M${i}P1.h`;
      entries.push({ uid: i + 1, basename, filename: `cur/${basename}:2,S`, diskName: `cur/${basename}:2,S`, flags, modseq: BigInt(i + 1), size: 14, vsize: 16, internalDate: 1_600_000_000_000 + i } as unknown as Entry);
    }
    const back = unpack(pack(entries), internFlags);
    expect(back.length).toBe(BIG);
    expect(back[BIG - 1]!.uid).toBe(BIG);
    expect(back[BIG - 1]!.basename).toBe(entries[BIG - 1]!.basename);
  });

  it('collects 20,000 repeated To fields without quadratic copying', () => {
    const head = Array.from({ length: 20_000 }, (_, i) => `To: u${i}@example.org\r\n`).join('') + '\r\n';
    const buf = Buffer.from(head);
    const e = envelopeFields(buf, splitFields(buf, 0, buf.length));
    expect(e.to!.length).toBe(20_000);
  });
});

/** A Maildir++ of `n` tiny messages in one folder plus a dovecot-uidlist with UID gaps. */
function writeMaildir(dir: string, n: number, folder = ''): string[] {
  const box = folder ? path.join(dir, `.${folder}`) : dir;
  for (const s of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(box, s), { recursive: true });
  const names: string[] = [];
  const lines = ['3 V1700000000 N1 G0123456789abcdef0123456789abcdef'];
  const body = Buffer.from('Subject: x\n\nx\n');
  for (let i = 0; i < n; i++) {
    const base = `${1600000000 + i}.M${i}P1.old,S=14,W=16`;
    fs.writeFileSync(path.join(box, 'cur', `${base}:2,S`), body);
    lines.push(`${3 * i + 7} :${base}:2,S`);
    names.push(base);
  }
  fs.writeFileSync(path.join(box, 'dovecot-uidlist'), lines.join('\n') + '\n');
  return names;
}

describe('import and reindex at 6,000 messages', () => {
  let root = '';
  afterEach(() => {
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it('keeps every UID across import batches and returns memory after an online reindex', async () => {
    root = tempDir();
    const a = account(root, 'big');
    const n = 6000;
    writeMaildir(a.maildir, n);
    const store = await open(root);
    try {
      const box = await store.user(a).openMailbox('INBOX', { readOnly: true });
      const msgs = box.snapshot().messages;
      expect(msgs.length).toBe(n);
      expect(msgs[0]!.uid).toBe(7);
      expect(msgs[n - 1]!.uid).toBe(3 * (n - 1) + 7);
      const uidvalidity = box.snapshot().uidvalidity;
      box.close();
      // Warm-up reindex, so what stays allocated afterwards is steady state, not first-use JIT and caches.
      await store.reindex(a);
      global.gc?.();
      const before = process.memoryUsage().rss;
      for (let i = 0; i < 3; i++) expect((await store.reindex(a)).messages).toBe(n);
      global.gc?.();
      const after = process.memoryUsage().rss;
      // Loose bound: the allocator keeps some pages, but three rebuilds must not
      // each leave the mailbox's records behind (the old code kept every file's
      // bytes and one record per message until the end).
      expect(after - before).toBeLessThan(64 * 1024 * 1024);
      const again = await store.user(a).openMailbox('INBOX', { readOnly: true });
      expect(again.snapshot().uidvalidity).toBe(uidvalidity);
      expect(again.snapshot().messages[n - 1]!.uid).toBe(3 * (n - 1) + 7);
      again.close();
    } finally {
      await store.close();
    }
  }, 240_000);
});

describe('a failed index rebuild', () => {
  let t: TestNode | null = null;
  afterEach(async () => {
    await t?.stop();
    t = null;
  });

  async function imapLogin(port: number, user: string, pass: string): Promise<string> {
    const c = await RawImap.connect(port);
    try {
      await c.line();
      const r = await c.cmd(`LOGIN "${user}" "${pass}"`);
      if (!/ OK/.test(r.tagged)) return r.tagged;
      return (await c.cmd('STATUS "Broken" (MESSAGES)')).untagged.join('\n') + '\n' + (await c.cmd('STATUS INBOX (MESSAGES)')).untagged.join('\n');
    } finally {
      c.socket.destroy();
    }
  }

  async function popStat(port: number, user: string, pass: string): Promise<string> {
    const c = await RawClient.connect(port);
    try {
      await c.line();
      await c.cmd(`USER ${user}`);
      const r = await c.cmd(`PASS ${pass}`);
      return r.startsWith('+OK') ? await c.cmd('STAT') : r;
    } finally {
      c.socket.destroy();
    }
  }

  /** An account whose Maildir has a folder the rebuild cannot create (its tmp/ is a file). */
  async function brokenAccount(node: TestNode, user: string): Promise<{ fix: () => void }> {
    const acct = await node.addUser(user, 'pw-pw-pw');
    writeMaildir(acct.maildir, 3);
    writeMaildir(acct.maildir, 2, 'Broken');
    const tmp = path.join(acct.maildir, '.Broken', 'tmp');
    fs.rmSync(tmp, { recursive: true });
    fs.writeFileSync(tmp, 'not a directory');
    return { fix: () => fs.rmSync(tmp) };
  }

  it('answers NO [UNAVAILABLE] and -ERR [SYS/TEMP], logs why, and the next login retries', async () => {
    t = await startTestNode();
    const imap = t.ports.imap!;
    const pop = t.ports.pop3!;
    const a = await brokenAccount(t, 'one@example.org');
    const b = await brokenAccount(t, 'two@example.org');
    expect(await imapLogin(imap, 'one@example.org', 'pw-pw-pw')).toMatch(/^a\d+ NO \[UNAVAILABLE\]/);
    expect(await popStat(pop, 'two@example.org', 'pw-pw-pw')).toMatch(/^-ERR \[SYS\/TEMP\]/);
    // The next attempt runs the rebuild again (the mailbox record it journaled
    // is replayed, the folder's files come with the next look at the folder).
    const again = await imapLogin(imap, 'one@example.org', 'pw-pw-pw');
    expect(again).toContain('* STATUS INBOX (MESSAGES 3)');
    expect(await popStat(pop, 'two@example.org', 'pw-pw-pw')).toMatch(/^\+OK 3 /);
    a.fix();
    b.fix();
    expect(await imapLogin(imap, 'one@example.org', 'pw-pw-pw')).toContain('* STATUS Broken (MESSAGES 2)');
  }, 60_000);

  it('tells the store log which account and why', async () => {
    const root = tempDir();
    try {
      const logged: { msg: string; fields: Record<string, unknown> }[] = [];
      const store = await openStore({ dataDir: path.join(root, 'data'), mailDir: path.join(root, 'mail'), hostname: 'test.host', log: (msg, fields) => logged.push({ msg, fields }) });
      try {
        const a = account(root, 'three');
        writeMaildir(a.maildir, 1);
        writeMaildir(a.maildir, 1, 'Broken');
        const tmp = path.join(a.maildir, '.Broken', 'tmp');
        fs.rmSync(tmp, { recursive: true });
        fs.writeFileSync(tmp, 'x');
        await expect(store.user(a).openMailbox('INBOX')).rejects.toMatchObject({ code: 'TEMP' });
        const line = logged.find((l) => l.msg.includes('index rebuild failed'));
        expect(line?.fields.account).toBe(a.id);
        expect(String(line?.fields.err)).toContain('EEXIST');
      } finally {
        await store.close();
      }
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });

  it('keeps the old index when an online reindex fails, and a second reindex succeeds', async () => {
    t = await startTestNode();
    const user = 'big@example.org';
    const acct = await t.addUser(user, 'pw-pw-pw');
    writeMaildir(acct.maildir, 3);
    writeMaildir(acct.maildir, 2, 'Broken');
    const store = t.ctx.store;
    const uids = async () => {
      const b = await store.user(acct).openMailbox('INBOX', { readOnly: true });
      const r = b.snapshot().messages.map((m) => m.uid);
      b.close();
      return r;
    };
    expect(await uids()).toEqual([7, 10, 13]);
    const tmp = path.join(acct.maildir, '.Broken', 'tmp');
    fs.rmSync(tmp, { recursive: true });
    fs.writeFileSync(tmp, 'not a directory');
    // The kept index from the first open is the truth for UIDs; remove the list so only the index can tell.
    fs.rmSync(path.join(acct.maildir, 'dovecot-uidlist'));
    await expect(store.reindex(acct)).rejects.toMatchObject({ code: 'TEMP' });
    expect(await imapLogin(t.ports.imap!, user, 'pw-pw-pw')).toContain('* STATUS INBOX (MESSAGES 3)');
    expect(await uids()).toEqual([7, 10, 13]);
    fs.rmSync(tmp);
    expect((await store.reindex(acct)).messages).toBe(5);
    expect(await uids()).toEqual([7, 10, 13]);
  }, 60_000);
});
