/**
 * Both halves of the authenticated handshake (protocol.ts has the picture).
 * Each side proves knowledge of the shared secret with an HMAC over both
 * nonces, the purpose and the TLS session's exporter value (RFC 9266), so a
 * relay that terminates TLS fails even though it forwards every byte. The
 * connecting side proves first; the listener answers with its own proof only
 * then, and each side sends its node state only after the other has proved
 * the secret. Cluster ids must match once both sides have one: a replica of
 * another cluster is refused, except for a move (an account handed to the
 * primary of another pair, move.ts).
 */
import {
  PROTOCOL_VERSION,
  PURPOSES,
  ProtocolError,
  channelBinding,
  isNonce,
  macEqual,
  newNonce,
  proofMac,
  type Frame,
  type Link,
  type NodeState,
  type Purpose,
  type RefuseCode,
  type Transcript,
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

const WRONG_SECRET = 'authentication failed: replication.secret differs between the nodes';
const RELAYED =
  'authentication failed: the peer knows replication.secret but sees a different TLS session — something between the nodes terminates TLS (a man in the middle); nothing is exchanged through it';

/** Listening side: returns the authenticated peer's state and purpose. Refuses (and throws) otherwise. */
export async function acceptHandshake(link: Link, me: NodeState, secret: string): Promise<PeerHello> {
  const hello = await expect(link, 'hello');
  if (hello.v !== PROTOCOL_VERSION) {
    return refuse(link, 'VERSION', `replication protocol version ${String(hello.v)} not supported: this node speaks version ${PROTOCOL_VERSION} (run the same Roost release on both nodes)`);
  }
  if (!isNonce(hello.nonce) || !PURPOSES.includes(hello.purpose)) return refuse(link, 'PROTOCOL', 'malformed hello');
  const t: Transcript = { purpose: hello.purpose, nonceC: hello.nonce, nonceS: newNonce(), binding: channelBinding(link.socket) };
  await link.send({ t: 'challenge', v: PROTOCOL_VERSION, nonce: t.nonceS });
  const auth = await expect(link, 'auth');
  if (!macEqual(auth.mac, proofMac(secret, 'C', t))) {
    const relayed = macEqual(auth.unbound, proofMac(secret, 'C', t, false));
    return refuse(link, relayed ? 'CHANNEL' : 'AUTH', relayed ? RELAYED : WRONG_SECRET);
  }
  link.authenticated();
  await link.send({ t: 'proof', mac: proofMac(secret, 'S', t) });
  const peer = stateOf(await expect(link, 'state'));
  // A move comes from another pair, which is another cluster by design.
  if (t.purpose !== 'move' && peer.clusterId && me.clusterId && peer.clusterId !== me.clusterId) {
    return refuse(link, 'CLUSTER', `peer belongs to cluster ${peer.clusterId}, this node to ${me.clusterId}`);
  }
  await link.send({ t: 'state', ...me });
  return { ...peer, purpose: t.purpose };
}

/** Connecting side: returns the authenticated listener's state. */
export async function offerHandshake(link: Link, me: NodeState, secret: string, purpose: Purpose): Promise<NodeState> {
  const nonceC = newNonce();
  await link.send({ t: 'hello', v: PROTOCOL_VERSION, nonce: nonceC, purpose });
  const ch = await expect(link, 'challenge');
  if (ch.v !== PROTOCOL_VERSION) return refuse(link, 'VERSION', `replication protocol version ${String(ch.v)} not supported: this node speaks version ${PROTOCOL_VERSION}`);
  if (!isNonce(ch.nonce)) return refuse(link, 'PROTOCOL', 'malformed challenge');
  const t: Transcript = { purpose, nonceC, nonceS: ch.nonce, binding: channelBinding(link.socket) };
  await link.send({ t: 'auth', mac: proofMac(secret, 'C', t), unbound: proofMac(secret, 'C', t, false) });
  const proof = await expect(link, 'proof');
  if (!macEqual(proof.mac, proofMac(secret, 'S', t))) return refuse(link, 'AUTH', 'the listener failed to prove replication.secret over this TLS session');
  link.authenticated();
  await link.send({ t: 'state', ...me });
  const peer = stateOf(await expect(link, 'state'));
  if (purpose !== 'move' && peer.clusterId && me.clusterId && peer.clusterId !== me.clusterId) {
    return refuse(link, 'CLUSTER', `peer belongs to cluster ${peer.clusterId}, this node to ${me.clusterId}`);
  }
  return peer;
}

/** Refuse the peer (the frame reaches it before the socket closes, Link.refuse) and throw. */
export function refuse(link: Link, code: RefuseCode, message: string): Promise<never> {
  link.refuse(code, message);
  return Promise.reject(new HandshakeError(code, message));
}

/** The next frame, which must be of type `t` (a `refuse` from the peer becomes a HandshakeError). */
export async function expect<T extends Frame['t']>(link: Link, t: T, timeoutMs: number = LIMITS.replication.handshakeTimeoutMs): Promise<Extract<Frame, { t: T }>> {
  const { frame } = await link.next(timeoutMs);
  if (frame.t === 'refuse') throw new HandshakeError(frame.code, `peer refused: ${frame.message}`);
  if (frame.t !== t) throw new ProtocolError(`expected ${t}, got ${frame.t}`);
  return frame as Extract<Frame, { t: T }>;
}

/** A peer's state frame, checked for the fields the decisions read (the peer is authenticated; this catches bugs, not attacks). */
function stateOf(frame: Extract<Frame, { t: 'state' }>): NodeState {
  const { t: _t, ...state } = frame;
  if (typeof state.nodeId !== 'string' || typeof state.epoch !== 'number' || typeof state.lastLsn !== 'string' || !Array.isArray(state.history)) {
    throw new ProtocolError('malformed state frame');
  }
  return state;
}
