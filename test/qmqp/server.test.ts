import { readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { inboxMessages, maildirFiles, RECEIVED_RE, spoolLeftovers, splitReceived } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { netstring, parseReply, qmqpPacket, qmqpRaw, qmqpSend } from '../helpers/qmqp.js';

const MAX_SIZE = 4096;
const MAX_RCPTS = 3;

let t: TestNode;
let alice: Account;
let bob: Account;
let port: number;

beforeAll(async () => {
  t = await startTestNode({ qmqp: { max_message_size: MAX_SIZE, max_recipients: MAX_RCPTS, read_timeout_ms: 500, max_connections: 4 } });
  alice = await t.addUser('alice@example.org', 'pw');
  bob = await t.addUser('bob@example.org', 'pw');
  port = t.ports.qmqp!;
});
afterAll(async () => {
  await t?.stop();
});

/** Every test starts from empty Maildirs and checks what it leaves. */
async function counts(a: Account): Promise<number> {
  const f = await maildirFiles(a);
  expect(f.tmp).toEqual([]);
  // The store's spool (data_dir/spool) holds drafts being received: none may outlive its connection.
  expect(await spoolLeftovers(t.dataDir)).toEqual([]);
  return f.new.length + f.cur.length;
}

async function stillServes(): Promise<void> {
  const before = await counts(bob);
  const r = await qmqpSend(port, 'Subject: ping\n\nping\n', '', ['bob@example.org']);
  expect(r.code).toBe('K');
  expect(await counts(bob)).toBe(before + 1);
}

describe('QMQP delivery', () => {
  it('stores the message byte for byte after a Received line, then answers K and closes', async () => {
    const msg = 'From: x@y\nSubject: hello\n\nbody line 1\n\u00e9 8-bit \u00ff\n';
    const before = (await inboxMessages(t.ctx.store, alice)).length;
    const r = await qmqpSend(port, Buffer.from(msg, 'latin1'), 'x@y', ['alice@example.org']);
    expect(r.code).toBe('K');
    expect(r.text).toMatch(/^ok \d+ qp \d+$/);
    const msgs = await inboxMessages(t.ctx.store, alice);
    expect(msgs.length).toBe(before + 1);
    const { received, body } = splitReceived(msgs.at(-1)!);
    expect(received).toMatch(RECEIVED_RE);
    expect(received).toContain('by test.roost.invalid (Roost)');
    expect(body.equals(Buffer.from(msg, 'latin1'))).toBe(true);
  });

  it('delivers one copy per account: several recipients, aliases and case variants', async () => {
    await t.ctx.directory.lookupRecipient('alice@example.org');
    const a0 = await counts(alice);
    const b0 = await counts(bob);
    const r = await qmqpSend(port, 'Subject: multi\n\nx\n', '', ['alice@example.org', 'BOB@example.org', 'Alice@Example.org']);
    expect(r.code).toBe('K');
    expect(await counts(alice)).toBe(a0 + 1);
    expect(await counts(bob)).toBe(b0 + 1);
  });

  it('an empty message and an empty sender are fine', async () => {
    const r = await qmqpSend(port, '', '', ['bob@example.org']);
    expect(r.code).toBe('K');
    const last = (await inboxMessages(t.ctx.store, bob)).at(-1)!;
    expect(splitReceived(last).body.length).toBe(0);
  });

  it('all-or-nothing: one unknown recipient refuses the message for everyone (D #5.1.1)', async () => {
    const a0 = await counts(alice);
    const r = await qmqpSend(port, 'Subject: x\n\nx\n', '', ['alice@example.org', 'nobody@example.org']);
    expect(r).toEqual({ code: 'D', text: 'Sorry, no mailbox here by that name. (#5.1.1)' });
    expect(await counts(alice)).toBe(a0);
    await stillServes();
  });

  it('max_message_size: N bytes accepted, N+1 refused with D and nothing stored', async () => {
    const a0 = await counts(alice);
    expect((await qmqpSend(port, Buffer.alloc(MAX_SIZE, 'a'), '', ['alice@example.org'])).code).toBe('K');
    const r = await qmqpSend(port, Buffer.alloc(MAX_SIZE + 1, 'a'), '', ['alice@example.org']);
    expect(r.code).toBe('D');
    expect(r.text).toMatch(/#5\.3\.4/);
    expect(await counts(alice)).toBe(a0 + 1);
  });

  it('max_recipients: N accepted, N+1 refused with D', async () => {
    const n = Array.from({ length: MAX_RCPTS }, (_, i) => (i % 2 ? 'alice@example.org' : 'bob@example.org'));
    expect((await qmqpSend(port, 'x\n', '', n)).code).toBe('K');
    const r = await qmqpSend(port, 'x\n', '', [...n, 'bob@example.org']);
    expect(r.code).toBe('D');
    expect(r.text).toMatch(/too many recipients/);
  });

  it('addresses of 1000 bytes or with NUL: D "sorry, I can\'t accept addresses like that (#5.1.3)"', async () => {
    const long = `${'a'.repeat(1000 - '@example.org'.length)}@example.org`;
    expect(long.length).toBe(1000);
    const want = { code: 'D', text: "sorry, I can't accept addresses like that (#5.1.3)" };
    expect(await qmqpSend(port, 'x\n', '', [long])).toEqual(want);
    expect(await qmqpSend(port, 'x\n', long, ['alice@example.org'])).toEqual(want);
    expect(await qmqpSend(port, 'x\n', 'a\0b@example.org', ['alice@example.org'])).toEqual(want);
    expect(await qmqpSend(port, 'x\n', '', ['alice@example.org\0'])).toEqual(want);
    // 999 bytes is an ordinary (unknown) address.
    expect((await qmqpSend(port, 'x\n', '', [long.slice(1)])).text).toMatch(/#5\.1\.1/);
    await stillServes();
  });

  it('zero recipients: D', async () => {
    const r = parseReply((await qmqpRaw(port, [netstring(Buffer.concat([netstring('x\n'), netstring('a@b')]))])).reply);
    expect(r?.code).toBe('D');
    await stillServes();
  });

  it('the packet may arrive byte by byte', async () => {
    const pkt = qmqpPacket('Subject: slow\n\nslow\n', 's@x', ['alice@example.org']);
    const pieces = [...pkt].map((b) => Buffer.from([b]));
    const r = parseReply((await qmqpRaw(port, pieces, { pauseMs: 0 })).reply);
    expect(r?.code).toBe('K');
    const body = splitReceived((await inboxMessages(t.ctx.store, alice)).at(-1)!).body.toString();
    expect(body).toBe('Subject: slow\n\nslow\n');
  });
});

describe('QMQP malformed input: an answer or a close, never a crash, never a stray file', () => {
  const cases: [string, Buffer][] = [
    ['non-digit length', Buffer.from('1x:abc,')],
    ['leading zeros', Buffer.from('065:19:Subject: hi\n\nhello\n,18:sender@example.org,16:alice@example.org,,')],
    ['missing inner comma', Buffer.from('38:3:abc;0:,17:alice@example.org,,')],
    ['missing outer comma', Buffer.from('30:3:abc,0:,17:alice@example.org;')],
    ['inner length beyond the packet', Buffer.from('30:99:abc,0:,17:alice@example.org,,')],
    ['outer length beyond the 200,000,000 limit', Buffer.from('200000001:')],
    ['length with too many digits', Buffer.from('12345678901234:')],
  ];
  for (const [what, bytes] of cases) {
    it(`${what}: D (or close), server keeps serving`, async () => {
      const a0 = await counts(alice);
      const r = await qmqpRaw(port, [bytes]);
      const reply = parseReply(r.reply);
      if (reply) expect(reply.code).toBe('D');
      expect(await counts(alice)).toBe(a0);
      await stillServes();
    });
  }

  it('compressed QMQP (non-digit first byte): closed without an answer (client defers)', async () => {
    const r = await qmqpRaw(port, [Buffer.from([0x78, 0x9c, 1, 2, 3])]);
    expect(r.reply).toBeNull();
    await stillServes();
  });

  it('truncated stream: the message is thrown away, no reply, tmp cleaned', async () => {
    const a0 = await counts(alice);
    const pkt = qmqpPacket(Buffer.alloc(3000, 'q'), '', ['alice@example.org']);
    for (const cut of [5, 100, 2000, pkt.length - 3, pkt.length - 1]) {
      const r = await qmqpRaw(port, [pkt.subarray(0, cut)], { end: true });
      expect(r.reply).toBeNull();
    }
    expect(await counts(alice)).toBe(a0);
    await stillServes();
  });

  it('read timeout: a silent client mid-message is cut off and nothing is stored', async () => {
    const a0 = await counts(alice);
    const started = Date.now();
    const pkt = qmqpPacket(Buffer.alloc(1000, 'z'), '', ['alice@example.org']);
    const r = await qmqpRaw(port, [pkt.subarray(0, 500)], { timeoutMs: 5000 });
    expect(r.reply).toBeNull();
    expect(Date.now() - started).toBeLessThan(4000);
    expect(await counts(alice)).toBe(a0);
  });

  it('max_connections: the connection over the limit gets Z', async () => {
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < 4; i++) {
        const s = net.connect({ port, host: '127.0.0.1' });
        await new Promise((r) => s.once('connect', r));
        s.write('5'); // started, so the session is in progress
        idle.push(s);
      }
      await new Promise((r) => setTimeout(r, 50));
      const r = parseReply((await qmqpRaw(port, [qmqpPacket('x\n', '', ['bob@example.org'])])).reply);
      expect(r?.code).toBe('Z');
    } finally {
      for (const s of idle) s.destroy();
    }
    await new Promise((r) => setTimeout(r, 50));
    await stillServes();
  });
});

describe('QMQP over quota', () => {
  it('defers (Z) by default, and leaves no copy for any recipient', async () => {
    const small = await t.addUser('small@example.org', 'pw', { quotaBytes: 600 });
    expect((await qmqpSend(port, Buffer.alloc(300, 's'), '', ['small@example.org'])).code).toBe('K');
    const b0 = await counts(bob);
    const r = await qmqpSend(port, Buffer.alloc(400, 's'), '', ['bob@example.org', 'small@example.org']);
    expect(r.code).toBe('Z');
    expect(r.text).toMatch(/quota/);
    expect(await counts(small)).toBe(1);
    expect(await counts(bob)).toBe(b0);
  });
});

describe('QMQP over quota with over_quota = "bounce"', () => {
  let b: TestNode;
  beforeAll(async () => {
    b = await startTestNode({ qmqp: { over_quota: 'bounce' } });
  });
  afterAll(async () => {
    await b?.stop();
  });
  it('bounces (D #5.2.2)', async () => {
    await b.addUser('tiny@example.org', 'pw', { quotaBytes: 100 });
    const r = await qmqpSend(b.ports.qmqp!, Buffer.alloc(400, 't'), '', ['tiny@example.org']);
    expect(r.code).toBe('D');
    expect(r.text).toMatch(/#5\.2\.2/);
  });
});

describe('QMQP with the directory down', () => {
  it('answers Z (never D "no such user"), and /health reports not ready', async () => {
    const n = await startTestNode();
    try {
      await n.addUser('dora@example.org', 'pw');
      expect((await qmqpSend(n.ports.qmqp!, 'x\n', '', ['dora@example.org'])).code).toBe('K');
      // The embedded directory's database goes away under the running node.
      await n.ctx.directory.close();
      const r = await qmqpSend(n.ports.qmqp!, 'x\n', '', ['dora@example.org']);
      expect(r).toEqual({ code: 'Z', text: 'account directory temporarily unavailable (#4.3.0)' });
      expect(n.node.status().ready).toBe(false);
    } finally {
      await n.stop();
    }
  });
});

describe('QMQP shutdown with connections in the middle of a packet', () => {
  // SIGTERM/demote finishes in-flight deliveries (README: "finishes in-flight
  // deliveries, exits 0") but does not wait on connections that hold no message.
  it('stop() closes a silent connection at once and lets a half-sent packet finish with K', async () => {
    const n = await startTestNode({ qmqp: { read_timeout_ms: 60_000 } });
    const sam = await n.addUser('sam@example.org', 'pw');
    const qport = n.ports.qmqp!;
    const open = (): Promise<{ s: net.Socket; closed: Promise<string> }> =>
      new Promise((resolve, reject) => {
        const s = net.connect({ port: qport, host: '127.0.0.1' }, () => {
          let got = '';
          s.on('data', (b) => (got += b.toString('latin1')));
          s.on('error', () => undefined);
          resolve({ s, closed: new Promise((r) => s.once('close', () => r(got))) });
        });
        s.once('error', reject);
      });
    const body = 'Subject: in flight\n\nsent across a shutdown\n';
    const packet = qmqpPacket(body, 'relay@example.net', ['sam@example.org']);
    const half = await open();
    half.s.write(packet.subarray(0, 20));
    const silent = await open();
    // Both are accepted and being served: a delivery on a third connection is answered meanwhile.
    expect((await qmqpSend(qport, 'x\n', '', ['sam@example.org'])).code).toBe('K');
    const stopping = n.stop({ keep: true });
    // The silent one holds no message: closed without an answer while the node stops.
    expect(await silent.closed).toBe('');
    half.s.write(packet.subarray(20));
    expect(parseReply(await half.closed)?.code).toBe('K');
    await stopping;
    // On disk, byte for byte after the Received line, with the node gone.
    const f = await maildirFiles(sam);
    const names = [...f.new.map((x) => path.join('new', x)), ...f.cur.map((x) => path.join('cur', x))];
    const stored = await Promise.all(names.map((name) => readFile(path.join(sam.maildir, name))));
    expect(stored.length).toBe(2);
    expect(stored.map((b) => splitReceived(b).body.toString('latin1'))).toContain(body);
    await rm(n.ctx.config.paths.dataDir, { recursive: true, force: true });
  });
});
