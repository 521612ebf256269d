/**
 * A private Postfix instance for tests: its own config_directory,
 * queue_directory, data_directory and log file under a temp dir, a loopback
 * smtpd on a free port, everything routed to one LMTP address. Started with
 * `postfix -c DIR start` and stopped with `postfix -c DIR stop`; it never
 * touches the system's /etc/postfix or its queue. Postfix needs root (its
 * master binds and switches to mail_owner); the tests skip without it.
 */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, chown, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';

export const POSTFIX = ['/usr/sbin/postfix'].find((p) => existsSync(p));

/** Whether a private Postfix can run here: the binary, root, and a postfix user to run as. */
export async function postfixUsable(): Promise<boolean> {
  if (!POSTFIX || process.getuid?.() !== 0) return false;
  const passwd = await readFile('/etc/passwd', 'utf8').catch(() => '');
  return /^postfix:/m.test(passwd);
}

function uidOf(passwd: string, user: string): number {
  const line = passwd.split('\n').find((l) => l.startsWith(`${user}:`));
  return Number(line?.split(':')[2] ?? -1);
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const p = (s.address() as net.AddressInfo).port;
      s.close(() => resolve(p));
    });
  });
}

function run(args: string[]): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve) => {
    // Postfix makes its queue directories with the caller's umask, and its
    // unprivileged daemons must reach them: a Roost node started in this
    // process has set umask 077 (data_dir stays private), so run Postfix under
    // the usual 022 instead.
    const p = spawn('/bin/sh', ['-c', 'umask 022; exec "$0" "$@"', POSTFIX!, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    p.stdout.on('data', (d: Buffer) => (output += d.toString()));
    p.stderr.on('data', (d: Buffer) => (output += d.toString()));
    p.on('close', (code) => resolve({ code, output }));
  });
}

export interface PrivatePostfix {
  dir: string;
  smtpPort: number;
  /** The instance's log (maillog_file). */
  log(): Promise<string>;
  /** Wait until `pred(log)` holds, polling with a bound; returns the log. */
  waitLog(pred: (log: string) => boolean, timeoutMs?: number): Promise<string>;
  /** `postfix flush`: try every deferred message now (a queue scan can skip one that was still being delivered). */
  flush(): Promise<void>;
  stop(): Promise<void>;
}

/** Services the instance runs; no chroot (its queue has no copies of /etc). */
function masterCf(smtpPort: number): string {
  const rows = [
    `127.0.0.1:${smtpPort} inet n - n - - smtpd`,
    'pickup unix n - n 60 1 pickup',
    'cleanup unix n - n - 0 cleanup',
    'qmgr unix n - n 300 1 qmgr',
    'rewrite unix - - n - - trivial-rewrite',
    'bounce unix - - n - 0 bounce',
    'defer unix - - n - 0 bounce',
    'trace unix - - n - 0 bounce',
    'verify unix - - n - 1 verify',
    'flush unix n - n 1000? 0 flush',
    'proxymap unix - - n - - proxymap',
    // smtpd's STARTTLS needs it for entropy (outbound TLS tests); idle otherwise.
    'tlsmgr unix - - n 1000? 1 tlsmgr',
    'smtp unix - - n - - smtp',
    'relay unix - - n - - smtp',
    'showq unix n - n - - showq',
    'error unix - - n - - error',
    'retry unix - - n - - error',
    'discard unix - - n - - discard',
    'lmtp unix - - n - - lmtp',
    'anvil unix - - n - 1 anvil',
    'scache unix - - n - 1 scache',
    'postlog unix-dgram n - n - 1 postlogd',
  ];
  return `${rows.join('\n')}\n`;
}

/** `main` adds or overrides main.cf parameters (e.g. smtpd TLS for outbound tests); `services` adds master.cf rows (e.g. qmqpd). */
export async function startPostfix(opts: { lmtpPort: number; domain: string; main?: Record<string, string>; services?: string[] }): Promise<PrivatePostfix> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'roost-postfix-'));
  // mail_owner must reach data_directory and the queue.
  await chmod(dir, 0o755);
  const smtpPort = await freePort();
  const lmtp = `lmtp:inet:127.0.0.1:${opts.lmtpPort}`;
  const etc = path.join(dir, 'etc');
  // Explicit modes: a Roost node in this process has set umask 077.
  for (const d of [etc, path.join(dir, 'queue'), path.join(dir, 'data')]) {
    await mkdir(d);
    await chmod(d, 0o755);
  }
  const passwd = await readFile('/etc/passwd', 'utf8');
  await chown(path.join(dir, 'data'), uidOf(passwd, 'postfix'), 0);
  const main = {
    compatibility_level: '3.6',
    queue_directory: path.join(dir, 'queue'),
    data_directory: path.join(dir, 'data'),
    mail_owner: 'postfix',
    myhostname: 'relay.test.invalid',
    mydomain: 'test.invalid',
    mydestination: '',
    inet_interfaces: 'loopback-only',
    inet_protocols: 'ipv4',
    mynetworks: '127.0.0.0/8',
    relay_domains: opts.domain,
    relay_recipient_maps: '',
    relay_transport: lmtp,
    default_transport: lmtp,
    mailbox_transport: lmtp,
    local_recipient_maps: '',
    alias_maps: '',
    alias_database: '',
    smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
    maillog_file: path.join(dir, 'maillog'),
    maillog_file_prefixes: dir,
    // Retry deferred mail quickly, so a test sees the retry after a crash.
    queue_run_delay: '1s',
    minimal_backoff_time: '1s',
    maximal_backoff_time: '2s',
    smtputf8_enable: 'no',
    biff: 'no',
    ...opts.main,
  };
  await writeFile(path.join(etc, 'main.cf'), Object.entries(main).map(([k, v]) => `${k} = ${v}\n`).join(''));
  await writeFile(path.join(etc, 'master.cf'), masterCf(smtpPort) + (opts.services ?? []).map((r) => `${r}\n`).join(''));
  const started = await run(['-c', etc, 'start']);
  const log = (): Promise<string> => readFile(path.join(dir, 'maillog'), 'utf8').catch(() => '');
  if (started.code !== 0) {
    const text = await log();
    await rm(dir, { recursive: true, force: true });
    throw new Error(`postfix -c ${etc} start failed (${started.code}): ${started.output}\n${text}`);
  }
  const pf: PrivatePostfix = {
    dir,
    smtpPort,
    log,
    async waitLog(pred, timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const text = await log();
        if (pred(text)) return text;
        if (Date.now() > deadline) throw new Error(`postfix log did not show what the test waits for:\n${text}`);
        await new Promise((r) => setTimeout(r, 200));
      }
    },
    async flush() {
      await run(['-c', etc, 'flush']);
    },
    async stop() {
      await run(['-c', etc, 'stop']);
      // stop returns once master is told; wait (bounded) for its pid file to go before removing the queue.
      for (let i = 0; i < 100 && existsSync(path.join(dir, 'queue', 'pid', 'master.pid')); i++) await new Promise((r) => setTimeout(r, 100));
      await rm(dir, { recursive: true, force: true });
    },
  };
  // The smtpd listener is up once master runs; wait until it answers (bounded).
  for (let i = 0; ; i++) {
    const ok = await new Promise<boolean>((resolve) => {
      const s = net.connect({ port: smtpPort, host: '127.0.0.1' }, () => {
        s.destroy();
        resolve(true);
      });
      s.on('error', () => resolve(false));
    });
    if (ok) break;
    if (i > 100) {
      await pf.stop();
      throw new Error('private postfix smtpd did not listen');
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return pf;
}
