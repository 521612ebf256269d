/** `roost reindex ADDRESS`: rebuild an account's index from its Maildir (in the node when one runs). */
import { RoostError } from '../../errors.js';
import { logger } from '../../log/logger.js';
import { EXIT, type CliCommand, type CliContext } from '../command.js';
import { controlRequest, controlSocketPath, NodeNotRunning } from '../control-client.js';
import { failFromControl } from '../control-errors.js';

type Result = { mailboxes: number; messages: number };

async function inProcess(cli: CliContext, address: string): Promise<Result> {
  const config = cli.config();
  const { openStore } = await import('../../store/store.js');
  const { openDirectory } = await import('../../node.js');
  const directory = await openDirectory(config, logger());
  try {
    const r = await directory.lookupRecipient(address);
    if (r.kind !== 'found') throw new RoostError('NOTFOUND', `no account for ${address}`);
    const store = await openStore({ dataDir: config.paths.dataDir, mailDir: config.paths.mailDir, hostname: config.hostname });
    try {
      return await store.reindex(r.account);
    } finally {
      await store.close();
    }
  } finally {
    await directory.close();
  }
}

/**
 * Rebuild an account's index: through the running node's control socket when
 * a node runs (one writer per store), else with the store opened here.
 * `roost import` uses it after copying a Maildir in.
 */
export async function reindexAccount(cli: CliContext, address: string): Promise<Result> {
  try {
    return failFromControl(await controlRequest(controlSocketPath(cli.config()), 'reindex', { address })) as Result;
  } catch (err) {
    if (!(err instanceof NodeNotRunning)) throw err;
  }
  return inProcess(cli, address);
}

export const reindex: CliCommand = {
  path: ['reindex'],
  summary: "rebuild an account's index from its Maildir (keeps UIDs from dovecot-uidlist/courierimapuiddb)",
  args: ['<address>'],
  async run(cli, args) {
    const address = String(args[0]);
    const result = await reindexAccount(cli, address);
    cli.stdout.write(`reindexed ${address}: ${result.mailboxes} mailboxes, ${result.messages} messages\n`);
    return EXIT.OK;
  },
};
