/**
 * What a running node hands to each protocol server: one object, built once
 * in src/node.ts. Protocol modules receive it; they do not build their own
 * store, directory or TLS context.
 */
import type { SecureContextOptions } from 'node:tls';
import type { Config } from './config/schema.js';
import type { Logger } from './log/logger.js';
import type { Store } from './store/store.js';
import type { Directory } from './accounts/directory.js';
import type { HandOff } from './delivery/forward.js';
import type { VacationMemory } from './delivery/vacation/memory.js';
import type { Outbound } from './outbound/handoff.js';
import type { PrimaryFinder } from './proxy/pairs.js';

/**
 * Replica acknowledgement. A write is acknowledged to the client
 * (QMQP K, APPEND OK, POP3 QUIT +OK) only after `waitFor(lsn)` resolves.
 * Without replication it resolves at once. In sync mode it waits for the
 * replica's ack of that LSN; on timeout it throws RoostError('TEMP') (policy
 * "tempfail") or resolves and marks the node degraded (policy "degrade").
 */
export interface ReplicationGate {
  waitFor(lsn: bigint): Promise<void>;
  /** False on a replica: client-facing writes are refused. */
  readonly writable: boolean;
}

export interface NodeContext {
  readonly config: Config;
  readonly log: Logger;
  readonly store: Store;
  readonly directory: Directory;
  /** Certificate and key for implicit TLS listeners and STARTTLS/STLS. */
  readonly tls: SecureContextOptions;
  readonly replication: ReplicationGate;
  /** The node's one smarthost client (src/outbound), made where the node is wired. */
  readonly outbound: Outbound;
  /** The node's one asker of pairs' primaries, shared by auth_http and cluster hand-offs. */
  readonly primaries: PrimaryFinder;
  /** The smarthost client for forwards and vacation replies (src/outbound); absent: neither is done (src/delivery/forward.ts). */
  readonly handOff?: HandOff;
  /** Who got a vacation reply when (data_dir/vacation.sqlite, replicated through the journal). */
  readonly vacation?: VacationMemory;
}

/** A protocol listener the node can open and close (promote/demote, SIGTERM). */
export interface ProtocolServer {
  readonly name: string;
  /** Start listening on the configured addresses (no-op for an empty `listen`). */
  listen(): Promise<void>;
  /** Stop accepting; resolves when in-flight work (deliveries, QUITs) is done. Open sessions are closed. */
  close(): Promise<void>;
  /** Bound addresses (port 0 in tests resolves to the real port). */
  addresses(): { listen?: number; tls?: number; proxy?: number };
}
