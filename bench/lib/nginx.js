// nginx with its mail module (Debian: nginx + libnginx-mod-mail) for the
// benches, as the tests run it (test/helpers/nginx.ts): its own prefix,
// config and pid file under a temp directory, `daemon off` so the child is
// the master, stopped by that PID.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const MAIL_MODULE = '/usr/lib/nginx/modules/ngx_mail_module.so';

export function nginxAvailable() {
  return existsSync('/usr/sbin/nginx') && existsSync(MAIL_MODULE);
}

/** A port free on 127.0.0.1 right now. */
export async function freePort() {
  const srv = net.createServer();
  await new Promise((r) => srv.listen({ host: '127.0.0.1', port: 0 }, r));
  const { port } = srv.address();
  await new Promise((r) => srv.close(r));
  return port;
}

async function listening(port) {
  return new Promise((resolve) => {
    const s = net.connect({ port, host: '127.0.0.1' }, () => {
      s.destroy();
      resolve(true);
    });
    s.on('error', () => resolve(false));
  });
}

/**
 * Start nginx with `mailBlock` as the body of its `mail { }` block and wait
 * (at most 15 s) until every port in `ports` accepts. Resolves {pid, stop()}.
 */
export async function startNginx(mailBlock, ports, { workers = 1 } = {}) {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'roost-bench-nginx-'));
  mkdirSync(path.join(dir, 'logs'));
  const conf = [
    `load_module ${MAIL_MODULE};`,
    'daemon off;',
    `worker_processes ${workers};`,
    `pid ${path.join(dir, 'nginx.pid')};`,
    `error_log ${path.join(dir, 'logs', 'error.log')} warn;`,
    'events { worker_connections 4096; }',
    'mail {',
    mailBlock,
    '}',
    '',
  ].join('\n');
  const file = path.join(dir, 'nginx.conf');
  writeFileSync(file, conf);
  const child = spawn('/usr/sbin/nginx', ['-p', dir, '-c', file], { stdio: ['ignore', 'ignore', 'inherit'] });
  const exited = new Promise((r) => child.once('exit', r));
  const deadline = Date.now() + 15_000;
  for (const p of ports) {
    while (!(await listening(p))) {
      if (child.exitCode !== null || Date.now() > deadline) {
        child.kill('SIGKILL');
        throw new Error(`nginx did not listen on ${p}: ${readFileSync(path.join(dir, 'logs', 'error.log'), 'utf8')}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  return {
    pid: child.pid,
    async stop() {
      if (child.exitCode === null) {
        process.kill(child.pid, 'SIGQUIT');
        const t = setTimeout(() => process.kill(child.pid, 'SIGKILL'), 10_000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
