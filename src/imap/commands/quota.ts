/**
 * QUOTA (RFC 9208). One quota root per account, named "" (§3.1 lets a
 * server pick the roots; every mailbox of the account shares the
 * Maildir++ quota). Resources: STORAGE in units of 1024 octets (§5.1,
 * rounded up) and MESSAGE (§5.2), each only when the account has a limit
 * (0 = unlimited, no resource to report). SETQUOTA is refused: limits come
 * from the directory (QUOTASET is not advertised, §4.3).
 * APPEND/COPY/MOVE beyond the quota answer NO [OVERQUOTA] through the
 * store's OVERQUOTA error (responses.ts).
 */
import type { QuotaUsage } from '../../store/types.js';
import type { CommandOf } from '../wire/types.js';
import { mailboxValue, untagged } from '../wire/encoder.js';
import { checkName } from '../names.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { no, ok } from '../command.js';

const ROOT = '""';

function quotaLine(q: QuotaUsage): string {
  const res: string[] = [];
  if (q.limitBytes > 0) res.push(`STORAGE ${Math.ceil(q.bytes / 1024)} ${Math.floor(q.limitBytes / 1024)}`);
  if (q.limitMessages > 0) res.push(`MESSAGE ${q.messages} ${q.limitMessages}`);
  return `* QUOTA ${ROOT} (${res.join(' ')})\r\n`;
}

export async function getQuotaCommand(env: CommandEnv, cmd: CommandOf<'GETQUOTA'>): Promise<CommandResult> {
  if (cmd.args.root !== '') return no('No such quota root', { name: 'NONEXISTENT' });
  env.s.out.push(quotaLine(await env.s.user.quota()));
  return ok('Getquota completed');
}

export async function getQuotaRootCommand(env: CommandEnv, cmd: CommandOf<'GETQUOTAROOT'>): Promise<CommandResult> {
  const name = checkName(cmd.args.mailbox);
  const user = env.s.user;
  // A missing mailbox answers NO [NONEXISTENT] through the store's NOTFOUND.
  await user.status(name);
  env.s.out.push(untagged({ kind: 'atom', value: 'QUOTAROOT' }, mailboxValue(name), ''));
  env.s.out.push(quotaLine(await user.quota()));
  return ok('Getquotaroot completed');
}

export async function setQuotaCommand(): Promise<CommandResult> {
  return no('Quota limits are set by the account directory', { name: 'NOPERM' });
}
