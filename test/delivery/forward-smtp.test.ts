/**
 * Forwards end to end: LDAP entries in a real slapd with
 * mailForwardingAddress and deliveryMode, a node receiving over QMQP and
 * LMTP, and Postfix's smtp-sink as the smarthost. A forward is the stored
 * bytes with the original envelope sender; forwardonly keeps no copy; a
 * smarthost that is down answers Z (QMQP) or 4xx for the recipient with
 * forwards (LMTP) and leaves no copy of that delivery behind.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboxMessages } from '../helpers/maildir.js';
import { lmtpSend } from '../helpers/lmtp.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { qmqpSend } from '../helpers/qmqp.js';
import { READER_DN, READER_PW, SUFFIX, Slapd, userLdif } from '../helpers/slapd.js';
import { startSink, type Sink } from '../helpers/smtp-sink.js';

let slapd: Slapd;
let sink: Sink;
let t: TestNode;

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(
    userLdif('fw', { mail: 'fw@example.org', mailMessageStore: 'fw/', mailForwardingAddress: ['one@remote.example', 'two@remote.example'] }) +
      userLdif('fonly', { mail: 'fonly@example.org', mailMessageStore: 'fonly/', mailForwardingAddress: 'away@remote.example', deliveryMode: 'forwardonly' }) +
      userLdif('plain', { mail: 'plain@example.org', mailMessageStore: 'plain/' }) +
      userLdif('fofull', { mail: 'fofull@example.org', mailMessageStore: 'fofull/', mailForwardingAddress: 'full@remote.example', deliveryMode: 'forwardonly', mailQuotaSize: '10' }),
  );
  sink = await startSink();
  t = await startTestNode({
    directory: { backend: 'ldap', ldap: { url: slapd.url, bind_dn: READER_DN, bind_password: READER_PW, base: SUFFIX, cache_ttl_ms: 0 } },
    outbound: { smarthosts: [`127.0.0.1:${sink.port}`], timeout_ms: 10_000 },
  });
}, 60_000);
afterAll(async () => {
  await t?.stop();
  await sink?.stop();
  await slapd?.destroy();
});

async function inbox(address: string) {
  const r = await t.ctx.directory.lookupRecipient(address);
  if (r.kind !== 'found') throw new Error(`${address}: ${JSON.stringify(r)}`);
  return inboxMessages(t.ctx.store, r.account);
}

// Bytes that need care on the wire: a leading dot (RFC 5321 §4.5.2), 8-bit text, a long line.
const MSG = `From: bob@sender.example\nTo: fw@example.org\nSubject: f\n\n.dot line\nfa\xe7ade\n${'x'.repeat(2000)}\nend\n`;

describe('forwards through the smarthost', () => {
  it('QMQP: the stored bytes go to every target with the original envelope sender, and the local copy stays', async () => {
    expect((await qmqpSend(t.ports.qmqp!, Buffer.from(MSG, 'latin1'), 'bob@sender.example', ['fw@example.org'])).code).toBe('K');
    const [d] = await sink.waitDumps(1, 20_000);
    // The body has 8-bit octets (ç): RFC 6152 §3 wants BODY=8BITMIME, which smtp-sink offers.
    expect(d!.mailArgs).toBe('<bob@sender.example> BODY=8BITMIME');
    expect(d!.rcptArgs.sort()).toEqual(['<one@remote.example>', '<two@remote.example>']);
    const stored = await inbox('fw@example.org');
    expect(stored).toHaveLength(1);
    // qmail-local's dtline heads the forwarded copy, not the Maildir copy QMQP stored.
    expect(d!.message.equals(Buffer.concat([Buffer.from('Delivered-To: fw@example.org\n'), stored[0]!]))).toBe(true);
    expect(stored[0]!.toString('latin1')).toMatch(/^Received: from .* with QMQP;/);
    // The forward coming back to the same address (a chain back here) is a loop: D, as qmail-local bounces it.
    const back = await qmqpSend(t.ports.qmqp!, d!.message, 'bob@sender.example', ['fw@example.org']);
    expect(back.code).toBe('D');
    expect(back.text).toMatch(/looping.*\(#5\.4\.6\)/);
    expect(await inbox('fw@example.org')).toHaveLength(1);
  });

  it('forwardonly: forwarded, no Maildir copy; a plain recipient of the same message keeps its copy', async () => {
    const r = await qmqpSend(t.ports.qmqp!, MSG, 'carol@sender.example', ['fonly@example.org', 'plain@example.org']);
    expect(r.code).toBe('K');
    const dumps = await sink.waitDumps(2, 20_000);
    const d = dumps.find((x) => x.mailArgs === '<carol@sender.example> BODY=8BITMIME')!;
    expect(d.rcptArgs).toEqual(['<away@remote.example>']);
    expect(await inbox('fonly@example.org')).toHaveLength(0);
    const plain = await inbox('plain@example.org');
    expect(plain).toHaveLength(1);
    expect(d.message.equals(Buffer.concat([Buffer.from('Delivered-To: fonly@example.org\n'), plain[0]!]))).toBe(true);
  });

  it('LMTP: forwards too; with the smarthost down the recipient with forwards gets 451, the others 250', async () => {
    const ok = await lmtpSend(t.ports.lmtp!, MSG, 'dave@sender.example', ['fonly@example.org']);
    expect(ok.data.map((x) => x.code)).toEqual([250]);
    const dumps = await sink.waitDumps(3, 20_000);
    expect(dumps.find((x) => x.mailArgs === '<dave@sender.example> BODY=8BITMIME')!.rcptArgs).toEqual(['<away@remote.example>']);
    expect(await inbox('fonly@example.org')).toHaveLength(0);
    // A tiny quota does not refuse an account that keeps no copy.
    const quota = await lmtpSend(t.ports.lmtp!, MSG, 'gina@sender.example', ['fofull@example.org', 'plain@example.org']);
    expect(quota.data.map((x) => x.code)).toEqual([250, 250]);
    expect((await sink.waitDumps(4, 20_000)).find((x) => x.mailArgs === '<gina@sender.example> BODY=8BITMIME')!.rcptArgs).toEqual(['<full@remote.example>']);

    await sink.stop();
    const down = await lmtpSend(t.ports.lmtp!, MSG, 'erin@sender.example', ['fw@example.org', 'plain@example.org']);
    expect(down.data.map((x) => x.code)).toEqual([451, 250]);
    expect(await inbox('fw@example.org')).toHaveLength(1);
    expect(await inbox('plain@example.org')).toHaveLength(3);
  });

  it('QMQP with the smarthost down: Z and no local copy', async () => {
    const r = await qmqpSend(t.ports.qmqp!, MSG, 'frank@sender.example', ['fw@example.org', 'plain@example.org']);
    expect(r.code).toBe('Z');
    expect(await inbox('fw@example.org')).toHaveLength(1);
    expect(await inbox('plain@example.org')).toHaveLength(3);
  });
});
