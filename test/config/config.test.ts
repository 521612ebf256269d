import { mkdir, rm, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from '../../src/config/load.js';
import { roost, roostProcess } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/node.js';

let dir: string;
beforeAll(async () => {
  dir = await makeTempDir();
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

async function configFile(name: string, text: string): Promise<string> {
  const f = path.join(dir, name);
  await writeFile(f, text);
  return f;
}

describe('config loading', () => {
  it('gives every key a default (an empty file gives the documented defaults)', async () => {
    const f = await configFile('empty.toml', '');
    const c = loadConfig(f);
    expect(c.imap.listen).toBe('127.0.0.1:1143');
    expect(c.imap.tls_listen).toBe('127.0.0.1:1993');
    expect(c.pop3.listen).toBe('127.0.0.1:1110');
    expect(c.pop3.tls_listen).toBe('127.0.0.1:1995');
    expect(c.qmqp.listen).toBe('127.0.0.1:1628');
    expect(c.lmtp.listen).toBe('127.0.0.1:2424');
    expect(c.delivery.max_hops).toBe(100);
    expect(c.admin.listen).toBe('127.0.0.1:8025');
    expect(c.replication.listen).toBe('127.0.0.1:7600');
    expect(c.replication.ack).toBe('sync');
    expect(c.directory.backend).toBe('sqlite');
    expect(c.auth.allow_plaintext).toBe('loopback');
    expect(c.imap.proxy_listen).toBe('');
    expect(c.pop3.proxy_listen).toBe('');
    expect(c.proxy).toEqual({ trusted: [], auth_listen: '', auth_secret: '' });
    expect(c.cluster).toEqual({ hosts: {}, imap_port: 143, pop3_port: 110, qmqp_port: 628 });
  });

  it('resolves a relative data_dir against the config file directory', async () => {
    await mkdir(path.join(dir, 'sub'), { recursive: true });
    const f = await configFile('sub/rel.toml', 'data_dir = "./state"\n');
    const c = loadConfig(f);
    expect(c.paths.dataDir).toBe(path.join(dir, 'sub', 'state'));
    expect(c.paths.mailDir).toBe(path.join(dir, 'sub', 'state', 'mail'));
  });

  const bad: [string, string, RegExp][] = [
    ['unknown top-level key', 'colour = "blue"\n', /colour: unknown key/],
    ['unknown key in a section', '[qmqp]\nlisten = "127.0.0.1:1628"\nmax_sise = 5\n', /qmqp\.max_sise: unknown key/],
    ['unknown section', '[smtp]\nlisten = ""\n', /smtp: unknown key/],
    ['bad listen value', '[imap]\nlisten = "localhost"\n', /imap\.listen: expected "host:port"/],
    ['port out of range', '[pop3]\nlisten = "127.0.0.1:70000"\n', /pop3\.listen: port 70000/],
    ['wrong type', '[qmqp]\nmax_recipients = "many"\n', /qmqp\.max_recipients: expected an integer/],
    ['value out of range', '[qmqp]\nmax_recipients = 0\n', /qmqp\.max_recipients: 0 is outside/],
    ['bad enum', '[replication]\nack = "maybe"\n', /replication\.ack: expected one of/],
    ['unknown ldap key', '[directory.ldap]\nhost = "x"\n', /directory\.ldap\.host: unknown key/],
    ['a journal bound below 64 KiB', '[replication]\njournal_max_bytes = 65535\n', /replication\.journal_max_bytes: 65535 is outside/],
    ['a proxy.trusted entry that is not an address', '[proxy]\ntrusted = ["nginx.example"]\n', /proxy\.trusted: "nginx\.example" is not an address/],
    ['a proxy.trusted prefix too long', '[proxy]\ntrusted = ["10.0.0.0/33"]\n', /proxy\.trusted:/],
    ['imap.proxy_listen without proxy.trusted', '[imap]\nproxy_listen = "127.0.0.1:1144"\n', /imap\.proxy_listen: needs proxy\.trusted/],
    ['proxy.auth_listen without proxy.trusted', '[proxy]\nauth_listen = "127.0.0.1:8026"\n', /proxy\.auth_listen: needs proxy\.trusted/],
    ['a cluster.hosts node list with a bad entry', '[cluster.hosts]\n"a.example" = "10.0.0.1:8025 10.0.0.2"\n', /cluster\.hosts\.a\.example: "10\.0\.0\.2" is not "host:port"/],
    ['a cluster.hosts value that is not a string', '[cluster.hosts]\n"a.example" = 5\n', /cluster\.hosts: a\.example: expected a non-empty string/],
  ];

  it('takes the smallest journal bound, 64 KiB', async () => {
    const f = await configFile('journal-min.toml', '[replication]\njournal_max_bytes = 65536\n');
    expect(loadConfig(f).replication.journal_max_bytes).toBe(65536);
  });
  for (const [what, text, re] of bad) {
    it(`refuses ${what}, naming the key`, async () => {
      const f = await configFile(`bad-${what.replace(/\W+/g, '-')}.toml`, text);
      expect(() => loadConfig(f)).toThrow(ConfigError);
      expect(() => loadConfig(f)).toThrow(re);
    });
  }

  it('the CLI exits 1 with the key named on stderr', async () => {
    const f = await configFile('cli-bad.toml', '[admin]\nlisten = 8025\n');
    const r = await roost(['user', 'list', '--config', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/admin\.listen/);
  });

  it('`roost serve` from the checkout refuses a bad config before listening (exit 1, key named)', async () => {
    const f = await configFile('serve-bad.toml', `data_dir = "${dir}/never"\n[qmqp]\nover_quota = "sometimes"\n`);
    const r = await roostProcess(['serve', '--config', f]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/qmqp\.over_quota/);
    const viaEnv = await roostProcess(['serve'], { env: { ROOST_CONFIG: f } });
    expect(viaEnv.code).toBe(1);
    expect(viaEnv.stderr).toMatch(/qmqp\.over_quota/);
  });

  it('`roost serve` with a configured listener that cannot start stops with its error (exit 1), not without that listener', async () => {
    const taken = net.createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const port = (taken.address() as net.AddressInfo).port;
    try {
      const f = await configFile(
        'serve-taken.toml',
        [
          `data_dir = "${dir}/taken"`,
          '[log]\nlevel = "error"',
          `[imap]\nlisten = "127.0.0.1:${port}"\ntls_listen = ""`,
          '[pop3]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
          '[qmqp]\nlisten = "127.0.0.1:0"',
          '[lmtp]\nlisten = "127.0.0.1:0"',
          '[admin]\nlisten = "127.0.0.1:0"',
          '[replication]\nlisten = ""',
        ].join('\n') + '\n',
      );
      const r = await roostProcess(['serve', '--config', f]);
      expect(r.code).toBe(1);
      expect(r.stdout + r.stderr).toMatch(new RegExp(`EADDRINUSE.*${port}|${port}.*EADDRINUSE`));
    } finally {
      taken.close();
    }
  });

  it('a missing config file is an error naming --config', async () => {
    const r = await roost(['user', 'list', '--config', path.join(dir, 'nope.toml')]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/--config: cannot read/);
  });
});
