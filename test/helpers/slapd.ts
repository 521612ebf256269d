/**
 * A real OpenLDAP slapd for tests: its own cn=config (built with slapadd from
 * an LDIF that includes the repo's contrib/ldap/qmail.ldif) and mdb database
 * in a temp dir, listening on a free loopback port. stop()/start() kill and
 * respawn the same server (same port, same data) to simulate an outage.
 * Only the PID we spawned is ever signalled.
 */
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, writeFileSync, rmSync, readFileSync } from 'node:fs';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const SLAPD = '/usr/sbin/slapd';
const SCHEMA_DIR = '/etc/ldap/schema';
export const REPO = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

export const SUFFIX = 'dc=example,dc=org';
export const ROOT_DN = `cn=admin,${SUFFIX}`;
export const ROOT_PW = 'rootsecret';
/** Service account used by Roost for searches (may read userPassword). */
export const READER_DN = `cn=roost,${SUFFIX}`;
export const READER_PW = 'readersecret';
export const PEOPLE = `ou=people,${SUFFIX}`;
/** Administrator of cn=config (password ROOT_PW), for changing the schema online. */
export const CONFIG_DN = 'cn=admin,cn=config';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export interface SlapdOptions {
  /** Load contrib/ldap/qmail.ldif at build time (default true); false to add it online in a test. */
  qmailSchema?: boolean;
  /** Make a test CA and server certificate, listen on ldaps:// too, require TLS for the data, and refuse anonymous binds. */
  tls?: boolean;
}

function configLdif(dir: string, tls: boolean, qmail: boolean): string {
  const tlsConf = tls
    ? `olcTLSCACertificateFile: ${dir}/ca.crt
olcTLSCertificateFile: ${dir}/server.crt
olcTLSCertificateKeyFile: ${dir}/server.key
`
    : '';
  return `dn: cn=config
objectClass: olcGlobal
cn: config
olcPidFile: ${dir}/slapd.pid
olcArgsFile: ${dir}/slapd.args
olcLogLevel: none
${tlsConf}${tls ? 'olcDisallows: bind_anon\n' : ''}
dn: cn=module{0},cn=config
objectClass: olcModuleList
cn: module{0}
olcModulePath: /usr/lib/ldap
olcModuleLoad: back_mdb
olcModuleLoad: pw-sha2

dn: cn=schema,cn=config
objectClass: olcSchemaConfig
cn: schema

include: file://${SCHEMA_DIR}/core.ldif

include: file://${SCHEMA_DIR}/cosine.ldif

include: file://${SCHEMA_DIR}/nis.ldif

include: file://${SCHEMA_DIR}/inetorgperson.ldif

${qmail ? `include: file://${REPO}/contrib/ldap/qmail.ldif` : ''}

dn: olcDatabase={-1}frontend,cn=config
objectClass: olcDatabaseConfig
objectClass: olcFrontendConfig
olcDatabase: {-1}frontend
olcSizeLimit: 500

dn: olcDatabase={0}config,cn=config
objectClass: olcDatabaseConfig
olcDatabase: {0}config
olcRootDN: ${CONFIG_DN}
olcRootPW: ${ROOT_PW}
olcAccess: {0}to * by * none

dn: olcDatabase={1}mdb,cn=config
objectClass: olcDatabaseConfig
objectClass: olcMdbConfig
olcDatabase: {1}mdb
olcSuffix: ${SUFFIX}
olcRootDN: ${ROOT_DN}
olcRootPW: ${ROOT_PW}
olcDbDirectory: ${dir}/db
olcDbMaxSize: 67108864
olcDbNoSync: TRUE
olcDbIndex: objectClass eq
olcDbIndex: ${qmail ? 'mail,mailAlternateAddress,uid' : 'mail,uid'} eq
${tls ? 'olcSecurity: tls=1\n' : ''}olcAccess: {0}to attrs=userPassword by dn.exact="${READER_DN}" read by self read by anonymous auth by * none
olcAccess: {1}to * by * read
`;
}

async function makeCerts(dir: string): Promise<void> {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const f = (n: string) => path.join(dir, n);
  await run('openssl', ['req', '-x509', ...ec, '-keyout', f('ca.key'), '-out', f('ca.crt'), '-days', '2', '-subj', '/CN=Roost Test CA']);
  await run('openssl', ['req', ...ec, '-keyout', f('server.key'), '-out', f('server.csr'), '-subj', '/CN=localhost']);
  writeFileSync(f('san.cnf'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  await run('openssl', ['x509', '-req', '-in', f('server.csr'), '-CA', f('ca.crt'), '-CAkey', f('ca.key'), '-CAcreateserial',
    '-out', f('server.crt'), '-days', '2', '-extfile', f('san.cnf')]);
}

export class Slapd {
  readonly dir: string;
  port = 0;
  /** ldaps:// port when created with { tls: true }. */
  tlsPort = 0;
  private child: ChildProcess | null = null;
  private startedOnce = false;

  private constructor(
    dir: string,
    readonly tls: boolean,
  ) {
    this.dir = dir;
  }

  get url(): string {
    return `ldap://127.0.0.1:${this.port}`;
  }

  get ldapsUrl(): string {
    return `ldaps://127.0.0.1:${this.tlsPort}`;
  }

  /** PEM of the test CA that signed the server certificate. */
  get caFile(): string {
    return path.join(this.dir, 'ca.crt');
  }

  /** ldap-utils options and environment: StartTLS (-ZZ) with the test CA when TLS is required. */
  private clientArgs(): { args: string[]; env: NodeJS.ProcessEnv } {
    return this.tls ? { args: ['-ZZ'], env: { ...process.env, LDAPTLS_CACERT: this.caFile } } : { args: [], env: process.env };
  }

  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** Build config + database, start slapd, and add the base entries (suffix, people OU, service account). */
  static async create(opts: SlapdOptions = {}): Promise<Slapd> {
    const tls = opts.tls ?? false;
    const dir = mkdtempSync(path.join(os.tmpdir(), 'roost-slapd-'));
    mkdirSync(path.join(dir, 'conf'));
    mkdirSync(path.join(dir, 'db'));
    if (tls) await makeCerts(dir);
    writeFileSync(path.join(dir, 'config.ldif'), configLdif(dir, tls, opts.qmailSchema ?? true));
    await run('/usr/sbin/slapadd', ['-n0', '-F', path.join(dir, 'conf'), '-l', path.join(dir, 'config.ldif')]);
    const s = new Slapd(dir, tls);
    s.port = await freePort();
    if (tls) s.tlsPort = await freePort();
    await s.start();
    await s.ldapadd(`dn: ${SUFFIX}
objectClass: dcObject
objectClass: organization
dc: example
o: Example

dn: ${PEOPLE}
objectClass: organizationalUnit
ou: people

dn: ${READER_DN}
objectClass: organizationalRole
objectClass: simpleSecurityObject
cn: roost
userPassword: ${READER_PW}
`);
    return s;
  }

  /** Start (or restart after stop()) on the same port; resolves once it answers a search. */
  async start(): Promise<void> {
    if (this.child) return;
    for (let attempt = 0; attempt < 3; attempt++) {
      const urls = this.tls ? `${this.url}/ ${this.ldapsUrl}/` : `${this.url}/`;
      const child = spawn(SLAPD, ['-d', '0', '-F', path.join(this.dir, 'conf'), '-h', urls], {
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      let stderr = '';
      child.stderr!.on('data', (d: Buffer) => {
        if (stderr.length < 8192) stderr += d.toString();
      });
      this.child = child;
      const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
      const deadline = Date.now() + 10_000;
      while (Date.now() < deadline) {
        const gone = await Promise.race([exited, new Promise((r) => setTimeout(() => r('wait'), 50))]);
        if (gone !== 'wait') break;
        // Ours must be the one answering: while stopped, another test's server may have been given this
        // port, and slapd writes its pid file only after it has bound its listeners.
        if (this.pidFileIs(child.pid) && (await this.answers()) && child.exitCode === null) {
          this.startedOnce = true;
          return;
        }
      }
      await this.stop();
      // The port may have been taken between freePort() and bind: a fresh one on first start only
      // (after that, clients hold the URL), else wait a moment and try the same port again.
      if (attempt === 2) throw new Error(`slapd did not start: ${stderr.slice(-2000)}`);
      if (!this.startedOnce) {
        this.port = await freePort();
        if (this.tls) this.tlsPort = await freePort();
      } else await new Promise((r) => setTimeout(r, 300));
    }
  }

  private pidFileIs(pid: number | undefined): boolean {
    try {
      return Number(readFileSync(path.join(this.dir, 'slapd.pid'), 'utf8').trim()) === pid;
    } catch {
      return false;
    }
  }

  private async answers(): Promise<boolean> {
    const c = this.clientArgs();
    try {
      await run(
        '/usr/bin/ldapsearch',
        ['-x', ...c.args, '-H', this.url, '-D', ROOT_DN, '-w', ROOT_PW, '-b', '', '-s', 'base', '-o', 'nettimeout=1', '1.1'],
        { timeout: 2000, env: c.env },
      );
      return true;
    } catch {
      return false;
    }
  }


  /** Kill our slapd by PID and wait for it to exit (SIGKILL after 5 s). */
  async stop(): Promise<void> {
    const child = this.child;
    if (!child) return;
    this.child = null;
    if (child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 5000);
    await exited;
    clearTimeout(t);
  }

  /** Add entries as the root DN with ldapadd (LDIF text). */
  async ldapadd(ldif: string): Promise<void> {
    const file = path.join(this.dir, `add-${Date.now()}-${Math.random().toString(36).slice(2)}.ldif`);
    writeFileSync(file, ldif);
    const c = this.clientArgs();
    await run('/usr/bin/ldapadd', ['-x', ...c.args, '-H', this.url, '-D', ROOT_DN, '-w', ROOT_PW, '-f', file], { env: c.env });
  }

  /** Apply an LDIF change record as the root DN with ldapmodify. */
  async ldapmodify(ldif: string): Promise<void> {
    const file = path.join(this.dir, `mod-${Date.now()}-${Math.random().toString(36).slice(2)}.ldif`);
    writeFileSync(file, ldif);
    const c = this.clientArgs();
    await run('/usr/bin/ldapmodify', ['-x', ...c.args, '-H', this.url, '-D', ROOT_DN, '-w', ROOT_PW, '-f', file], { env: c.env });
  }

  async destroy(): Promise<void> {
    await this.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** One qmailUser entry as LDIF under ou=people; `attrs` values may be arrays. */
export function userLdif(cn: string, attrs: Record<string, string | string[]>): string {
  const lines = [`dn: cn=${cn},${PEOPLE}`, 'objectClass: inetOrgPerson', 'objectClass: qmailUser', `cn: ${cn}`, `sn: ${cn}`];
  for (const [k, v] of Object.entries(attrs)) {
    for (const one of Array.isArray(v) ? v : [v]) {
      // RFC 2849: values that are not safe ASCII go base64 ("::").
      if (/^[\x20-\x7e]*$/.test(one) && !/^[ :<]/.test(one) && !one.endsWith(' ')) lines.push(`${k}: ${one}`);
      else lines.push(`${k}:: ${Buffer.from(one, 'utf8').toString('base64')}`);
    }
  }
  return lines.join('\n') + '\n\n';
}
