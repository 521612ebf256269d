/**
 * Remote recipients over QMQP: a real node, Postfix's
 * smtp-sink as the smarthost. K only when every remote recipient got 250
 * after DATA and the local copies are committed; otherwise Z or D and no
 * local copy, no spool leftovers.
 */
import { Readable } from 'node:stream';
import { afterEach, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { deliverStream } from '../../src/delivery/deliver.js';
import { inboxMessages, RECEIVED_RE, spoolLeftovers, splitReceived } from '../helpers/maildir.js';
import { startTestNode, type Overrides, type TestNode } from '../helpers/node.js';
import { lmtpSend } from '../helpers/lmtp.js';
import { qmqpSend } from '../helpers/qmqp.js';
import { SMTP_SINK, startSink, type Sink } from '../helpers/smtp-sink.js';

const MESSAGE = 'From: alice@local.test\nTo: bob@remote.test, carol@local.test\nSubject: hand-off\n\n.dot\nbody\n';
const LOCAL = 'carol@local.test';
// A smarthost that is down: port 1 (tcpmux) on loopback, where nothing here listens. A port from freePort()
// could be taken meanwhile by a listener of a test running in parallel, which accepts and never answers.
const DOWN = '127.0.0.1:1';

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function sink(args: string[] = []): Promise<Sink> {
  const s = await startSink(args);
  cleanups.push(() => s.stop());
  return s;
}

async function node(smarthosts: string[], extra: Overrides = {}): Promise<{ t: TestNode; carol: Account }> {
  const { outbound, ...rest } = extra;
  const t = await startTestNode({ ...rest, outbound: { smarthosts, local_domains: ['local.test'], ...((outbound as object) ?? {}) } });
  cleanups.push(() => t.stop());
  const carol = await t.addUser(LOCAL, 'pw');
  return { t, carol };
}

async function nothingKept(t: TestNode, carol: Account): Promise<void> {
  expect(await inboxMessages(t.ctx.store, carol)).toEqual([]);
  expect(await spoolLeftovers(t.dataDir)).toEqual([]);
}

describe.skipIf(!SMTP_SINK)('QMQP with remote recipients', () => {
  it('K: the local copy is stored and the smarthost gets the same bytes with the envelope unchanged', { timeout: 30_000 }, async () => {
    const s = await sink();
    const { t, carol } = await node([`127.0.0.1:${s.port}`]);
    const r = await qmqpSend(t.ports.qmqp!, MESSAGE, 'alice@local.test', ['bob@remote.test', LOCAL, 'dave@remote.test']);
    expect(r.code, r.text).toBe('K');
    const [stored] = await inboxMessages(t.ctx.store, carol);
    expect(splitReceived(stored!).received).toMatch(RECEIVED_RE);
    expect(splitReceived(stored!).body.toString('latin1')).toBe(MESSAGE);
    const [d] = await s.waitDumps(1);
    expect(d!.mailArgs).toBe('<alice@local.test>');
    expect(d!.rcptArgs).toEqual(['<bob@remote.test>', '<dave@remote.test>']);
    expect(d!.message.equals(stored!)).toBe(true);
  });

  it('K for remote recipients only, nothing left in the spool', { timeout: 30_000 }, async () => {
    const s = await sink();
    const { t, carol } = await node([`127.0.0.1:${s.port}`]);
    const r = await qmqpSend(t.ports.qmqp!, MESSAGE, '', ['bob@remote.test']);
    expect(r.code, r.text).toBe('K');
    const [d] = await s.waitDumps(1);
    expect(d!.mailArgs).toBe('<>');
    expect(splitReceived(d!.message).body.toString('latin1')).toBe(MESSAGE);
    await nothingKept(t, carol);
  });

  it('smarthost down: Z and no local copy', { timeout: 30_000 }, async () => {
    const { t, carol } = await node([DOWN]);
    const r = await qmqpSend(t.ports.qmqp!, MESSAGE, 'alice@local.test', ['bob@remote.test', LOCAL]);
    expect(r.code).toBe('Z');
    expect(r.text).toMatch(/ECONNREFUSED.*\(#4\.4\.0\)$/);
    await nothingKept(t, carol);
  });

  it('the first smarthost refuses connections: the second gets the message, K', { timeout: 30_000 }, async () => {
    const s = await sink();
    const { t, carol } = await node([DOWN, `127.0.0.1:${s.port}`]);
    const r = await qmqpSend(t.ports.qmqp!, MESSAGE, 'alice@local.test', ['bob@remote.test', LOCAL]);
    expect(r.code, r.text).toBe('K');
    expect((await s.waitDumps(1)).length).toBe(1);
    expect((await inboxMessages(t.ctx.store, carol)).length).toBe(1);
  });

  it('the smarthost refuses the recipient with 5xx: D and no local copy', { timeout: 30_000 }, async () => {
    const s = await sink(['-f', 'RCPT']);
    const { t, carol } = await node([`127.0.0.1:${s.port}`]);
    const r = await qmqpSend(t.ports.qmqp!, MESSAGE, 'alice@local.test', ['bob@remote.test', LOCAL]);
    expect(r.code).toBe('D');
    expect(r.text).toMatch(/^bob@remote\.test: 500 5\.3\.0 .*\(#5\.3\.0\)$/);
    await nothingKept(t, carol);
  });

  it('the smarthost answers 4xx: Z and no local copy', { timeout: 30_000 }, async () => {
    const s = await sink(['-r', 'RCPT']);
    const { t, carol } = await node([`127.0.0.1:${s.port}`]);
    const r = await qmqpSend(t.ports.qmqp!, MESSAGE, 'alice@local.test', ['bob@remote.test', LOCAL]);
    expect(r.code).toBe('Z');
    expect(r.text).toMatch(/\(#4\.3\.0\)$/);
    await nothingKept(t, carol);
  });

  it('a smarthost that stalls after the final dot: timeout, Z and no local copy', { timeout: 30_000 }, async () => {
    const s = await sink(['-W', '.:60']);
    const { t, carol } = await node([`127.0.0.1:${s.port}`], { outbound: { timeout_ms: 1000 } });
    const r = await qmqpSend(t.ports.qmqp!, MESSAGE, 'alice@local.test', ['bob@remote.test', LOCAL]);
    expect(r.code).toBe('Z');
    expect(r.text).toMatch(/no reply to the end of data within 1000 ms/);
    await nothingKept(t, carol);
  });

  it('a peer outside qmqp.relay_from: D #5.7.1 for a remote recipient, nothing sent; local mail still K', { timeout: 30_000 }, async () => {
    const s = await sink();
    const { t, carol } = await node([`127.0.0.1:${s.port}`], { qmqp: { listen: '127.0.0.1:0', relay_from: ['192.0.2.0/24'] } });
    const r = await qmqpSend(t.ports.qmqp!, MESSAGE, 'alice@local.test', ['bob@remote.test', LOCAL]);
    expect(r).toEqual({ code: 'D', text: "sorry, that domain isn't in my list of allowed rcpthosts (#5.7.1)" });
    await nothingKept(t, carol);
    expect(await s.dumps()).toEqual([]);
    expect((await qmqpSend(t.ports.qmqp!, MESSAGE, 'alice@local.test', [LOCAL])).code).toBe('K');
  });

  it('an unknown user at a local domain is still D #5.1.1, never relayed', { timeout: 30_000 }, async () => {
    const s = await sink();
    const { t } = await node([`127.0.0.1:${s.port}`]);
    const r = await qmqpSend(t.ports.qmqp!, MESSAGE, 'alice@local.test', ['nobody@local.test']);
    expect(r.code).toBe('D');
    expect(r.text).toMatch(/#5\.1\.1/);
    expect(await s.dumps()).toEqual([]);
  });

  it('LMTP does not relay: a remote RCPT gets 550 5.1.1 and the local one is delivered', { timeout: 30_000 }, async () => {
    const s = await sink();
    const { t, carol } = await node([`127.0.0.1:${s.port}`]);
    const r = await lmtpSend(t.ports.lmtp!, MESSAGE, 'alice@local.test', ['bob@remote.test', LOCAL]);
    expect(r.rcpt.map((x) => x.code)).toEqual([550, 250]);
    expect(r.rcpt[0]!.text).toMatch(/5\.1\.1/);
    expect(r.data.map((x) => x.code)).toEqual([250]);
    expect((await inboxMessages(t.ctx.store, carol)).length).toBe(1);
    expect(await s.dumps()).toEqual([]);
  });

  it('`roost deliver` (a local caller) may relay: the smarthost gets it, K', { timeout: 30_000 }, async () => {
    const s = await sink();
    const { t, carol } = await node([`127.0.0.1:${s.port}`]);
    const v = await deliverStream(t.ctx, Readable.from([Buffer.from(MESSAGE)]), { sender: 'alice@local.test', recipients: ['bob@remote.test'], via: 'local' });
    expect(v.code, v.text).toBe('K');
    const [d] = await s.waitDumps(1);
    expect(d!.message.toString('latin1')).toBe(MESSAGE);
    await nothingKept(t, carol);
  });

  it('BODY=8BITMIME from what was received (RFC 6152 §3): an octet above 127 in a later chunk or in the prefix counts, ASCII does not', { timeout: 30_000 }, async () => {
    const s = await sink();
    const { t } = await node([`127.0.0.1:${s.port}`]);
    const send = (chunks: Buffer[], prefix?: Buffer) =>
      deliverStream(t.ctx, Readable.from(chunks), { sender: 'alice@local.test', recipients: ['bob@remote.test'], via: 'local', prefix });
    const ascii = (subject: string) => [Buffer.from(`Subject: ${subject}\n\n`), Buffer.from('\x7f plain\n')];
    const late8 = [Buffer.from('Subject: b\n\n'), Buffer.from('x'.repeat(70_000)), Buffer.from('fa\xe7ade\n', 'latin1')];
    expect((await send(ascii('a'))).code).toBe('K');
    expect((await send(late8)).code).toBe('K');
    expect((await send(ascii('c'), Buffer.from('X-Prefix: \xe9\n', 'latin1'))).code).toBe('K');
    const dumps = await s.waitDumps(3);
    const args = (subject: string) => dumps.find((d) => d.message.includes(`Subject: ${subject}`))!.mailArgs;
    expect(args('a')).toBe('<alice@local.test>');
    expect(args('b')).toBe('<alice@local.test> BODY=8BITMIME');
    expect(args('c')).toBe('<alice@local.test> BODY=8BITMIME');
  });
});
