/**
 * Boot and stop one Roost node from a Config: logger, TLS, directory, store,
 * protocol servers, admin HTTP and the control socket. The CLI's `serve`
 * calls startNode and wires SIGTERM to stop(); tests call it in-process.
 *
 * Start order puts the control socket first (it refuses to start a second
 * node on the same data directory) and the client listeners last, so a
 * client never reaches a node whose store is not open. Stop runs the other
 * way: stop accepting, finish in-flight deliveries, then close the store.
 */
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { privatizeDataDir, usePrivateUmask } from './config/file-modes.js';
import path from 'node:path';
import type { SecureContextOptions } from 'node:tls';
import { collectDefaultMetrics } from 'prom-client';
import type { Directory } from './accounts/directory.js';
import { JournaledDirectory, parseUserOp } from './accounts/journaled.js';
import { createLdapDirectory } from './accounts/ldap.js';
import { openSqliteDirectory, SqliteDirectory } from './accounts/sqlite.js';
import { ControlServer } from './admin/control.js';
import { attachStorageStatus } from './admin/storage-status.js';
import { CONTROL_SOCKET, NODE_FILE } from './admin/files.js';
import { AdminHttpServer, type HealthReport } from './admin/http.js';
import type { Config } from './config/schema.js';
import { smarthostHandOff } from './delivery/smarthost.js';
import { VacationMemory } from './delivery/vacation/memory.js';
import type { NodeContext, ProtocolServer } from './context.js';
import { RoostError } from './errors.js';
import { initLogger, type Logger } from './log/logger.js';
import { loadTls } from './net/tls.js';
import { sharedAuthGuard } from './net/auth-guard.js';
import { parseListen } from './config/load.js';
import { Outbound } from './outbound/handoff.js';
import { AuthHttpServer, type Backend, type MailProtocol } from './proxy/auth-http.js';
import { PrimaryFinder } from './proxy/pairs.js';
import { deliverStream } from './delivery/deliver.js';
import { createImapServer } from './imap/server.js';
import { createLmtpServer } from './lmtp/server.js';
import { createPop3Server } from './pop3/server.js';
import { createQmqpServer } from './qmqp/server.js';
import { attachReplication } from './replication/index.js';
import { openStore } from './store/open.js';
import type { Store } from './store/store.js';
import type { NodePorts, NodeStatus, Role, RoostNode } from './node-api.js';
import { startHeapRelease } from './work/heap-release.js';

/** delivery.vacation_days in milliseconds. */
const DAY_MS = 24 * 3600 * 1000;

export type { NodePorts, NodeStatus, Role, RoostNode };
export { CONTROL_SOCKET, NODE_FILE };

export interface StartOptions {
  /** Where JSON logs go (default stdout). */
  logDestination?: NodeJS.WritableStream;
}

let defaultMetricsOn = false;

/** The configured directory backend: the embedded SQLite one or LDAP. */
export async function openDirectory(config: Config, log: Logger): Promise<Directory> {
  if (config.directory.backend === 'sqlite') return openSqliteDirectory(config.paths.dataDir, config.paths.mailDir);
  return createLdapDirectory(config, log);
}

async function writeAtomic(file: string, data: string): Promise<void> {
  const tmp = `${file}.${process.pid}.tmp`;
  await writeFile(tmp, data);
  await rename(tmp, file);
}

export async function startNode(config: Config, opts: StartOptions = {}): Promise<RoostNode> {
  const dataDir = config.paths.dataDir;
  // Everything the node writes is private: password hashes, mail, the TLS key.
  usePrivateUmask();
  await mkdir(dataDir, { recursive: true, mode: 0o700 });
  await mkdir(config.paths.mailDir, { recursive: true, mode: 0o700 });
  const log = initLogger(config.log.level, opts.logDestination);
  const tightened = await privatizeDataDir(dataDir);
  if (tightened > 0) log.info({ paths: tightened, dataDir }, 'data_dir: group and other access removed');
  if (!defaultMetricsOn) {
    collectDefaultMetrics();
    defaultMetricsOn = true;
  }

  const control = new ControlServer(log.child({ component: 'control' }));
  await control.listen(path.join(dataDir, CONTROL_SOCKET));
  const cleanups: (() => Promise<void>)[] = [() => control.close()];
  // What a rebuild or another big job left in the V8 heap goes back once the node is quiet (issue 15 §1).
  // The store's SQLite page caches with it (opened below; a rebuild filled them).
  let releaseStore: (() => void) | null = null;
  const stopHeapRelease = startHeapRelease({
    onCollect: (before, after) => {
      releaseStore?.();
      log.debug({ heapBefore: before, heapAfter: after }, 'heap garbage collected');
    },
  });
  cleanups.push(async () => stopHeapRelease());
  const unwind = async (): Promise<void> => {
    for (const fn of cleanups.reverse()) {
      await fn().catch((err: unknown) => log.error({ err }, 'cleanup failed'));
      log.debug({ step: fn.name || 'close' }, 'closed');
    }
  };

  let tls: SecureContextOptions;
  let directory: Directory;
  let store: Store;
  let vacation: VacationMemory;
  try {
    tls = await loadTls(config, log);
    directory = await openDirectory(config, log);
    cleanups.push(() => directory.close());
    const storeLog = log.child({ component: 'store' });
    store = await openStore({
      dataDir,
      mailDir: config.paths.mailDir,
      hostname: config.hostname,
      watch: true,
      indexText: true,
      journalMaxBytes: config.replication.journal_max_bytes,
      log: (msg, fields) => storeLog.warn(fields, msg),
    });
    cleanups.push(() => store.close());
    releaseStore = () => store.releaseMemory();
    vacation = new VacationMemory(path.join(dataDir, 'vacation.sqlite'), store, config.delivery.vacation_days * DAY_MS);
    cleanups.push(() => vacation.close());
    await followVacation(log, vacation, cleanups);
  } catch (err) {
    await unwind();
    throw err;
  }

  // One smarthost client and one primary finder per node: delivery (QMQP, LMTP, forwards) and auth_http share them.
  const outbound = new Outbound(config.outbound, config.hostname, log.child({ component: 'outbound' }));
  const primaries = new PrimaryFinder(log.child({ component: 'auth_http' }));
  // Without replication every write is acknowledged at once (src/replication replaces this gate).
  const ctx: { -readonly [K in keyof NodeContext]: NodeContext[K] } = {
    config,
    log,
    store,
    directory,
    tls,
    replication: { waitFor: async () => undefined, writable: true },
    vacation,
    outbound,
    primaries,
    handOff: smarthostHandOff(config, outbound),
  };

  const servers: ProtocolServer[] = [createQmqpServer(ctx), createLmtpServer(ctx), createPop3Server(ctx), createImapServer(ctx)];

  const statusProviders = new Map<string, () => Record<string, unknown>>();
  const portProviders: (() => Partial<NodePorts>)[] = [];
  const readiness: (() => boolean)[] = [];
  const stopHooks: (() => Promise<void>)[] = [];
  const admin = new AdminHttpServer(() => health(), log.child({ component: 'admin' }));
  const proxyAuth = new AuthHttpServer({
    config,
    directory,
    guard: sharedAuthGuard(directory, config.auth, log),
    log: log.child({ component: 'auth_http' }),
    primaries,
    localBackend: (protocol) => localBackend(config, protocol, listenersOpen ? ports() : {}),
  });
  const started = Date.now();
  let listenersOpen = false;
  let ready = false;
  let stopping: Promise<void> | null = null;

  const ports = (): NodePorts => {
    const p: NodePorts = {};
    for (const s of servers) {
      const a = s.addresses();
      if (s.name === 'qmqp' && a.listen !== undefined) p.qmqp = a.listen;
      if (s.name === 'lmtp' && a.listen !== undefined) p.lmtp = a.listen;
      if (s.name === 'pop3') Object.assign(p, a.listen !== undefined ? { pop3: a.listen } : {}, a.tls !== undefined ? { pop3s: a.tls } : {}, a.proxy !== undefined ? { pop3Proxy: a.proxy } : {});
      if (s.name === 'imap') Object.assign(p, a.listen !== undefined ? { imap: a.listen } : {}, a.tls !== undefined ? { imaps: a.tls } : {}, a.proxy !== undefined ? { imapProxy: a.proxy } : {});
    }
    const adminPort = admin.address();
    if (adminPort !== null) p.admin = adminPort;
    const authPort = proxyAuth.address();
    if (authPort !== null) p.proxyAuth = authPort;
    for (const f of portProviders) Object.assign(p, f());
    return p;
  };

  const status = (): NodeStatus => {
    const s: NodeStatus = {
      pid: process.pid,
      role: node.role,
      ready: isReady(),
      writable: ctx.replication.writable,
      lsn: store.lastLsn().toString(),
      ports: ports(),
      directory: directory.health(),
      uptimeSeconds: Math.round((Date.now() - started) / 1000),
    };
    for (const [name, f] of statusProviders) s[name] = f();
    return s;
  };

  const isReady = (): boolean =>
    ready && stopping === null && directory.health().ok && (node.role === 'replica' || listenersOpen) && readiness.every((f) => f());

  const health = (): HealthReport => {
    const s = status();
    return { ...s, ready: s.ready, role: s.role };
  };

  const writeNodeFile = (): Promise<void> =>
    writeAtomic(path.join(dataDir, NODE_FILE), `${JSON.stringify({ pid: process.pid, ports: ports(), startedAt: new Date(started).toISOString() })}\n`);

  let roleSource = (): Role => config.replication.role as Role;
  const node: RoostNode = {
    config,
    ctx,
    log,
    control,
    get role(): Role {
      return roleSource();
    },
    setRoleSource(source) {
      roleSource = source;
    },
    setReplicationGate(gate) {
      ctx.replication = gate;
    },
    addStatus(name, provider) {
      statusProviders.set(name, provider);
    },
    addPorts(provider) {
      portProviders.push(provider);
    },
    onStop(fn) {
      stopHooks.push(fn);
    },
    addReadiness(check) {
      readiness.push(check);
    },
    async openClientListeners() {
      for (const s of servers) await s.listen();
      listenersOpen = true;
      if (ready) await writeNodeFile();
    },
    async closeClientListeners() {
      listenersOpen = false;
      await Promise.all(servers.map((s) => s.close()));
      if (ready) await writeNodeFile();
    },
    get clientListenersOpen() {
      return listenersOpen;
    },
    ports,
    status,
    writeNodeFile,
    stop() {
      stopping ??= (async () => {
        log.info('stopping: closing listeners, finishing in-flight work');
        await Promise.all(
          servers.map(async (s) => {
            await s.close().catch((err: unknown) => log.error({ err, server: s.name }, 'close failed'));
            log.debug({ server: s.name }, 'listener closed');
          }),
        );
        listenersOpen = false;
        await admin.close();
        await proxyAuth.close();
        log.debug('admin closed');
        for (const fn of stopHooks.reverse()) await fn().catch((err: unknown) => log.error({ err }, 'stop hook failed'));
        log.debug('stop hooks done');
        await rm(path.join(dataDir, NODE_FILE), { force: true });
        await unwind();
        log.info('stopped');
      })();
      return stopping;
    },
  };

  registerControlCommands(node);

  try {
    await attachStorageStatus(node);
    const journaled = directory instanceof SqliteDirectory ? await journalDirectory(node, directory, cleanups) : null;
    await attachReplication(node);
    if (journaled && ctx.replication.writable) {
      const seeded = await journaled.seed();
      if (seeded > 0) log.info({ entries: seeded }, 'directory: existing users and aliases journaled for replication');
    }
    if (node.role === 'primary') await node.openClientListeners();
    await admin.listen(config.admin.listen);
    await proxyAuth.listen(config.proxy.auth_listen);
    ready = true;
    await writeNodeFile();
  } catch (err) {
    await Promise.all(servers.map((s) => s.close().catch(() => undefined)));
    await admin.close().catch(() => undefined);
    await proxyAuth.close().catch(() => undefined);
    for (const fn of stopHooks.reverse()) await fn().catch(() => undefined);
    await unwind();
    throw err;
  }
  log.info({ ports: ports(), role: node.role, dataDir }, 'roost node started');
  return node;
}

/**
 * This node as an auth_http backend: the proxied listener when there is one
 * (the proxy then sends the client's address in a PROXY header), else the
 * plain one; a wildcard listen address is reached over loopback. Null while
 * the client listeners are closed (a replica serves no one).
 */
function localBackend(config: Config, protocol: MailProtocol, p: NodePorts): Backend | null {
  const section = protocol === 'imap' ? config.imap : config.pop3;
  const proxied = protocol === 'imap' ? p.imapProxy : p.pop3Proxy;
  const plain = protocol === 'imap' ? p.imap : p.pop3;
  const spec = proxied !== undefined ? section.proxy_listen : section.listen;
  const port = proxied ?? plain;
  if (port === undefined) return null;
  const host = parseListen(spec)?.host ?? '127.0.0.1';
  return { host: host === '0.0.0.0' || host === '' ? '127.0.0.1' : host === '::' ? '::1' : host, port };
}

/**
 * The embedded directory follows the journal (src/accounts/journaled.ts):
 * apply what a crash left unapplied, apply the primary's 'account' records on
 * a replica, and take `roost user …` changes over the control socket.
 */
async function journalDirectory(node: RoostNode, directory: SqliteDirectory, cleanups: (() => Promise<void>)[]): Promise<JournaledDirectory> {
  const { ctx, log } = node;
  const journaled = new JournaledDirectory(directory, ctx.store, () => !ctx.replication.writable);
  const caught = await journaled.catchUp();
  if (caught > 0) log.info({ records: caught }, 'directory: applied journaled account changes');
  const unfollow = journaled.follow((err, rec) => log.error({ err, lsn: rec.lsn.toString() }, 'directory: applying an account record failed'));
  cleanups.push(async () => unfollow());
  node.control.register('user', async (args) => journaled.run(parseUserOp(args)));
  return journaled;
}

/**
 * The vacation memory follows the journal like the embedded directory: replies a crash left
 * unrecorded are applied, and a replica applies the primary's (src/delivery/vacation/memory.ts).
 */
async function followVacation(log: Logger, vacation: VacationMemory, cleanups: (() => Promise<void>)[]): Promise<void> {
  const caught = await vacation.catchUp();
  if (caught > 0) log.info({ records: caught }, 'vacation: applied journaled replies');
  const unfollow = vacation.follow((err, rec) => log.error({ err, lsn: rec.lsn.toString() }, 'vacation: applying a reply record failed'));
  cleanups.push(async () => unfollow());
}

/** Commands every node answers on the control socket. */
function registerControlCommands(node: RoostNode): void {
  const { ctx } = node;
  node.control.register('status', async () => node.status());
  node.control.register(
    'deliver',
    async (args, body) => {
      const recipients = args.recipients;
      if (!Array.isArray(recipients) || recipients.length === 0 || recipients.some((r) => typeof r !== 'string'))
        throw new RoostError('LIMIT', 'deliver: recipients must be a non-empty list of addresses');
      const sender = typeof args.sender === 'string' ? args.sender : '';
      return deliverStream(ctx, body!, { sender, recipients: recipients as string[], via: 'local' });
    },
    { stream: true },
  );
  node.control.register('reindex', async (args, _body, progress) => {
    const address = String(args.address ?? '');
    const r = await ctx.directory.lookupRecipient(address);
    if (r.kind !== 'found') throw new RoostError('NOTFOUND', `no account for ${address}`);
    return ctx.store.reindex(r.account, { onProgress: (messages) => progress({ messages }) });
  });
}
