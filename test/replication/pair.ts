/**
 * Two real Roost processes replicating over loopback, for the replication
 * tests: free ports picked by the OS, a shared secret, accounts added on both
 * nodes (the embedded directory is per node; account ids are addresses), a
 * small QMQP client and control-socket helpers.
 */
import net from 'node:net';
import { ImapFlow } from 'imapflow';
import { readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { openSqliteDirectory } from '../../src/accounts/sqlite.js';
import { controlRequest } from '../../src/cli/control-client.js';
import type { NodePorts } from '../../src/node.js';
import { makeTempDir, merge, type Overrides } from '../helpers/node.js';
import { spawnNode, type SpawnedNode } from '../helpers/spawn.js';
import { parseReply, qmqpPacket, qmqpRaw } from '../helpers/qmqp.js';
import { taggedMessage } from '../helpers/messages.js';

/**
 * A free port for a node that must keep it across restarts (its peer knows
 * it). Taken below Linux's ephemeral range (32768–60999 by default): a port
 * from that range may become some outgoing connection's source port while
 * its node is down, and the restart would then fail to bind it.
 */
export async function freePort(): Promise<number> {
  for (let attempt = 0; attempt < 100; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    const s = net.createServer();
    const ok = await new Promise<boolean>((resolve) => {
      s.once('error', () => resolve(false));
      s.listen(port, '127.0.0.1', () => resolve(true));
    });
    if (!ok) continue;
    await new Promise<void>((r) => s.close(() => r()));
    return port;
  }
  throw new Error('no free port below the ephemeral range');
}

export interface PairNode {
  name: string;
  dataDir: string;
  replPort: number;
  overrides: Overrides;
  proc: SpawnedNode | null;
}

export interface PairOptions {
  ack?: 'sync' | 'async';
  syncTimeoutMs?: number;
  onSyncTimeout?: 'tempfail' | 'degrade';
  users?: string[];
  secretB?: string;
  /** Replace how each node reaches its peer (e.g. through a proxy). */
  peerOf?: (name: 'a' | 'b', peerPort: number) => string;
}

export const SECRET = 'test-replication-secret-0123456789abcdef';

export class Pair {
  readonly a: PairNode;
  readonly b: PairNode;

  private constructor(a: PairNode, b: PairNode) {
    this.a = a;
    this.b = b;
  }

  static async create(opts: PairOptions = {}): Promise<Pair> {
    const users = opts.users ?? ['alice@example.org', 'bob@example.org'];
    const [pa, pb] = [await freePort(), await freePort()];
    const mk = async (name: 'a' | 'b', own: number, peer: number, role: string, secret: string): Promise<PairNode> => {
      const dataDir = await makeTempDir(`roost-repl-${name}-`);
      const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
      for (const u of users) await dir.addUser({ address: u, password: 'pw-' + u });
      await dir.close();
      const overrides = {
        // Captured in memory (SpawnedNode.output()), so tests can look for the logged message ids.
        log: { level: process.env.ROOST_TEST_LOG ?? 'warn' },
        replication: {
          role,
          listen: `127.0.0.1:${own}`,
          peer: opts.peerOf ? opts.peerOf(name, peer) : `127.0.0.1:${peer}`,
          secret,
          ack: opts.ack ?? 'sync',
          sync_timeout_ms: opts.syncTimeoutMs ?? 3000,
          on_sync_timeout: opts.onSyncTimeout ?? 'tempfail',
        },
      };
      return { name, dataDir, replPort: own, overrides, proc: null };
    };
    const a = await mk('a', pa, pb, 'primary', SECRET);
    const b = await mk('b', pb, pa, 'replica', opts.secretB ?? SECRET);
    return new Pair(a, b);
  }

  async start(n: PairNode, extra: Overrides = {}): Promise<SpawnedNode> {
    // The replication port is fixed per node (its peer must know it); after a kill another
    // process may briefly hold it, so a bind failure is retried a few times.
    for (let attempt = 0; ; attempt++) {
      try {
        n.proc = await spawnNode(n.dataDir, merge(n.overrides, extra));
        return n.proc;
      } catch (err) {
        if (attempt >= 4 || !/EADDRINUSE|cannot listen|answers/.test((err as Error).message)) throw err;
        await new Promise((r) => setTimeout(r, 300));
      }
    }
  }

  async startBoth(): Promise<void> {
    await Promise.all([this.start(this.a), this.start(this.b)]);
  }

  async kill(n: PairNode, signal: NodeJS.Signals = 'SIGKILL'): Promise<void> {
    if (!n.proc) return;
    n.proc.kill(signal);
    await n.proc.exited;
    n.proc = null;
  }

  async cleanup(): Promise<void> {
    for (const n of [this.a, this.b]) {
      if (n.proc) {
        n.proc.kill('SIGKILL');
        await n.proc.exited;
        n.proc = null;
      }
      await rm(n.dataDir, { recursive: true, force: true });
    }
  }
}

export async function control(n: PairNode, cmd: string, args: Record<string, unknown> = {}): Promise<{ ok: boolean; result?: any; error?: { code: string; message: string } }> {
  return (await controlRequest(path.join(n.dataDir, 'control.sock'), cmd, args, { timeoutMs: 60_000 })) as never;
}

export async function replStatus(n: PairNode): Promise<any> {
  const r = await control(n, 'status');
  if (!r.ok) throw new Error(`status: ${r.error?.message}`);
  return r.result;
}

export async function ports(n: PairNode): Promise<NodePorts> {
  return (JSON.parse(await readFile(path.join(n.dataDir, 'node.json'), 'utf8')) as { ports: NodePorts }).ports;
}

/** Poll `check` until it returns true (bounded). */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 15_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      if (await check()) return;
    } catch {
      // not yet
    }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

/** One QMQP delivery (one message per connection, test/helpers/qmqp.ts); resolves with the reply netstring's text, e.g. "Kok". */
export async function qmqpSend(port: number, message: Buffer, sender: string, recipients: string[], timeoutMs = 30_000): Promise<string> {
  const r = await qmqpRaw(port, [qmqpPacket(message, sender, recipients)], { timeoutMs });
  const reply = parseReply(r.reply);
  if (!reply) throw new Error('qmqp: no reply');
  return reply.code + reply.text;
}

/** The replication tests' message builder (test/helpers/messages.ts). */
export const testMessage = taggedMessage;

/**
 * `clients` QMQP senders delivering back to back to `users` in turn until
 * `stop()` returns true, the per-sender count runs out, or the node goes away.
 * `acked` collects "rcpt <tag-i@test.invalid>" (the key inspectStore uses) for each K.
 */
export function deliverUntil(opts: {
  port: number;
  users: readonly string[];
  tag: string;
  clients: number;
  perClient: number;
  size: (i: number) => number;
  stop?: () => boolean;
}): { acked: string[]; done: Promise<void> } {
  const acked: string[] = [];
  let n = 0;
  const sender = async (): Promise<void> => {
    for (let k = 0; k < opts.perClient && !opts.stop?.(); k++) {
      const i = n++;
      const rcpt = opts.users[i % opts.users.length]!;
      try {
        const v = await qmqpSend(opts.port, testMessage(i, opts.tag, opts.size(i)), 's@example.net', [rcpt], 10_000);
        if (v[0] === 'K') acked.push(`${rcpt} <${opts.tag}-${i}@test.invalid>`);
      } catch {
        return; // the node is gone
      }
    }
  };
  return { acked, done: Promise.all(Array.from({ length: opts.clients }, sender)).then(() => undefined) };
}

/** Every INBOX message's envelope over IMAP (imapflow, STARTTLS with the node's self-signed certificate). */
export async function inboxEnvelopes(port: number, user: string, pass = `pw-${user}`): Promise<{ subject: string; messageId: string }[]> {
  const client = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user, pass }, tls: { rejectUnauthorized: false }, logger: false });
  await client.connect();
  const out: { subject: string; messageId: string }[] = [];
  const lock = await client.getMailboxLock('INBOX');
  try {
    for await (const m of client.fetch('1:*', { envelope: true })) out.push({ subject: m.envelope?.subject ?? '', messageId: m.envelope?.messageId ?? '' });
  } catch {
    // empty mailbox
  } finally {
    lock.release();
  }
  await client.logout();
  return out;
}
