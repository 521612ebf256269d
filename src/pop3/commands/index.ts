/**
 * THE POP3 command table: each command names the states it
 * is valid in, parses its argument text into typed arguments, and runs. The
 * session refuses a command in the wrong state before parsing it. Adding a
 * command = one handler + one row here.
 */
import { auth, pass, user } from './login.js';
import { capa, stls } from './capa.js';
import { list, stat, uidl } from './listing.js';
import { retr, top } from './retrieve.js';
import { dele, noop, rset } from './marks.js';
import { quit } from './quit.js';

export type { Command, StateKind } from './args.js';
export { ArgError } from './args.js';

export const COMMANDS = {
  // RFC 2449 §5: CAPA in both states; RFC 2595 §4: STLS before login.
  CAPA: capa,
  STLS: stls,
  // RFC 1939 §7 USER/PASS, RFC 5034 AUTH.
  USER: user,
  PASS: pass,
  AUTH: auth,
  // RFC 1939 §5: TRANSACTION state.
  STAT: stat,
  LIST: list,
  UIDL: uidl,
  RETR: retr,
  TOP: top,
  DELE: dele,
  RSET: rset,
  NOOP: noop,
  // RFC 1939 §4 and §6: both states.
  QUIT: quit,
} as const;
