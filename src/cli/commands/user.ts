/**
 * `roost user add|del|passwd|list` and `roost user alias add` on the embedded
 * directory. Changes are journaled so replication carries them
 * (src/accounts/journaled.ts): with a node running on this data directory
 * they go over its control socket (one journal writer per node, as for
 * `roost deliver`); without one the store is opened here. A replica refuses
 * them (make them on the primary; they reach the replica in the stream).
 */
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { JournaledDirectory, type UserOp } from '../../accounts/journaled.js';
import { RoostError } from '../../errors.js';
import { EXIT, parseCount, parseSize, readFirstLine, UsageError, type CliCommand, type CliContext } from '../command.js';
import { controlRequest, controlSocketPath, NodeNotRunning } from '../control-client.js';
import { failFromControl } from '../control-errors.js';
import { openEmbeddedDirectory } from '../local.js';

type ChangeResult = { address: string; maildir?: string };

/** Make a directory change through the running node, or in this process when none runs. */
export async function change(cli: CliContext, op: UserOp): Promise<ChangeResult> {
  const config = cli.config();
  await openEmbeddedDirectory(config).close(); // refuses a non-sqlite backend as a usage error
  try {
    return failFromControl(await controlRequest(controlSocketPath(config), 'user', op)) as ChangeResult;
  } catch (err) {
    if (!(err instanceof NodeNotRunning)) throw err;
  }
  const state = await readFile(path.join(config.paths.dataDir, 'replication.json'), 'utf8').catch(() => null);
  if (state !== null && (JSON.parse(state) as { role?: string }).role === 'replica')
    throw new RoostError('NOTPRIMARY', 'this data directory belongs to a replica: change accounts on the primary');
  const { openStore } = await import('../../store/open.js');
  const store = await openStore({ dataDir: config.paths.dataDir, mailDir: config.paths.mailDir, hostname: config.hostname });
  try {
    const dir = openEmbeddedDirectory(config);
    try {
      const journaled = new JournaledDirectory(dir, store);
      await journaled.catchUp();
      await journaled.seed();
      return await journaled.run(op);
    } finally {
      await dir.close();
    }
  } finally {
    await store.close();
  }
}

export const address = (v: unknown): string => {
  if (typeof v !== 'string' || v.trim() === '') throw new UsageError('an address is required');
  return v;
};

async function passwordFrom(cli: Parameters<CliCommand['run']>[0]): Promise<string> {
  const pw = await readFirstLine(cli.stdin);
  if (pw === '') throw new UsageError('empty password on stdin');
  return pw;
}

export const userAdd: CliCommand = {
  path: ['user', 'add'],
  summary: 'create a mailbox account',
  args: ['<address>'],
  options: [
    { flags: '--password-stdin', description: 'read the password from the first line of stdin' },
    { flags: '--quota <size>', description: 'Maildir++ quota in bytes (suffix K, M, G); 0 = unlimited' },
    { flags: '--quota-messages <n>', description: 'Maildir++ message count limit; 0 = unlimited' },
  ],
  async run(cli, args, opts) {
    const addr = address(args[0]);
    const quotaBytes = opts.quota !== undefined ? parseSize(String(opts.quota), '--quota') : 0;
    const quotaMessages = opts.quotaMessages !== undefined ? parseCount(String(opts.quotaMessages), '--quota-messages') : 0;
    const password = opts.passwordStdin ? await passwordFrom(cli) : undefined;
    const account = await change(cli, { op: 'add', address: addr, ...(password !== undefined ? { password } : {}), quotaBytes, quotaMessages });
    cli.stdout.write(`added ${account.address} (Maildir ${account.maildir ?? '?'})\n`);
    if (password === undefined) cli.stdout.write('no password set: use `roost user passwd` before the user logs in\n');
    return EXIT.OK;
  },
};

export const userDel: CliCommand = {
  path: ['user', 'del'],
  summary: 'delete an account and its aliases (the Maildir stays on disk)',
  args: ['<address>'],
  async run(cli, args) {
    await change(cli, { op: 'del', address: address(args[0]) });
    cli.stdout.write(`deleted ${String(args[0]).toLowerCase()}\n`);
    return EXIT.OK;
  },
};

export const userPasswd: CliCommand = {
  path: ['user', 'passwd'],
  summary: "set an account's password (first line of stdin)",
  args: ['<address>'],
  options: [{ flags: '--password-stdin', description: 'read the password from stdin (the default)' }],
  async run(cli, args) {
    const addr = address(args[0]);
    const password = await passwordFrom(cli);
    await change(cli, { op: 'passwd', address: addr, password });
    cli.stdout.write(`password set for ${addr.toLowerCase()}\n`);
    return EXIT.OK;
  },
};

export const userUidl: CliCommand = {
  path: ['user', 'uidl'],
  summary: "set an account's POP3 UIDL form (pop3.uidl_format syntax, e.g. %08Xu%08Xv); \"\" = the config's",
  args: ['<address>', '<format>'],
  async run(cli, args) {
    const addr = address(args[0]);
    const format = typeof args[1] === 'string' ? args[1] : '';
    await change(cli, { op: 'uidl', address: addr, format });
    cli.stdout.write(format ? `uidl format of ${addr.toLowerCase()} is ${format}\n` : `uidl format of ${addr.toLowerCase()} follows pop3.uidl_format\n`);
    return EXIT.OK;
  },
};

export const userList: CliCommand = {
  path: ['user', 'list'],
  summary: 'list accounts with status, quota and aliases',
  options: [{ flags: '--json', description: 'print JSON' }],
  async run(cli, _args, opts) {
    const dir = openEmbeddedDirectory(cli.config());
    try {
      const users = await dir.listUsers();
      if (opts.json) {
        cli.stdout.write(`${JSON.stringify(users.map((u) => ({ ...u.account, aliases: u.aliases, hasPassword: u.hasPassword })))}\n`);
      } else {
        for (const u of users) {
          const quota = u.account.quotaBytes ? ` quota=${u.account.quotaBytes}` : '';
          const aliases = u.aliases.length ? ` aliases=${u.aliases.join(',')}` : '';
          const uidl = u.account.uidlFormat ? ` uidl=${u.account.uidlFormat}` : '';
          cli.stdout.write(`${u.account.address} ${u.account.status}${quota}${aliases}${uidl}\n`);
        }
      }
    } finally {
      await dir.close();
    }
    return EXIT.OK;
  },
};

export const aliasAdd: CliCommand = {
  path: ['user', 'alias', 'add'],
  summary: 'deliver mail for ALIAS to ADDRESS (ALIAS "@domain" catches all of a domain)',
  args: ['<alias>', '<address>'],
  async run(cli, args) {
    await change(cli, { op: 'alias-add', alias: address(args[0]), address: address(args[1]) });
    cli.stdout.write(`alias ${String(args[0]).toLowerCase()} -> ${String(args[1]).toLowerCase()}\n`);
    return EXIT.OK;
  },
};
