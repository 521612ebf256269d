/**
 * Control socket limits at N and N+1 (src/admin/control.ts, framing.ts,
 * src/cli/control-client.ts): the request line and a body chunk against a
 * running node over its unix socket, and the CLI's wait for an answer
 * against a real listener that accepts and never answers. The client reads
 * admin.controlTimeoutMs when it is loaded, so that one is lowered before
 * the module is imported.
 */
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { mkdtemp, rm } from 'node:fs/promises';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { LIMITS } from '../../src/limits.js';
import { inboxMessages } from '../helpers/maildir.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { TIMER_SLACK_MS } from '../helpers/timing.js';

const limits = LIMITS.admin as { controlTimeoutMs: number };
const saved = limits.controlTimeoutMs;
const CONTROL_TIMEOUT = 800;
limits.controlTimeoutMs = CONTROL_TIMEOUT;
const { controlRequest } = await import('../../src/cli/control-client.js');
limits.controlTimeoutMs = saved;

let t: TestNode;
let alice: Account;
let sock: string;

beforeAll(async () => {
  t = await startTestNode();
  alice = await t.addUser('alice@example.org', 'pw');
  sock = path.join(t.dataDir, 'control.sock');
});
afterAll(async () => {
  await t?.stop();
});

/** Write `data` on a fresh control connection; the node's answer line, parsed. */
function exchange(data: Buffer | string): Promise<{ ok: boolean; error?: { code: string; message: string }; result?: unknown }> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ path: sock, allowHalfOpen: true });
    let got = '';
    s.on('data', (b: Buffer) => (got += b.toString('utf8')));
    s.on('error', reject);
    s.on('end', () => {
      s.destroy();
      try {
        resolve(JSON.parse(got.trim().split('\n').at(-1)!));
      } catch {
        reject(new Error(`not an answer: ${JSON.stringify(got.slice(0, 200))}`));
      }
    });
    // As the CLI does: the request (and a stream command's framed body), then our end of the connection.
    s.on('connect', () => s.end(data));
  });
}

/** A `status` request line of exactly `bytes` bytes (the LF not counted), padded in an ignored argument. */
function statusLine(bytes: number): string {
  const bare = JSON.stringify({ cmd: 'status', args: { pad: '' } });
  const line = JSON.stringify({ cmd: 'status', args: { pad: 'p'.repeat(bytes - bare.length) } });
  expect(Buffer.byteLength(line)).toBe(bytes);
  return `${line}\n`;
}

describe('control socket limits at N and N+1', () => {
  it('admin.maxRequestLine: a request line of N bytes is answered, N+1 is refused (LIMIT), sent whole or in pieces', async () => {
    const N = LIMITS.admin.maxRequestLine;
    expect(await exchange(statusLine(N))).toMatchObject({ ok: true, result: { role: 'primary' } });
    expect(await exchange(statusLine(N + 1))).toEqual({ ok: false, error: { code: 'LIMIT', message: 'request line too long' } });
    // The same N+1 line without its LF yet: refused as soon as it is longer than N.
    expect(await exchange(statusLine(N + 1).slice(0, -1))).toEqual({ ok: false, error: { code: 'LIMIT', message: 'request line too long' } });
  });

  it('admin.maxFrameChunk: a body chunk of N bytes is taken, a chunk announced as N+1 fails the body and nothing is delivered', async () => {
    const N = LIMITS.admin.maxFrameChunk;
    const head = 'Subject: one chunk\n\n';
    const message = head + 'b'.repeat(N - head.length);
    const req = `${JSON.stringify({ cmd: 'deliver', args: { recipients: ['alice@example.org'] } })}\n`;
    const before = (await inboxMessages(t.ctx.store, alice)).length;
    const ok = await exchange(Buffer.concat([Buffer.from(req), Buffer.from(`${N}:`), Buffer.from(message), Buffer.from(',0:,')]));
    expect(ok).toMatchObject({ ok: true, result: { code: 'K' } });
    const over = await exchange(Buffer.concat([Buffer.from(req), Buffer.from(`${N + 1}:`), Buffer.from(message), Buffer.from('b,0:,')]));
    // The decoder refuses the length prefix; the body fails as a cut one would, and the delivery is deferred (Z), never stored.
    expect(over).toMatchObject({ ok: true, result: { code: 'Z', reason: 'temporary' } });
    const msgs = await inboxMessages(t.ctx.store, alice);
    expect(msgs.length).toBe(before + 1);
    expect(msgs.at(-1)!.length).toBe(N);
  });
});

describe('control client wait', () => {
  it('admin.controlTimeoutMs: the CLI waits that long for a node that accepts and never answers, then gives up', async () => {
    const dir = await mkdtemp(path.join(os.tmpdir(), 'roost-ctl-'));
    const p = path.join(dir, 'control.sock');
    const held: net.Socket[] = [];
    const server = net.createServer((s) => held.push(s.on('error', () => undefined)));
    await new Promise<void>((r) => server.listen(p, r));
    try {
      const since = performance.now();
      await expect(controlRequest(p, 'status')).rejects.toThrow(/control command status: no answer in time/);
      expect(performance.now() - since).toBeGreaterThanOrEqual(CONTROL_TIMEOUT - TIMER_SLACK_MS);
    } finally {
      for (const s of held) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
      await rm(dir, { recursive: true, force: true });
    }
  });
});
