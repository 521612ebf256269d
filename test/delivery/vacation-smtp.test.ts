/**
 * Vacation replies end to end: LDAP accounts in a real slapd with
 * deliveryMode reply and a mailReplyText using %HEADER% / %SUBJECT%, a node
 * receiving over QMQP and LMTP, and Postfix's smtp-sink as the smarthost.
 * Each RFC 3834 §2 case gets a reply or none; a sender is answered once; a
 * smarthost that is down never changes the delivery's answer.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { inboxMessages } from '../helpers/maildir.js';
import { lmtpSend } from '../helpers/lmtp.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { qmqpSend } from '../helpers/qmqp.js';
import { READER_DN, READER_PW, SUFFIX, Slapd, userLdif } from '../helpers/slapd.js';
import { startSink, type Sink } from '../helpers/smtp-sink.js';

const TEXT = '%HEADER%\nSubject: Away: %SUBJECT%\nX-Vacation: yes\n\nI am away until Monday.\n';

let slapd: Slapd;
let sink: Sink;
let t: TestNode;

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(
    userLdif('vac', { mail: 'vac@example.org', mailAlternateAddress: 'holiday@example.org', mailMessageStore: 'vac/', deliveryMode: 'reply', mailReplyText: TEXT }),
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

/** Wait for `n` dumps, then until no reply is being sent (bounded): the dumps smtp-sink has then. */
async function settled(n: number) {
  await sink.waitDumps(n, 20_000);
  for (let i = 0; i < 400 && t.ctx.vacation!.pending() > 0; i++) await new Promise((r) => setTimeout(r, 50));
  expect(t.ctx.vacation!.pending()).toBe(0);
  return sink.dumps();
}

const msg = (from: string, extra = '', to = 'vac@example.org', id = '<m1@sender.example>') =>
  `From: ${from}\nTo: ${to}\n${extra}Subject: Lunch on Friday?\nMessage-ID: ${id}\n\nbody\n`;

describe('vacation replies through the smarthost', () => {
  it('one reply per sender; none to lists, automatic, bulk, null or daemon senders, or Bcc', async () => {
    expect((await qmqpSend(t.ports.qmqp!, msg('bob@sender.example'), 'bob@sender.example', ['vac@example.org'])).code).toBe('K');
    const [first] = await settled(1);
    expect(first!.mailArgs).toBe('<>');
    expect(first!.rcptArgs).toEqual(['<bob@sender.example>']);
    const m = first!.message.toString('latin1');
    expect(m).toMatch(/^Date: .*\nFrom: <vac@example.org>\nTo: <bob@sender.example>\nSubject: Away: Lunch on Friday\?\nMessage-ID: <[^>]+@test\.roost\.invalid>\nIn-Reply-To: <m1@sender\.example>\nReferences: <m1@sender\.example>\nAuto-Submitted: auto-replied\n/);
    expect(m).toContain('\nX-Vacation: yes\n\nI am away until Monday.\n');
    // The delivery itself is a normal local copy.
    const acct = await t.ctx.directory.lookupRecipient('vac@example.org');
    if (acct.kind !== 'found') throw new Error('vac not found');
    expect(await inboxMessages(t.ctx.store, acct.account)).toHaveLength(1);

    const none: [string, string, string][] = [
      ['bob@sender.example', msg('bob@sender.example', '', 'vac@example.org', '<m2@sender.example>'), 'the same sender again'],
      ['carol@sender.example', msg('carol@sender.example', 'List-Id: <team.lists.example>\n'), 'a list'],
      ['dave@sender.example', msg('dave@sender.example', 'Auto-Submitted: auto-generated\n'), 'auto-submitted'],
      ['erin@sender.example', msg('erin@sender.example', 'Precedence: bulk\n'), 'bulk'],
      ['', msg('MAILER-DAEMON@sender.example'), 'a bounce'],
      ['MAILER-DAEMON@sender.example', msg('MAILER-DAEMON@sender.example'), 'a daemon'],
      ['frank@sender.example', msg('frank@sender.example', 'Cc: someone@else.example\n', 'team@example.org'), 'not in To/Cc'],
    ];
    for (const [sender, body, why] of none) expect((await qmqpSend(t.ports.qmqp!, body, sender, ['vac@example.org'])).code, why).toBe('K');
    // LMTP delivers the same way; the alternate address is the reply's From.
    const l = await lmtpSend(t.ports.lmtp!, msg('zoe@sender.example', '', 'Holiday <holiday@example.org>'), 'zoe@sender.example', ['holiday@example.org']);
    expect(l.data.map((d) => d.code)).toEqual([250]);
    const dumps = await settled(2);
    // Dump file names are random, not in arrival order.
    expect(dumps.map((d) => d.rcptArgs[0]).sort()).toEqual(['<bob@sender.example>', '<zoe@sender.example>']);
    expect(dumps.find((d) => d.rcptArgs[0] === '<zoe@sender.example>')!.message.toString('latin1')).toContain('\nFrom: <holiday@example.org>\n');
    expect(t.ctx.vacation!.count('vac@example.org')).toBe(2);
    expect(await inboxMessages(t.ctx.store, acct.account)).toHaveLength(none.length + 2);
  });

  it('a smarthost that is down: the delivery is still K, the reply is not remembered', async () => {
    await sink.stop();
    expect((await qmqpSend(t.ports.qmqp!, msg('yann@sender.example'), 'yann@sender.example', ['vac@example.org'])).code).toBe('K');
    for (let i = 0; i < 400 && t.ctx.vacation!.pending() > 0; i++) await new Promise((r) => setTimeout(r, 50));
    expect(t.ctx.vacation!.pending()).toBe(0);
    expect(t.ctx.vacation!.count('vac@example.org')).toBe(2);
    expect(t.ctx.vacation!.claim('vac@example.org', 'yann@sender.example', TEXT)).toBe(true);
    t.ctx.vacation!.release('vac@example.org', 'yann@sender.example');
  });
});
