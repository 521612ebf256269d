/**
 * `roost deliver [-f SENDER] ADDRESS… < message`: final delivery like an MDA
 * (exit 0 delivered, 75 try again later, 1 refused), through the same
 * function as QMQP. With a node running on this data directory the message
 * is streamed to it over the control socket (one writer per store); without
 * one, the store is opened here.
 */
import { logger } from '../../log/logger.js';
import { deliverStream } from '../../delivery/deliver.js';
import type { Verdict } from '../../delivery/verdict.js';
import { EXIT, UsageError, type CliCommand, type CliContext } from '../command.js';
import { controlRequest, controlSocketPath, NodeNotRunning } from '../control-client.js';

async function viaNode(cli: CliContext, sender: string, recipients: string[]): Promise<Verdict | null> {
  try {
    const r = await controlRequest(controlSocketPath(cli.config()), 'deliver', { sender, recipients }, { body: cli.stdin });
    if (!r.ok) return r.error.code === 'LIMIT' ? { code: 'D', text: r.error.message, reason: 'limit' } : { code: 'Z', text: r.error.message, reason: 'temporary' };
    return r.result as Verdict;
  } catch (err) {
    if (err instanceof NodeNotRunning) return null;
    throw err;
  }
}

async function inProcess(cli: CliContext, sender: string, recipients: string[]): Promise<Verdict> {
  const config = cli.config();
  const { openStore } = await import('../../store/open.js');
  const { openDirectory } = await import('../../node.js');
  const log = logger().child({ component: 'deliver' });
  const directory = await openDirectory(config, log);
  try {
    const store = await openStore({ dataDir: config.paths.dataDir, mailDir: config.paths.mailDir, hostname: config.hostname });
    try {
      // This process is the delivering node here: its own one Outbound and PrimaryFinder, as src/node.ts makes them.
      const { Outbound } = await import('../../outbound/handoff.js');
      const { PrimaryFinder } = await import('../../proxy/pairs.js');
      const outbound = new Outbound(config.outbound, config.hostname, log.child({ component: 'outbound' }));
      const primaries = new PrimaryFinder(log);
      const ctx = { config, log, store, directory, outbound, primaries, replication: { waitFor: async () => undefined, writable: true } };
      return await deliverStream(ctx, cli.stdin, { sender, recipients, via: 'local' });
    } finally {
      await store.close();
    }
  } finally {
    await directory.close();
  }
}

export const deliver: CliCommand = {
  path: ['deliver'],
  summary: 'deliver the message on stdin to local mailboxes (exit 0 ok, 75 temporary, 1 permanent)',
  args: ['<addresses...>'],
  options: [{ flags: '-f, --from <sender>', description: 'envelope sender (default: empty)' }],
  async run(cli, args, opts) {
    const recipients = (args[0] as string[] | undefined) ?? [];
    if (recipients.length === 0) throw new UsageError('at least one recipient address is required');
    const sender = typeof opts.from === 'string' ? opts.from : '';
    const verdict = (await viaNode(cli, sender, recipients)) ?? (await inProcess(cli, sender, recipients));
    if (verdict.code === 'K') return EXIT.OK;
    cli.stderr.write(`roost deliver: ${verdict.text}\n`);
    return verdict.code === 'Z' ? EXIT.TEMPFAIL : EXIT.FAILURE;
  },
};
