/**
 * The SMTP client against a server nobody here wrote: Postfix's smtp-sink as
 * the smarthost, dumping what it receives (-d). Envelope and bytes are
 * compared with what was handed over; refusals come from smtp-sink's own
 * options (-f hard, -r soft, -W delay, -p no PIPELINING, -h long name,
 * -8 no 8BITMIME; smtp-sink never offers SMTPUTF8).
 */
import { isAscii } from 'node:buffer';
import { createReadStream } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Config } from '../../src/config/schema.js';
import { handOffVerdict } from '../../src/delivery/remote.js';
import { logger } from '../../src/log/logger.js';
import { Outbound } from '../../src/outbound/handoff.js';
import { sendMail, type OutboundMessage, type SmtpOptions } from '../../src/outbound/smtp.js';
import { freePort } from '../helpers/postfix.js';
import { SMTP_SINK, startSink, type Sink } from '../helpers/smtp-sink.js';

const OPTS: SmtpOptions = { helo: 'roost.test', starttls: 'opportunistic', tlsVerify: true, timeoutMs: 0 };

/** A stored message (LF line ends, as in the Maildir), handed over in uneven chunks. */
function message(bytes: Buffer, sender = 'alice@local.test'): OutboundMessage {
  return {
    sender,
    size: bytes.length,
    eightBit: !isAscii(bytes),
    open: () => Readable.from([bytes.subarray(0, 7), bytes.subarray(7, 300), bytes.subarray(300)]),
  };
}

const BODY = Buffer.from(
  'Received: from [127.0.0.1] by roost.test (Roost) with QMQP; Mon, 7 Dec 2026 06:00:00 +0000\n' +
    'From: alice@local.test\nTo: bob@remote.test\nSubject: outbound\n\n' +
    '.a line with a leading dot\n..two\n.\nnot the end\n' +
    `${'long line '.repeat(2000)}\n` +
    'last\n',
  'latin1',
);

const sinks: Sink[] = [];
async function sink(args: string[] = []): Promise<Sink> {
  const s = await startSink(args);
  sinks.push(s);
  return s;
}
afterEach(async () => {
  await Promise.all(sinks.splice(0).map((s) => s.stop()));
});

function outbound(cfg: Partial<Config['outbound']>): Outbound {
  return new Outbound(
    { smarthosts: [], local_domains: ['local.test'], starttls: 'opportunistic', tls_verify: true, timeout_ms: 0, ...cfg },
    'roost.test',
    logger(),
  );
}

describe.skipIf(!SMTP_SINK)('SMTP client with smtp-sink', () => {
  it('delivers the stored bytes with the envelope unchanged, pipelined', { timeout: 30_000 }, async () => {
    const s = await sink();
    const res = await sendMail('127.0.0.1', s.port, message(BODY), ['bob@remote.test', 'carol@remote.test'], OPTS);
    expect(res.recipients.map((r) => r.status)).toEqual(['accepted', 'accepted']);
    const [d] = await s.waitDumps(1);
    expect(d!.mailArgs).toBe('<alice@local.test>');
    expect(d!.rcptArgs).toEqual(['<bob@remote.test>', '<carol@remote.test>']);
    expect(d!.helo).toBe('roost.test');
    expect(d!.message.toString('latin1')).toBe(BODY.toString('latin1'));
  });

  it('delivers without PIPELINING (-p), and the null sender as <>', { timeout: 30_000 }, async () => {
    const s = await sink(['-p']);
    const res = await sendMail('127.0.0.1', s.port, message(BODY, ''), ['bob@remote.test'], OPTS);
    expect(res.recipients[0]!.status).toBe('accepted');
    const [d] = await s.waitDumps(1);
    expect(d!.mailArgs).toBe('<>');
    expect(d!.message.equals(BODY)).toBe(true);
  });

  it('a recipient refused with 5xx (-f RCPT) is permanent, with 4xx (-r RCPT) temporary; nothing is dumped', { timeout: 30_000 }, async () => {
    const hard = await sink(['-f', 'RCPT']);
    const h = await sendMail('127.0.0.1', hard.port, message(BODY), ['bob@remote.test'], OPTS);
    expect(h.recipients[0]).toMatchObject({ status: 'permanent', reply: expect.stringMatching(/^5\d\d /) });
    const soft = await sink(['-r', 'RCPT']);
    const t = await sendMail('127.0.0.1', soft.port, message(BODY), ['bob@remote.test'], OPTS);
    expect(t.recipients[0]).toMatchObject({ status: 'temporary', reply: expect.stringMatching(/^4\d\d /) });
    expect(await hard.dumps()).toEqual([]);
    expect(await soft.dumps()).toEqual([]);
  });

  it('5xx and 4xx after the final dot are permanent and temporary for every recipient', { timeout: 30_000 }, async () => {
    const hard = await sink(['-f', '.']);
    const h = await sendMail('127.0.0.1', hard.port, message(BODY), ['a@remote.test', 'b@remote.test'], OPTS);
    expect(h.recipients.map((r) => r.status)).toEqual(['permanent', 'permanent']);
    const soft = await sink(['-r', '.']);
    const t = await sendMail('127.0.0.1', soft.port, message(BODY), ['a@remote.test'], OPTS);
    expect(t.recipients[0]!.status).toBe('temporary');
  });

  it('a smarthost that stalls after the final dot (-W .:60) times out: temporary', { timeout: 30_000 }, async () => {
    const s = await sink(['-W', '.:60']);
    const res = await sendMail('127.0.0.1', s.port, message(BODY), ['bob@remote.test'], { ...OPTS, timeoutMs: 1000 });
    expect(res.recipients[0]).toMatchObject({ status: 'temporary', reply: expect.stringMatching(/no reply to the end of data within 1000 ms/) });
  });

  it('a greeting line longer than 512 octets (-h) fails the session: temporary', { timeout: 30_000 }, async () => {
    const s = await sink(['-h', `h${'x'.repeat(600)}.test`]);
    const res = await sendMail('127.0.0.1', s.port, message(BODY), ['bob@remote.test'], OPTS);
    expect(res.recipients[0]).toMatchObject({ status: 'temporary', reply: expect.stringMatching(/longer than 512 octets/) });
    expect(await s.dumps()).toEqual([]);
  });

  it('starttls = required and a smarthost without STARTTLS: temporary, nothing sent', { timeout: 30_000 }, async () => {
    const s = await sink();
    const res = await sendMail('127.0.0.1', s.port, message(BODY), ['bob@remote.test'], { ...OPTS, starttls: 'required' });
    expect(res.recipients[0]).toMatchObject({ status: 'temporary', reply: expect.stringMatching(/does not offer STARTTLS/) });
    expect(await s.dumps()).toEqual([]);
  });

  it('handOff: the first smarthost refuses connections, the second gets the message', { timeout: 30_000 }, async () => {
    const closed = await freePort();
    const s = await sink();
    const res = await outbound({ smarthosts: [`127.0.0.1:${closed}`, `127.0.0.1:${s.port}`] }).handOff(message(BODY), ['bob@remote.test']);
    expect(res.status).toBe('accepted');
    const [d] = await s.waitDumps(1);
    expect(d!.message.equals(BODY)).toBe(true);
  });

  it('handOff: a 4xx smarthost passes its recipients to the next; a 5xx one decides', { timeout: 30_000 }, async () => {
    const soft = await sink(['-r', 'RCPT']);
    const hard = await sink(['-f', 'RCPT']);
    const good = await sink();
    const ob = outbound({ smarthosts: [`127.0.0.1:${soft.port}`, `127.0.0.1:${good.port}`] });
    expect((await ob.handOff(message(BODY), ['bob@remote.test'])).status).toBe('accepted');
    expect((await good.waitDumps(1)).length).toBe(1);
    const ob2 = outbound({ smarthosts: [`127.0.0.1:${hard.port}`, `127.0.0.1:${good.port}`] });
    const r2 = await ob2.handOff(message(BODY), ['bob@remote.test']);
    expect(r2.status).toBe('permanent');
    expect((await good.dumps()).length).toBe(1);
    const ob3 = outbound({ smarthosts: [`127.0.0.1:${soft.port}`] });
    expect((await ob3.handOff(message(BODY), ['bob@remote.test'])).status).toBe('temporary');
  });

  it('a body with octet 0x7f goes without BODY=, with 0x80 as BODY=8BITMIME (RFC 6152 §3), bytes unchanged', { timeout: 30_000 }, async () => {
    const s = await sink();
    const ascii = Buffer.concat([BODY, Buffer.from([0x7f, 0x0a])]);
    const eight = Buffer.concat([BODY, Buffer.from([0x80, 0x0a])]);
    expect((await sendMail('127.0.0.1', s.port, message(ascii), ['bob@remote.test'], OPTS)).recipients[0]!.status).toBe('accepted');
    expect((await s.waitDumps(1))[0]!.mailArgs).toBe('<alice@local.test>');
    expect((await sendMail('127.0.0.1', s.port, message(eight), ['bob@remote.test'], OPTS)).recipients[0]!.status).toBe('accepted');
    const dumps = await s.waitDumps(2);
    const d = dumps.find((x) => x.message.equals(eight));
    expect(d!.mailArgs).toBe('<alice@local.test> BODY=8BITMIME');
  });

  it('an 8-bit body to a smarthost without 8BITMIME (-8) fails for good, nothing sent; an ASCII one goes', { timeout: 30_000 }, async () => {
    const s = await sink(['-8']);
    const eight = Buffer.concat([BODY, Buffer.from('caf\u00e9\n', 'utf8')]);
    const res = await sendMail('127.0.0.1', s.port, message(eight), ['bob@remote.test', 'carol@remote.test'], OPTS);
    expect(res.recipients.map((r) => r.status)).toEqual(['permanent', 'permanent']);
    expect(res.recipients[0]!.reply).toMatch(/8BITMIME not offered/);
    expect(await s.dumps()).toEqual([]);
    expect((await sendMail('127.0.0.1', s.port, message(BODY), ['bob@remote.test'], OPTS)).recipients[0]!.status).toBe('accepted');
    expect((await s.waitDumps(1))[0]!.mailArgs).toBe('<alice@local.test>');
  });

  it('handOff: an 8-bit body and no 8BITMIME is permanent (D-style), the next smarthost is not tried', { timeout: 30_000 }, async () => {
    const no8 = await sink(['-8']);
    const good = await sink();
    const eight = Buffer.concat([BODY, Buffer.from([0xe9, 0x0a])]);
    const res = await outbound({ smarthosts: [`127.0.0.1:${no8.port}`, `127.0.0.1:${good.port}`] }).handOff(message(eight), ['bob@remote.test']);
    expect(res.status).toBe('permanent');
    expect(res.recipients[0]!.reply).toMatch(/8BITMIME not offered/);
    // The bounce names RFC 3463's 5.6.3 (conversion required but not supported).
    expect(handOffVerdict(res)).toMatchObject({ code: 'D', text: expect.stringMatching(/8BITMIME not offered.*\(#5\.6\.3\)$/) });
    expect(await good.dumps()).toEqual([]);
  });

  it('a non-ASCII sender or recipient and no SMTPUTF8 fails for good: "SMTPUTF8 not offered", nothing sent', { timeout: 30_000 }, async () => {
    const s = await sink();
    const bySender = await sendMail('127.0.0.1', s.port, message(BODY, 'j\u00f6rg@local.test'), ['bob@remote.test'], OPTS);
    expect(bySender.recipients[0]).toMatchObject({ status: 'permanent', reply: expect.stringMatching(/SMTPUTF8 not offered/) });
    const byRcpt = await sendMail('127.0.0.1', s.port, message(BODY), ['bob@remote.test', '\u7528\u6237@remote.test'], OPTS);
    expect(byRcpt.recipients.map((r) => r.status)).toEqual(['permanent', 'permanent']);
    expect(byRcpt.recipients[1]!.reply).toMatch(/SMTPUTF8 not offered/);
    // The bounce names RFC 6533's 5.6.7 (non-ASCII addresses not permitted).
    expect(handOffVerdict({ status: 'permanent', recipients: byRcpt.recipients })).toMatchObject({ code: 'D', text: expect.stringMatching(/SMTPUTF8 not offered.*\(#5\.6\.7\)$/) });
    expect(await s.dumps()).toEqual([]);
  });

  it('isRemote: only with smarthosts and local_domains set, and for other domains', () => {
    expect(outbound({ smarthosts: ['127.0.0.1:25'] }).isRemote('bob@remote.test')).toBe(true);
    expect(outbound({ smarthosts: ['127.0.0.1:25'] }).isRemote('bob@LOCAL.test')).toBe(false);
    expect(outbound({ smarthosts: [] }).isRemote('bob@remote.test')).toBe(false);
    expect(outbound({ smarthosts: ['127.0.0.1:25'], local_domains: [] }).isRemote('bob@remote.test')).toBe(false);
  });

  it('streams a 20 MB message from a file and it arrives byte for byte', { timeout: 120_000 }, async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'roost-big-'));
    try {
      const file = path.join(dir, 'msg');
      const line = 'a line of a large message, with a dot next:\n.dot\n';
      const big = Buffer.from(`Subject: big\n\n${line.repeat(Math.ceil((20 * 1024 * 1024) / line.length))}`, 'latin1');
      await writeFile(file, big);
      const s = await sink();
      const res = await sendMail('127.0.0.1', s.port, { sender: 'a@local.test', size: big.length, eightBit: false, open: () => createReadStream(file) }, ['bob@remote.test'], OPTS);
      expect(res.recipients[0]!.status).toBe('accepted');
      // The dump may still be being written after the 250: wait (bounded) for all of it.
      let d = (await s.waitDumps(1, 60_000))[0];
      for (let i = 0; i < 600 && (d?.message.length ?? 0) < big.length; i++) {
        await new Promise((r) => setTimeout(r, 100));
        d = (await s.dumps())[0];
      }
      expect(d!.message.length).toBe(big.length);
      expect(d!.message.equals(big)).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
