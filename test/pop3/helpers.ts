/**
 * A POP3 node for tests: temp data dir, the real store and the embedded
 * sqlite directory, a self-signed certificate, the POP3 server on port 0.
 * The raw-socket POP3 client is test/helpers/pop3-client.ts.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { afterAll, beforeAll, expect } from 'vitest';
import os from 'node:os';
import path from 'node:path';
import { SqliteDirectory } from '../../src/accounts/sqlite.js';
import type { Account } from '../../src/accounts/directory.js';
import { loadConfig } from '../../src/config/load.js';
import { initLogger } from '../../src/log/logger.js';
import type { NodeContext } from '../../src/context.js';
import { Outbound } from '../../src/outbound/handoff.js';
import { PrimaryFinder } from '../../src/proxy/pairs.js';
import { loadTls } from '../../src/net/tls.js';
import { createPop3Server, type Pop3Options, type Pop3Server } from '../../src/pop3/server.js';
import { openStore } from '../../src/store/open.js';
import type { Store } from '../../src/store/store.js';
import { RawClient } from '../helpers/pop3-client.js';

export interface Pop3TestNode {
  dir: string;
  ctx: NodeContext;
  store: Store;
  directory: SqliteDirectory;
  server: Pop3Server;
  port: number;
  tlsPort: number;
  accounts: Map<string, Account>;
  addUser(address: string, password: string, status?: Account['status']): Promise<Account>;
  deliver(address: string, message: string | Buffer): Promise<void>;
  close(): Promise<void>;
}

export interface NodeOptions extends Pop3Options {
  allowPlaintext?: 'never' | 'loopback' | 'always';
  loginDelay?: number;
}

export async function startNode(opts: NodeOptions = {}): Promise<Pop3TestNode> {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roost-pop3-'));
  const config = loadConfig(null, {
    data_dir: dir,
    hostname: 'pop3test.example.org',
    pop3: { listen: '127.0.0.1:0', tls_listen: '127.0.0.1:0', login_delay: opts.loginDelay ?? 0 },
    auth: { allow_plaintext: opts.allowPlaintext ?? 'loopback' },
  });
  // Connection loggers hang off the root logger.
  const log = initLogger(process.env.ROOST_TEST_LOG ?? 'silent');
  const store = await openStore({ dataDir: dir, mailDir: config.paths.mailDir, hostname: config.hostname });
  const directory = new SqliteDirectory(path.join(dir, 'accounts.sqlite'), config.paths.mailDir);
  const ctx: NodeContext = {
    config,
    log,
    store,
    directory,
    tls: await loadTls(config, log),
    replication: { waitFor: async () => undefined, writable: true },
    outbound: new Outbound(config.outbound, config.hostname, log),
    primaries: new PrimaryFinder(log),
  };
  const server = createPop3Server(ctx, { auth: { failureDelayBaseMs: 50, failureDelayMaxMs: 200 }, ...opts });
  await server.listen();
  const accounts = new Map<string, Account>();
  const node: Pop3TestNode = {
    dir,
    ctx,
    store,
    directory,
    server,
    port: server.addresses().listen!,
    tlsPort: server.addresses().tls!,
    accounts,
    async addUser(address, password, status = 'active') {
      const a = await directory.addUser({ address, password, status });
      accounts.set(address, a);
      return a;
    },
    async deliver(address, message) {
      const account = accounts.get(address)!;
      const draft = await store.createDraft();
      await draft.write(Buffer.isBuffer(message) ? message : Buffer.from(message, 'utf8'));
      await draft.finish();
      await store.deliver([account], draft, { sender: 'sender@example.org' });
    },
    async close() {
      await server.close();
      await store.close();
      await directory.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return node;
}

/**
 * Inside a describe: a node started before its tests (within `setupMs`) with
 * one account, `address` (password "secret"), holding `messages` in order,
 * and closed after them. `session()` is a raw client logged in to it.
 */
export function mailboxNode(address: string, messages: readonly Buffer[], setupMs: number): { readonly node: Pop3TestNode; session(): Promise<RawClient> } {
  let node: Pop3TestNode | null = null;
  beforeAll(async () => {
    node = await startNode();
    await node.addUser(address, 'secret');
    for (const m of messages) await node.deliver(address, m);
  }, setupMs);
  afterAll(async () => {
    await node?.close();
  });
  return {
    get node(): Pop3TestNode {
      if (!node) throw new Error('mailboxNode: the node starts in beforeAll');
      return node;
    },
    async session(): Promise<RawClient> {
      const c = await RawClient.connect(this.node.port);
      expect(await c.line()).toMatch(/^\+OK/);
      expect(await c.login(address, 'secret')).toMatch(/^\+OK/);
      return c;
    },
  };
}
