/**
 * nginx with its mail module (Debian: nginx + libnginx-mod-mail) as a real
 * proxy in front of a test node: its own prefix, config, pid file and error
 * log under a temp directory, loopback listeners on free ports, run in the
 * foreground (`daemon off`) so the child we spawn is the master; stop() sends
 * it SIGQUIT by that PID (graceful: the workers finish and exit with it).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import net, { type AddressInfo } from 'node:net';
import path from 'node:path';
import { makeTempDir } from './node.js';

export const MAIL_MODULE = '/usr/lib/nginx/modules/ngx_mail_module.so';

export function nginxAvailable(): boolean {
  return existsSync('/usr/sbin/nginx') && existsSync(MAIL_MODULE);
}

/** A port free on 127.0.0.1 right now (bound to 0, read, released). */
export async function freePort(): Promise<number> {
  const srv = net.createServer();
  await new Promise<void>((r) => srv.listen({ host: '127.0.0.1', port: 0 }, () => r()));
  const { port } = srv.address() as AddressInfo;
  await new Promise<void>((r) => srv.close(() => r()));
  return port;
}

export interface Nginx {
  readonly pid: number;
  readonly dir: string;
  errorLog(): Promise<string>;
  stop(): Promise<void>;
}

/** Wait until something accepts on 127.0.0.1:`port` (bounded). */
async function waitListening(port: number, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let i = 0; i < 1000 && Date.now() < deadline; i++) {
    if (child.exitCode !== null) throw new Error(`nginx exited with ${child.exitCode}`);
    const up = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (up) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`nginx did not listen on ${port} within ${timeoutMs} ms`);
}

/**
 * The mail block the proxy tests use: nginx asks Roost's auth_http (with the
 * shared secret header) and proxies IMAP and POP3 with the PROXY protocol.
 */
export function mailProxyBlock(o: { serverName: string; authPort: number; secret: string; imapPort: number; pop3Port: number }): string {
  return [
    `  server_name ${o.serverName};`,
    `  auth_http 127.0.0.1:${o.authPort}/auth;`,
    `  auth_http_header X-Roost-Secret "${o.secret}";`,
    '  proxy_pass_error_message on;',
    '  imap_auth login plain;',
    '  pop3_auth plain;',
    `  server { listen 127.0.0.1:${o.imapPort}; protocol imap; proxy_protocol on; }`,
    `  server { listen 127.0.0.1:${o.pop3Port}; protocol pop3; proxy_protocol on; }`,
  ].join('\n');
}

/**
 * Start nginx with `mailBlock` as the body of its `mail { }` block;
 * `ports` are the listeners to wait for.
 */
export async function startNginx(mailBlock: string, ports: number[]): Promise<Nginx> {
  const dir = await makeTempDir('roost-nginx-');
  await mkdir(path.join(dir, 'logs'), { recursive: true });
  const conf = [
    `load_module ${MAIL_MODULE};`,
    'daemon off;',
    'worker_processes 1;',
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'logs', 'error.log')} info;`,
    'events { worker_connections 256; }',
    'mail {',
    mailBlock,
    '}',
    '',
  ].join('\n');
  const file = path.join(dir, 'nginx.conf');
  await writeFile(file, conf);
  const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', file], { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const errorLog = async (): Promise<string> => `${stderr}${await readFile(path.join(dir, 'logs', 'error.log'), 'utf8').catch(() => '')}`;
  try {
    for (const p of ports) await waitListening(p, child, 15_000);
  } catch (err) {
    child.kill('SIGKILL');
    await exited;
    throw new Error(`${(err as Error).message}\n${await errorLog()}`);
  }
  return {
    pid: child.pid!,
    dir,
    errorLog,
    async stop() {
      if (child.exitCode === null) {
        process.kill(child.pid!, 'SIGQUIT');
        const t = setTimeout(() => process.kill(child.pid!, 'SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      await rm(dir, { recursive: true, force: true });
    },
  };
}
