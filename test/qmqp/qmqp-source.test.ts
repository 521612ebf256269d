/**
 * Interoperability with a QMQP client nobody here wrote: Postfix's
 * qmqp-source (Debian package postfix). It talks to the node through a
 * transparent TCP relay that records every connection's bytes, so each stored
 * file can be compared byte for byte with what the client actually sent.
 */
import { existsSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { inboxMessages, maildirFiles, RECEIVED_RE, splitReceived } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { recordingRelay, runTool } from '../helpers/relay.js';

const QMQP_SOURCE = ['/usr/sbin/qmqp-source', '/usr/lib/postfix/sbin/qmqp-source'].find((p) => existsSync(p));
const MESSAGES = 300;
const SESSIONS = 5;

/** The message netstring inside a recorded QMQP packet (independent of the server's parser). */
function messageOf(packet: Buffer): Buffer {
  const outerColon = packet.indexOf(0x3a);
  const innerStart = outerColon + 1;
  const innerColon = packet.indexOf(0x3a, innerStart);
  const len = Number(packet.subarray(innerStart, innerColon).toString('latin1'));
  return packet.subarray(innerColon + 1, innerColon + 1 + len);
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
      const r = await runTool(
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
