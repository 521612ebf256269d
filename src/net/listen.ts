/**
 * Listening on the "host:port" strings of the config (port 0 = ephemeral, as
 * tests use). One helper for every protocol server so bind errors read alike.
 */
import type { Server } from 'node:net';
import type { AddressInfo } from 'node:net';
import { parseListen } from '../config/load.js';

/** Bind `server` to `spec`; resolves with the real port. Returns null when `spec` is "" (listener disabled). */
export function listenOn(server: Server, spec: string, what: string): Promise<number | null> {
  const addr = parseListen(spec);
  if (!addr) return Promise.resolve(null);
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      server.off('listening', onListening);
      reject(new Error(`${what}: cannot listen on ${spec}: ${err.code ?? err.message}`, { cause: err }));
    };
    const onListening = (): void => {
      server.off('error', onError);
      resolve((server.address() as AddressInfo).port);
    };
    server.once('error', onError);
    server.once('listening', onListening);
    // exclusive: a standby/primary pair on one host must not share ports silently.
    server.listen({ host: addr.host, port: addr.port, exclusive: true });
  });
}

/** Close a listening server; resolves when it stops accepting (open connections are the caller's business). */
export function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    if (!server.listening) return resolve();
    server.close(() => resolve());
  });
}
