/**
 * Boot a real Roost node for tests: every listener on 127.0.0.1 port 0, data
 * in a fresh temp directory, logs silent (ROOST_TEST_LOG=debug to see them).
 *
 *   const t = await startTestNode({ qmqp: { max_message_size: 4096 } });
 *   await t.addUser('alice@example.org', 'secret');
 *   ... t.ports.qmqp ...
 *   await t.stop();        // also removes the temp directory
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { openSqliteDirectory } from '../../src/accounts/sqlite.js';
import type { Account } from '../../src/accounts/directory.js';
import { buildConfig } from '../../src/config/load.js';
import type { Config } from '../../src/config/schema.js';
import type { NodeContext } from '../../src/context.js';
import { startNode, type NodePorts, type RoostNode } from '../../src/node.js';

export type Overrides = Record<string, unknown>;

/** Listeners on ephemeral loopback ports; replication off unless a test turns it on. */
export const TEST_DEFAULTS: Overrides = {
  hostname: 'test.roost.invalid',
  log: { level: process.env.ROOST_TEST_LOG ?? 'silent' },
  // Tests open many loopback connections at once; the per-address cap has its own tests.
  imap: { listen: '127.0.0.1:0', tls_listen: '127.0.0.1:0', max_connections_per_ip: 10_000, max_userip_connections: 10_000 },
  pop3: { listen: '127.0.0.1:0', tls_listen: '127.0.0.1:0', max_connections_per_ip: 10_000 },
  qmqp: { listen: '127.0.0.1:0' },
  lmtp: { listen: '127.0.0.1:0' },
  admin: { listen: '127.0.0.1:0' },
  replication: { listen: '' },
};

export function merge(a: Overrides, b: Overrides): Overrides {
  const out: Overrides = { ...a };
  for (const [k, v] of Object.entries(b)) {
    const cur = out[k];
    const isObj = (x: unknown): x is Overrides => typeof x === 'object' && x !== null && !Array.isArray(x);
    out[k] = isObj(v) && isObj(cur) ? merge(cur, v) : v;
  }
  return out;
}

export async function makeTempDir(prefix = 'roost-test-'): Promise<string> {
  return mkdtemp(path.join(os.tmpdir(), prefix));
}

/** A fresh temp data dir whose embedded directory holds one account (for tests that spawn nodes over it). */
export async function dataDirWithUser(prefix: string, address: string, password?: string): Promise<{ dataDir: string; account: Account }> {
  const dataDir = await makeTempDir(prefix);
  const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  try {
    return { dataDir, account: await dir.addUser({ address, password }) };
  } finally {
    await dir.close();
  }
}

/** A validated Config for `dataDir` with test defaults and `overrides`. */
export function testConfig(dataDir: string, overrides: Overrides = {}): Config {
  return buildConfig(merge(merge(TEST_DEFAULTS, { data_dir: dataDir }), overrides), null, dataDir);
}

export interface TestNode {
  node: RoostNode;
  ctx: NodeContext;
  config: Config;
  dataDir: string;
  /** Bound ports at start (see node.ports() after promote/demote). */
  ports: NodePorts;
  /** Create an account in the embedded directory. */
  addUser(address: string, password?: string, opts?: { quotaBytes?: number; quotaMessages?: number }): Promise<Account>;
  /** Stop the node; removes the temp dir unless `keep`. */
  stop(opts?: { keep?: boolean }): Promise<void>;
}

export async function startTestNode(overrides: Overrides = {}, opts: { dataDir?: string; logDestination?: NodeJS.WritableStream } = {}): Promise<TestNode> {
  const dataDir = opts.dataDir ?? (await makeTempDir());
  const config = testConfig(dataDir, overrides);
  const node = await startNode(config, { logDestination: opts.logDestination });
  let stopped = false;
  return {
    node,
    ctx: node.ctx,
    config,
    dataDir,
    ports: node.ports(),
    async addUser(address, password, o = {}) {
      const dir = openSqliteDirectory(config.paths.dataDir, config.paths.mailDir);
      try {
        return await dir.addUser({ address, password, ...o });
      } finally {
        await dir.close();
      }
    },
    async stop(o = {}) {
      if (!stopped) await node.stop();
      stopped = true;
      if (!o.keep && !opts.dataDir) await rm(dataDir, { recursive: true, force: true });
    },
  };
}
