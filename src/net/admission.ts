/**
 * Who gets a connection slot: every accepted socket is counted from accept
 * (before any TLS handshake) until it closes, against the listener's
 * `max_connections`, a per-remote-address cap (`max_connections_per_ip`), and
 * the descriptors left to the process. A refused client gets its protocol's
 * clean answer (IMAP `* BYE`, POP3 `-ERR`) from the caller and the refusal is
 * logged (at most once a second per listener and reason, so a flood cannot
 * flood the log too).
 */
import { readdirSync, readFileSync } from 'node:fs';
import type { Socket } from 'node:net';
import { LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';

export type Refusal = 'connections' | 'address' | 'descriptors';

export interface GateLimits {
  readonly maxConnections: number;
  readonly maxPerAddress: number;
}

export class ConnectionGate {
  private open = 0;
  private readonly byAddress = new Map<string, number>();
  private readonly lastLogged = new Map<Refusal, number>();

  constructor(
    private readonly name: string,
    private readonly limits: GateLimits,
    private readonly log: Logger,
  ) {}

  get size(): number {
    return this.open;
  }

  /**
   * Admit `socket` (null) or say why not; an admitted socket is counted until
   * 'close'. `address`: the client's, when a proxy relays it (src/net/proxied.ts).
   */
  admit(socket: Socket, address: string = socket.remoteAddress ?? ''): Refusal | null {
    const fromAddress = this.byAddress.get(address) ?? 0;
    let refusal: Refusal | null = null;
    if (this.open >= this.limits.maxConnections) refusal = 'connections';
    else if (fromAddress >= this.limits.maxPerAddress) refusal = 'address';
    else if (descriptorsLow()) refusal = 'descriptors';
    if (refusal) {
      this.logRefusal(refusal, address);
      return refusal;
    }
    this.open++;
    this.byAddress.set(address, fromAddress + 1);
    descriptorsTaken++;
    socket.once('close', () => {
      this.open--;
      descriptorsTaken--;
      const n = (this.byAddress.get(address) ?? 1) - 1;
      if (n > 0) this.byAddress.set(address, n);
      else this.byAddress.delete(address);
    });
    return null;
  }

  private logRefusal(refusal: Refusal, address: string): void {
    const now = Date.now();
    if (now - (this.lastLogged.get(refusal) ?? 0) < 1000) return;
    this.lastLogged.set(refusal, now);
    const limit = refusal === 'connections' ? this.limits.maxConnections : refusal === 'address' ? this.limits.maxPerAddress : LIMITS.net.fdReserve;
    this.log.warn({ listener: this.name, refusal, address, open: this.open, limit }, 'connection refused');
  }
}

// ---------------------------------------------------------------------------
// Descriptors: the soft RLIMIT_NOFILE, read once from /proc/self/limits
// (Linux); the count of open descriptors is taken from /proc/self/fd, again
// only when the estimate (last count + sockets admitted since) comes near the
// limit, so the check costs nothing while far from it.

let fdLimit: number | null | undefined;
let lastCount = 0;
let takenAtCount = 0;
let descriptorsTaken = 0;
let countedAt = 0;

function readFdLimit(): number | null {
  try {
    const m = /^Max open files\s+(\d+|unlimited)/m.exec(readFileSync('/proc/self/limits', 'latin1'));
    return m && m[1] !== 'unlimited' ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/** True while fewer than LIMITS.net.fdReserve descriptors are left. */
export function descriptorsLow(): boolean {
  if (fdLimit === undefined) fdLimit = readFdLimit();
  if (fdLimit === null) return false;
  const estimate = lastCount + (descriptorsTaken - takenAtCount);
  const now = Date.now();
  if (estimate >= fdLimit - 2 * LIMITS.net.fdReserve || now - countedAt > 10_000) {
    try {
      lastCount = readdirSync('/proc/self/fd').length;
      takenAtCount = descriptorsTaken;
      countedAt = now;
    } catch {
      return false;
    }
  }
  return lastCount + (descriptorsTaken - takenAtCount) >= fdLimit - LIMITS.net.fdReserve;
}

/** Tests: pretend the process may open `n` descriptors (null: read the real limit again). */
export function setDescriptorLimitForTests(n: number | null): void {
  fdLimit = n ?? undefined;
  countedAt = 0;
}
