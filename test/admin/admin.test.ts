import http from 'node:http';
import path from 'node:path';
import net from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { startNode } from '../../src/node.js';
import { roost } from '../helpers/cli.js';
import { inboxMessages, spoolLeftovers } from '../helpers/maildir.js';
import { startTestNode, testConfig, type TestNode } from '../helpers/node.js';
import { parseReply, qmqpPacket, qmqpSend } from '../helpers/qmqp.js';
import { writeTestConfig } from '../helpers/spawn.js';

function get(port: number, path: string): Promise<{ status: number; type: string; body: string }> {
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, agent: false }, (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => resolve({ status: res.statusCode!, type: String(res.headers['content-type']), body: Buffer.concat(chunks).toString() }));
      })
      .on('error', reject);
  });
}

let t: TestNode;
let alice: Account;
let cfgFile: string;

beforeAll(async () => {
  t = await startTestNode({ qmqp: { max_message_size: 2048 } });
  alice = await t.addUser('alice@example.org', 'pw', { quotaBytes: 5000 });
  cfgFile = await writeTestConfig(t.dataDir);
});
afterAll(async () => {
  await t?.stop();
});

describe('admin HTTP', () => {
  it('GET /health: 200 with role and readiness', async () => {
    const r = await get(t.ports.admin!, '/health');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/application\/json/);
    const h = JSON.parse(r.body) as Record<string, unknown>;
    expect(h).toMatchObject({ ready: true, role: 'primary', writable: true, directory: { ok: true, backend: 'sqlite' } });
    expect((h.ports as Record<string, number>).qmqp).toBe(t.ports.qmqp);
  });

  it('GET /metrics: deliveries by result, bytes, latency histogram, open connections', async () => {
    expect((await qmqpSend(t.ports.qmqp!, 'Subject: m\n\nm\n', '', ['alice@example.org'])).code).toBe('K');
    expect((await qmqpSend(t.ports.qmqp!, 'x\n', '', ['nobody@example.org'])).code).toBe('D');
    const r = await get(t.ports.admin!, '/metrics');
    expect(r.status).toBe(200);
    expect(r.type).toMatch(/text\/plain/);
    expect(r.body).toMatch(/^roost_deliveries_total\{result="K",via="qmqp"\} [1-9]\d*$/m);
    expect(r.body).toMatch(/^roost_deliveries_total\{result="D",via="qmqp"\} [1-9]\d*$/m);
    expect(r.body).toMatch(/^roost_delivered_bytes_total\{via="qmqp"\} [1-9]\d*$/m);
    expect(r.body).toMatch(/^roost_delivery_duration_seconds_bucket\{le="0\.005",result="K",via="qmqp"\} \d+$/m);
    expect(r.body).toMatch(/^roost_open_connections\{protocol="qmqp"\} 0$/m);
    expect(r.body).toMatch(/^process_cpu_user_seconds_total /m);
  });

  it('GET /metrics: open IMAP and POP3 connections are counted while they last', async () => {
    const open = (port: number) =>
      new Promise<net.Socket>((resolve, reject) => {
        const s = net.connect(port, '127.0.0.1');
        s.once('data', () => resolve(s)); // the greeting: the session exists
        s.once('error', reject);
      });
    const gauge = async (proto: string) => {
      const m = new RegExp(`^roost_open_connections\\{protocol="${proto}"\\} (\\d+)$`, 'm').exec((await get(t.ports.admin!, '/metrics')).body);
      return m ? Number(m[1]) : 0;
    };
    const [imapBefore, popBefore] = [await gauge('imap'), await gauge('pop3')];
    const a = await open(t.ports.imap!);
    const b = await open(t.ports.pop3!);
    expect(await gauge('imap')).toBe(imapBefore + 1);
    expect(await gauge('pop3')).toBe(popBefore + 1);
    a.destroy();
    b.destroy();
    for (let i = 0; i < 50 && ((await gauge('imap')) !== imapBefore || (await gauge('pop3')) !== popBefore); i++)
      await new Promise((r) => setTimeout(r, 20));
    expect(await gauge('imap')).toBe(imapBefore);
    expect(await gauge('pop3')).toBe(popBefore);
  });

  it('unknown paths are 404, other methods 405', async () => {
    expect((await get(t.ports.admin!, '/nope')).status).toBe(404);
    const status = await new Promise<number>((resolve, reject) => {
      http
        .request({ host: '127.0.0.1', port: t.ports.admin!, path: '/health', method: 'POST', agent: false }, (res) => {
          res.resume();
          resolve(res.statusCode!);
        })
        .on('error', reject)
        .end();
    });
    expect(status).toBe(405);
  });
});

describe('control socket and CLI against a running node', () => {
  it('roost status --json reports role, LSN and ports', async () => {
    const r = await roost(['status', '--json', '--config', cfgFile]);
    expect(r.code).toBe(0);
    const s = JSON.parse(r.stdout) as Record<string, unknown>;
    expect(s).toMatchObject({ role: 'primary', ready: true, pid: process.pid });
    expect(typeof s.lsn).toBe('string');
    expect((s.ports as Record<string, number>).admin).toBe(t.ports.admin);
    const human = await roost(['status', '--config', cfgFile]);
    expect(human.stdout).toMatch(/^role: primary$/m);
  });

  it('roost deliver goes through the node: exit 0 / 1 / 75 like an MDA', async () => {
    const before = (await inboxMessages(t.ctx.store, alice)).length;
    const msg = 'From: cli@x\nSubject: via deliver\n\nhello\n';
    const ok = await roost(['deliver', '-f', 'cli@x', 'alice@example.org', '--config', cfgFile], msg);
    expect(ok.code, ok.stderr).toBe(0);
    const msgs = await inboxMessages(t.ctx.store, alice);
    expect(msgs.length).toBe(before + 1);
    expect(msgs.at(-1)!.toString()).toBe(msg);

    const unknown = await roost(['deliver', 'ghost@example.org', '--config', cfgFile], msg);
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/#5\.1\.1/);
    const tooBig = await roost(['deliver', 'alice@example.org', '--config', cfgFile], 'x'.repeat(3000));
    expect(tooBig.code).toBe(1);
    const overQuota = await roost(['deliver', 'alice@example.org', '--config', cfgFile], 'q'.repeat(2000));
    const overQuota2 = await roost(['deliver', 'alice@example.org', '--config', cfgFile], 'q'.repeat(2000));
    const overQuota3 = await roost(['deliver', 'alice@example.org', '--config', cfgFile], 'q'.repeat(2000));
    expect([overQuota.code, overQuota2.code, overQuota3.code]).toContain(75);
  });

  it('a control client that dies mid-body leaves nothing behind and the node keeps answering', async () => {
    const before = (await inboxMessages(t.ctx.store, alice)).length;
    const s = net.connect({ path: path.join(t.dataDir, 'control.sock') });
    await new Promise((r) => s.once('connect', r));
    // What a killed `roost deliver` leaves: the request and a framed first chunk, but no final empty chunk.
    const chunk = 'Subject: half\n\npart';
    s.write(`${JSON.stringify({ cmd: 'deliver', args: { recipients: ['alice@example.org'] } })}\n${chunk.length}:${chunk},`);
    await new Promise((r) => setTimeout(r, 100));
    s.destroy();
    await new Promise((r) => setTimeout(r, 200));
    expect(await spoolLeftovers(t.dataDir)).toEqual([]);
    expect((await inboxMessages(t.ctx.store, alice)).length).toBe(before);
    expect((await roost(['status', '--json', '--config', cfgFile])).code).toBe(0);
  });

  it('a second node on the same data directory refuses to start', async () => {
    await expect(startNode(testConfig(t.dataDir))).rejects.toThrow(/another roost node is running/);
    // ... and the first one still answers.
    expect((await get(t.ports.admin!, '/health')).status).toBe(200);
  });
});

describe('stop (what SIGTERM runs)', () => {
  it('stops accepting, reports 503 while draining, finishes the in-flight delivery, then closes', async () => {
    const n = await startTestNode();
    const carol = await n.addUser('carol@example.org', 'pw');
    const pkt = qmqpPacket('Subject: in flight\n\nstill delivered\n', '', ['carol@example.org']);
    const s = net.connect({ port: n.ports.qmqp!, host: '127.0.0.1' });
    await new Promise((r) => s.once('connect', r));
    s.write(pkt.subarray(0, 20));
    await new Promise((r) => setTimeout(r, 50));
    const reply = new Promise<string>((resolve) => {
      const got: Buffer[] = [];
      s.on('data', (c: Buffer) => got.push(c));
      s.on('close', () => resolve(Buffer.concat(got).toString()));
    });
    const stopping = n.node.stop();
    await new Promise((r) => setTimeout(r, 50));
    expect((await get(n.ports.admin!, '/health')).status).toBe(503);
    await expect(new Promise((resolve, reject) => net.connect({ port: n.ports.qmqp!, host: '127.0.0.1' }).on('connect', resolve).on('error', reject))).rejects.toThrow(/ECONNREFUSED/);
    s.write(pkt.subarray(20));
    expect(parseReply(await reply)?.code).toBe('K');
    await stopping;
    // The message is on disk: reopen the data directory and read it through the store.
    const again = await startTestNode({}, { dataDir: n.dataDir });
    const msgs = await inboxMessages(again.ctx.store, carol);
    expect(msgs.map((m) => m.toString().split('\n').slice(1).join('\n'))).toEqual(['Subject: in flight\n\nstill delivered\n']);
    await again.stop();
    await n.stop();
  });
});
