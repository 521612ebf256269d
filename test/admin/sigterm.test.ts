/** SIGTERM on a real `roost serve` process: stop accepting, finish the in-flight delivery, exit 0. */
import { existsSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteDirectory } from '../../src/accounts/sqlite.js';
import { makeTempDir } from '../helpers/node.js';
import { parseReply, qmqpPacket } from '../helpers/qmqp.js';
import { spawnNode } from '../helpers/spawn.js';

let dataDir: string;
beforeAll(async () => {
  dataDir = await makeTempDir('roost-sigterm-');
  const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  await dir.addUser({ address: 'term@example.org' });
  await dir.close();
});
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('roost serve and SIGTERM', () => {
  it('answers the delivery in progress with K, then exits 0 and removes node.json and the control socket', async () => {
    const node = await spawnNode(dataDir);
    const pkt = qmqpPacket('Subject: term\n\nbye\n', '', ['term@example.org']);
    const s = net.connect({ port: node.ports.qmqp!, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    const reply = new Promise<string>((resolve) => {
      const got: Buffer[] = [];
      s.on('data', (c: Buffer) => got.push(c));
      s.on('close', () => resolve(Buffer.concat(got).toString()));
    });
    s.write(pkt.subarray(0, 10));
    await new Promise((r) => setTimeout(r, 100));
    node.kill('SIGTERM');
    await new Promise((r) => setTimeout(r, 200));
    // No new connections while draining.
    await expect(
      new Promise((resolve, reject) => net.connect({ port: node.ports.qmqp!, host: '127.0.0.1' }).on('connect', resolve).on('error', reject)),
    ).rejects.toThrow(/ECONNREFUSED/);
    s.write(pkt.subarray(10));
    expect(parseReply(await reply)?.code).toBe('K');
    expect(await node.exited).toBe(0);
    expect(existsSync(path.join(dataDir, 'node.json'))).toBe(false);
    expect(existsSync(path.join(dataDir, 'control.sock'))).toBe(false);
  });
});
