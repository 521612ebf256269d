/**
 * The CLI side of the control socket (src/admin/control.ts): one JSON request
 * line, optionally a streamed body, one JSON response line.
 */
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ControlResponse } from '../admin/control.js';
import type { Config } from '../config/schema.js';
import { CONTROL_SOCKET } from '../admin/files.js';
import { chunkEncoder } from '../admin/framing.js';

/** No node answers on this data directory's control socket. */
export class NodeNotRunning extends Error {
  constructor(socketPath: string) {
    super(`no roost node is running on ${path.dirname(socketPath)} (control socket ${socketPath} does not answer)`);
    this.name = 'NodeNotRunning';
  }
}

export const controlSocketPath = (config: Config): string => path.join(config.paths.dataDir, CONTROL_SOCKET);

/** Longest a response may take (promote waits for catch-up; deliver for fsync and replica ack). */
const DEFAULT_TIMEOUT_MS = 120_000;

export async function controlRequest(
  socketPath: string,
  cmd: string,
  args: Record<string, unknown> = {},
  opts: { body?: Readable; timeoutMs?: number } = {},
): Promise<ControlResponse> {
  const socket = net.connect({ path: socketPath, allowHalfOpen: true });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', resolve);
    socket.once('error', (err: NodeJS.ErrnoException) => {
      reject(err.code === 'ENOENT' || err.code === 'ECONNREFUSED' ? new NodeNotRunning(socketPath) : err);
    });
  });
  socket.setTimeout(opts.timeoutMs ?? DEFAULT_TIMEOUT_MS, () => socket.destroy(new Error(`control command ${cmd}: no answer in time`)));
  const chunks: Buffer[] = [];
  const response = new Promise<ControlResponse>((resolve, reject) => {
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.once('error', reject);
    socket.once('end', () => {
      const text = Buffer.concat(chunks).toString('utf8').trim();
      try {
        resolve(JSON.parse(text) as ControlResponse);
      } catch {
        reject(new Error(`control command ${cmd}: unreadable answer ${JSON.stringify(text.slice(0, 200))}`));
      }
      socket.destroy();
    });
  });
  socket.write(`${JSON.stringify({ cmd, args })}\n`);
  if (opts.body) {
    // pipe() honours back-pressure; the body is framed so a partial one is never taken for complete.
    opts.body.once('error', (err) => socket.destroy(err));
    opts.body.pipe(chunkEncoder()).pipe(socket);
  } else socket.end();
  return response;
}

/** True when a node answers on the socket. */
export async function nodeRunning(socketPath: string): Promise<boolean> {
  try {
    const r = await controlRequest(socketPath, 'status', {}, { timeoutMs: 5000 });
    return r.ok;
  } catch (err) {
    if (err instanceof NodeNotRunning) return false;
    throw err;
  }
}
