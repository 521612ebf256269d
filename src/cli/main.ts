/**
 * `roost`: builds the commander program from the command table and maps every
 * outcome to the exit codes of the operator contract, in one place:
 * 0 ok, 1 failure (message on stderr), 2 usage, 75 temporary failure.
 */
import { Command, CommanderError } from 'commander';
import { ConfigError, loadConfig } from '../config/load.js';
import { usePrivateUmask } from '../config/file-modes.js';
import type { Config } from '../config/schema.js';
import { isRoostError } from '../errors.js';
import { initLogger } from '../log/logger.js';
import { EXIT, UsageError, type CliCommand, type CliContext, type CliIO, type ExitCode } from './command.js';
import { COMMANDS } from './commands/index.js';
import { NodeNotRunning } from './control-client.js';

/** THE mapping from a failure to an exit code and a message. */
export function exitCodeFor(err: unknown): ExitCode {
  if (err instanceof UsageError) return EXIT.USAGE;
  if (err instanceof ConfigError) return EXIT.FAILURE;
  if (err instanceof NodeNotRunning) return EXIT.FAILURE;
  if (isRoostError(err)) {
    switch (err.code) {
      case 'TEMP':
      case 'UNAVAILABLE':
      case 'INUSE':
        return EXIT.TEMPFAIL;
      default:
        return EXIT.FAILURE;
    }
  }
  return EXIT.FAILURE;
}

function buildProgram(io: CliIO, done: (p: Promise<ExitCode>) => void): Command {
  const program = new Command('roost')
    .description('Roost mailbox server: IMAP, POP3, QMQP delivery, hot standby')
    .option('-c, --config <file>', 'TOML config file (default: $ROOST_CONFIG, else built-in defaults)')
    .exitOverride()
    .configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) })
    .showHelpAfterError(false);

  const groups = new Map<string, Command>([['', program]]);
  const groupFor = (words: readonly string[]): Command => {
    const key = words.join(' ');
    const found = groups.get(key);
    if (found) return found;
    const parent = groupFor(words.slice(0, -1));
    const cmd = parent.command(words[words.length - 1]!).exitOverride();
    cmd.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
    groups.set(key, cmd);
    return cmd;
  };

  for (const spec of COMMANDS) addCommand(groupFor(spec.path.slice(0, -1)), spec, io, program, done);
  return program;
}

function addCommand(parent: Command, spec: CliCommand, io: CliIO, program: Command, done: (p: Promise<ExitCode>) => void): void {
  const cmd = parent.command(spec.path[spec.path.length - 1]!).description(spec.summary).exitOverride();
  cmd.configureOutput({ writeOut: (s) => io.stdout.write(s), writeErr: (s) => io.stderr.write(s) });
  for (const a of spec.args ?? []) cmd.argument(a);
  for (const o of spec.options ?? []) cmd.option(o.flags, o.description);
  cmd.option('-c, --config <file>', 'TOML config file');
  cmd.action((...params: unknown[]) => {
    // commander passes the declared arguments, then the options object, then the command.
    const n = spec.args?.length ?? 0;
    const args = params.slice(0, n);
    const opts = (params[n] ?? {}) as Record<string, unknown>;
    const configFile = (opts.config as string | undefined) ?? (program.opts().config as string | undefined);
    let loaded: Config | null = null;
    const cli: CliContext = {
      ...io,
      configFile,
      config: () => (loaded ??= loadConfig(configFile ?? null)),
    };
    done(spec.run(cli, args, opts));
  });
}

/** Run the CLI with `argv` (without node and script); resolves with the exit code. Never throws. */
export async function runCli(argv: readonly string[], io: CliIO): Promise<ExitCode> {
  // Whatever a command creates in data_dir (accounts.sqlite by `user add`, a spool file by `deliver`) is private.
  usePrivateUmask();
  let running: Promise<ExitCode> | null = null;
  const program = buildProgram(io, (p) => {
    running = p;
  });
  try {
    await program.parseAsync([...argv], { from: 'user' });
    if (!running) {
      io.stderr.write('roost: missing command (see roost --help)\n');
      return EXIT.USAGE;
    }
    return await (running as Promise<ExitCode>);
  } catch (err) {
    if (err instanceof CommanderError) {
      // --help and --version are not errors; everything else commander rejects is usage.
      return err.exitCode === 0 ? EXIT.OK : EXIT.USAGE;
    }
    const code = exitCodeFor(err);
    io.stderr.write(`roost: ${(err as Error)?.message ?? String(err)}\n`);
    return code;
  }
}

const isMain = import.meta.url.endsWith('/cli/main.js') && /(?:main\.js|roost)$/.test(process.argv[1] ?? '');
if (isMain) {
  // Only `serve` logs to stdout (JSON lines for the log collector); other commands keep stdout for
  // their output (`user list --json`, `status --json`) and log warnings to stderr.
  if (process.argv[2] !== 'serve') initLogger('warn', process.stderr);
  const code = await runCli(process.argv.slice(2), { stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
  // Exit once stdout has drained (piped output of `user list`, `status --json`); an open stdin must not keep us alive.
  process.stdout.write('', () => process.exit(code));
}
