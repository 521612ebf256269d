/**
 * A running node as the modules attached to it see it (replication, the
 * storage status): declared apart from ./node.ts, which boots the node and
 * imports those modules, so they do not import it back.
 */
import type { Directory } from './accounts/directory.js';
import type { ControlServer } from './admin/control.js';
import type { Config } from './config/schema.js';
import type { NodeContext, ReplicationGate } from './context.js';
import type { Logger } from './log/logger.js';

/** Bound ports (port 0 in the config resolves to the real one). Absent = listener disabled or closed. */
export interface NodePorts {
  imap?: number;
  imaps?: number;
  pop3?: number;
  pop3s?: number;
  /** imap.proxy_listen and pop3.proxy_listen (PROXY protocol first). */
  imapProxy?: number;
  pop3Proxy?: number;
  qmqp?: number;
  lmtp?: number;
  admin?: number;
  /** proxy.auth_listen (nginx auth_http). */
  proxyAuth?: number;
  replication?: number;
}

export type Role = 'primary' | 'replica';

export interface NodeStatus {
  pid: number;
  role: Role;
  ready: boolean;
  writable: boolean;
  lsn: string;
  ports: NodePorts;
  directory: ReturnType<Directory['health']>;
  uptimeSeconds: number;
  [module: string]: unknown;
}

/**
 * A running node. src/replication attaches through this: it replaces the
 * gate, becomes the owner of the role, opens/closes client listeners on promote/demote,
 * registers control commands, adds status fields and its port.
 */
export interface RoostNode {
  readonly config: Config;
  readonly ctx: NodeContext;
  readonly log: Logger;
  readonly control: ControlServer;
  /** Read from its one owner: the replication state once attached, else the configured role. */
  readonly role: Role;
  /** Where `role` is read from from now on (src/replication: its durable state, ./replication/epoch.ts). */
  setRoleSource(source: () => Role): void;
  setReplicationGate(gate: ReplicationGate): void;
  /** Extra fields for `roost status` and /health, under `name`. */
  addStatus(name: string, provider: () => Record<string, unknown>): void;
  /** Extra ports for node.json/status (e.g. replication). */
  addPorts(provider: () => Partial<NodePorts>): void;
  /** Run before the store closes on stop (reverse order of registration). */
  onStop(fn: () => Promise<void>): void;
  /** Health override hook: return false to report not ready (e.g. replica not yet caught up). */
  addReadiness(check: () => boolean): void;
  /** IMAP, POP3, QMQP, LMTP listeners: open on a primary, closed on a replica. */
  openClientListeners(): Promise<void>;
  closeClientListeners(): Promise<void>;
  readonly clientListenersOpen: boolean;
  ports(): NodePorts;
  status(): NodeStatus;
  /** Write data_dir/node.json again (after ports changed). */
  writeNodeFile(): Promise<void>;
  stop(): Promise<void>;
}
