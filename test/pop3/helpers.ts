/**
 * A POP3 node for tests: temp data dir, the real store and the embedded
 * sqlite directory, a self-signed certificate, the POP3 server on port 0.
 * Plus a raw-socket POP3 client that reads replies the way a client does.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import tls from 'node:tls';
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

export interface TestNode {
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

export async function startNode(opts: NodeOptions = {}): Promise<TestNode> {
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
  const node: TestNode = {
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

/** A raw POP3 client over a real socket. */
export class RawClient {
  private buf = Buffer.alloc(0);
  private waiters: (() => void)[] = [];
  closed = false;

  private constructor(public socket: net.Socket | tls.TLSSocket) {
    this.listen(socket);
  }

  static async connect(port: number, secure = false): Promise<RawClient> {
    const socket = secure
      ? tls.connect({ port, host: '127.0.0.1', rejectUnauthorized: false })
      : net.connect({ port, host: '127.0.0.1' });
    await new Promise<void>((resolve, reject) => {
      socket.once(secure ? 'secureConnect' : 'connect', () => resolve());
      socket.once('error', reject);
    });
    return new RawClient(socket);
  }

  private listen(socket: net.Socket | tls.TLSSocket): void {
    socket.on('data', (d: Buffer) => {
      this.buf = Buffer.concat([this.buf, d]);
      this.wake();
    });
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
    socket.on('error', () => undefined);
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  private async more(timeoutMs: number): Promise<void> {
    if (this.closed) throw new Error(`connection closed; unread: ${JSON.stringify(this.buf.toString('latin1'))}`);
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`timeout waiting for server; have ${JSON.stringify(this.buf.toString('latin1').slice(0, 200))}`)), timeoutMs);
      this.waiters.push(() => {
        clearTimeout(t);
        resolve();
      });
    });
  }

  /** One line without CRLF. */
  async line(timeoutMs = 10_000): Promise<string> {
    for (;;) {
      const i = this.buf.indexOf('\r\n');
      if (i >= 0) {
        const l = this.buf.subarray(0, i).toString('latin1');
        this.buf = this.buf.subarray(i + 2);
        return l;
      }
      await this.more(timeoutMs);
    }
  }

  /** Raw bytes of a multi-line body up to and including CRLF.CRLF (or a leading ".CRLF"). */
  async multiRaw(timeoutMs = 10_000): Promise<Buffer> {
    for (;;) {
      if (this.buf.subarray(0, 3).equals(Buffer.from('.\r\n'))) {
        const out = this.buf.subarray(0, 3);
        this.buf = this.buf.subarray(3);
        return out;
      }
      const i = this.buf.indexOf('\r\n.\r\n');
      if (i >= 0) {
        const out = this.buf.subarray(0, i + 5);
        this.buf = this.buf.subarray(i + 5);
        return out;
      }
      await this.more(timeoutMs);
    }
  }

  /** Lines of a multi-line body, un-dot-stuffed, without the terminator. */
  async multi(timeoutMs = 10_000): Promise<string[]> {
    const raw = (await this.multiRaw(timeoutMs)).toString('latin1');
    const lines = raw.split('\r\n');
    lines.splice(-2); // "." and ""
    return lines.map((l) => (l.startsWith('.') ? l.slice(1) : l));
  }

  send(line: string): void {
    this.socket.write(line + '\r\n');
  }

  async cmd(line: string): Promise<string> {
    this.send(line);
    return this.line();
  }

  /** Wait for the server to close the connection. */
  async waitClosed(timeoutMs = 10_000): Promise<void> {
    const start = Date.now();
    while (!this.closed) {
      if (Date.now() - start > timeoutMs) throw new Error('server did not close');
      await new Promise((r) => setTimeout(r, 10));
    }
  }

  /** STLS: upgrade this connection. */
  async startTls(): Promise<void> {
    const plain = this.socket as net.Socket;
    plain.removeAllListeners('data');
    plain.removeAllListeners('close');
    const sock = tls.connect({ socket: plain, rejectUnauthorized: false });
    await new Promise<void>((resolve, reject) => {
      sock.once('secureConnect', () => resolve());
      sock.once('error', reject);
    });
    this.socket = sock;
    this.listen(sock);
  }

  async login(user: string, pass: string): Promise<string> {
    const r1 = await this.cmd(`USER ${user}`);
    if (!r1.startsWith('+OK')) return r1;
    return this.cmd(`PASS ${pass}`);
  }

  destroy(): void {
    this.socket.destroy();
  }
}
