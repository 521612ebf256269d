/**
 * Timeout limits at N and N+1 over real sockets, judged by events only.
 *
 * A server timer of N ms armed after the client's last byte left can fire no
 * sooner than N ms after that moment, however loaded the machine: so "not
 * cut before N" is checked as `elapsed >= N - TIMER_SLACK_MS` from a mark
 * taken before the client's last write, and "cut after N" as the event
 * arriving at all (within a generous bound, never a tight one).
 */
import { spawn } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import net from 'node:net';

/** Timers may fire a millisecond or two early against performance.now() (libuv rounds to whole ms). */
export const TIMER_SLACK_MS = 5;

/** Milliseconds from `since` (performance.now()) until `socket` closes; rejects if it is still open after `timeoutMs`. */
export function closedAfter(socket: net.Socket, since: number, timeoutMs = 30_000): Promise<number> {
  return new Promise((resolve, reject) => {
    if (socket.destroyed && socket.closed) return resolve(performance.now() - since);
    const t = setTimeout(() => reject(new Error(`socket still open after ${timeoutMs} ms`)), timeoutMs);
    socket.on('error', () => undefined);
    socket.once('close', () => {
      clearTimeout(t);
      resolve(performance.now() - since);
    });
  });
}

/**
 * A peer that never closes its side: it writes a byte every `everyMs` until
 * the server's socket is gone (reset or closed), and resolves with the
 * milliseconds from `since`. A server that only half-closed keeps taking the
 * bytes; one that destroyed its socket answers them with a reset.
 */
export function goneAfter(socket: net.Socket, since: number, opts: { everyMs?: number; timeoutMs?: number } = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err?: Error): void => {
      if (done) return;
      done = true;
      clearInterval(tick);
      clearTimeout(limit);
      socket.destroy();
      if (err) reject(err);
      else resolve(performance.now() - since);
    };
    const tick = setInterval(() => {
      if (!socket.destroyed) socket.write('x');
    }, opts.everyMs ?? 25);
    const limit = setTimeout(() => finish(new Error('the server kept the connection')), opts.timeoutMs ?? 30_000);
    socket.on('error', () => finish());
    socket.on('close', () => finish());
  });
}

/** Connect with allowHalfOpen, so the server's FIN does not end our side: a client that holds its socket. */
export function holdingConnect(port: number): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', allowHalfOpen: true }, () => resolve(s));
    s.once('error', reject);
  });
}

/** Collects what `socket` receives; `until(re)` resolves once the text so far matches (bounded). */
export function collect(socket: net.Socket): { text(): string; until(re: RegExp, timeoutMs?: number): Promise<string> } {
  let got = '';
  const waiters = new Set<() => void>();
  socket.on('data', (b: Buffer) => {
    got += b.toString('latin1');
    for (const w of [...waiters]) w();
  });
  socket.on('close', () => {
    for (const w of [...waiters]) w();
  });
  return {
    text: () => got,
    until: (re, timeoutMs = 30_000) =>
      new Promise((resolve, reject) => {
        const check = (): void => {
          if (re.test(got)) {
            waiters.delete(check);
            clearTimeout(t);
            resolve(got);
          } else if (socket.destroyed) {
            waiters.delete(check);
            clearTimeout(t);
            reject(new Error(`closed before ${re}; got ${JSON.stringify(got.slice(-300))}`));
          }
        };
        const t = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no ${re} within ${timeoutMs} ms; got ${JSON.stringify(got.slice(-300))}`));
        }, timeoutMs);
        waiters.add(check);
        check();
      }),
  };
}

/**
 * A TCP peer that accepts and then says nothing (or only what `greet` says
 * to each connection): the far end of an outbound timeout test.
 */
export async function silentListener(greet?: (s: net.Socket) => void): Promise<{ port: number; accepted: net.Socket[]; close(): Promise<void> }> {
  const accepted: net.Socket[] = [];
  const server = net.createServer((s) => {
    accepted.push(s);
    s.on('error', () => undefined);
    greet?.(s);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    port: (server.address() as net.AddressInfo).port,
    accepted,
    close: async () => {
      for (const s of accepted) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/**
 * The inode of the server's end of the TCP connection from `clientPort` to
 * `serverPort` (Linux /proc/net/tcp): non-zero while a process holds the
 * socket, 0 once it closed it (an orphan in FIN_WAIT2 or TIME_WAIT), null
 * when the kernel has forgotten it.
 */
async function serverSideInode(serverPort: number, clientPort: number): Promise<number | null> {
  const rows = (await readFile('/proc/net/tcp', 'utf8')).split('\n').slice(1);
  for (const row of rows) {
    const f = row.trim().split(/\s+/);
    if (f.length < 10) continue;
    if (parseInt(f[1]!.split(':')[1]!, 16) === serverPort && parseInt(f[2]!.split(':')[1]!, 16) === clientPort) return Number(f[9]);
  }
  return null;
}

/**
 * For a client that says nothing and never closes: milliseconds from
 * `since` until the server has closed its socket of this connection, seen
 * in the kernel's socket table (the server sends nothing when it closes a
 * socket it already shut down for writing, so the silent client cannot see
 * it on the wire). Polls every 20 ms; rejects after `timeoutMs`.
 */
export async function serverClosedAfter(serverPort: number, client: net.Socket, since: number, timeoutMs = 30_000): Promise<number> {
  const clientPort = client.localPort!;
  const deadline = performance.now() + timeoutMs;
  // Seen held first, so a lookup that cannot find the connection never passes for a close.
  if (!((await serverSideInode(serverPort, clientPort)) ?? 0)) throw new Error(`no server socket ${serverPort} <- ${clientPort} held in /proc/net/tcp`);
  for (;;) {
    const inode = await serverSideInode(serverPort, clientPort);
    if (inode === null || inode === 0) return performance.now() - since;
    if (performance.now() > deadline) throw new Error(`the server still holds the connection after ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * A TCP listener whose accept queue is full and that never accepts: a
 * connect to it stays in SYN_SENT (Linux drops the SYN), as to a host that
 * does not answer. Python holds the socket (node:net accepts on its own).
 */
export async function unacceptingListener(): Promise<{ port: number; stop(): void }> {
  const code = [
    'import socket, sys, time',
    's = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)',
    'port = s.getsockname()[1]',
    'fill = []',
    'for i in range(4):',
    '    c = socket.socket(); c.setblocking(False)',
    '    try: c.connect(("127.0.0.1", port))',
    '    except BlockingIOError: pass',
    '    fill.append(c)',
    'print(port, flush=True)',
    'sys.stdin.read()',
  ].join('\n');
  const child = spawn('python3', ['-c', code], { stdio: ['pipe', 'pipe', 'inherit'] });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('error', reject);
    child.stdout.once('data', (d: Buffer) => resolve(Number(d.toString().trim())));
  });
  // Held until stop() (or until our process ends: stdin closes and Python exits).
  return { port, stop: () => child.kill('SIGTERM') };
}
