/**
 * `roost account move` and `roost account purge` as the node runs them.
 *
 * Where `roost account move --to HOST` sends the account: HOST is a
 * mailHost of cluster.hosts (its pair's primary: the service address on this
 * node's replication port, or the node whose /health says it is the ready
 * primary, on the replication port it reports), or a "host:port" of the
 * destination primary's replication listener. The mailHost is what the
 * directory's entry must name afterwards.
 */
import type { Directory } from '../accounts/directory.js';
import type { Config } from '../config/schema.js';
import { RoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';
import { PrimaryFinder, pairService } from '../proxy/pairs.js';
import type { Store } from '../store/store.js';
import { HandshakeError, offerHandshake } from './handshake.js';
import { sendMove, type MoveOutcome, type MoveProgress } from './move.js';
import { Link, ProtocolError, type NodeState } from './protocol.js';
import { connectPeer } from './replica.js';

export interface MoveTarget {
  /** "host:port" of the destination's replication listener. */
  peer: string;
  mailHost: string;
}

const HOST_PORT = /^(?:\[[^\]]+\]|[^:\s[\]]+):\d{1,5}$/;

function ownReplicationPort(cfg: Config): number {
  const m = /:(\d+)$/.exec(cfg.replication.listen);
  if (!m) throw new RoostError('NOTFOUND', `replication.listen ${JSON.stringify(cfg.replication.listen)} has no port`);
  return Number(m[1]);
}

export async function moveTarget(cfg: Config, to: string, mailHost: string | undefined, log: Logger): Promise<MoveTarget> {
  if (HOST_PORT.test(to)) return { peer: to, mailHost: mailHost ?? to.replace(/:\d+$/, '').replace(/^\[|\]$/g, '') };
  const t = await pairService(cfg.cluster.hosts, new PrimaryFinder(log), to, 'replication', () => ownReplicationPort(cfg));
  if (!t) throw new RoostError('UNAVAILABLE', `${to}: no single ready primary reporting a replication port answers now`);
  return { peer: `${t.host}:${t.port}`, mailHost: mailHost ?? t.mailHost };
}

export interface MoveCommandDeps {
  config: Config;
  store: Store;
  directory: Directory;
  log: Logger;
  nodeState(): NodeState;
}

/** With --update-ldap: the entry changed (its DN), or why it was not (the move stands; the change is to be made by hand). */
export type LdapUpdate = { dn: string } | { error: string };

export type MoveCommandResult = MoveOutcome & { accountId: string; peer: string; mailHost: string; seconds: number; ldap?: LdapUpdate };

/** `roost account move ADDRESS --to HOST [--update-ldap]` on this (primary) node. */
export async function runMove(deps: MoveCommandDeps, address: string, to: string, opts: { mailHost?: string; updateLdap?: boolean }, onProgress?: (p: MoveProgress) => void): Promise<MoveCommandResult> {
  const { store, directory, config, log } = deps;
  const moves = store.replication.moves;
  if (!moves) throw new RoostError('UNAVAILABLE', 'this store cannot move accounts');
  const found = await directory.lookupRecipient(address);
  if (found.kind !== 'found') throw new RoostError('NOTFOUND', `${address}: no account here (${found.text})`);
  const account = found.account;
  const already = moves.movedTo(account.id);
  if (already !== null) throw new RoostError('EXISTS', `${address} was already moved to ${already}`);
  const target = await moveTarget(config, to, opts.mailHost, log);
  const began = Date.now();
  const link = new Link(await connectPeer(target.peer, LIMITS.move.connectTimeoutMs));
  try {
    await offerHandshake(link, deps.nodeState(), config.replication.secret, 'move');
    const outcome = await sendMove({ store, directory, log }, link, account, target.mailHost, onProgress);
    // After the final round only: until the destination confirmed, the directory must go on naming this pair.
    const ldap = opts.updateLdap ? await updateLdap(directory, log, account.address, target.mailHost) : undefined;
    return { ...outcome, accountId: account.id, peer: target.peer, mailHost: target.mailHost, seconds: (Date.now() - began) / 1000, ...(ldap ? { ldap } : {}) };
  } catch (err) {
    if (err instanceof HandshakeError || err instanceof ProtocolError) throw new RoostError('UNAVAILABLE', `move to ${target.peer}: ${err.message}`);
    throw err;
  } finally {
    link.close();
  }
}

/** The mailHost change; a failure is reported, not thrown: the account is moved either way, and both copies stay. */
async function updateLdap(directory: Directory, log: Logger, address: string, mailHost: string): Promise<LdapUpdate> {
  try {
    if (!directory.setMailHost) throw new RoostError('NOPERM', 'this directory backend keeps no mailHost');
    return await directory.setMailHost(address, mailHost);
  } catch (err) {
    log.error({ address, mailHost, err: (err as Error).message }, 'account move: the directory was not changed; change the mailHost by hand');
    return { error: (err as Error).message };
  }
}

/** `roost account purge ADDRESS`: only an account marked moved. */
export async function runPurge(deps: { store: Store; directory: Directory }, address: string): Promise<{ accountId: string; movedTo: string }> {
  const { store, directory } = deps;
  const moves = store.replication.moves;
  if (!moves) throw new RoostError('UNAVAILABLE', 'this store cannot move accounts');
  const found = await directory.lookupRecipient(address);
  const account = found.kind === 'found' ? found.account : await directory.accountById(address);
  if (!account) throw new RoostError('NOTFOUND', `${address}: no account here`);
  const movedTo = moves.movedTo(account.id);
  if (movedTo === null) throw new RoostError('NOPERM', `${address} has not been moved; purge removes only a moved account's old copy`);
  await moves.purge(account);
  return { accountId: account.id, movedTo };
}
