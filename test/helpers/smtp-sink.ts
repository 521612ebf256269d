/**
 * Postfix's smtp-sink (Debian package postfix) as a smarthost for outbound
 * tests: started on a free loopback port with `-d DIR/%M.` so each
 * transaction is dumped to its own file, stopped by the test.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { freePort } from './postfix.js';

export const SMTP_SINK = ['/usr/sbin/smtp-sink', '/usr/lib/postfix/sbin/smtp-sink'].find((p) => existsSync(p));

/** One dumped transaction: smtp-sink's envelope lines and the message as received (LF line ends, dots removed). */
export interface SinkDump {
  mailArgs: string;
  rcptArgs: string[];
  helo: string;
  message: Buffer;
}

export interface Sink {
  port: number;
  dir: string;
  /** The dumps written so far, once each is complete. */
  dumps(): Promise<SinkDump[]>;
  /** Wait until `n` dumps are complete (bounded). */
  waitDumps(n: number, timeoutMs?: number): Promise<SinkDump[]>;
  stop(): Promise<void>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function canConnect(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

/**
 * The dump format (smtp-sink(1) "DUMP FILE FORMAT"): X-* lines, a three-line
 * Received header, the message, then one empty line. null while incomplete.
 */
export function parseDump(file: Buffer): SinkDump | null {
  const text = file.toString('latin1');
  const rec = text.indexOf('\nReceived: from ');
  if (rec < 0 || !file.subarray(-2).equals(Buffer.from('\n\n'))) return null;
  const head = text.slice(0, rec).split('\n');
  let pos = rec + 1;
  for (let i = 0; i < 3; i++) pos = text.indexOf('\n', pos) + 1;
  const field = (name: string): string[] => head.filter((l) => l.startsWith(`${name}: `)).map((l) => l.slice(name.length + 2));
  return {
    mailArgs: field('X-Mail-Args')[0] ?? '',
    rcptArgs: field('X-Rcpt-Args'),
    helo: field('X-Helo-Args')[0] ?? '',
    message: file.subarray(pos, file.length - 1),
  };
}

export async function startSink(args: string[] = []): Promise<Sink> {
  if (!SMTP_SINK) throw new Error('smtp-sink not installed');
  const dir = await mkdtemp(path.join(os.tmpdir(), 'roost-sink-'));
  // smtp-sink drops root privileges (-u) before writing dumps.
  await chmod(dir, 0o777);
  const port = await freePort();
  const asRoot = process.getuid?.() === 0 ? ['-u', 'postfix'] : [];
  const child: ChildProcess = spawn(SMTP_SINK, [...asRoot, '-d', `${dir}/%M.`, ...args, `127.0.0.1:${port}`, '50'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (output += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  let up = false;
  for (let i = 0; i < 100 && !up; i++) {
    if (child.exitCode !== null) break;
    up = await canConnect(port);
    if (!up) await sleep(50);
  }
  if (!up) {
    child.kill('SIGKILL');
    throw new Error(`smtp-sink did not start: ${output}`);
  }
  const dumps = async (): Promise<SinkDump[]> => {
    const out: SinkDump[] = [];
    for (const f of (await readdir(dir)).sort()) {
      // A dump file listed a moment ago can be gone when read: seen in a full run
      // with `-f RCPT`, where the refused transaction's file disappeared. Skip it.
      const bytes = await readFile(path.join(dir, f)).catch((err: NodeJS.ErrnoException) => {
        if (err.code === 'ENOENT') return null;
        throw err;
      });
      const d = bytes && parseDump(bytes);
      if (d) out.push(d);
    }
    return out;
  };
  return {
    port,
    dir,
    dumps,
    async waitDumps(n, timeoutMs = 10_000) {
      const until = Date.now() + timeoutMs;
      for (;;) {
        const d = await dumps();
        if (d.length >= n || Date.now() > until) return d;
        await sleep(50);
      }
    },
    async stop() {
      child.kill('SIGTERM');
      await Promise.race([exited, sleep(5000)]);
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await rm(dir, { recursive: true, force: true });
    },
  };
}
