/**
 * A POP3 session as its commands (./commands/*) see it, and the state types
 * they share with ./session.ts: declared apart so that the session can run
 * the command table while the commands use the session, without the modules
 * importing each other.
 */
import type { SecureContext } from 'node:tls';
import type { Duplex, Readable } from 'node:stream';
import type { Account } from '../accounts/directory.js';
import type { NodeContext } from '../context.js';
import type { Logger } from '../log/logger.js';
import type { AuthGuard, LoginOutcome } from '../net/auth-guard.js';
import type { ClientPeer } from '../net/proxied.js';
import type { MailboxHandle } from '../store/store.js';
import type { Maildrop } from './maildrop.js';
import type { LineResult, ListingWriter, Output } from './wire.js';

/** What the server gives every session. */
export interface SessionEnv {
  readonly ctx: NodeContext;
  readonly guard: AuthGuard;
  readonly secureContext: SecureContext;
  readonly idleTimeoutMs: number;
  /** Last successful login per account id, for RFC 2449 LOGIN-DELAY. */
  readonly lastLogin: Map<string, number>;
}

/** Session state (STYLE.md habit 7): transaction data exists only after login. */
export type SessionState =
  | { kind: 'authorization'; user: string | null; failures: number; commands: number }
  | { kind: 'transaction'; account: Account; handle: MailboxHandle; maildrop: Maildrop; release: () => void }
  /** QUIT is applying deletions (RFC 1939 §6). */
  | { kind: 'update' }
  | { kind: 'closed' };

export type TransactionState = Extract<SessionState, { kind: 'transaction' }>;

/** A message to send: read whole (small ones) or streamed from the file. */
export type MessageBody = Buffer | Readable;

/** What a command may use of its session (./session.ts implements it). */
export interface CommandSession {
  state: SessionState;
  readonly socket: Duplex;
  readonly secure: boolean;
  /** The client's address: the login throttle keys on it. */
  readonly remoteAddress: string;
  readonly peer: ClientPeer;
  readonly env: SessionEnv;
  readonly ctx: NodeContext;
  readonly log: Logger;
  /** Replies on their way out, batched across pipelined commands. */
  readonly out: Output;
  /** A command that was wrong; too many of them end the session. */
  bad(text: string): Promise<void>;
  /** One reply line (CRLF added). */
  reply(line: string): Promise<void>;
  /** A multi-line reply: call line() for each, then end(). */
  listing(): ListingWriter;
  /** The next client line inside a command (SASL responses). */
  readLine(): Promise<LineResult>;
  /** A complete command line from the client is waiting (it pipelines). */
  commandWaiting(): boolean;
  /** Up to `max` command lines the client has already sent, without consuming them. */
  peekCommands(max: number): string[];
  /** Keep the messages that already received RETR/TOP commands will send opened, in command order. */
  readAhead(plan: readonly { uid: number; open: () => Promise<MessageBody> }[]): void;
  /** The message read ahead for `uid` if it is next (null if not). */
  takeAhead(uid: number): Promise<MessageBody> | null;
  /** The transaction state; the command table guarantees it for transaction commands. */
  tx(): TransactionState;
  /** Stop reading and close the connection (after what was written is flushed). */
  close(): void;
  /** RFC 2595 §4: the TLS handshake after "+OK". */
  startTls(): Promise<void>;
  /** Enter the transaction state for a login's outcome, or refuse it. */
  loginWith(outcome: LoginOutcome): Promise<void>;
  /** QUIT in the transaction state: the UPDATE state (RFC 1939 §6). */
  update(st: TransactionState, apply: (st: TransactionState) => Promise<string>): Promise<void>;
}
