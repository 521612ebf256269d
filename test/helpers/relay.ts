/**
 * Helpers for tests that put a real client nobody here wrote (Postfix's
 * qmqp-source, smtp-source -L) in front of a node: a transparent TCP relay
 * that records what each client connection sent, so stored messages can be
 * compared byte for byte with the client's own bytes, and a bounded run of
 * the client program.
 */
import { spawn } from 'node:child_process';
import net from 'node:net';

export interface RecordingRelay {
  readonly port: number;
  /** Per client connection, the chunks it sent, in order. */
  readonly sent: Buffer[][];
  close(): Promise<void>;
}

/** Relay 127.0.0.1:<port> → 127.0.0.1:target, keeping what each client connection sent. */
export function recordingRelay(target: number): Promise<RecordingRelay> {
  const sent: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer((client) => {
    const chunks: Buffer[] = [];
    sent.push(chunks);
    const upstream = net.connect({ port: target, host: '127.0.0.1' });
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => undefined);
    }
    client.on('data', (c: Buffer) => chunks.push(c));
    client.pipe(upstream);
    upstream.pipe(client);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () =>
      resolve({
        port: (server.address() as net.AddressInfo).port,
        sent,
        close: () =>
          new Promise<void>((r) => {
            for (const s of sockets) s.destroy();
            server.close(() => r());
          }),
      }),
    );
  });
}

/** Run a program to its end (killed after `timeoutMs`): exit code and stdout+stderr. */
export function runTool(cmd: string, args: string[], timeoutMs: number): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    child.stdout.on('data', (c: Buffer) => out.push(c));
    child.stderr.on('data', (c: Buffer) => out.push(c));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, output: Buffer.concat(out).toString() });
    });
  });
}
