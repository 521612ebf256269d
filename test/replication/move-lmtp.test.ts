/**
 * LMTP during an account move's freeze (RFC 2033 §4.2: one reply per
 * recipient after DATA): the frozen recipient gets its own temporary answer
 * (450 4.2.1, RFC 5321 §4.2.3 "mailbox busy") while the other recipients of
 * the same transaction are delivered; the client's retry after the thaw
 * delivers the message to the frozen one, and nobody has it twice. The
 * account is frozen through the store's AccountMoves, as `roost account move` does.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { lmtpSend } from '../helpers/lmtp.js';
import { inboxMessages } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';

let t: TestNode;
let alice: Account;
let bob: Account;
let carol: Account;

beforeAll(async () => {
  t = await startTestNode();
  alice = await t.addUser('alice@example.org', 'pw');
  bob = await t.addUser('bob@example.org', 'pw');
  carol = await t.addUser('carol@example.org', 'pw');
});
afterAll(async () => {
  await t?.stop();
});

/** One LMTP transaction (lmtpSend): the RCPT reply codes and the per-recipient replies after DATA. */
async function transaction(recipients: string[], message: string): Promise<{ rcpt: number[]; data: { code: number; text: string }[] }> {
  const r = await lmtpSend(t.ports.lmtp!, message, 'sender@example.net', recipients);
  return { rcpt: r.rcpt.map((x) => x.code), data: r.data.map(({ code, text }) => ({ code, text })) };
}

const count = async (a: Account, marker: string): Promise<number> => (await inboxMessages(t.ctx.store, a)).filter((m) => m.toString('latin1').includes(marker)).length;

describe('LMTP while an account is frozen for a move', () => {
  it('the frozen recipient gets 450 4.2.1, the others 250 in the same transaction; the retry after the thaw delivers it once', { timeout: 60_000 }, async () => {
    const moves = t.ctx.store.replication.moves!;
    const msg = 'From: s@example.net\nSubject: during the freeze\nMessage-ID: <freeze-1@example.net>\n\nMARKER-FREEZE-1\n';
    expect(moves.claim(bob.id)).toBe(true);
    moves.freeze(bob.id);
    let during;
    try {
      during = await transaction(['alice@example.org', 'bob@example.org', 'carol@example.org'], msg);
    } finally {
      moves.thaw(bob.id);
      moves.release(bob.id);
    }
    expect(during.rcpt).toEqual([250, 250, 250]);
    expect(during.data.map((d) => d.code)).toEqual([250, 450, 250]);
    expect(during.data[1]!.text).toMatch(/^4\.2\.1 <bob@example\.org> this mailbox is busy/);
    expect(await count(alice, 'MARKER-FREEZE-1')).toBe(1);
    expect(await count(carol, 'MARKER-FREEZE-1')).toBe(1);
    expect(await count(bob, 'MARKER-FREEZE-1')).toBe(0);
    // The relay retries the deferred recipient alone (RFC 5321 §4.5.4.1): delivered now, to it only.
    const retry = await transaction(['bob@example.org'], msg);
    expect(retry.data.map((d) => d.code)).toEqual([250]);
    for (const a of [alice, bob, carol]) expect(await count(a, 'MARKER-FREEZE-1')).toBe(1);
  });

  it('a transaction whose only recipient is frozen is answered 450 4.2.1 and stores nothing', { timeout: 60_000 }, async () => {
    const moves = t.ctx.store.replication.moves!;
    moves.freeze(carol.id);
    try {
      const r = await transaction(['carol@example.org'], 'Subject: alone\n\nMARKER-FREEZE-2\n');
      expect(r.data).toEqual([{ code: 450, text: expect.stringMatching(/^4\.2\.1 <carol@example\.org>/) }]);
    } finally {
      moves.thaw(carol.id);
    }
    expect(await count(carol, 'MARKER-FREEZE-2')).toBe(0);
  });
});
