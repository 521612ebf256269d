/**
 * \Recent over real sockets (RFC 3501 §2.3.2, §6.3.1, §6.3.2, §6.3.10,
 * §6.4.4, §7.3.2): recent in exactly one session — the first SELECT after
 * arrival, or the session that owns the mailbox when a message arrives —
 * EXAMINE sees without claiming, STATUS RECENT counts the unclaimed, SEARCH
 * RECENT/NEW/OLD follow the session's set, COPY/MOVE/APPEND targets get
 * recent messages, and the boundary survives a restart and an index upgrade.
 */
import Database from 'better-sqlite3';
import { INDEX_VERSION } from '../../src/store/index/schema.js';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RawImap, login } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';
import { startTestNode } from '../helpers/node.js';

let n: ImapTestNode;
let box = 0;

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  await n?.stop();
});

/** A new mailbox holding `count` delivered messages. */
async function mailboxWith(count: number): Promise<string> {
  const name = `R${++box}`;
  const c = await login(n.port, n.user, n.pass);
  expect((await c.cmd(`CREATE ${name}`)).tagged).toMatch(/OK/);
  await c.cmd('LOGOUT');
  c.close();
  for (let i = 0; i < count; i++) await n.deliver([message(i + 1)], { mailbox: name });
  return name;
}

const recentLine = (lines: readonly string[]): string | undefined => lines.find((l) => / RECENT$/.test(l));
/** UIDs whose FETCH FLAGS carry \Recent. */
const recentUids = (lines: readonly string[]): number[] =>
  lines.filter((l) => /FLAGS \([^)]*\\Recent/.test(l)).map((l) => Number(/UID (\d+)/.exec(l)![1]));

async function statusRecent(c: RawImap, name: string): Promise<number> {
  const r = await c.cmd(`STATUS ${name} (RECENT)`);
  expect(r.tagged).toMatch(/OK/);
  return Number(/RECENT (\d+)/.exec(r.untagged.join('\n'))![1]);
}

describe('\\Recent at SELECT and EXAMINE', () => {
  it('EXAMINE reports recent without claiming; the first SELECT claims; the next sees none', async () => {
    const name = await mailboxWith(2);
    const a = await login(n.port, n.user, n.pass);
    const ex = await a.cmd(`EXAMINE ${name}`);
    expect(recentLine(ex.untagged)).toBe('* 2 RECENT');
    expect(recentUids((await a.cmd('FETCH 1:* (UID FLAGS)')).untagged)).toEqual([1, 2]);
    await a.cmd('CLOSE');
    expect(await statusRecent(a, name)).toBe(2);

    const sel = await a.cmd(`SELECT ${name}`);
    expect(sel.tagged).toMatch(/READ-WRITE/);
    expect(recentLine(sel.untagged)).toBe('* 2 RECENT');
    expect(recentUids((await a.cmd('FETCH 1:* (UID FLAGS)')).untagged)).toEqual([1, 2]);

    // While A keeps them, another session sees them as not recent, and STATUS counts them claimed.
    const b = await login(n.port, n.user, n.pass);
    expect(await statusRecent(b, name)).toBe(0);
    const sel2 = await b.cmd(`SELECT ${name}`);
    expect(recentLine(sel2.untagged)).toBe('* 0 RECENT');
    expect(recentUids((await b.cmd('FETCH 1:* (UID FLAGS)')).untagged)).toEqual([]);
    expect((await b.cmd('SEARCH RECENT')).untagged).toEqual(['* SEARCH']);

    // After A leaves, selecting again finds nothing recent either.
    await a.cmd('CLOSE');
    expect(recentLine((await a.cmd(`SELECT ${name}`)).untagged)).toBe('* 0 RECENT');
    expect(await statusRecent(b, name)).toBe(0);
    a.close();
    b.close();
  });

  it('STORE answers and SEARCH NEW/OLD/RECENT use the session set; \\Recent itself cannot be stored', async () => {
    const name = await mailboxWith(2);
    const a = await login(n.port, n.user, n.pass);
    await a.cmd(`SELECT ${name}`);
    await a.cmd('CLOSE');
    // Two old messages, then three that arrive unclaimed.
    for (let i = 0; i < 3; i++) await n.deliver([message(10 + i)], { mailbox: name });
    const sel = await a.cmd(`SELECT ${name}`);
    expect(recentLine(sel.untagged)).toBe('* 3 RECENT');
    const st = await a.cmd('STORE 3 +FLAGS (\\Seen)');
    expect(st.untagged).toEqual([expect.stringMatching(/^\* 3 FETCH \(FLAGS \(\\Recent \\Seen\)\)$/)]);
    expect((await a.cmd('STORE 1 +FLAGS (\\Seen)')).untagged).toEqual(['* 1 FETCH (FLAGS (\\Seen))']);
    expect((await a.cmd('SEARCH RECENT')).untagged).toEqual(['* SEARCH 3 4 5']);
    expect((await a.cmd('SEARCH NEW')).untagged).toEqual(['* SEARCH 4 5']);
    expect((await a.cmd('SEARCH OLD')).untagged).toEqual(['* SEARCH 1 2']);
    expect((await a.cmd('SEARCH NOT RECENT UNSEEN')).untagged).toEqual(['* SEARCH 2']);
    expect((await a.cmd('STORE 4 +FLAGS (\\Recent)')).tagged).toMatch(/BAD/);
    expect(recentUids((await a.cmd('FETCH 1:* (UID FLAGS)')).untagged)).toEqual([3, 4, 5]);
    a.close();
  });
});

describe('\\Recent for arrivals while selected', () => {
  it('a delivery is recent in the owning session only; ownership passes on when it leaves', async () => {
    const name = await mailboxWith(1);
    const a = await login(n.port, n.user, n.pass);
    const b = await login(n.port, n.user, n.pass);
    const c = await login(n.port, n.user, n.pass);
    expect(recentLine((await a.cmd(`SELECT ${name}`)).untagged)).toBe('* 1 RECENT');
    expect(recentLine((await b.cmd(`SELECT ${name}`)).untagged)).toBe('* 0 RECENT');
    await n.deliver([message(2)], { mailbox: name });

    const na = await a.cmd('NOOP');
    expect(na.untagged).toEqual(['* 2 EXISTS', '* 2 RECENT']);
    const nb = await b.cmd('NOOP');
    expect(nb.untagged).toEqual(['* 2 EXISTS', '* 0 RECENT']);
    expect(await statusRecent(c, name)).toBe(0);
    expect(recentUids((await a.cmd('FETCH 1:* (UID FLAGS)')).untagged)).toEqual([1, 2]);
    expect(recentUids((await b.cmd('FETCH 1:* (UID FLAGS)')).untagged)).toEqual([]);

    // A leaves: B, still selected, owns what arrives from now on; nothing A had moves to B.
    await a.cmd('LOGOUT');
    a.close();
    await n.deliver([message(3)], { mailbox: name });
    expect((await b.cmd('NOOP')).untagged).toEqual(['* 3 EXISTS', '* 1 RECENT']);
    expect(recentUids((await b.cmd('FETCH 1:* (UID FLAGS)')).untagged)).toEqual([3]);
    expect(await statusRecent(c, name)).toBe(0);
    b.close();
    c.close();
  });

  it('with only EXAMINE sessions, an arrival stays unclaimed for the next SELECT', async () => {
    const name = await mailboxWith(1);
    const a = await login(n.port, n.user, n.pass);
    expect(recentLine((await a.cmd(`EXAMINE ${name}`)).untagged)).toBe('* 1 RECENT');
    await n.deliver([message(2)], { mailbox: name });
    // Not this read-only session's to see as recent: the message arrived after it opened.
    expect((await a.cmd('NOOP')).untagged).toEqual(['* 2 EXISTS', '* 1 RECENT']);
    const b = await login(n.port, n.user, n.pass);
    expect(await statusRecent(b, name)).toBe(2);
    expect(recentLine((await b.cmd(`SELECT ${name}`)).untagged)).toBe('* 2 RECENT');
    a.close();
    b.close();
  });

  it('RECENT counts only messages still in the session: an expunged recent message no longer counts', async () => {
    const name = await mailboxWith(3);
    const a = await login(n.port, n.user, n.pass);
    expect(recentLine((await a.cmd(`SELECT ${name}`)).untagged)).toBe('* 3 RECENT');
    await a.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
    expect((await a.cmd('EXPUNGE')).untagged).toEqual(['* 2 EXPUNGE']);
    await n.deliver([message(4)], { mailbox: name });
    expect((await a.cmd('NOOP')).untagged).toEqual(['* 3 EXISTS', '* 3 RECENT']);
    expect((await a.cmd('SEARCH RECENT')).untagged).toEqual(['* SEARCH 1 2 3']);
    a.close();
  });

  it('IDLE announces an arrival with EXISTS and RECENT at once', async () => {
    const name = await mailboxWith(1);
    const a = await login(n.port, n.user, n.pass);
    await a.cmd(`SELECT ${name}`);
    a.write('i1 IDLE\r\n');
    expect(await a.line()).toMatch(/^\+ /);
    await n.deliver([message(2)], { mailbox: name });
    expect(await a.line()).toBe('* 2 EXISTS');
    expect(await a.line()).toBe('* 2 RECENT');
    a.write('DONE\r\n');
    expect((await a.until('i1')).tagged).toMatch(/^i1 OK/);
    a.close();
  });

  it("the session's own APPEND into its selected mailbox is recent there", async () => {
    const name = await mailboxWith(0);
    const a = await login(n.port, n.user, n.pass);
    await a.cmd(`SELECT ${name}`);
    const body = message(1);
    const r = await a.cmd(`APPEND ${name} {${body.length}+}\r\n${body}`);
    expect(r.tagged).toMatch(/OK/);
    expect(r.untagged).toEqual(['* 1 EXISTS', '* 1 RECENT']);
    expect((await a.cmd('SEARCH RECENT')).untagged).toEqual(['* SEARCH 1']);
    a.close();
  });
});

describe('\\Recent and mailbox lifetime', () => {
  it('a session left on a deleted mailbox claims nothing in a new mailbox that takes its place', async () => {
    // Created last, so its row id is the highest and the next CREATE reuses it (SQLite rowids).
    const name = await mailboxWith(1);
    const a = await login(n.port, n.user, n.pass);
    const b = await login(n.port, n.user, n.pass);
    expect(recentLine((await a.cmd(`SELECT ${name}`)).untagged)).toBe('* 1 RECENT');
    expect((await b.cmd(`DELETE ${name}`)).tagged).toMatch(/OK/);
    expect((await b.cmd(`CREATE ${name}x`)).tagged).toMatch(/OK/);
    await n.deliver([message(2)], { mailbox: `${name}x` });
    expect(await statusRecent(b, `${name}x`)).toBe(1);
    expect(recentLine((await b.cmd(`SELECT ${name}x`)).untagged)).toBe('* 1 RECENT');
    a.close();
    b.close();
  });
});

describe('\\Recent in COPY, MOVE and APPEND targets', () => {
  it('copies and appends are recent in the session that has the target selected', async () => {
    const src = await mailboxWith(3);
    const dst = await mailboxWith(0);
    const a = await login(n.port, n.user, n.pass);
    const b = await login(n.port, n.user, n.pass);
    await a.cmd(`SELECT ${src}`);
    await a.cmd('STORE 1 +FLAGS (\\Seen)');
    await b.cmd(`SELECT ${dst}`);
    expect((await a.cmd(`COPY 1:2 ${dst}`)).tagged).toMatch(/OK/);
    expect((await b.cmd('NOOP')).untagged).toEqual(['* 2 EXISTS', '* 2 RECENT']);
    const f = (await b.cmd('FETCH 1:* (UID FLAGS)')).untagged;
    expect(f).toEqual(['* 1 FETCH (UID 1 FLAGS (\\Recent \\Seen))', '* 2 FETCH (UID 2 FLAGS (\\Recent))']);

    expect((await a.cmd(`MOVE 3 ${dst}`)).tagged).toMatch(/OK/);
    const body = message(9);
    expect((await a.cmd(`APPEND ${dst} (\\Flagged) {${body.length}+}\r\n${body}`)).tagged).toMatch(/OK/);
    expect((await b.cmd('NOOP')).untagged).toEqual(['* 4 EXISTS', '* 4 RECENT']);
    expect((await b.cmd('SEARCH NEW')).untagged).toEqual(['* SEARCH 2 3 4']);
    // The source session never sees them as recent, and STATUS has nothing unclaimed.
    expect(await statusRecent(a, dst)).toBe(0);
    a.close();
    b.close();
  });

  it('copies into a mailbox nobody has selected wait for its next SELECT', async () => {
    const src = await mailboxWith(2);
    const dst = await mailboxWith(0);
    const a = await login(n.port, n.user, n.pass);
    await a.cmd(`SELECT ${src}`);
    expect((await a.cmd(`COPY 1:2 ${dst}`)).tagged).toMatch(/OK/);
    expect(await statusRecent(a, dst)).toBe(2);
    const b = await login(n.port, n.user, n.pass);
    expect(recentLine((await b.cmd(`SELECT ${dst}`)).untagged)).toBe('* 2 RECENT');
    expect(await statusRecent(a, dst)).toBe(0);
    a.close();
    b.close();
  });
});

describe('the \\Recent boundary is durable', () => {
  it('messages claimed before a restart are not recent after it; unclaimed ones still are', async () => {
    const node = await startImapNode();
    const dataDir = node.t.dataDir;
    let restarted: Awaited<ReturnType<typeof startTestNode>> | null = null;
    try {
      await node.deliver([message(1), message(2)]);
      const a = await login(node.port, node.user, node.pass);
      expect(recentLine((await a.cmd('SELECT INBOX')).untagged)).toBe('* 2 RECENT');
      await a.cmd('LOGOUT');
      a.close();
      await node.deliver([message(3)]);
      await node.t.stop({ keep: true });

      restarted = await startTestNode({}, { dataDir });
      const b = await login(restarted.ports.imap!, node.user, node.pass);
      expect(await statusRecent(b, 'INBOX')).toBe(1);
      const sel = await b.cmd('SELECT INBOX');
      expect(recentLine(sel.untagged)).toBe('* 1 RECENT');
      expect((await b.cmd('SEARCH RECENT')).untagged).toEqual(['* SEARCH 3']);
      b.close();
    } finally {
      await restarted?.stop();
      await node.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('a rebuilt index (reindex) keeps the boundary', async () => {
    const name = await mailboxWith(2);
    const a = await login(n.port, n.user, n.pass);
    expect(recentLine((await a.cmd(`SELECT ${name}`)).untagged)).toBe('* 2 RECENT');
    await a.cmd('LOGOUT');
    a.close();
    await n.deliver([message(3)], { mailbox: name });
    await n.t.ctx.store.reindex(n.account);
    const b = await login(n.port, n.user, n.pass);
    expect(await statusRecent(b, name)).toBe(1);
    expect(recentLine((await b.cmd(`SELECT ${name}`)).untagged)).toBe('* 1 RECENT');
    expect((await b.cmd('SEARCH RECENT')).untagged).toEqual(['* SEARCH 3']);
    b.close();
  });

  it('an index from before \\Recent tracking is upgraded without calling old mail recent', async () => {
    const node = await startImapNode();
    const dataDir = node.t.dataDir;
    let restarted: Awaited<ReturnType<typeof startTestNode>> | null = null;
    try {
      await node.deliver([message(1), message(2)]);
      await node.t.stop({ keep: true });
      // Turn the index back into version 1 (no recent_uid column), as an older Roost wrote it.
      const files = fs.readdirSync(path.join(dataDir, 'index')).filter((f) => f.endsWith('.sqlite'));
      expect(files.length).toBe(1);
      const db = new Database(path.join(dataDir, 'index', files[0]!));
      db.exec('ALTER TABLE mailboxes DROP COLUMN recent_uid');
      db.pragma('user_version = 1');
      db.close();

      restarted = await startTestNode({}, { dataDir });
      const b = await login(restarted.ports.imap!, node.user, node.pass);
      expect(await statusRecent(b, 'INBOX')).toBe(0);
      expect(recentLine((await b.cmd('SELECT INBOX')).untagged)).toBe('* 0 RECENT');
      const draft = await restarted.ctx.store.createDraft();
      await draft.write(Buffer.from(message(3)));
      await draft.finish();
      await restarted.ctx.store.deliver([node.account], draft, { sender: '' });
      expect((await b.cmd('NOOP')).untagged).toEqual(['* 3 EXISTS', '* 1 RECENT']);
      b.close();
      const check = new Database(path.join(dataDir, 'index', files[0]!), { readonly: true });
      expect(check.pragma('user_version', { simple: true })).toBe(INDEX_VERSION);
      check.close();
    } finally {
      await restarted?.stop();
      await node.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
