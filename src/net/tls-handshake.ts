/**
 * Server-side TLS on an accepted socket (implicit TLS, RFC 8314, and the
 * STARTTLS/STLS upgrades of RFC 3501 §6.2.1 / RFC 2595 §4), with a deadline:
 * a client that connects and never finishes the handshake is cut after
 * LIMITS.net.tlsHandshakeTimeoutMs, so half-open handshakes cannot pile up
 * and hold descriptors (Node's own tls.Server default is 120 s, and a
 * TLSSocket made by hand has none at all).
 */
import type { Socket } from 'node:net';
import { TLSSocket, type SecureContext } from 'node:tls';
import { LIMITS } from '../limits.js';

/** The secured socket, or null when the handshake failed, timed out or the peer left (raw is destroyed then). */
export function serverTls(raw: Socket, secureContext: SecureContext): Promise<TLSSocket | null> {
  const s = new TLSSocket(raw, { isServer: true, secureContext });
  return new Promise((resolve) => {
    let settled = false;
    const done = (ok: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      s.off('error', onError);
      s.off('close', onClose);
      if (!ok) {
        // A failed handshake is the client's problem; keep later errors quiet too.
        s.on('error', () => undefined);
        s.destroy();
        raw.destroy();
      }
      resolve(ok ? s : null);
    };
    const onError = (): void => done(false);
    const onClose = (): void => done(false);
    const timer = setTimeout(() => done(false), LIMITS.net.tlsHandshakeTimeoutMs);
    s.once('secure', () => done(true));
    s.once('error', onError);
    s.once('close', onClose);
  });
}
