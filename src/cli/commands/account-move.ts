/**
 * `roost account move ADDRESS --to HOST` and `roost account purge ADDRESS`:
 * the running primary hands the account to another pair's
 * primary (src/replication/move.ts) while it keeps serving, freezes it for
 * the last round, checks the copy as `roost verify` does, and prints the
 * mailHost change the directory needs, or with --update-ldap makes it
 * (directory.ldap.write_bind_dn); should that fail, the move stands, both
 * copies stay, the change is printed and the exit code is 1. Progress on
 * stderr (a line on a TTY, JSON otherwise).
 */
import { EXIT, type CliCommand } from '../command.js';
import { controlRequest, controlSocketPath } from '../control-client.js';
import { failFromControl } from '../control-errors.js';
import { startProgress } from '../progress.js';

interface MoveResult {
  accountId: string;
  peer: string;
  mailHost: string;
  messages: number;
  bytes: number;
  rounds: number;
  freezeMs: number;
  seconds: number;
  report: { identical: boolean; mailboxes: number; messages: number };
  ldap?: { dn?: string; error?: string };
}

function manualChange(address: string, mailHost: string): string {
  return `  ldapmodify <<EOF
  dn: <the entry of ${address}>
  changetype: modify
  replace: mailHost
  mailHost: ${mailHost}
  EOF
`;
}

export const accountMove: CliCommand = {
  path: ['account', 'move'],
  summary: 'copy an account to another pair while it serves, freeze it briefly for the last changes, and print the mailHost change',
  args: ['address'],
  options: [
    { flags: '--to <host>', description: 'a mailHost of [cluster] hosts, or host:port of the destination primary\'s replication listener' },
    { flags: '--mail-host <name>', description: 'the mailHost the entry must name afterwards (default: --to)' },
    { flags: '--update-ldap', description: 'after the final round, replace the entry\'s mailHost (binds as directory.ldap.write_bind_dn)' },
    { flags: '--json', description: 'print JSON' },
  ],
  async run(cli, args, opts) {
    const address = String(args[0]);
    const to = typeof opts.to === 'string' ? opts.to : '';
    if (!to) {
      cli.stderr.write('roost account move: --to HOST is required\n');
      return EXIT.USAGE;
    }
    const progress = startProgress(cli.stderr, 'account move', null);
    let r: MoveResult;
    try {
      const onProgress = (p: Record<string, unknown>): void => progress.update(Number(p.messages ?? 0), Number(p.bytes ?? 0));
      const mailHost = typeof opts.mailHost === 'string' ? opts.mailHost : undefined;
      const updateLdap = opts.updateLdap === true;
      r = failFromControl(await controlRequest(controlSocketPath(cli.config()), 'account-move', { address, to, mailHost, updateLdap }, { timeoutMs: 6 * 3600_000, onProgress })) as MoveResult;
      progress.update(r.messages, r.bytes);
    } finally {
      progress.finish();
    }
    const rate = r.seconds > 0 ? r.messages / r.seconds : r.messages;
    const ldapFailed = r.ldap?.error !== undefined;
    if (opts.json) cli.stdout.write(`${JSON.stringify({ address, ...r, messagesPerSecond: Math.round(rate) })}\n`);
    else {
      cli.stdout.write(
        `moved ${address} to ${r.mailHost} (${r.peer}): ${r.messages} messages, ${r.bytes} bytes in ${r.rounds} rounds, ${r.seconds.toFixed(1)} s (${Math.round(rate)} messages/s); frozen ${r.freezeMs} ms; ${r.report.mailboxes} mailboxes identical\n`,
      );
      if (r.ldap?.dn !== undefined) cli.stdout.write(`changed mailHost of ${r.ldap.dn} to ${r.mailHost}\nThe old copy stays frozen until: roost account purge ${address}\n`);
      else {
        cli.stdout.write(
          `This copy stays frozen (deliveries Z, logins NO [UNAVAILABLE]) until the directory names the new host. Change the entry, e.g.:\n${manualChange(address, r.mailHost)}then remove this copy with: roost account purge ${address}\n`,
        );
      }
    }
    if (ldapFailed) {
      cli.stderr.write(`roost account move: the account is moved (both copies stay), but the directory was not changed: ${r.ldap!.error}\nMake the change by hand:\n${manualChange(address, r.mailHost)}`);
      return EXIT.FAILURE;
    }
    return EXIT.OK;
  },
};

export const accountPurge: CliCommand = {
  path: ['account', 'purge'],
  summary: 'delete the frozen copy of an account that `roost account move` moved away',
  args: ['address'],
  options: [{ flags: '--json', description: 'print JSON' }],
  async run(cli, args, opts) {
    const address = String(args[0]);
    const r = failFromControl(await controlRequest(controlSocketPath(cli.config()), 'account-purge', { address })) as { accountId: string; movedTo: string };
    if (opts.json) cli.stdout.write(`${JSON.stringify({ address, ...r })}\n`);
    else cli.stdout.write(`purged the copy of ${address} (moved to ${r.movedTo})\n`);
    return EXIT.OK;
  },
};
