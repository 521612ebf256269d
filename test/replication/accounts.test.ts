/**
 * Embedded-directory changes in the replication stream ("account
 * changes (users, aliases, passwords)"). Two spawned nodes; `roost user …` as
 * real processes on the primary (through its control socket), one made while
 * the primary was not yet running (journaled by the CLI itself), one user that
 * existed before any journal (seeded). The replica's `roost user list` shows
 * the same accounts; after SIGKILL of the primary and `roost promote`, POP3
 * logins take the new password, mail to the alias arrives, the deleted user
 * is gone, and the old primary rejoins and receives a user made on the new one.
 */
import { readdir } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { openSqliteDirectory } from '../../src/accounts/sqlite.js';
import { roostProcess, type CliRun } from '../helpers/cli.js';
import { writeTestConfig } from '../helpers/spawn.js';
import { Pair, ports, qmqpSend, replStatus, testMessage, waitUntil, type PairNode } from './pair.js';

let pair: Pair | null = null;
afterAll(async () => {
  await pair?.cleanup();
});

const cli = (n: PairNode, args: string[], stdin = ''): Promise<CliRun> =>
  roostProcess([...args, '--config', path.join(n.dataDir, 'roost.toml')], { stdin });

type Listed = { address: string; status: string; quotaBytes: number; aliases: string[]; hasPassword: boolean };

async function userList(n: PairNode): Promise<Listed[]> {
  const r = await cli(n, ['user', 'list', '--json']);
  if (r.code !== 0) throw new Error(`user list: ${r.stderr}`);
  return (JSON.parse(r.stdout) as Listed[]).map(({ address, status, quotaBytes, aliases, hasPassword }) => ({ address, status, quotaBytes, aliases, hasPassword }));
}

/** POP3 USER/PASS (RFC 1939 §7), then STAT: the message count, or the -ERR line of a refused login. */
async function pop3Login(port: number, user: string, pass: string): Promise<number | string> {
  const s = net.connect({ host: '127.0.0.1', port });
  let buf = '';
  const waiters: ((line: string) => void)[] = [];
  s.on('data', (c: Buffer) => {
    buf += c.toString('latin1');
    for (let i = buf.indexOf('\r\n'); i >= 0; i = buf.indexOf('\r\n')) {
      const line = buf.slice(0, i);
      buf = buf.slice(i + 2);
      waiters.shift()?.(line);
    }
  });
  s.on('error', () => undefined);
  const timer = setTimeout(() => s.destroy(), 10_000);
  const next = (): Promise<string> => new Promise((r) => waiters.push(r));
  const cmd = (c: string): Promise<string> => {
    const p = next();
    s.write(`${c}\r\n`);
    return p;
  };
  try {
    await next();
    await cmd(`USER ${user}`);
    const pass_ = await cmd(`PASS ${pass}`);
    if (!pass_.startsWith('+OK')) return pass_;
    const stat = await cmd('STAT');
    await cmd('QUIT');
    return Number(/^\+OK (\d+)/.exec(stat)?.[1] ?? -1);
  } finally {
    clearTimeout(timer);
    s.destroy();
  }
}

describe('embedded directory replication', () => {
  it('user add/passwd/alias/del on the primary reach the replica and survive failover', async () => {
    // degrade: after the failover the new primary has no replica until the old one rejoins.
    pair = await Pair.create({ ack: 'sync', syncTimeoutMs: 1500, onSyncTimeout: 'degrade', users: ['alice@example.org'] });
    const { a, b } = pair;
    // A user that existed before the journal knew about directories: seeded at the primary's start.
    const dirA = openSqliteDirectory(a.dataDir, path.join(a.dataDir, 'mail'));
    await dirA.addUser({ address: 'old@example.org', password: 'pw-old' });
    await dirA.close();
    // Made by the CLI while no node runs: journaled by the CLI process itself.
    await writeTestConfig(a.dataDir, a.overrides);
    const early = await cli(a, ['user', 'add', 'early@example.org', '--password-stdin'], 'pw-early\n');
    expect(early.code, early.stderr).toBe(0);

    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(b)).replication.connected);

    const steps: [string[], string][] = [
      [['user', 'add', 'carol@example.org', '--password-stdin', '--quota', '5M'], 'carol-1\n'],
      [['user', 'alias', 'add', 'info@example.org', 'carol@example.org'], ''],
      [['user', 'add', 'dave@example.org', '--password-stdin'], 'dave-1\n'],
      [['user', 'passwd', 'carol@example.org', '--password-stdin'], 'carol-2\n'],
      [['user', 'del', 'dave@example.org'], ''],
    ];
    for (const [args, stdin] of steps) {
      const r = await cli(a, args, stdin);
      expect(r.code, `${args.join(' ')}: ${r.stderr}`).toBe(0);
    }
    // A replica refuses changes: they would fork its directory from the primary's.
    const refused = await cli(b, ['user', 'add', 'x@example.org']);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/replica/);

    const want = await userList(a);
    expect(want.map((u) => u.address)).toEqual(['alice@example.org', 'carol@example.org', 'early@example.org', 'old@example.org']);
    expect(want.find((u) => u.address === 'carol@example.org')).toMatchObject({ quotaBytes: 5 * 1024 * 1024, aliases: ['info@example.org'], hasPassword: true });
    await waitUntil('replica directory equal', async () => JSON.stringify(await userList(b)) === JSON.stringify(want), 15_000);

    // Mail to the alias, acknowledged in sync mode (so the replica has it too).
    const qa = (await ports(a)).qmqp!;
    expect(await qmqpSend(qa, testMessage(1, 'alias'), 's@example.net', ['info@example.org'])).toMatch(/^K/);

    // Accounts the replica knows but that have no mail yet do not make the stores differ.
    const verify = await cli(a, ['verify']);
    expect(verify.code, verify.stdout + verify.stderr).toBe(0);

    await pair.kill(a, 'SIGKILL');
    const promoted = await cli(b, ['promote']);
    expect(promoted.code, promoted.stderr).toBe(0);
    const pb = await ports(b);
    expect(await pop3Login(pb.pop3!, 'carol@example.org', 'carol-2')).toBe(1);
    expect(await pop3Login(pb.pop3!, 'carol@example.org', 'carol-1')).toMatch(/^-ERR/);
    expect(await pop3Login(pb.pop3!, 'dave@example.org', 'dave-1')).toMatch(/^-ERR/);
    expect(await pop3Login(pb.pop3!, 'old@example.org', 'pw-old')).toBe(0);
    expect(await pop3Login(pb.pop3!, 'early@example.org', 'pw-early')).toBe(0);
    expect(await qmqpSend(pb.qmqp!, testMessage(2, 'alias'), 's@example.net', ['info@example.org'])).toMatch(/^K/);
    expect(await qmqpSend(pb.qmqp!, testMessage(3, 'gone'), 's@example.net', ['dave@example.org'])).toMatch(/^D/);
    expect(await pop3Login(pb.pop3!, 'carol@example.org', 'carol-2')).toBe(2);
    // Both copies live under the promoted node's own mail_dir (its directory's path, not the old primary's).
    const own = path.join(b.dataDir, 'mail', 'example.org', 'carol', 'Maildir');
    const files = [...(await readdir(path.join(own, 'new'))), ...(await readdir(path.join(own, 'cur')))];
    expect(files).toHaveLength(2);

    // The new primary takes changes; the old one rejoins as its replica and gets them.
    const erin = await cli(b, ['user', 'add', 'erin@example.org', '--password-stdin'], 'pw-erin\n');
    expect(erin.code, erin.stderr).toBe(0);
    await pair.start(a);
    const after = await userList(b);
    expect(after.map((u) => u.address)).toContain('erin@example.org');
    await waitUntil('old primary directory equal', async () => JSON.stringify(await userList(a)) === JSON.stringify(after), 20_000);
  }, 90_000);
});
