import { pino, type Logger } from 'pino';

export type { Logger };

let root: Logger = pino({ level: process.env.ROOST_LOG_LEVEL ?? 'info', base: { pid: process.pid } });

/** The process-wide JSON logger (pino). Call once at start with the configured level. */
export function initLogger(level: string, destination?: NodeJS.WritableStream): Logger {
  root = pino({ level: process.env.ROOST_LOG_LEVEL ?? level, base: { pid: process.pid } }, destination as never);
  return root;
}

export function logger(): Logger {
  return root;
}

let nextConn = 0;
/**
 * A child logger for one connection: every line carries `cid` (and the
 * protocol and peer), so an operator can grep one session out of the log.
 * `via`: the proxy that relayed the connection, when one did (`remote` is then the client it named).
 */
export function connectionLogger(proto: string, remote: string, via: string | null = null): Logger {
  nextConn = (nextConn + 1) % Number.MAX_SAFE_INTEGER;
  const cid = `${proto}-${process.pid.toString(36)}-${nextConn.toString(36)}`;
  return root.child(via === null ? { cid, proto, remote } : { cid, proto, remote, via });
}
