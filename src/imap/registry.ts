/**
 * THE command table (STYLE.md habit 2). One row per command: the session
 * states it is allowed in, how it relates to message sequence numbers, and
 * the module that runs it. Adding a command = one module + one row here.
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
import type { CommandEnv, CommandResult } from './command.js';
import type { StateKind } from './command.js';
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

export interface CommandSpec<N extends CommandName = CommandName> {
  readonly states: readonly StateKind[];
  /** Answers or arguments are sequence numbers (only when not a UID command). */
  readonly usesSeqs: boolean;
  /** The command itself renumbers messages. */
  readonly breaksSeqs: boolean;
  readonly run: Handler<N>;
}

const ANY: readonly StateKind[] = ['notAuth', 'auth', 'selected'];
const NOT_AUTH: readonly StateKind[] = ['notAuth'];
const AUTHED: readonly StateKind[] = ['auth', 'selected'];
const SELECTED: readonly StateKind[] = ['selected'];

const row = <N extends CommandName>(states: readonly StateKind[], run: Handler<N>, seq: { uses?: boolean; breaks?: boolean } = {}): CommandSpec<N> => ({
  states,
  usesSeqs: seq.uses ?? false,
  breaksSeqs: seq.breaks ?? false,
  run,
});

/**
 * Every command Roost answers. Commands the parser knows but this table lacks
 * are not advertised and get BAD.
 */
export const COMMANDS: { readonly [N in CommandName]?: CommandSpec<N> } = {
  CAPABILITY: row(ANY, capabilityCommand),
  NOOP: row(ANY, noopCommand),
  LOGOUT: row(ANY, logoutCommand),
  ID: row(ANY, idCommand),
  STARTTLS: row(NOT_AUTH, starttlsCommand),
  AUTHENTICATE: row(NOT_AUTH, authenticateCommand),
  LOGIN: row(NOT_AUTH, loginCommand),
  ENABLE: row(['auth'], enableCommand),
  SELECT: row<'SELECT'>(AUTHED, selectCommand),
  EXAMINE: row<'EXAMINE'>(AUTHED, selectCommand),
  CREATE: row(AUTHED, createCommand),
  DELETE: row(AUTHED, deleteCommand),
  RENAME: row(AUTHED, renameCommand),
  SUBSCRIBE: row<'SUBSCRIBE'>(AUTHED, subscribeCommand),
  UNSUBSCRIBE: row<'UNSUBSCRIBE'>(AUTHED, subscribeCommand),
  LIST: row(AUTHED, listCommand),
  LSUB: row(AUTHED, lsubCommand),
  XLIST: row(AUTHED, xlistCommand),
  NAMESPACE: row(AUTHED, namespaceCommand),
  COMPRESS: row(AUTHED, compressCommand),
  GETQUOTA: row(AUTHED, getQuotaCommand),
  GETQUOTAROOT: row(AUTHED, getQuotaRootCommand),
  SETQUOTA: row(AUTHED, setQuotaCommand),
  STATUS: row(AUTHED, statusCommand),
  APPEND: row(AUTHED, appendCommand),
  IDLE: row(AUTHED, idleCommand),
  // RFC 5465 §3.1: authenticated and selected states.
  NOTIFY: row(AUTHED, notifyCommand),
  CHECK: row(SELECTED, checkCommand),
  CLOSE: row(SELECTED, closeCommand, { breaks: true }),
  UNSELECT: row(SELECTED, unselectCommand),
  EXPUNGE: row(SELECTED, expungeCommand, { breaks: true }),
  SEARCH: row(SELECTED, searchCommand, { uses: true }),
  CANCELUPDATE: row(SELECTED, cancelUpdateCommand),
  SORT: row(SELECTED, sortCommand, { uses: true }),
  THREAD: row(SELECTED, threadCommand, { uses: true }),
  FETCH: row(SELECTED, fetchCommand, { uses: true }),
  STORE: row(SELECTED, storeCommand, { uses: true }),
  COPY: row(SELECTED, copyCommand, { uses: true }),
  // RFC 6851 §3.3: MOVE's own EXPUNGEs go out with its answer, so expunges are allowed.
  MOVE: row(SELECTED, moveCommand, { breaks: true }),
};

export function lookup(cmd: Command): CommandSpec | undefined {
  return COMMANDS[cmd.name] as CommandSpec | undefined;
}

/**
 * May untagged EXPUNGE accompany the answer to this command? Not for FETCH,
 * STORE, SEARCH (RFC 3501 §7.4.1) nor the other sequence-number commands;
 * their UID forms are fine (the client speaks UIDs, §7.4.1 last paragraph).
 */
export function allowsExpunge(spec: CommandSpec, cmd: Command): boolean {
  return !(spec.usesSeqs && !cmd.uid);
}
