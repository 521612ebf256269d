/**
 * The CLI side of the control socket (src/admin/control.ts): one JSON request
 * line, optionally a streamed body, progress lines, one JSON response line.
 */
import net from 'node:net';
import path from 'node:path';
import type { Readable } from 'node:stream';
import type { ControlResponse } from '../admin/control.js';
import type { Config } from '../config/schema.js';
import { CONTROL_SOCKET } from '../admin/files.js';
import { chunkEncoder } from '../admin/framing.js';
import { LIMITS } from '../limits.js';

/** No node answers on this data directory's control socket. */
export class NodeNotRunning extends Error {
  constructor(socketPath: string) {
    super(`no roost node is running on ${path.dirname(socketPath)} (control socket ${socketPath} does not answer)`);
    this.name = 'NodeNotRunning';
  }
}

export const controlSocketPath = (config: Config): string => path.join(config.paths.dataDir, CONTROL_SOCKET);

const DEFAULT_TIMEOUT_MS = LIMITS.admin.controlTimeoutMs;

export async function controlRequest(
  socketPath: string,
  cmd: string,
  args: Record<string, unknown> = {},
  opts: { body?: Readable; timeoutMs?: number; onProgress?: (p: Record<string, unknown>) => void } = {},
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
  // Complete lines before the last are progress lines; the answer is the last one.
  const takeProgress = (): void => {
    let all = Buffer.concat(chunks);
    chunks.length = 0;
    for (let nl = all.indexOf(0x0a); nl >= 0; nl = all.indexOf(0x0a)) {
      const line = all.subarray(0, nl).toString('utf8');
      let parsed: unknown = null;
      try {
        parsed = JSON.parse(line);
      } catch {
        parsed = null;
      }
      const p = (parsed as { progress?: unknown } | null)?.progress;
      if (typeof p !== 'object' || p === null) break;
      opts.onProgress?.(p as Record<string, unknown>);
      all = all.subarray(nl + 1);
    }
    chunks.push(all);
  };
  const response = new Promise<ControlResponse>((resolve, reject) => {
    socket.on('data', (c: Buffer) => {
      chunks.push(c);
      if (c.includes(0x0a)) takeProgress();
    });
    socket.once('error', reject);
    socket.once('end', () => {
      takeProgress();
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
