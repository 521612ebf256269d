/**
 * `roost promote [--force]`: make the running replica the primary (README
 * "Failover"). The node bumps its epoch durably, opens the
 * QMQP/IMAP/POP3 ports and answers once it serves; exit 0 then. It refuses
 * when it knows it is behind what the old primary acknowledged, unless
 * --force. Already primary: exit 0 (cluster managers retry; start is idempotent).
 */
import { EXIT, type CliCommand } from '../command.js';
import { controlRequest, controlSocketPath } from '../control-client.js';
import { failFromControl } from '../control-errors.js';

interface RoleResult {
  role: string;
  epoch: number;
  changed: boolean;
}

export const promote: CliCommand = {
  path: ['promote'],
  summary: 'make this replica the primary (bumps the epoch, opens client ports)',
  options: [
    { flags: '--force', description: 'promote even when this node knows it is behind the old primary' },
    { flags: '--json', description: 'print JSON' },
  ],
  async run(cli, _args, opts) {
    const result = failFromControl(await controlRequest(controlSocketPath(cli.config()), 'promote', { force: opts.force === true })) as RoleResult;
    if (opts.json) cli.stdout.write(`${JSON.stringify(result)}\n`);
    else cli.stdout.write(result.changed ? `promoted: primary at epoch ${result.epoch}\n` : `already primary at epoch ${result.epoch}\n`);
    return EXIT.OK;
  },
};
