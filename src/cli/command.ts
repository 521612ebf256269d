/**
 * The shape of a `roost` command (one module per command,
 * declared in one table — src/cli/commands/index.ts). main.ts turns the table
 * into commander commands; a command module only parses its typed arguments
 * and does its work.
 */
import type { Readable, Writable } from 'node:stream';
import type { Config } from '../config/schema.js';

/** Exit codes of the operator contract, as mail tools expect (sysexits.h). */
export const EXIT = {
  OK: 0,
  FAILURE: 1,
  USAGE: 2,
  /** EX_TEMPFAIL: try again later (MTAs requeue on 75). */
  TEMPFAIL: 75,
} as const;
export type ExitCode = number;

/** Wrong arguments: exit 2 with the message. */
export class UsageError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UsageError';
  }
}

export interface CliIO {
  stdin: Readable & { isTTY?: boolean };
  stdout: Writable;
  stderr: Writable;
}

export interface CliContext extends CliIO {
  /** The configuration from --config / ROOST_CONFIG (loaded on first use; a ConfigError exits 1 naming the key). */
  config(): Config;
  /** The --config value given, if any. */
  readonly configFile: string | undefined;
}

export interface CliOption {
  /** commander flags, e.g. '--quota <size>'. */
  flags: string;
  description: string;
}

export interface CliCommand {
  /** Words after `roost`, e.g. ['user', 'add']. */
  path: readonly string[];
  summary: string;
  /** commander argument syntax: '<address>', '[file]', '<addresses...>'. */
  args?: readonly string[];
  options?: readonly CliOption[];
  /** `args` as commander parsed them (a variadic one is an array), `opts` by option name. */
  run(cli: CliContext, args: readonly unknown[], opts: Record<string, unknown>): Promise<ExitCode>;
}

/** Parse "100M", "2G", "512K", "1048576" into bytes (powers of 1024, as Maildir++ quotas are given). */
export function parseSize(value: string, what: string): number {
  const m = /^(\d+)\s*([KMGT]?)B?$/i.exec(value.trim());
  if (!m) throw new UsageError(`${what}: expected a size like 500M or 2G, got ${JSON.stringify(value)}`);
  const mult = { '': 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3, T: 1024 ** 4 }[m[2]!.toUpperCase() as '' | 'K' | 'M' | 'G' | 'T'];
  const n = Number(m[1]) * mult;
  if (!Number.isSafeInteger(n)) throw new UsageError(`${what}: ${value} is too large`);
  return n;
}

export function parseCount(value: string, what: string): number {
  if (!/^\d+$/.test(value.trim())) throw new UsageError(`${what}: expected a whole number, got ${JSON.stringify(value)}`);
  return Number(value);
}

/** Read the first line of a stream (`--password-stdin`), without the line end. */
export async function readFirstLine(stream: Readable, limit = 4096): Promise<string> {
  let buf = '';
  for await (const chunk of stream) {
    buf += (chunk as Buffer).toString('utf8');
    const nl = buf.search(/\r?\n/);
    if (nl >= 0) return buf.slice(0, nl);
    if (buf.length > limit) throw new UsageError('password line too long');
  }
  return buf;
}
