/**
 * The LMTP listener over a real socket (RFC 2033): per-recipient replies,
 * what lands in the Maildir, limits at N and N+1, bad input, and that
 * nothing is half-delivered.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { LIMITS } from '../../src/limits.js';
import { dataBlock, LmtpClient, lmtpSend } from '../helpers/lmtp.js';
import { inboxMessages, maildirFiles, spoolLeftovers } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';

const MAX_SIZE = 4096;
const MAX_RCPTS = 3;
const LMTP_RECEIVED = /^Received: from test\.example \(\[127\.0\.0\.1\]\) by test\.roost\.invalid \(Roost\) with LMTP; [A-Z][a-z]{2}, \d{1,2} [A-Z][a-z]{2} \d{4} \d\d:\d\d:\d\d \+0000\n/;

let t: TestNode;
let alice: Account;
let bob: Account;
let small: Account;
let port: number;

beforeAll(async () => {
  t = await startTestNode({ lmtp: { max_message_size: MAX_SIZE, max_recipients: MAX_RCPTS, read_timeout_ms: 1000, max_connections: 4 } });
  alice = await t.addUser('alice@example.org', 'pw');
  bob = await t.addUser('bob@example.org', 'pw');
  small = await t.addUser('small@example.org', 'pw', { quotaBytes: 600 });
  port = t.ports.lmtp!;
});
afterAll(async () => {
  await t?.stop();
});

/** Messages in an account's Maildir, after checking that no tmp/ or spool file was left behind. */
async function count(a: Account): Promise<number> {
  const f = await maildirFiles(a);
  expect(f.tmp).toEqual([]);
  expect(await spoolLeftovers(t.dataDir)).toEqual([]);
  return f.new.length + f.cur.length;
}

async function last(a: Account): Promise<string> {
  return (await inboxMessages(t.ctx.store, a)).at(-1)!.toString('latin1');
}

async function connect(): Promise<LmtpClient> {
  const { client, greeting } = await LmtpClient.connect(port);
  expect(greeting.code).toBe(220);
  return client;
}

describe('LMTP session', () => {
  it('answers LHLO with the extensions it implements', async () => {
    const c = await connect();
    const r = await c.cmd('LHLO test.example');
    expect(r.code).toBe(250);
    expect(r.lines.slice(1)).toEqual(['PIPELINING', 'ENHANCEDSTATUSCODES', '8BITMIME', `SIZE ${MAX_SIZE}`, 'CHUNKING']);
    expect((await c.cmd('EHLO test.example')).code).toBe(500);
    expect((await c.cmd('NOOP')).text).toBe('2.0.0 OK');
    expect((await c.cmd('QUIT')).code).toBe(221);
    expect(await c.waitClosed()).toBe(true);
  });

  it('stores one recipient\'s message with Delivered-To and Received lines, unstuffed, with LF line ends', async () => {
    const msg = 'From: x@y\nSubject: hi\n\n.leading dot\n..two\n\u00e9 8-bit\n';
    const before = await count(alice);
    const r = await lmtpSend(port, Buffer.from(msg, 'latin1'), 'x@y', ['alice@example.org']);
    expect(r.rcpt.map((x) => x.code)).toEqual([250]);
    expect(r.data.map((x) => x.code)).toEqual([250]);
    expect(r.data[0]!.text).toMatch(/^2\.0\.0 <alice@example\.org> delivered/);
    expect(await count(alice)).toBe(before + 1);
    const stored = await last(alice);
    expect(stored.startsWith('Delivered-To: alice@example.org\n')).toBe(true);
    const rest = stored.slice('Delivered-To: alice@example.org\n'.length);
    expect(rest).toMatch(LMTP_RECEIVED);
    expect(rest.slice(rest.indexOf('\n') + 1)).toBe(msg);
  });

  it('gives one reply per recipient after DATA; several recipients share one file without Delivered-To', async () => {
    const [a0, b0] = [await count(alice), await count(bob)];
    const r = await lmtpSend(port, 'Subject: two\n\nx\n', 's@x', ['alice@example.org', 'nobody@example.org', 'bob@example.org']);
    expect(r.rcpt.map((x) => x.code)).toEqual([250, 550, 250]);
    expect(r.rcpt[1]!.text).toMatch(/^5\.1\.1 /);
    expect(r.data.map((x) => x.code)).toEqual([250, 250]);
    expect(r.data[0]!.text).toContain('<alice@example.org>');
    expect(r.data[1]!.text).toContain('<bob@example.org>');
    expect([await count(alice), await count(bob)]).toEqual([a0 + 1, b0 + 1]);
    const stored = await last(bob);
    expect(stored).toMatch(LMTP_RECEIVED);
    expect(stored).not.toContain('Delivered-To:');
  });

  it('over quota: that recipient gets 452 4.2.2 (qmqp.over_quota = defer), the others are delivered and stay so', async () => {
    const [a0, s0] = [await count(alice), await count(small)];
    const body = `Subject: big\n\n${'x'.repeat(700)}\n`;
    const r = await lmtpSend(port, body, 's@x', ['alice@example.org', 'small@example.org']);
    expect(r.data.map((x) => `${x.code} ${x.text.slice(0, 5)}`)).toEqual(['250 2.0.0', '452 4.2.2']);
    expect([await count(alice), await count(small)]).toEqual([a0 + 1, s0]);
    // Alone, the store itself refuses it.
    const alone = await lmtpSend(port, body, 's@x', ['small@example.org']);
    expect(alone.data.map((x) => x.code)).toEqual([452]);
    expect(await count(small)).toBe(s0);
  });

  it('pipelined: a whole transaction in one write gets every reply in order', async () => {
    const c = await connect();
    const before = await count(alice);
    c.send(Buffer.concat([Buffer.from('LHLO test.example\r\nMAIL FROM:<p@x>\r\nRCPT TO:<alice@example.org>\r\nRCPT TO:<ALICE@example.org>\r\nDATA\r\n'), dataBlock('Subject: p\n\np\n'), Buffer.from('QUIT\r\n')]));
    const codes = (await c.replies(8)).map((x) => x.code);
    expect(codes).toEqual([250, 250, 250, 250, 354, 250, 250, 221]);
    expect(await c.waitClosed()).toBe(true);
    // Two RCPTs naming one account: one copy, two replies (RFC 2033 §4.2).
    expect(await count(alice)).toBe(before + 1);
  });

  it('BDAT (RFC 3030): chunks are stored as sent, with LF line ends and no unstuffing; LAST gets one reply per recipient', async () => {
    const c = await connect();
    const before = await count(bob);
    await c.cmd('LHLO test.example');
    await c.cmd('MAIL FROM:<b@x>');
    await c.cmd('RCPT TO:<bob@example.org>');
    const part1 = 'Subject: chunks\r\n\r\n.dot stays\r';
    const part2 = '\nend\r\n';
    c.send(`BDAT ${part1.length}\r\n${part1}`);
    expect((await c.reply()).code).toBe(250);
    c.send(`BDAT ${part2.length} LAST\r\n${part2}`);
    const r = await c.reply();
    expect(r.code).toBe(250);
    expect(r.text).toContain('<bob@example.org> delivered');
    expect(await count(bob)).toBe(before + 1);
    const stored = await last(bob);
    expect(stored.slice(stored.indexOf('\nReceived:') + 1).split('\n').slice(1).join('\n')).toBe('Subject: chunks\n\n.dot stays\nend\n');
    c.close();
  });
});

describe('LMTP bad input: clean 5xx codes, nothing half-delivered, the session goes on', () => {
  it('refuses commands out of sequence with 503 5.5.1', async () => {
    const c = await connect();
    expect((await c.cmd('MAIL FROM:<a@b>')).text).toMatch(/^5\.5\.1 /);
    await c.cmd('LHLO test.example');
    expect((await c.cmd('RCPT TO:<alice@example.org>')).code).toBe(503);
    expect((await c.cmd('DATA')).code).toBe(503);
    await c.cmd('MAIL FROM:<a@b>');
    expect((await c.cmd('MAIL FROM:<a@b>')).code).toBe(503);
    expect((await c.cmd('RCPT TO:<nobody@example.org>')).code).toBe(550);
    // RFC 2033 §4.2: DATA with no accepted recipient.
    expect((await c.cmd('DATA')).code).toBe(503);
    // BDAT refused: its bytes are still read, so the next command is understood.
    c.send('BDAT 6\r\nRSET\r\n');
    expect((await c.reply()).code).toBe(503);
    expect((await c.cmd('RSET')).code).toBe(250);
    expect((await c.cmd('MAIL FROM:<a@b> BODY=BINARYMIME')).code).toBe(555);
    expect((await c.cmd('MAIL FROM:a@b')).code).toBe(501);
    expect((await c.cmd('FROB')).code).toBe(500);
    expect((await c.cmd('NOOP')).code).toBe(250);
    c.close();
  });

  it(`command lines: ${LIMITS.lmtp.maxLineLength} bytes pass, ${LIMITS.lmtp.maxLineLength + 1} get 500 5.5.2 and the session goes on`, async () => {
    const c = await connect();
    const fill = (n: number): string => `NOOP ${'x'.repeat(n - 'NOOP '.length - 2)}\r\n`;
    c.send(fill(LIMITS.lmtp.maxLineLength));
    expect((await c.reply()).code).toBe(250);
    c.send(fill(LIMITS.lmtp.maxLineLength + 1));
    const r = await c.reply();
    expect([r.code, r.text]).toEqual([500, '5.5.2 Line too long']);
    expect((await c.cmd('NOOP')).code).toBe(250);
    c.close();
  });

  it(`recipients: ${MAX_RCPTS} accepted, the next gets 452 4.5.3`, async () => {
    const c = await connect();
    await c.cmd('LHLO test.example');
    await c.cmd('MAIL FROM:<a@b>');
    for (let i = 0; i < MAX_RCPTS; i++) expect((await c.cmd('RCPT TO:<alice@example.org>')).code).toBe(250);
    const r = await c.cmd('RCPT TO:<bob@example.org>');
    expect([r.code, r.text.slice(0, 5)]).toEqual([452, '4.5.3']);
    c.close();
  });

  it(`message size: SIZE=${MAX_SIZE} accepted at MAIL, SIZE=${MAX_SIZE + 1} refused 552 5.3.4`, async () => {
    const c = await connect();
    await c.cmd('LHLO test.example');
    expect((await c.cmd(`MAIL FROM:<a@b> SIZE=${MAX_SIZE}`)).code).toBe(250);
    await c.cmd('RSET');
    const r = await c.cmd(`MAIL FROM:<a@b> SIZE=${MAX_SIZE + 1}`);
    expect([r.code, r.text.slice(0, 5)]).toEqual([552, '5.3.4']);
    c.close();
  });

  it(`DATA of ${MAX_SIZE} stored bytes is delivered; ${MAX_SIZE + 1} gets 552 5.3.4 for each recipient and nothing is stored`, async () => {
    const make = (n: number): string => `Subject: s\n\n${'y'.repeat(n - 'Subject: s\n\n'.length - 1)}\n`;
    const a0 = await count(alice);
    const ok = await lmtpSend(port, make(MAX_SIZE), 'a@b', ['alice@example.org']);
    expect(ok.data.map((x) => x.code)).toEqual([250]);
    expect(await count(alice)).toBe(a0 + 1);
    const [a1, b1] = [await count(alice), await count(bob)];
    const big = await lmtpSend(port, make(MAX_SIZE + 1), 'a@b', ['alice@example.org', 'bob@example.org']);
    expect(big.data.map((x) => `${x.code} ${x.text.slice(0, 5)}`)).toEqual(['552 5.3.4', '552 5.3.4']);
    expect([await count(alice), await count(bob)]).toEqual([a1, b1]);
  });

  it('BDAT past the size limit: 552 5.3.4, the chunk is skipped, nothing stored, the next transaction works', async () => {
    const c = await connect();
    const b0 = await count(bob);
    await c.cmd('LHLO test.example');
    await c.cmd('MAIL FROM:<a@b>');
    await c.cmd('RCPT TO:<bob@example.org>');
    c.send(`BDAT ${MAX_SIZE}\r\n${'z'.repeat(MAX_SIZE)}`);
    expect((await c.reply()).code).toBe(250);
    c.send('BDAT 1\r\nz');
    const r = await c.reply();
    expect([r.code, r.text.slice(0, 5)]).toEqual([552, '5.3.4']);
    // The transaction failed (RFC 3030 §2): a pipelined BDAT LAST is read and refused.
    c.send('BDAT 3 LAST\r\nabc');
    expect((await c.reply()).code).toBe(503);
    expect(await count(bob)).toBe(b0);
    await c.cmd('MAIL FROM:<a@b>');
    await c.cmd('RCPT TO:<bob@example.org>');
    c.send('BDAT 12 LAST\r\nSubject: k\r\n');
    expect((await c.reply()).code).toBe(250);
    expect(await count(bob)).toBe(b0 + 1);
    c.close();
  });

  it('BDAT with a size that cannot be read: 501 and the connection ends (its data cannot be skipped)', async () => {
    const c = await connect();
    await c.cmd('LHLO test.example');
    const r = await c.cmd('BDAT lots');
    expect(r.code).toBe(501);
    expect(await c.waitClosed()).toBe(true);
  });

  it(`${LIMITS.lmtp.maxBadCommands} bad commands end the connection with 421`, async () => {
    const c = await connect();
    for (let i = 1; i < LIMITS.lmtp.maxBadCommands; i++) expect((await c.cmd('FROB')).code).toBe(500);
    c.send('FROB\r\n');
    expect((await c.replies(2)).map((x) => x.code)).toEqual([500, 421]);
    expect(await c.waitClosed()).toBe(true);
  });

  it('a client that drops mid-DATA delivers nothing and leaves no spool file', async () => {
    const c = await connect();
    const a0 = await count(alice);
    await c.cmd('LHLO test.example');
    await c.cmd('MAIL FROM:<a@b>');
    await c.cmd('RCPT TO:<alice@example.org>');
    expect((await c.cmd('DATA')).code).toBe(354);
    c.send('Subject: cut\r\n\r\nhalf a mess');
    await new Promise((r) => setTimeout(r, 100));
    c.close();
    await c.closed;
    // The server notices the close; wait for it with a bound.
    for (let i = 0; i < 100 && (await spoolLeftovers(t.dataDir)).length > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(await count(alice)).toBe(a0);
  });

  it('a client silent past read_timeout_ms is cut', async () => {
    const c = await connect();
    expect(await c.waitClosed(20_000)).toBe(true);
  });

  it('max_connections: 4 served, the 5th gets 421 4.3.2', async () => {
    const held = await Promise.all([0, 1, 2, 3].map(() => connect()));
    const { client, greeting } = await LmtpClient.connect(port);
    expect([greeting.code, greeting.text.slice(0, 5)]).toEqual([421, '4.3.2']);
    expect(await client.waitClosed()).toBe(true);
    for (const h of held) h.close();
  });
});

describe('LMTP is a client listener: closed on a replica, opened by promote', () => {
  it('refuses connections while listeners are closed and serves again once opened', async () => {
    const n = await startTestNode();
    try {
      await n.addUser('r@example.org', 'pw');
      await n.node.closeClientListeners();
      expect(n.node.ports().lmtp).toBeUndefined();
      await expect(LmtpClient.connect(n.ports.lmtp!)).rejects.toThrow(/ECONNREFUSED/);
      await n.node.openClientListeners();
      const r = await lmtpSend(n.node.ports().lmtp!, 'Subject: r\n\nr\n', '', ['r@example.org']);
      expect(r.data.map((x) => x.code)).toEqual([250]);
    } finally {
      await n.stop();
    }
  });
});

describe('LMTP over quota with qmqp.over_quota = "bounce"', () => {
  it('the recipient over quota gets 552 5.2.2, the other one 250', async () => {
    const n = await startTestNode({ qmqp: { over_quota: 'bounce' } });
    try {
      await n.addUser('tiny@example.org', 'pw', { quotaBytes: 100 });
      await n.addUser('roomy@example.org', 'pw');
      const r = await lmtpSend(n.ports.lmtp!, `Subject: b\n\n${'x'.repeat(300)}\n`, 's@x', ['tiny@example.org', 'roomy@example.org']);
      expect(r.data.map((x) => `${x.code} ${x.text.slice(0, 5)}`)).toEqual(['552 5.2.2', '250 2.0.0']);
    } finally {
      await n.stop();
    }
  });
});

describe('LMTP at shutdown', () => {
  it('a transaction in DATA is finished and answered; an idle session gets 421 at once; then the port is closed', async () => {
    const n = await startTestNode();
    try {
      const acct = await n.addUser('s@example.org', 'pw');
      const busy = (await LmtpClient.connect(n.ports.lmtp!)).client;
      const idle = (await LmtpClient.connect(n.ports.lmtp!)).client;
      await busy.cmd('LHLO test.example');
      await busy.cmd('MAIL FROM:<a@b>');
      await busy.cmd('RCPT TO:<s@example.org>');
      expect((await busy.cmd('DATA')).code).toBe(354);
      busy.send('Subject: in flight\r\n\r\nfirst half ');
      await idle.cmd('LHLO test.example');
      const closing = n.node.closeClientListeners();
      const cut = await idle.reply();
      expect([cut.code, cut.text.slice(0, 5)]).toEqual([421, '4.3.2']);
      expect(await idle.waitClosed()).toBe(true);
      busy.send('second half\r\n.\r\n');
      const done = await busy.reply();
      expect(done.code).toBe(250);
      expect((await busy.reply()).code).toBe(421);
      await closing;
      const stored = (await inboxMessages(n.ctx.store, acct)).map((m) => m.toString('latin1'));
      expect(stored.length).toBe(1);
      expect(stored[0]!.endsWith('Subject: in flight\n\nfirst half second half\n')).toBe(true);
      await expect(LmtpClient.connect(n.ports.lmtp!)).rejects.toThrow(/ECONNREFUSED/);
    } finally {
      await n.stop();
    }
  });
});
