/**
 * `roost demote`: planned switchover. The running primary closes its client
 * ports after in-flight work, gives its replica a bounded moment to take the
 * last records, and follows its peer as a replica. Already replica: exit 0.
 */
import { EXIT, type CliCommand } from '../command.js';
import { controlRequest, controlSocketPath } from '../control-client.js';
import { failFromControl } from '../control-errors.js';

interface RoleResult {
  role: string;
  epoch: number;
  changed: boolean;
}

export const demote: CliCommand = {
  path: ['demote'],
  summary: 'make this primary a replica (closes client ports after in-flight work)',
  options: [{ flags: '--json', description: 'print JSON' }],
  async run(cli, _args, opts) {
    const result = failFromControl(await controlRequest(controlSocketPath(cli.config()), 'demote')) as RoleResult;
    if (opts.json) cli.stdout.write(`${JSON.stringify(result)}\n`);
    else cli.stdout.write(result.changed ? `demoted: replica at epoch ${result.epoch}\n` : `already replica at epoch ${result.epoch}\n`);
    return EXIT.OK;
  },
};
