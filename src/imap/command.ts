/**
 * The contract between the dispatcher (session.ts) and the command modules
 * (commands/*.ts): what a command sees of its connection (`CommandSession`),
 * what it is called with (`CommandEnv`) and what it answers
 * (`CommandResult`). Commands import this module, never session.ts, so the
 * dispatcher can depend on the command table without a circle.
 *
 * State is a discriminated union (RFC 3501 §3 states): what exists only
 * after LOGIN (the user's store) or SELECT (the mailbox view) cannot be
 * reached before.
 */
import type { Account } from '../accounts/directory.js';
import type { NodeContext } from '../context.js';
import type { Logger } from '../log/logger.js';
import type { AuthGuard, SaslExchange } from '../net/auth-guard.js';
import type { ClientPeer } from '../net/proxied.js';
import type { UserStore } from '../store/store.js';
import type { AppendAssembly } from './commands/catenate.js';
import type { MailboxView } from './mailbox-view.js';
import type { Notifier } from './notify.js';
import type { Output } from './output.js';
import type { SearchContexts } from './search-context.js';
import type { ResponseCode } from './wire/types.js';

export type SessionState =
  | { readonly kind: 'notAuth'; authFailures: number }
  | { readonly kind: 'auth'; readonly account: Account; readonly user: UserStore }
  | { readonly kind: 'selected'; readonly account: Account; readonly user: UserStore; readonly view: MailboxView }
  | { readonly kind: 'logout' };

export type StateKind = SessionState['kind'];

/** The tagged answer a command module returns. `after` runs once it is on the wire (STARTTLS, LOGOUT). */
export interface CommandResult {
  readonly status: 'OK' | 'NO' | 'BAD';
  readonly text: string;
  readonly code?: ResponseCode;
  readonly after?: () => Promise<void>;
}

/** A command that continues with client lines (AUTHENTICATE, IDLE) answers `PENDING`; the session answers later. */
export const PENDING: CommandResult = { status: 'OK', text: '' };

export const ok = (text: string, code?: ResponseCode): CommandResult => ({ status: 'OK', text, code });
export const no = (text: string, code?: ResponseCode): CommandResult => ({ status: 'NO', text, code });
export const bad = (text: string, code?: ResponseCode): CommandResult => ({ status: 'BAD', text, code });

/** What a command may see and do of its connection (implemented by session.ts `Session`). */
export interface CommandSession {
  state: SessionState;
  readonly out: Output;
  readonly log: Logger;
  readonly ctx: NodeContext;
  readonly guard: AuthGuard;
  readonly peer: ClientPeer;
  /** Opaque origin id given to the store, so events from our own changes can be told apart. */
  readonly id: string;
  readonly remoteAddress: string;
  readonly secure: boolean;
  /** RFC 5161 ENABLE state: 'CONDSTORE' once any CONDSTORE-enabling command ran (RFC 7162 §3.1), 'QRESYNC' after ENABLE QRESYNC. */
  readonly enabled: Set<string>;
  /** RFC 5267 §4.3 SEARCH RETURN (UPDATE) contexts of the selected mailbox. */
  readonly searchContexts: SearchContexts;
  /** RFC 5465 NOTIFY state, from the first NOTIFY SET on. */
  notifier: Notifier | null;
  /** Resolves when the connection has ended (slots held for it are released then). */
  readonly whenEnded: Promise<void>;
  /** The user's store; throws outside the authenticated states. */
  readonly user: UserStore;
  /** The selected mailbox; throws outside the selected state. */
  readonly view: MailboxView;
  /** COMPRESS=DEFLATE is active (RFC 4978). */
  readonly compressed: boolean;
  /** The capability list for the current state (RFC 3501 §7.2.1). */
  capabilities(): string[];
  /** Queue `* BYE text` as the last untagged response (RFC 3501 §7.1.5); `allowTag`'s tagged answer may still follow. */
  bye(text: string, allowTag?: string | null): void;
  /** A CONDSTORE-enabling command ran (RFC 7162 §3.1). */
  enableCondstore(): void;
  /** Leave the selected state (CLOSE, UNSELECT, a failed SELECT). */
  deselect(): void;
  /** Begin a SASL exchange (RFC 3501 §6.2.2): send the challenge, answer when the client's line comes. */
  beginSasl(tag: string, exchange: SaslExchange, challenge: string): void;
  /** RFC 2177: answer `+ idling`, then push changes until DONE. */
  beginIdle(tag: string): void;
  /** The drafts of the APPEND now completing; null if no literal came. */
  takeAppendAssembly(): AppendAssembly | null;
  /** A new assembly for this session's APPEND (commands/catenate.ts). */
  newAppendAssembly(): AppendAssembly;
  /** Every command resets the autologout timer (RFC 3501 §5.4); so does a completed login. */
  restartAutologout(): void;
  /** NOTIFY has news (RFC 5465 §1). */
  wakeNotify(): void;
  /** RFC 3501 §6.2.1: negotiate TLS after the tagged OK. */
  upgradeTls(): Promise<void>;
  /** RFC 4978 §3: DEFLATE both ways after the tagged OK. */
  startCompression(): void;
  /** LOGOUT (RFC 3501 §6.1.3): close after the tagged OK is written. */
  logout(): Promise<void>;
}

/** What a command module is called with. */
export interface CommandEnv {
  readonly s: CommandSession;
  readonly tag: string;
}
