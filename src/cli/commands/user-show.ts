/**
 * `roost user show ADDRESS`: what Roost resolves for a recipient address with
 * the configured directory (embedded or LDAP) — the account, its Maildir,
 * quota, size limit and status, or the QMQP answer it would give. Useful when
 * debugging a directory entry. Exit 0 found, 1 refused (D), 75 deferred (Z)
 * or directory unavailable.
 */
import type { Directory, RecipientResult } from '../../accounts/directory.js';
import type { Config } from '../../config/schema.js';
import { pino } from 'pino';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { openEmbeddedDirectory } from '../local.js';

async function openConfiguredDirectory(config: Config, stderr: NodeJS.WritableStream): Promise<Directory> {
  if (config.directory.backend === 'ldap') {
    const { createLdapDirectory } = await import('../../accounts/ldap.js');
    // Warnings (directory unreachable, refused entries) go to stderr; stdout is the answer.
    return createLdapDirectory(config, pino({ level: 'warn' }, stderr));
  }
  return openEmbeddedDirectory(config);
}

function describe(address: string, r: RecipientResult): string {
  if (r.kind === 'rejected') return `${address}: refused (QMQP D): ${r.text}\n`;
  if (r.kind === 'deferred') return `${address}: deferred (QMQP Z): ${r.text}\n`;
  const a = r.account;
  const limit = (n: number) => (n === 0 ? 'unlimited' : String(n));
  return [
    `address:          ${address}`,
    `account id:       ${a.id}`,
    `primary address:  ${a.address}`,
    `login:            ${a.login}`,
    `maildir:          ${a.maildir}`,
    `quota bytes:      ${limit(a.quotaBytes)}`,
    `quota messages:   ${limit(a.quotaMessages)}`,
    `max message size: ${limit(a.maxMessageSize)}`,
    `status:           ${a.status}`,
    `local copy:       ${a.delivery?.local === false ? 'no' : 'yes'}`,
    `forwards:         ${a.delivery?.forwards.length ? a.delivery.forwards.join(', ') : 'none'}`,
    `vacation reply:   ${a.delivery?.replyText !== undefined ? 'on' : 'off'}`,
    '',
  ].join('\n');
}

export const userShow: CliCommand = {
  path: ['user', 'show'],
  summary: 'show what the directory resolves for an address (works with the LDAP backend too)',
  args: ['<address>'],
  async run(cli, args) {
    const address = args[0];
    if (typeof address !== 'string' || address.trim() === '') throw new UsageError('an address is required');
    const dir = await openConfiguredDirectory(cli.config(), cli.stderr);
    try {
      const r = await dir.lookupRecipient(address);
      cli.stdout.write(describe(address, r));
      return r.kind === 'found' ? EXIT.OK : r.kind === 'rejected' ? EXIT.FAILURE : EXIT.TEMPFAIL;
    } finally {
      await dir.close();
    }
  },
};
