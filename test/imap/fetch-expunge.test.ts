/**
 * A FETCH response, once started, is always complete (RFC 3501 §7.4.2):
 * another session expunging a message (and its file being unlinked) while
 * it is being sent, or a part that cannot be decoded, never leaves half a
 * response followed by the next one — the "Missing ')'" imaptest found. A
 * file that another program truncates mid-literal ends the connection
 * instead of sending fewer bytes than announced. Every check reads the raw
 * bytes with a strict response parser (helpers/strict.ts).
 */
import { readdir, truncate } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';
import { parseStrict } from './helpers/strict.js';

let n: ImapTestNode;

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  await n?.stop();
});

/** Everything the server sends on `c` from now on. */
function record(c: RawImap): () => Buffer {
  const chunks: Buffer[] = [];
  c.socket.on('data', (b: Buffer) => chunks.push(b));
  return () => Buffer.concat(chunks);
}

async function until(cond: () => boolean | Promise<boolean>, ms: number): Promise<boolean> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await cond()) return true;
    await new Promise((r) => setTimeout(r, 10));
  }
  return cond();
}

/** INBOX message files in cur/ and new/. */
async function inboxFiles(): Promise<string[]> {
  const out: string[] = [];
  for (const sub of ['cur', 'new']) {
    for (const f of await readdir(path.join(n.account.maildir, sub))) out.push(path.join(n.account.maildir, sub, f));
  }
  return out;
}

async function emptyInbox(): Promise<void> {
  const c = await login(n.port, n.user, n.pass);
  await c.cmd('SELECT INBOX');
  await c.cmd('STORE 1:* +FLAGS.SILENT (\\Deleted)');
  await c.cmd('EXPUNGE');
  c.close();
}

/** A message whose body is `size` bytes of 76-character lines. */
function bigMessage(k: number, size: number): string {
  const line = `${'x'.repeat(74)}\r\n`;
  return message(k, { body: line.repeat(Math.ceil(size / line.length)) });
}

describe('strict response parser', () => {
  // What Roost sent in imaptest's stress run (logs/evidence/rawlog-truncated-fetch-on-expunge.txt), shortened.
  const truncated =
    '* 6 FETCH (ENVELOPE ("Mon, 06 May 2024 09:55:12 +0530" "Quarterly" NIL NIL NIL NIL NIL NIL NIL NIL) BODY[HEADER.FIELDS (To From References)] {11}\r\n' +
    'From: A\r\n\r\n BODY[HEADER.FIELDS (Cc References References)] {2}\r\n\r\n' +
    '* 10 EXISTS\r\n171.3 NO [EXPUNGEISSUED] Some of the requested messages no longer exist\r\n';
  const whole =
    '* 6 FETCH (BODY[HEADER.FIELDS (From)] {11}\r\nFrom: A\r\n\r\n BODY[HEADER.FIELDS (Cc)] {2}\r\n\r\n)\r\n* 10 EXISTS\r\n171.3 OK Fetch completed (0.001 + 0.000 secs).\r\n';

  it('rejects the truncated response from the stress run', () => {
    const r = parseStrict(Buffer.from(truncated, 'latin1'));
    expect(r.error).toMatch(/literal of 2 bytes followed by "\*"/);
  });

  it('rejects a response whose line ends inside its list', () => {
    const r = parseStrict(Buffer.from('* 1 FETCH (FLAGS (\\Seen) UID 4\r\n* 2 EXISTS\r\n', 'latin1'));
    expect(r.error).toMatch(/Missing '\)'/);
  });

  it('accepts the complete form, whole and cut at every offset', () => {
    const b = Buffer.from(whole, 'latin1');
    const r = parseStrict(b);
    expect(r).toEqual({ error: null, incomplete: 0, responses: expect.any(Array) });
    expect(r.responses).toHaveLength(3);
    for (let cut = 1; cut < b.length; cut++) {
      const p = parseStrict(b.subarray(0, cut));
      expect(p.error).toBeNull();
      expect(p.responses.length + (p.incomplete > 0 ? 1 : 0)).toBeGreaterThanOrEqual(1);
    }
  });
});

describe('FETCH while the message goes away', () => {
  it('a message expunged and unlinked while its big literal is on the wire: the response is whole, the next message is skipped', async () => {
    await emptyInbox();
    const big = bigMessage(1, 16 * 1024 * 1024);
    await n.deliver([big, message(2)]);
    const a = await login(n.port, n.user, n.pass);
    await a.cmd('SELECT INBOX');
    const raw = record(a);
    a.write('f1 FETCH 1:2 (BODY.PEEK[] BODY.PEEK[HEADER.FIELDS (From)])\r\n');
    // The response has started: stop reading, so the server waits for 'drain' in the middle of the literal.
    expect(await until(() => raw().includes('* 1 FETCH (BODY[] {'), 20_000)).toBe(true);
    a.socket.pause();

    const b = await login(n.port, n.user, n.pass);
    await b.cmd('SELECT INBOX');
    await b.cmd('STORE 1:2 +FLAGS.SILENT (\\Deleted)');
    expect((await b.cmd('EXPUNGE')).tagged).toMatch(/OK/);
    // The store unlinks expunged files in the background: wait until both are gone from the disk.
    expect(await until(async () => (await inboxFiles()).length === 0, 20_000)).toBe(true);

    a.socket.resume();
    const reply = await a.until('f1', 60_000);
    expect(reply.tagged).toMatch(/^f1 NO \[EXPUNGEISSUED\]/);
    const r = parseStrict(raw());
    expect(r.error).toBeNull();
    expect(r.incomplete).toBe(0);
    const fetches = r.responses.filter((l) => / FETCH \(/.test(l));
    expect(fetches).toHaveLength(1);
    // Read from the open file after the unlink: every byte announced, then the rest of the items and ')'.
    const body = Buffer.from(big);
    const from = 'From: Sender 1 <sender1@example.net>\r\n\r\n';
    expect(fetches[0]).toBe(`* 1 FETCH (BODY[] {${body.length}}\r\n${big} BODY[HEADER.FIELDS (From)] {${from.length}}\r\n${from})`);
    a.close();
    b.close();
  });

  it('a part that cannot be decoded after a literal item: nothing of the response is sent, then NO [UNKNOWN-CTE]', async () => {
    await emptyInbox();
    await n.deliver([message(1, { headers: 'Content-Transfer-Encoding: x-roost-unknown\r\n' }), message(2)]);
    const a = await login(n.port, n.user, n.pass);
    await a.cmd('SELECT INBOX');
    const raw = record(a);
    const reply = await a.cmd('FETCH 1:2 (BODY.PEEK[HEADER] BINARY.PEEK[1])');
    expect(reply.tagged).toMatch(/^a\d+ NO \[UNKNOWN-CTE\]/);
    const r = parseStrict(raw());
    expect(r.error).toBeNull();
    expect(r.incomplete).toBe(0);
    expect(r.responses.filter((l) => l.startsWith('* 1 FETCH'))).toEqual([]);
    a.close();
  });

  it('a file truncated by another program mid-literal: the connection ends inside the literal, no short literal and no reply after it', async () => {
    await emptyInbox();
    const size = 40 * 1024 * 1024;
    await n.deliver([bigMessage(1, size)]);
    const a = await login(n.port, n.user, n.pass);
    await a.cmd('SELECT INBOX');
    const raw = record(a);
    a.write('t1 FETCH 1 BODY.PEEK[]\r\n');
    expect(await until(() => raw().includes('* 1 FETCH (BODY[] {'), 20_000)).toBe(true);
    a.socket.pause();
    // The server has read at most the socket buffers' worth (a few MB) of 40 MB; the rest is now gone.
    const files = await inboxFiles();
    expect(files).toHaveLength(1);
    await truncate(files[0]!, 0);
    a.socket.resume();
    expect(await a.waitClosed(60_000)).toBe(true);
    const bytes = raw();
    const r = parseStrict(bytes);
    expect(r.error).toBeNull();
    // Cut inside the literal: fewer bytes than announced arrived, and nothing came after them.
    const announced = Number(/\* 1 FETCH \(BODY\[\] \{(\d+)\}\r\n/.exec(bytes.toString('latin1'))![1]);
    expect(announced).toBeGreaterThan(size);
    expect(r.incomplete).toBeGreaterThan(0);
    expect(r.incomplete).toBeLessThan(announced);
    expect(bytes.toString('latin1')).not.toMatch(/\r\nt1 (?:OK|NO|BAD)/);
    // The server keeps serving.
    const c = await login(n.port, n.user, n.pass);
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/OK/);
    c.close();
  });
  it('a small message whose file was truncated: NO before any of its response, the session goes on', async () => {
    await emptyInbox();
    await n.deliver([message(1), message(2, { body: 'b'.repeat(2000) })]);
    // Files of the messages emptyInbox() expunged are unlinked in the background (paced): wait for them to go.
    let files = await inboxFiles();
    for (let i = 0; i < 600 && files.length > 2; i++) {
      await new Promise((r) => setTimeout(r, 50));
      files = await inboxFiles();
    }
    expect(files).toHaveLength(2);
    // Both headers are longer than 100 bytes: every section read comes back short.
    for (const f of files) await truncate(f, 100);
    const a = await login(n.port, n.user, n.pass);
    await a.cmd('SELECT INBOX');
    const raw = record(a);
    for (const items of ['BODY.PEEK[HEADER.FIELDS (Subject)] BODY.PEEK[TEXT]', 'BINARY.PEEK[1]', 'BODY.PEEK[]']) {
      const reply = await a.cmd(`FETCH 1:2 (${items})`);
      expect(reply.tagged).toMatch(/^a\d+ NO \[SERVERBUG\]/);
    }
    expect((await a.cmd('NOOP')).tagged).toMatch(/OK/);
    const r = parseStrict(raw());
    expect(r.error).toBeNull();
    expect(r.incomplete).toBe(0);
    expect(r.responses.filter((l) => / FETCH \(/.test(l))).toEqual([]);
    a.close();
  });

  it('A fetches sections and bodies in a loop while B expunges and delivers: every response A gets is whole', async () => {
    await emptyInbox();
    // Every third message is big enough to be streamed from its file (over 16 KB), the others are read whole.
    const mk = (k: number): string => (k % 3 === 0 ? bigMessage(k, 40 * 1024) : message(k, { headers: 'Cc: Carol <carol@example.org>\r\n' }));
    await n.deliver(Array.from({ length: 24 }, (_, k) => mk(k + 1)));
    const a = await login(n.port, n.user, n.pass);
    await a.cmd('SELECT INBOX');
    const raw = record(a);
    const b = await login(n.port, n.user, n.pass);
    await b.cmd('SELECT INBOX');
    const deadline = Date.now() + 20_000;
    let rounds = 0;
    let fetching = true;
    const statuses = new Set<string>();
    const fetcher = (async () => {
      try {
        for (; rounds < 150 && Date.now() < deadline; rounds++) {
          const r = await a.cmd(
            'FETCH 1:* (ENVELOPE BODY.PEEK[HEADER.FIELDS (From To)] BODY.PEEK[HEADER.FIELDS (Cc Subject)] BINARY.PEEK[1]<0.200> BODY.PEEK[TEXT]<0.100> BODY.PEEK[])',
            30_000,
          );
          statuses.add(r.tagged.split(' ').slice(1, 3).join(' '));
          await a.cmd('NOOP', 30_000);
        }
      } finally {
        fetching = false;
      }
    })();
    const expunger = (async () => {
      let k = 100;
      for (let i = 0; i < 2000 && fetching && Date.now() < deadline; i++) {
        await b.cmd('STORE 1,3,5 +FLAGS.SILENT (\\Deleted)', 30_000);
        await b.cmd('EXPUNGE', 30_000);
        await n.deliver([mk(k++), mk(k++), mk(k++)]);
        await b.cmd('NOOP', 30_000);
      }
    })();
    await Promise.all([fetcher, expunger]);
    expect(rounds).toBeGreaterThan(0);
    const r = parseStrict(raw());
    expect(r.error).toBeNull();
    expect(r.incomplete).toBe(0);
    expect(r.responses.filter((l) => / FETCH \(ENVELOPE /.test(l)).length).toBeGreaterThanOrEqual(24);
    // OK, or NO [EXPUNGEISSUED] when a message went between the snapshot and its response; never anything else.
    for (const st of statuses) expect(['OK Fetch', 'NO [EXPUNGEISSUED]']).toContain(st);
    a.close();
    b.close();
  });
});
