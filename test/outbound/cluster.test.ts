/**
 * mailHost hand-off: two nodes reading one real slapd, mx-a
 * and mx-b, with `other_host = "forward"`. Mail for an account on the other
 * mailHost is handed over QMQP within the transaction and lands there with
 * the CLUSTERHOST trace line; an account whose mailHost neither node serves
 * (each maps it to the other) goes A → B → A and ends in D, not a loop.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { LIMITS } from '../../src/limits.js';
import { inboxMessages, RECEIVED_RE, spoolLeftovers } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { freePort } from '../helpers/postfix.js';
import { qmqpSend } from '../helpers/qmqp.js';
import { READER_DN, READER_PW, SUFFIX, Slapd, userLdif } from '../helpers/slapd.js';
import { silentListener, TIMER_SLACK_MS } from '../helpers/timing.js';

const MSG = 'From: x@example.net\nSubject: cluster\n\nhello\n';

let slapd: Slapd;
let a: TestNode;
let b: TestNode;

function ldap(mailHost: string) {
  return {
    backend: 'ldap',
    ldap: {
      url: slapd.url,
      bind_dn: READER_DN,
      bind_password: READER_PW,
      base: SUFFIX,
      timeout_ms: 2000,
      cache_ttl_ms: 0,
      negative_cache_ttl_ms: 0,
      mail_host: mailHost,
      other_host: 'forward',
    },
  };
}

async function account(t: TestNode, address: string): Promise<Account> {
  // The node's own directory refers a far account elsewhere; read it with the other node's.
  const r = await t.ctx.directory.lookupRecipient(address);
  if (r.kind !== 'found') throw new Error(`${address}: ${JSON.stringify(r)}`);
  return r.account;
}

beforeAll(async () => {
  slapd = await Slapd.create();
  await slapd.ldapadd(
    userLdif('anna', { mail: 'anna@example.org', uid: 'anna', mailMessageStore: 'anna/', mailHost: 'mx-a.test' }) +
      userLdif('ben', { mail: 'ben@example.org', uid: 'ben', mailMessageStore: 'ben/', mailHost: 'mx-b.test' }) +
      userLdif('lost', { mail: 'lost@example.org', uid: 'lost', mailMessageStore: 'lost/', mailHost: 'mx-c.test' }),
  );
  // Each pair is named by its node's admin listener: the hand-off asks its /health for the primary's QMQP port.
  const adminA = await freePort();
  const adminB = await freePort();
  a = await startTestNode({
    admin: { listen: `127.0.0.1:${adminA}` },
    directory: ldap('mx-a.test'),
    cluster: { hosts: { 'mx-b.test': `127.0.0.1:${adminB}`, 'mx-c.test': `127.0.0.1:${adminB}` } },
  });
  b = await startTestNode({
    admin: { listen: `127.0.0.1:${adminB}` },
    directory: ldap('mx-b.test'),
    cluster: { hosts: { 'mx-a.test': `127.0.0.1:${adminA}`, 'mx-c.test': `127.0.0.1:${adminA}` } },
  });
}, 60_000);
afterAll(async () => {
  await a?.stop();
  await b?.stop();
  await slapd?.destroy();
});

describe('mailHost hand-off', () => {
  it('a message for an account on the other mailHost lands there, with the CLUSTERHOST line; K', { timeout: 30_000 }, async () => {
    const r = await qmqpSend(a.ports.qmqp!, MSG, 'x@example.net', ['ben@example.org', 'anna@example.org']);
    expect(r.code, r.text).toBe('K');
    const onB = await inboxMessages(b.ctx.store, await account(b, 'ben@example.org'));
    expect(onB.length).toBe(1);
    const text = onB[0]!.toString('latin1');
    // B's Received, A's CLUSTERHOST line, A's Received, the client's bytes.
    const lines = text.split('\n');
    expect(lines[0]).toMatch(/^Received: from \[127\.0\.0\.1\] by .* with QMQP;/);
    expect(lines[1]).toBe('Delivered-To: CLUSTERHOST mx-a.test ben@example.org');
    expect(`${lines[2]}\n`).toMatch(RECEIVED_RE);
    expect(lines.slice(3).join('\n')).toBe(MSG);
    expect((await inboxMessages(a.ctx.store, await account(a, 'anna@example.org'))).length).toBe(1);
    expect(await spoolLeftovers(a.dataDir)).toEqual([]);
  });

  it('A → B → A ends in D (#5.4.6), and nothing is stored on either', { timeout: 30_000 }, async () => {
    const r = await qmqpSend(a.ports.qmqp!, MSG, 'x@example.net', ['lost@example.org', 'anna@example.org']);
    expect(r.code).toBe('D');
    expect(r.text).toMatch(/looping.*\(#5\.4\.6\)$/);
    // Only the copy from the first test: the refused message left none.
    expect((await inboxMessages(a.ctx.store, await account(a, 'anna@example.org'))).length).toBe(1);
    expect(await spoolLeftovers(a.dataDir)).toEqual([]);
    expect(await spoolLeftovers(b.dataDir)).toEqual([]);
  });

  it('the other mailHost down (named by its service address): Z and no local copy', { timeout: 30_000 }, async () => {
    const c = await startTestNode({
      directory: ldap('mx-a.test'),
      cluster: { hosts: { 'mx-b.test': '127.0.0.1' }, qmqp_port: await freePort() },
    });
    try {
      const r = await qmqpSend(c.ports.qmqp!, MSG, 'x@example.net', ['ben@example.org', 'anna@example.org']);
      expect(r.code).toBe('Z');
      expect(r.text).toMatch(/ECONNREFUSED/);
      expect(await inboxMessages(c.ctx.store, await account(c, 'anna@example.org'))).toEqual([]);
    } finally {
      await c.stop();
    }
  });

  it('no node of the other pair answers its /health: Z (no primary to hand to) and no local copy', { timeout: 30_000 }, async () => {
    const c = await startTestNode({
      directory: ldap('mx-a.test'),
      cluster: { hosts: { 'mx-b.test': `127.0.0.1:${await freePort()} 127.0.0.1:${await freePort()}` } },
    });
    try {
      const r = await qmqpSend(c.ports.qmqp!, MSG, 'x@example.net', ['ben@example.org', 'anna@example.org']);
      expect(r.code).toBe('Z');
      expect(r.text).toMatch(/no primary of mx-b\.test/);
      expect(await inboxMessages(c.ctx.store, await account(c, 'anna@example.org'))).toEqual([]);
    } finally {
      await c.stop();
    }
  });
});

describe('mailHost hand-off limits at N and N+1', () => {
  const limits = LIMITS.outbound as { qmqpTimeoutMs: number };
  const saved = limits.qmqpTimeoutMs;

  /** A node whose mx-b.test is a service address on `port` (its QMQP port). */
  async function nodeTo(port: number): Promise<TestNode> {
    return startTestNode({ directory: ldap('mx-a.test'), cluster: { hosts: { 'mx-b.test': '127.0.0.1' }, qmqp_port: port } });
  }

  it('outbound.qmqpTimeoutMs: a peer that accepts and never answers is waited for that long, then Z and no local copy', { timeout: 30_000 }, async () => {
    const T = 700;
    const silent = await silentListener();
    const c = await nodeTo(silent.port);
    limits.qmqpTimeoutMs = T;
    try {
      const since = performance.now();
      const r = await qmqpSend(c.ports.qmqp!, MSG, 'x@example.net', ['ben@example.org', 'anna@example.org']);
      expect(performance.now() - since).toBeGreaterThanOrEqual(T - TIMER_SLACK_MS);
      expect(r.code).toBe('Z');
      expect(r.text).toMatch(new RegExp(`no progress within ${T} ms`));
      expect(silent.accepted.length).toBe(1);
      expect(await inboxMessages(c.ctx.store, await account(c, 'anna@example.org'))).toEqual([]);
    } finally {
      limits.qmqpTimeoutMs = saved;
      await c.stop();
      await silent.close();
    }
  });

  it('outbound.maxQmqpReply: a peer\'s reply netstring of N bytes is read (K), one of N+1 is refused as a bad reply (Z)', { timeout: 30_000 }, async () => {
    const N = LIMITS.outbound.maxQmqpReply;
    let replyBytes = N;
    // A QMQP peer: reads the packet to its last two commas (the last recipient's and the outer one), then answers K padded to replyBytes.
    const peer = await silentListener((s) => {
      let tail = '';
      s.on('data', (b: Buffer) => {
        tail = (tail + b.toString('latin1')).slice(-2);
        if (tail === ',,') s.end(`${replyBytes}:K${'k'.repeat(replyBytes - 1)},`);
      });
    });
    const c = await nodeTo(peer.port);
    try {
      expect((await qmqpSend(c.ports.qmqp!, MSG, 'x@example.net', ['ben@example.org'])).code).toBe('K');
      replyBytes = N + 1;
      const over = await qmqpSend(c.ports.qmqp!, MSG, 'x@example.net', ['ben@example.org']);
      expect(over.code).toBe('Z');
      expect(over.text).toMatch(/bad reply/);
      expect(peer.accepted.length).toBe(2);
    } finally {
      await c.stop();
      await peer.close();
    }
  });
});
