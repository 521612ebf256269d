/**
 * THE command table. One row per command: the session
 * states it is allowed in, its argument grammar (wire/), whether it takes
 * the UID prefix, how it relates to message sequence numbers, and the
 * module that runs it. The table is also the grammar the wire reader parses
 * by, so a command without a row is unknown (BAD) and a row whose parser and
 * module disagree on the argument type does not compile. Adding a command =
 * its `CommandArgs` entry (wire/types.ts), one module + one row here.
 *
 * Sequence-number effects (Dovecot's COMMAND_FLAG_USES_SEQS / BREAKS_SEQS):
 *  - `usesSeqs`: the command's arguments or answers are message sequence
 *    numbers (FETCH, STORE, SEARCH, COPY, MOVE without UID). RFC 3501 §7.4.1
 *    forbids EXPUNGE responses while it runs; the dispatcher keeps other
 *    sessions' expunges queued until a later command (or IDLE) may carry them.
 *  - `breaksSeqs`: the command itself renumbers (EXPUNGE, CLOSE, MOVE…);
 *    RFC 3501 §5.5 says a client must not pipeline a seq-using command
 *    after it without waiting, and the server must not run them out of order.
 * The dispatcher runs one command at a time per connection and reads the
 * next only when the current one has finished (habit 3), so a pipelined
 * command can never observe a half-applied renumbering; the flags decide
 * which untagged updates may accompany each answer.
 */
import type { Command, CommandName, CommandOf } from './wire/types.js';
import type { CommandEnv, CommandResult, StateKind } from './command.js';
import {
  appendArgs,
  authenticateArgs,
  cancelUpdateArgs,
  compressArgs,
  copyArgs,
  enableArgs,
  expungeArgs,
  idArgs,
  loginArgs,
  mailboxOnly,
  noArgs,
  quotaRootArgs,
  renameArgs,
  setQuotaArgs,
  statusArgs,
  storeArgs,
  type ArgParser,
  type CommandGrammar,
  type CommandSyntax,
} from './wire/parser.js';
import { createArgs, listArgs, listPatternArgs, selectArgs } from './wire/parse-mailbox.js';
import { parseSearchCommand, parseSortCommand, parseThreadCommand } from './wire/parse-search.js';
import { parseFetch } from './wire/parse-fetch.js';
import { parseNotify } from './wire/parse-notify.js';
import { capabilityCommand } from './commands/capability.js';
import { noopCommand, checkCommand } from './commands/noop.js';
import { logoutCommand } from './commands/logout.js';
import { starttlsCommand } from './commands/starttls.js';
import { authenticateCommand } from './commands/authenticate.js';
import { loginCommand } from './commands/login.js';
import { selectCommand } from './commands/select.js';
import { createCommand } from './commands/create.js';
import { deleteCommand } from './commands/delete.js';
import { renameCommand } from './commands/rename.js';
import { subscribeCommand } from './commands/subscribe.js';
import { listCommand, lsubCommand, xlistCommand } from './commands/list.js';
import { statusCommand } from './commands/status.js';
import { appendCommand } from './commands/append.js';
import { closeCommand, unselectCommand } from './commands/close.js';
import { expungeCommand } from './commands/expunge.js';
import { searchCommand } from './commands/search.js';
import { cancelUpdateCommand } from './commands/cancelupdate.js';
import { fetchCommand } from './commands/fetch.js';
import { storeCommand } from './commands/store.js';
import { copyCommand, moveCommand } from './commands/copy-move.js';
import { idleCommand } from './commands/idle.js';
import { namespaceCommand } from './commands/namespace.js';
import { idCommand } from './commands/id.js';
import { enableCommand } from './commands/enable.js';
import { sortCommand } from './commands/sort.js';
import { threadCommand } from './commands/thread.js';
import { compressCommand } from './commands/compress.js';
import { notifyCommand } from './commands/notify.js';
import { getQuotaCommand, getQuotaRootCommand, setQuotaCommand } from './commands/quota.js';

export type Handler<N extends CommandName> = (env: CommandEnv, cmd: CommandOf<N>) => Promise<CommandResult>;

/** What the dispatcher checks before running a command. */
export interface CommandRules {
  readonly states: readonly StateKind[];
  /** Answers or arguments are sequence numbers (only when not a UID command). */
  readonly usesSeqs: boolean;
  /** The command itself renumbers messages. */
  readonly breaksSeqs: boolean;
}

export interface CommandSpec<N extends CommandName> extends CommandSyntax<N>, CommandRules {
  readonly run: Handler<N>;
}

const ANY: readonly StateKind[] = ['notAuth', 'auth', 'selected'];
const NOT_AUTH: readonly StateKind[] = ['notAuth'];
const AUTHED: readonly StateKind[] = ['auth', 'selected'];
const SELECTED: readonly StateKind[] = ['selected'];

interface RowOptions {
  /** Uses sequence numbers (see the file comment). */
  readonly uses?: boolean;
  /** Renumbers messages. */
  readonly breaks?: boolean;
  /** Takes the UID prefix (RFC 3501 §6.4.8, RFC 4315 §2.1, RFC 6851 §3.2, RFC 5256 §3). */
  readonly uid?: boolean;
}

const row = <N extends CommandName>(states: readonly StateKind[], parse: ArgParser<N>, run: Handler<N>, o: RowOptions = {}): CommandSpec<N> => ({
  states,
  parse,
  uid: o.uid ?? false,
  usesSeqs: o.uses ?? false,
  breaksSeqs: o.breaks ?? false,
  run,
});

type CommandTable = { readonly [N in CommandName]: CommandSpec<N> };

/** Every command Roost answers; a command without a row here is unknown to the parser too. */
export const COMMANDS: CommandTable = {
  CAPABILITY: row(ANY, noArgs, capabilityCommand),
  NOOP: row(ANY, noArgs, noopCommand),
  LOGOUT: row(ANY, noArgs, logoutCommand),
  ID: row(ANY, idArgs, idCommand),
  STARTTLS: row(NOT_AUTH, noArgs, starttlsCommand),
  AUTHENTICATE: row(NOT_AUTH, authenticateArgs, authenticateCommand),
  LOGIN: row(NOT_AUTH, loginArgs, loginCommand),
  ENABLE: row(['auth'], enableArgs, enableCommand),
  SELECT: row<'SELECT'>(AUTHED, selectArgs, selectCommand),
  EXAMINE: row<'EXAMINE'>(AUTHED, selectArgs, selectCommand),
  CREATE: row(AUTHED, createArgs, createCommand),
  DELETE: row(AUTHED, mailboxOnly, deleteCommand),
  RENAME: row(AUTHED, renameArgs, renameCommand),
  SUBSCRIBE: row<'SUBSCRIBE'>(AUTHED, mailboxOnly, subscribeCommand),
  UNSUBSCRIBE: row<'UNSUBSCRIBE'>(AUTHED, mailboxOnly, subscribeCommand),
  LIST: row(AUTHED, listArgs, listCommand),
  LSUB: row(AUTHED, listPatternArgs, lsubCommand),
  XLIST: row(AUTHED, listPatternArgs, xlistCommand),
  NAMESPACE: row(AUTHED, noArgs, namespaceCommand),
  COMPRESS: row(AUTHED, compressArgs, compressCommand),
  GETQUOTA: row(AUTHED, quotaRootArgs, getQuotaCommand),
  GETQUOTAROOT: row(AUTHED, mailboxOnly, getQuotaRootCommand),
  SETQUOTA: row(AUTHED, setQuotaArgs, setQuotaCommand),
  STATUS: row(AUTHED, statusArgs, statusCommand),
  APPEND: row(AUTHED, appendArgs, appendCommand),
  IDLE: row(AUTHED, noArgs, idleCommand),
  // RFC 5465 §3.1: authenticated and selected states.
  NOTIFY: row(AUTHED, parseNotify, notifyCommand),
  CHECK: row(SELECTED, noArgs, checkCommand),
  CLOSE: row(SELECTED, noArgs, closeCommand, { breaks: true }),
  UNSELECT: row(SELECTED, noArgs, unselectCommand),
  EXPUNGE: row(SELECTED, expungeArgs, expungeCommand, { breaks: true, uid: true }),
  SEARCH: row(SELECTED, parseSearchCommand, searchCommand, { uses: true, uid: true }),
  CANCELUPDATE: row(SELECTED, cancelUpdateArgs, cancelUpdateCommand),
  SORT: row(SELECTED, parseSortCommand, sortCommand, { uses: true, uid: true }),
  THREAD: row(SELECTED, parseThreadCommand, threadCommand, { uses: true, uid: true }),
  FETCH: row(SELECTED, parseFetch, fetchCommand, { uses: true, uid: true }),
  STORE: row(SELECTED, storeArgs, storeCommand, { uses: true, uid: true }),
  COPY: row(SELECTED, copyArgs, copyCommand, { uses: true, uid: true }),
  // RFC 6851 §3.3: MOVE's own EXPUNGEs go out with its answer, so expunges are allowed.
  MOVE: row(SELECTED, copyArgs, moveCommand, { breaks: true, uid: true }),
};

/** The grammar the wire reader parses by (the same rows). */
export const GRAMMAR: CommandGrammar = COMMANDS;

/** Run a parsed command by its row; generic so the row's handler and the command pair up without a cast. */
export function runCommand<N extends CommandName>(env: CommandEnv, cmd: CommandOf<N>): Promise<CommandResult> {
  const spec: CommandSpec<N> = COMMANDS[cmd.name];
  return spec.run(env, cmd);
}

export function rulesOf(cmd: Command): CommandRules {
  return COMMANDS[cmd.name];
}

/**
 * May untagged EXPUNGE accompany the answer to this command? Not for FETCH,
 * STORE, SEARCH (RFC 3501 §7.4.1) nor the other sequence-number commands;
 * their UID forms are fine (the client speaks UIDs, §7.4.1 last paragraph).
 */
export function allowsExpunge(spec: CommandRules, cmd: Command): boolean {
  return !(spec.usesSeqs && !cmd.uid);
}
