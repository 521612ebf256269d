/**
 * Interoperability with an LMTP client nobody here wrote: Postfix's
 * smtp-source -L (Debian package postfix). It talks to the node through a
 * TCP relay that records each connection's bytes, so every stored message is
 * compared byte for byte with the DATA the client sent (unstuffed and with
 * LF line ends by this test's own reading of RFC 5321 §4.5.2).
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { inboxMessages, maildirFiles } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { recordingRelay, runTool } from '../helpers/relay.js';

const SMTP_SOURCE = ['/usr/sbin/smtp-source', '/usr/lib/postfix/sbin/smtp-source'].find((p) => existsSync(p));

/** The messages in one recorded LMTP connection: each DATA block, unstuffed, CRLF → LF. */
function messagesOf(conn: Buffer): string[] {
  const text = conn.toString('latin1');
  const out: string[] = [];
  let pos = 0;
  for (;;) {
    const d = text.indexOf('\r\nDATA\r\n', pos - 2);
    if (d < 0) return out;
    const start = d + '\r\nDATA\r\n'.length;
    const end = text.indexOf('\r\n.\r\n', start - 2);
    const block = text.slice(start, end + 2);
    const lines = block.split('\r\n').slice(0, -1).map((l) => (l.startsWith('.') ? l.slice(1) : l));
    out.push(lines.map((l) => `${l}\n`).join(''));
    pos = end + 5;
  }
}

/** A stored message without our trace lines: the optional Delivered-To, then our Received. */
function withoutTrace(stored: Buffer): { deliveredTo: string | null; body: string } {
  let s = stored.toString('latin1');
  let deliveredTo: string | null = null;
  if (s.startsWith('Delivered-To: ')) {
    deliveredTo = s.slice(14, s.indexOf('\n'));
    s = s.slice(s.indexOf('\n') + 1);
  }
  expect(s).toMatch(/^Received: from \S+ \(\[127\.0\.0\.1\]\) by test\.roost\.invalid \(Roost\) with LMTP; /);
  return { deliveredTo, body: s.slice(s.indexOf('\n') + 1) };
}

describe.skipIf(!SMTP_SOURCE)('smtp-source -L (Postfix) delivering over LMTP', () => {
  let t: TestNode;
  let one: Account;
  let two: Account;
  let solo: Account;

  beforeAll(async () => {
    t = await startTestNode();
    // smtp-source -r 2 sends to "2<to>" and "<to>".
    one = await t.addUser('rcpt@example.org', 'pw');
    two = await t.addUser('2rcpt@example.org', 'pw');
    solo = await t.addUser('solo@example.org', 'pw');
  });
  afterAll(async () => {
    await t?.stop();
  });

  it('300 messages to two recipients over 5 sessions land byte for byte in both Maildirs', async () => {
    const relay = await recordingRelay(t.ports.lmtp!);
    try {
      const r = await runTool(SMTP_SOURCE!, ['-L', '-s', '5', '-m', '300', '-r', '2', '-l', '3000', '-d', '-f', 'sender@example.net', '-t', 'rcpt@example.org', '-S', 'load', `127.0.0.1:${relay.port}`], 120_000);
      expect(r.output).toBe('');
      expect(r.code).toBe(0);
    } finally {
      await relay.close();
    }
    const sent = relay.sent.flatMap((c) => messagesOf(Buffer.concat(c)));
    expect(sent.length).toBe(300);
    for (const a of [one, two]) {
      expect((await maildirFiles(a)).tmp).toEqual([]);
      const stored = (await inboxMessages(t.ctx.store, a)).map(withoutTrace);
      // Two recipients share one file: no Delivered-To.
      expect(stored.every((m) => m.deliveredTo === null)).toBe(true);
      expect(stored.map((m) => m.body).sort()).toEqual([...sent].sort());
    }
  });

  it('100 single-recipient messages over one reused connection each carry Delivered-To', async () => {
    const relay = await recordingRelay(t.ports.lmtp!);
    try {
      const r = await runTool(SMTP_SOURCE!, ['-L', '-s', '1', '-m', '100', '-l', '200', '-d', '-f', '', '-t', 'solo@example.org', `127.0.0.1:${relay.port}`], 120_000);
      expect(r.code).toBe(0);
    } finally {
      await relay.close();
    }
    const sent = relay.sent.flatMap((c) => messagesOf(Buffer.concat(c)));
    expect(sent.length).toBe(100);
    const stored = (await inboxMessages(t.ctx.store, solo)).map(withoutTrace);
    expect(stored.every((m) => m.deliveredTo === 'solo@example.org')).toBe(true);
    expect(stored.map((m) => m.body).sort()).toEqual([...sent].sort());
  });
});
