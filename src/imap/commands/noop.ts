/**
 * NOOP (RFC 3501 §6.1.2) and CHECK (§6.4.1). Both exist for their side
 * effect: the dispatcher sends the selected mailbox's queued changes after
 * every command, so there is nothing else to do. CHECK's "checkpoint" is
 * moot because every store write is durable when it returns.
 */
import type { CommandEnv, CommandResult } from '../command.js';
import { ok } from '../command.js';

export async function noopCommand(_env: CommandEnv): Promise<CommandResult> {
  return ok('NOOP completed');
}

export async function checkCommand(_env: CommandEnv): Promise<CommandResult> {
  return ok('Check completed');
}
