/**
 * Both halves of the authenticated handshake (see protocol.ts). Each side
 * proves knowledge of the shared secret with an HMAC over both nonces; a side
 * that fails to prove it is told nothing beyond the other side's public state
 * and is disconnected. Cluster ids must match once both sides have one: a
 * replica of another cluster is refused.
 */
import {
  PROTOCOL_VERSION,
  ProtocolError,
  clientMac,
  macEqual,
  newNonce,
  serverMac,
  type Frame,
  type Link,
  type NodeState,
  type Purpose,
  type RefuseCode,
} from './protocol.js';
import { LIMITS } from '../limits.js';

export class HandshakeError extends Error {
  constructor(
    readonly code: RefuseCode,
    message: string,
  ) {
    super(message);
    this.name = 'HandshakeError';
  }
}

export type PeerHello = NodeState & { purpose: Purpose };

/** Listening side: returns the authenticated peer's hello. Refuses (and throws) otherwise. */
export async function acceptHandshake(link: Link, me: NodeState, secret: string): Promise<PeerHello> {
  const hello = await expect(link, 'hello');
  if (hello.v !== PROTOCOL_VERSION) return refuse(link, 'VERSION', `protocol version ${hello.v} not supported (want ${PROTOCOL_VERSION})`);
  const nonce = newNonce();
  await link.send({ t: 'challenge', v: PROTOCOL_VERSION, nonce, mac: serverMac(secret, hello.nonce, nonce, me.clusterId), ...me });
  const auth = await expect(link, 'auth');
  if (!macEqual(auth.mac, clientMac(secret, nonce, hello.nonce, me.clusterId))) return refuse(link, 'AUTH', 'authentication failed (replication.secret differs)');
  if (hello.clusterId && me.clusterId && hello.clusterId !== me.clusterId) {
    return refuse(link, 'CLUSTER', `peer belongs to cluster ${hello.clusterId}, this node to ${me.clusterId}`);
  }
  const { t: _t, v: _v, nonce: _n, ...peer } = hello;
  return peer;
}

/** Connecting side: returns the authenticated listener's state. */
export async function offerHandshake(link: Link, me: NodeState, secret: string, purpose: Purpose): Promise<NodeState> {
  const nonce = newNonce();
  await link.send({ t: 'hello', v: PROTOCOL_VERSION, nonce, purpose, ...me });
  const ch = await expect(link, 'challenge');
  if (!macEqual(ch.mac, serverMac(secret, nonce, ch.nonce, ch.clusterId))) {
    link.close();
    throw new HandshakeError('AUTH', 'peer failed authentication (replication.secret differs)');
  }
  if (ch.clusterId && me.clusterId && ch.clusterId !== me.clusterId) {
    link.close();
    throw new HandshakeError('CLUSTER', `peer belongs to cluster ${ch.clusterId}, this node to ${me.clusterId}`);
  }
  await link.send({ t: 'auth', mac: clientMac(secret, ch.nonce, nonce, ch.clusterId) });
  const { t: _t, v: _v, nonce: _n, mac: _m, ...peer } = ch;
  return peer;
}

export async function refuse(link: Link, code: RefuseCode, message: string): Promise<never> {
  await link.send({ t: 'refuse', code, message }).catch(() => undefined);
  link.socket.end();
  throw new HandshakeError(code, message);
}

/** The next frame, which must be of type `t` (a `refuse` from the peer becomes a HandshakeError). */
export async function expect<T extends Frame['t']>(link: Link, t: T, timeoutMs: number = LIMITS.replication.handshakeTimeoutMs): Promise<Extract<Frame, { t: T }>> {
  const { frame } = await link.next(timeoutMs);
  if (frame.t === 'refuse') throw new HandshakeError(frame.code, `peer refused: ${frame.message}`);
  if (frame.t !== t) throw new ProtocolError(`expected ${t}, got ${frame.t}`);
  return frame as Extract<Frame, { t: T }>;
}
