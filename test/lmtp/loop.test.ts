/**
 * Loop detection for local delivery, over QMQP and LMTP: a
 * header that already carries `Delivered-To: <this recipient>` or more than
 * `delivery.max_hops` Received lines is refused permanently (#5.4.6), as
 * qmail-local and qmail-send do; nothing is stored.
 */
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deliverStream } from '../../src/delivery/deliver.js';
import { LIMITS } from '../../src/limits.js';
import type { Account } from '../../src/accounts/directory.js';
import { lmtpSend } from '../helpers/lmtp.js';
import { inboxMessages, maildirFiles, spoolLeftovers } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { qmqpSend } from '../helpers/qmqp.js';

const MAX_HOPS = 5;

let t: TestNode;
let alice: Account;
let bob: Account;

beforeAll(async () => {
  t = await startTestNode({ delivery: { max_hops: MAX_HOPS } });
  alice = await t.addUser('alice@example.org', 'pw');
  bob = await t.addUser('bob@example.org', 'pw');
});
afterAll(async () => {
  await t?.stop();
});

async function count(a: Account): Promise<number> {
  const f = await maildirFiles(a);
  expect(f.tmp).toEqual([]);
  expect(await spoolLeftovers(t.dataDir)).toEqual([]);
  return f.new.length + f.cur.length;
}

const hops = (n: number): string => Array.from({ length: n }, (_, i) => `Received: from hop${i} by hop${i + 1}; Mon, 7 Dec 2026 01:00:00 +0000\n`).join('');

describe('loops over QMQP', () => {
  it('Delivered-To of a recipient (any case, angle brackets) is D #5.4.6 for the message; another address is not a loop', async () => {
    const a0 = await count(alice);
    const r = await qmqpSend(t.ports.qmqp!, 'Delivered-To: <ALICE@example.org>\nSubject: l\n\nl\n', '', ['bob@example.org', 'alice@example.org']);
    expect(r.code).toBe('D');
    expect(r.text).toMatch(/looping.*#5\.4\.6/);
    expect(await count(alice)).toBe(a0);
    const ok = await qmqpSend(t.ports.qmqp!, 'Delivered-To: carol@example.org\nSubject: l\n\nDelivered-To: alice@example.org\n', '', ['alice@example.org']);
    expect(ok.code).toBe('K');
    expect(await count(alice)).toBe(a0 + 1);
  });

  it(`${MAX_HOPS} Received lines pass, ${MAX_HOPS + 1} are D #5.4.6`, async () => {
    const b0 = await count(bob);
    expect((await qmqpSend(t.ports.qmqp!, `${hops(MAX_HOPS)}Subject: h\n\nh\n`, '', ['bob@example.org'])).code).toBe('K');
    const r = await qmqpSend(t.ports.qmqp!, `${hops(MAX_HOPS + 1)}Subject: h\n\nh\n`, '', ['bob@example.org']);
    expect(r.code).toBe('D');
    expect(r.text).toMatch(/#5\.4\.6/);
    expect(await count(bob)).toBe(b0 + 1);
  });
});

describe('loops over LMTP', () => {
  it('the looping recipient gets 554 5.4.6, the other recipient is delivered', async () => {
    const [a0, b0] = [await count(alice), await count(bob)];
    const r = await lmtpSend(t.ports.lmtp!, 'Delivered-To: alice@example.org\nSubject: l\n\nl\n', '', ['alice@example.org', 'bob@example.org']);
    expect(r.data.map((x) => `${x.code} ${x.text.slice(0, 5)}`)).toEqual(['554 5.4.6', '250 2.0.0']);
    expect([await count(alice), await count(bob)]).toEqual([a0, b0 + 1]);
  });

  it(`${MAX_HOPS} Received lines pass, ${MAX_HOPS + 1} get 554 5.4.6 for every recipient`, async () => {
    const [a0, b0] = [await count(alice), await count(bob)];
    expect((await lmtpSend(t.ports.lmtp!, `${hops(MAX_HOPS)}Subject: h\n\nh\n`, '', ['alice@example.org'])).data[0]!.code).toBe(250);
    const r = await lmtpSend(t.ports.lmtp!, `${hops(MAX_HOPS + 1)}Subject: h\n\nh\n`, '', ['alice@example.org', 'bob@example.org']);
    expect(r.data.map((x) => `${x.code} ${x.text.slice(0, 5)}`)).toEqual(['554 5.4.6', '554 5.4.6']);
    expect([await count(alice), await count(bob)]).toEqual([a0 + 1, b0]);
  });

  it('a message delivered once over LMTP carries our Delivered-To, so handing the stored copy back to us is refused', async () => {
    const a0 = await count(alice);
    expect((await lmtpSend(t.ports.lmtp!, 'Subject: once\n\nonce\n', '', ['alice@example.org'])).data[0]!.code).toBe(250);
    const stored = (await inboxMessages(t.ctx.store, alice)).at(-1)!;
    expect(stored.toString('latin1')).toMatch(/^Delivered-To: alice@example\.org\n/);
    const again = await lmtpSend(t.ports.lmtp!, stored, '', ['alice@example.org']);
    expect(again.data.map((x) => x.code)).toEqual([554]);
    const viaQmqp = await qmqpSend(t.ports.qmqp!, stored, '', ['alice@example.org']);
    expect(viaQmqp.code).toBe('D');
    expect(await count(alice)).toBe(a0 + 1);
  });
});

describe('loops in local delivery (roost deliver)', () => {
  it('the same check: Delivered-To of the recipient is D #5.4.6, nothing stored', async () => {
    const a0 = await count(alice);
    const looping = await deliverStream(t.ctx, Readable.from([Buffer.from('Delivered-To: alice@example.org\n'), Buffer.from('Subject: l\n\nl\n')]), {
      sender: '',
      recipients: ['alice@example.org'],
      via: 'local',
    });
    expect([looping.code, looping.reason]).toEqual(['D', 'loop']);
    const ok = await deliverStream(t.ctx, Readable.from([Buffer.from('Subject: fine\n\nfine\n')]), { sender: '', recipients: ['alice@example.org'], via: 'local' });
    expect(ok.code).toBe('K');
    expect(await count(alice)).toBe(a0 + 1);
  });
});

describe('delivery.maxDeliveredTo', () => {
  // Distinct Delivered-To addresses remembered from one header: the recipient's own line among the first N is a loop; as the N+1st it is past what is looked at.
  const N = LIMITS.delivery.maxDeliveredTo;
  const others = (k: number): string => Array.from({ length: k }, (_, i) => `Delivered-To: relay${i}@example.net\n`).join('');
  it(`the recipient's Delivered-To as the ${N}th distinct one is a loop (D #5.4.6); as the ${N + 1}st it is not looked at and the message is delivered`, async () => {
    const a0 = await count(alice);
    const atN = await qmqpSend(t.ports.qmqp!, `${others(N - 1)}Delivered-To: alice@example.org\nSubject: n\n\nn\n`, '', ['alice@example.org']);
    expect(atN.code).toBe('D');
    expect(atN.text).toMatch(/#5\.4\.6/);
    expect(await count(alice)).toBe(a0);
    const past = await qmqpSend(t.ports.qmqp!, `${others(N)}Delivered-To: alice@example.org\nSubject: n+1\n\nn+1\n`, '', ['alice@example.org']);
    expect(past.code).toBe('K');
    expect(await count(alice)).toBe(a0 + 1);
  });
});
