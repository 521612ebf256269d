/**
 * `roost status [--json]`: what the running node reports on its control
 * socket — role, epoch, LSN, replica lag, sync/degraded (fields added by the
 * modules that own them, e.g. src/replication under "replication").
 */
import { EXIT, type CliCommand } from '../command.js';
import { controlRequest, controlSocketPath } from '../control-client.js';
import { failFromControl } from '../control-errors.js';

function flatten(prefix: string, v: unknown, out: string[]): void {
  if (v !== null && typeof v === 'object' && !Array.isArray(v)) {
    for (const [k, x] of Object.entries(v)) flatten(prefix ? `${prefix}.${k}` : k, x, out);
  } else out.push(`${prefix}: ${Array.isArray(v) ? v.join(', ') : String(v)}`);
}

export const status: CliCommand = {
  path: ['status'],
  summary: 'show role, epoch, LSN, replica lag and sync state of the running node',
  options: [{ flags: '--json', description: 'print JSON' }],
  async run(cli, _args, opts) {
    const result = failFromControl(await controlRequest(controlSocketPath(cli.config()), 'status'));
    if (opts.json) cli.stdout.write(`${JSON.stringify(result)}\n`);
    else {
      const lines: string[] = [];
      flatten('', result, lines);
      cli.stdout.write(`${lines.join('\n')}\n`);
    }
    return EXIT.OK;
  },
};
