/**
 * `roost secret`: print a newly generated replication key — 32 random bytes
 * in base64url, 43 characters — for `replication.secret` (or a file named by
 * `replication.secret_file`) on both nodes. Reads no config.
 */
import { randomBytes } from 'node:crypto';
import { EXIT, type CliCommand } from '../command.js';

export const secret: CliCommand = {
  path: ['secret'],
  summary: 'print a new random key for replication.secret (set the same one on both nodes)',
  async run(cli) {
    cli.stdout.write(`${randomBytes(32).toString('base64url')}\n`);
    return EXIT.OK;
  },
};
