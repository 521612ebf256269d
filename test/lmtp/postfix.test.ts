/**
 * A real Postfix (private instance, test/helpers/postfix.ts) relaying mail
 * submitted to it over SMTP into Roost with its lmtp transport, as an
 * operator would set it up (`default_transport = lmtp:inet:host:port`):
 * per-recipient 250 / 550 / 452 end as Postfix's sent / bounced / deferred,
 * and a SIGKILL of Roost mid-DATA loses nothing Postfix was told is delivered.
 */
import { createHash } from 'node:crypto';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteDirectory } from '../../src/accounts/sqlite.js';
import type { Account } from '../../src/accounts/directory.js';
import { dataBlock, LmtpClient } from '../helpers/lmtp.js';
import { inboxMessages, maildirFiles } from '../helpers/maildir.js';
import { makeTempDir, startTestNode, type TestNode } from '../helpers/node.js';
import { postfixUsable, startPostfix, type PrivatePostfix } from '../helpers/postfix.js';
import { spawnNode, type SpawnedNode } from '../helpers/spawn.js';
import { openStore } from '../../src/store/open.js';

const usable = await postfixUsable();

/** Submit one message over SMTP (RFC 5321) to the private Postfix. */
async function submit(port: number, from: string, to: string[], message: string): Promise<void> {
  const { client, greeting } = await LmtpClient.connect(port);
  try {
    expect(greeting.code).toBe(220);
    expect((await client.cmd('EHLO client.test.invalid')).code).toBe(250);
    expect((await client.cmd(`MAIL FROM:<${from}>`)).code).toBe(250);
    for (const r of to) expect((await client.cmd(`RCPT TO:<${r}>`)).code).toBe(250);
    expect((await client.cmd('DATA')).code).toBe(354);
    client.send(dataBlock(message));
    expect((await client.reply()).code).toBe(250);
    await client.cmd('QUIT');
  } finally {
    client.close();
  }
}

/** Postfix's log lines for one recipient's delivery outcome. */
const status = (log: string, rcpt: string, what: string): string[] =>
  log.split('\n').filter((l) => l.includes(`to=<${rcpt}>`) && l.includes(`status=${what}`));

/** Body after our trace lines (Delivered-To when one recipient, then Received). */
function body(stored: Buffer): string {
  let s = stored.toString('latin1');
  if (s.startsWith('Delivered-To: ')) s = s.slice(s.indexOf('\n') + 1);
  expect(s).toMatch(/^Received: from \S+ \(\[127\.0\.0\.1\]\) by test\.roost\.invalid \(Roost\) with LMTP; /);
  return s.slice(s.indexOf('\n') + 1);
}

describe.skipIf(!usable)('a private Postfix delivering to Roost over LMTP', () => {
  let t: TestNode;
  let pf: PrivatePostfix;
  let a: Account;
  let b: Account;
  let full: Account;
  let owner: Account;

  beforeAll(async () => {
    t = await startTestNode();
    a = await t.addUser('a@example.org', 'pw');
    b = await t.addUser('b@example.org', 'pw');
    full = await t.addUser('full@example.org', 'pw', { quotaBytes: 600 });
    owner = await t.addUser('owner@example.org', 'pw');
    pf = await startPostfix({ lmtpPort: t.ports.lmtp!, domain: 'example.org' });
  });
  afterAll(async () => {
    await pf?.stop();
    await t?.stop();
  });

  it('per recipient: 250 → sent, 550 → bounced (the bounce comes back over LMTP), 452 over quota → deferred', { timeout: 90_000 }, async () => {
    const msg = `From: owner@example.org\nSubject: to four\nMessage-Id: <four@test.invalid>\n\n${'line of text\n'.repeat(80)}.dot\n`;
    await submit(pf.smtpPort, 'owner@example.org', ['a@example.org', 'b@example.org', 'nobody@example.org', 'full@example.org'], msg);
    const log = await pf.waitLog(
      (l) =>
        status(l, 'a@example.org', 'sent').length > 0 &&
        status(l, 'b@example.org', 'sent').length > 0 &&
        status(l, 'nobody@example.org', 'bounced').length > 0 &&
        status(l, 'full@example.org', 'deferred').length > 0 &&
        status(l, 'owner@example.org', 'sent').length > 0,
    );
    expect(status(log, 'a@example.org', 'sent')[0]).toMatch(/250 2\.0\.0 <a@example\.org> delivered/);
    expect(status(log, 'nobody@example.org', 'bounced')[0]).toMatch(/550 5\.1\.1/);
    expect(status(log, 'full@example.org', 'deferred')[0]).toMatch(/452 4\.2\.2/);
    for (const acct of [a, b]) {
      const got = await inboxMessages(t.ctx.store, acct);
      expect(got.length).toBe(1);
      // Postfix adds its own Received line; what follows it is the submitted message byte for byte.
      const text = body(got[0]!);
      expect(text.startsWith('Received: from client.test.invalid')).toBe(true);
      expect(text).toContain('\nSubject: to four\n');
      // Postfix may add missing headers (Date, To); the body is the submitted one byte for byte.
      expect(text.slice(text.indexOf('\n\n'))).toBe(msg.slice(msg.indexOf('\n\n')));
    }
    expect((await maildirFiles(full)).new).toEqual([]);
    // Postfix's bounce for nobody@ went to the sender, delivered by Roost too.
    const bounces = await inboxMessages(t.ctx.store, owner);
    expect(bounces.length).toBe(1);
    expect(bounces[0]!.toString('latin1')).toContain('nobody@example.org');
  });
});

/** Deterministic message for an id. */
function messageFor(id: string): string {
  const seed = createHash('sha256').update(id).digest('hex');
  return `Message-Id: <${id}@kill.test>\nSubject: kill test ${id}\n\n${`${seed}\n`.repeat(3000)}`;
}

/**
 * A relay 127.0.0.1:<port> → Roost's current LMTP port that calls `onMidData`
 * once, when the `nth` DATA's bytes start to flow: it forwards half of that
 * chunk and holds the rest, so the kill lands inside DATA.
 */
function killingRelay(target: () => number, nth: number, onMidData: () => void): Promise<{ port: number; close: () => Promise<void> }> {
  const sockets = new Set<net.Socket>();
  let datas = 0;
  let fired = false;
  const server = net.createServer((client) => {
    const upstream = net.connect({ port: target(), host: '127.0.0.1' });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => {
        sockets.delete(s);
        client.destroy();
        upstream.destroy();
      });
      s.on('error', () => undefined);
    }
    let armed = false;
    // Once this connection's DATA is cut, nothing more of it reaches Roost:
    // forwarding later chunks would hand the node a message with a hole in it
    // (and its final dot) in the 50 ms before the kill lands.
    let held = false;
    client.on('data', (c: Buffer) => {
      if (held) return;
      if (armed && !fired) {
        fired = true;
        held = true;
        upstream.write(c.subarray(0, c.length >> 1), () => setTimeout(onMidData, 50));
        return;
      }
      if (!fired && /(^|\r\n)DATA\r\n/.test(c.toString('latin1')) && ++datas === nth) armed = true;
      upstream.write(c);
    });
    upstream.pipe(client);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    );
  });
}

describe.skipIf(!usable)('SIGKILL of Roost mid-DATA with Postfix in front', () => {
  const N = 20;
  let dataDir: string;
  let account: Account;
  let node: SpawnedNode | null = null;
  let pf: PrivatePostfix | null = null;

  beforeAll(async () => {
    dataDir = await makeTempDir('roost-pfkill-');
    const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
    account = await dir.addUser({ address: 'k@example.org' });
    await dir.close();
  });
  afterAll(async () => {
    await pf?.stop();
    node?.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
  });

  it(`${N} messages: every one Postfix logs as sent is in the Maildir, whole; the one cut mid-DATA is retried`, { timeout: 150_000 }, async () => {
    node = await spawnNode(dataDir, { log: { level: 'warn' } });
    let killed: Promise<void> | null = null;
    const relay = await killingRelay(
      () => node!.ports.lmtp!,
      3,
      () => {
        const victim = node!;
        victim.kill('SIGKILL');
        killed = (async () => {
          await victim.exited;
          node = await spawnNode(dataDir, { log: { level: 'warn' } });
        })();
      },
    );
    try {
      pf = await startPostfix({ lmtpPort: relay.port, domain: 'example.org' });
      for (let i = 0; i < N; i++) await submit(pf.smtpPort, 'sender@test.invalid', ['k@example.org'], messageFor(`m${i}`));
      // Postfix retries deferred mail on its own (1–2 s backoff); a flush every few seconds covers a queue scan
      // that skipped a message "still being delivered" (seen once under load: it then waited past the test's bound).
      const done = (l: string): boolean => status(l, 'k@example.org', 'sent').length >= N || status(l, 'k@example.org', 'bounced').length > 0;
      const flusher = setInterval(() => void pf?.flush(), 5000);
      const log = await pf.waitLog(done, 120_000).finally(() => clearInterval(flusher));
      expect(killed).not.toBeNull();
      await killed;
      expect(status(log, 'k@example.org', 'bounced')).toEqual([]);
      // At least one delivery was cut and deferred, then retried.
      expect(status(log, 'k@example.org', 'deferred').length).toBeGreaterThan(0);
      expect(status(log, 'k@example.org', 'sent').length).toBe(N);
    } finally {
      await relay.close();
      await pf?.stop();
      pf = null;
      node?.kill('SIGTERM');
      await node?.exited;
      node = null;
    }
    const store = await openStore({ dataDir, mailDir: path.join(dataDir, 'mail'), hostname: 'check' });
    try {
      const stored = await inboxMessages(store, account);
      const seen = new Map<string, number>();
      for (const m of stored) {
        const text = body(m);
        const id = /^Message-Id: <([^@>]+)@kill\.test>/m.exec(text)?.[1];
        expect(id).toBeDefined();
        // Whole, never cut: the body is the submitted one byte for byte.
        const sent = messageFor(id!);
        expect(text.slice(text.indexOf('\n\n'))).toBe(sent.slice(sent.indexOf('\n\n')));
        seen.set(id!, (seen.get(id!) ?? 0) + 1);
      }
      for (let i = 0; i < N; i++) expect(seen.get(`m${i}`) ?? 0).toBeGreaterThanOrEqual(1);
      expect((await maildirFiles(account)).tmp).toEqual([]);
    } finally {
      await store.close();
    }
  });
});
