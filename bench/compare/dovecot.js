// A private Dovecot instance for the side-by-side benchmark: its own base_dir,
// config, passwd-file and Maildirs under a temp dir, loopback listeners on
// free ports, no system service touched. Default fsync settings are kept
// (no mail_fsync/fsync_disable tuning): both servers answer "stored" only
// when they consider the mail durable.
import { spawn, spawnSync, execFileSync } from 'node:child_process';
import { chmodSync, chownSync, mkdirSync, writeFileSync, readFileSync, existsSync, statSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';

export async function freePort() {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.listen(0, '127.0.0.1', () => {
      const { port } = s.address();
      s.close(() => resolve(port));
    });
    s.on('error', reject);
  });
}

export function dovecotVersion() {
  try {
    return execFileSync('dovecot', ['--version'], { encoding: 'utf8' }).trim();
  } catch {
    return null;
  }
}

/** Let other users traverse (x) every directory from `d` up that this process owns (mkdtemp makes 0700). */
function openPath(d) {
  for (let at = path.resolve(d); at !== path.dirname(at); at = path.dirname(at)) {
    const st = statSync(at);
    if (st.uid === process.getuid() && (st.mode & 0o011) !== 0o011) chmodSync(at, (st.mode & 0o7777) | 0o011);
  }
}

/**
 * Start Dovecot with users [{name, password}]. Returns {ports, maildir(user),
 * pids(), stop()}. Maildir of user U: <mailRoot>/U/Maildir, mailRoot being
 * <dir>/mail unless opts.mailRoot points at existing Maildirs (so a Dovecot
 * can read what Roost wrote). opts.uidlFormat: pop3_uidl_format (Dovecot's
 * default %08Xu%08Xv otherwise).
 */
export async function startDovecot(dir, users, opts = {}) {
  // Dovecot refuses uid 0 for mail; when we run as root the mail belongs to
  // "nobody" (mail files written by the benchmark are chowned to it).
  const root = process.getuid() === 0;
  const uid = root ? 65534 : process.getuid();
  const gid = root ? 65534 : process.getgid();
  const ports = { imap: await freePort(), pop3: await freePort(), lmtp: await freePort() };
  const mailRoot = opts.mailRoot ?? path.join(dir, 'mail');
  // Dovecot's auth process runs as user dovecot and must reach the passwd file;
  // the mail processes run as uid and must reach (and write) the Maildirs.
  chmodSync(dir, 0o755);
  for (const d of ['run', 'state']) mkdirSync(path.join(dir, d), { recursive: true });
  mkdirSync(mailRoot, { recursive: true });
  openPath(dir);
  openPath(mailRoot);
  if (opts.mailRoot && root) spawnSync('chown', ['-R', `${uid}:${gid}`, mailRoot]);
  else chownSync(mailRoot, uid, gid);
  writeFileSync(path.join(dir, 'passwd'), users.map((u) => `${u.name}:{PLAIN}${u.password}::::::`).join('\n') + '\n');
  // Explicit: a Roost node in the same process sets umask 077.
  chmodSync(path.join(dir, 'passwd'), 0o644);
  const conf = `
base_dir = ${dir}/run
state_dir = ${dir}/state
instance_name = roost-bench-${process.pid}-${ports.imap}
log_path = ${dir}/dovecot.log
protocols = imap pop3 lmtp
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
first_valid_uid = 0
mail_location = maildir:${mailRoot}/%u/Maildir
mail_uid = ${uid}
mail_gid = ${gid}
default_process_limit = 5000
default_client_limit = 20000
default_vsz_limit = 1G
pop3_uidl_format = ${opts.uidlFormat ?? '%08Xu%08Xv'}
passdb {
  driver = passwd-file
  args = scheme=PLAIN username_format=%u ${dir}/passwd
}
userdb {
  driver = static
  args = uid=${uid} gid=${gid} home=${mailRoot}/%u
}
protocol imap {
  mail_max_userip_connections = 100000
}
protocol pop3 {
  mail_max_userip_connections = 100000
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = ${ports.imap}
  }
  inet_listener imaps {
    port = 0
  }
  process_min_avail = 2
}
service pop3-login {
  inet_listener pop3 {
    address = 127.0.0.1
    port = ${ports.pop3}
  }
  inet_listener pop3s {
    port = 0
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = ${ports.lmtp}
  }
}
service imap {
  process_limit = 5000
}
`;
  const confFile = path.join(dir, 'dovecot.conf');
  writeFileSync(confFile, conf);
  const child = spawn('dovecot', ['-F', '-c', confFile], { stdio: ['ignore', 'inherit', 'inherit'] });
  // Wait for the IMAP listener.
  const deadline = Date.now() + 15_000;
  for (;;) {
    const ok = await new Promise((resolve) => {
      const s = net.connect(ports.imap, '127.0.0.1');
      s.once('data', () => {
        s.destroy();
        resolve(true);
      });
      s.once('error', () => resolve(false));
    });
    if (ok) break;
    if (Date.now() > deadline || child.exitCode !== null) {
      const log = existsSync(path.join(dir, 'dovecot.log')) ? readFileSync(path.join(dir, 'dovecot.log'), 'utf8') : '';
      child.kill('SIGKILL');
      throw new Error(`dovecot did not start: ${log.slice(-2000)}`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    kind: 'dovecot',
    uid,
    gid,
    ports,
    dir,
    maildir: (user) => path.join(mailRoot, user, 'Maildir'),
    /** Master pid and every child (login, imap, pop3, lmtp, auth, …). */
    pids() {
      const out = [child.pid];
      const walk = (pid) => {
        let kids = [];
        try {
          kids = readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
        } catch {}
        for (const k of kids) {
          out.push(k);
          walk(k);
        }
      };
      walk(child.pid);
      return out;
    },
    async stop() {
      if (child.exitCode !== null) return;
      child.kill('SIGTERM');
      await new Promise((r) => {
        const t = setTimeout(() => {
          child.kill('SIGKILL');
          r();
        }, 5000);
        child.once('exit', () => {
          clearTimeout(t);
          r();
        });
      });
    },
  };
}
