/**
 * Interoperability with a QMQP client nobody here wrote: Postfix's
 * qmqp-source (Debian package postfix). It talks to the node through a
 * transparent TCP relay that records every connection's bytes, so each stored
 * file can be compared byte for byte with what the client actually sent.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { inboxMessages, maildirFiles, RECEIVED_RE, splitReceived } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';

const QMQP_SOURCE = ['/usr/sbin/qmqp-source', '/usr/lib/postfix/sbin/qmqp-source'].find((p) => existsSync(p));
const MESSAGES = 300;
const SESSIONS = 5;

/** Relay 127.0.0.1:<port> → target, keeping what each client connection sent. */
function recordingRelay(target: number): Promise<{ port: number; sent: Buffer[][]; close: () => Promise<void> }> {
  const sent: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const chunks: Buffer[] = [];
    sent.push(chunks);
    const upstream = net.connect({ port: target, host: '127.0.0.1' });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (c: Buffer) => chunks.push(c));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => {
      resolve({
        port: (server.address() as net.AddressInfo).port,
        sent,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      });
    });
  });
}

/** The message netstring inside a recorded QMQP packet (independent of the server's parser). */
function messageOf(packet: Buffer): Buffer {
  const outerColon = packet.indexOf(0x3a);
  const innerStart = outerColon + 1;
  const innerColon = packet.indexOf(0x3a, innerStart);
  const len = Number(packet.subarray(innerStart, innerColon).toString('latin1'));
  return packet.subarray(innerColon + 1, innerColon + 1 + len);
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => out.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: Buffer.concat(out).toString() });
    });
  });
}

let t: TestNode;
let alice: Account;

beforeAll(async () => {
  t = await startTestNode();
  alice = await t.addUser('alice@example.org', 'pw');
});
afterAll(async () => {
  await t?.stop();
});

describe.skipIf(!QMQP_SOURCE)('Postfix qmqp-source', () => {
  it(`delivers ${MESSAGES} messages over ${SESSIONS} parallel sessions, each stored byte for byte`, { timeout: 120_000 }, async () => {
    const relay = await recordingRelay(t.ports.qmqp!);
    try {
      const r = await run(
        QMQP_SOURCE!,
        ['-m', String(MESSAGES), '-s', String(SESSIONS), '-l', '2000', '-f', 'from@source.test', '-t', 'alice@example.org', `127.0.0.1:${relay.port}`],
        90_000,
      );
      expect(r.code, r.output).toBe(0);
      expect(r.output).not.toMatch(/error/i);
    } finally {
      await relay.close();
    }
    expect(relay.sent.length).toBe(MESSAGES);
    const sentMessages = relay.sent.map((chunks) => messageOf(Buffer.concat(chunks)).toString('latin1')).sort();

    const stored = await inboxMessages(t.ctx.store, alice);
    expect(stored.length).toBe(MESSAGES);
    const storedBodies = stored
      .map((m) => {
        const { received, body } = splitReceived(m);
        expect(received).toMatch(RECEIVED_RE);
        return body.toString('latin1');
      })
      .sort();
    expect(storedBodies).toEqual(sentMessages);
    const files = await maildirFiles(alice);
    expect(files.tmp).toEqual([]);
    expect(files.new.length + files.cur.length).toBe(MESSAGES);
  });
});
