/**
 * The command shape and the argument parsers the POP3 handlers share
 * (arguments are parsed at the edge into typed values).
 */
import type { CommandSession } from '../session-api.js';

/** States in which commands run (UPDATE is entered only by QUIT). */
export type StateKind = 'authorization' | 'transaction';

/** A parse failure: the text goes after "-ERR " and counts as a bad command. */
export class ArgError {
  constructor(readonly text: string) {}
}

export interface Command<A> {
  readonly states: readonly StateKind[];
  /** The text after the command name (may be ""), parsed at the edge. */
  parse(args: string): A | ArgError;
  run(session: CommandSession, args: A): Promise<void>;
}

/** No argument allowed. */
export function noArgs(args: string): null | ArgError {
  return args.trim() === '' ? null : new ArgError('This command takes no argument.');
}

/**
 * A message number (RFC 1939 §3: "msg", decimal, 1-based). Only digits; a
 * number out of range is not a syntax error but "no such message" later.
 */
export function parseNumber(text: string): number | null {
  if (!/^[0-9]{1,15}$/.test(text)) return null;
  return Number(text);
}

/** "msg" required. */
export function oneMessage(args: string): { msg: number } | ArgError {
  const parts = splitArgs(args);
  if (parts.length !== 1) return new ArgError('Message number required.');
  const msg = parseNumber(parts[0]!);
  return msg === null ? new ArgError('Invalid message number.') : { msg };
}

/** "[msg]" optional (LIST, UIDL). */
export function optionalMessage(args: string): { msg: number | null } | ArgError {
  const parts = splitArgs(args);
  if (parts.length === 0) return { msg: null };
  if (parts.length > 1) return new ArgError('Too many arguments.');
  const msg = parseNumber(parts[0]!);
  return msg === null ? new ArgError('Invalid message number.') : { msg };
}

/** Arguments separated by single spaces (RFC 1939 §3); runs of spaces are tolerated. */
export function splitArgs(args: string): string[] {
  const t = args.trim();
  return t === '' ? [] : t.split(/ +/);
}

/** "-ERR" text for a message number that is out of range or marked deleted. */
export function noSuchMessage(session: CommandSession, msg: number): string | null {
  const look = session.tx().maildrop.get(msg);
  if (look.kind === 'nosuch') return `-ERR There's no message ${msg}.`;
  if (look.kind === 'deleted') return `-ERR Message ${msg} is deleted.`;
  return null;
}
