/**
 * One POP3 connection (RFC 1939 §3): the state machine and the command loop;
 * store and directory errors become POP3 replies in ./replies.ts.
 *
 * The loop pulls one command line, runs it to the end of its reply (awaiting
 * 'drain' as it writes), and only then reads the next line. Pipelined
 * commands (RFC 2449 §6.6) are therefore answered in order, and a client that
 * sends without reading stalls itself, not the server's memory.
 */
import { TLSSocket } from 'node:tls';
import { serverTls } from '../net/tls-handshake.js';
import type { Duplex } from 'node:stream';
import type { Socket } from 'node:net';
import type { NodeContext } from '../context.js';
import { isRoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';
import type { LoginOutcome } from '../net/auth-guard.js';
import type { ClientPeer } from '../net/proxied.js';
import type { MailboxHandle } from '../store/store.js';
import { COMMANDS, ArgError, type StateKind } from './commands/index.js';
import type { CommandSession, MessageBody, SessionEnv, SessionState, TransactionState } from './session-api.js';
import { Maildrop } from './maildrop.js';
import { uidlFormatter } from '../accounts/uidl-format.js';
import { pop3Logins, pop3SessionsOpen } from './metrics.js';
import { LineReader, ListingWriter, Output, type LineResult } from './wire.js';
import { errorReply, loginRefusal } from './replies.js';

export type { MessageBody, SessionEnv, SessionState, TransactionState };

export class Session implements CommandSession {
  state: SessionState = { kind: 'authorization', user: null, failures: 0, commands: 0 };
  socket: Duplex;
  secure: boolean;
  readonly cid: string;
  /** The client's address: the login throttle keys on it. */
  readonly remoteAddress: string;
  private readonly reader: LineReader;
  /** Replies on their way out, batched across pipelined commands. */
  readonly out: Output;
  private badCommands = 0;
  /** Resolves when the session has ended and released everything. */
  readonly finished: Promise<void>;
  private finish!: () => void;
  /** Busy in the UPDATE state: server shutdown waits instead of cutting. */
  private updating: Promise<void> | null = null;
  /** Messages read ahead for pipelined RETR/TOP commands already received, in command order. */
  private ahead: { uid: number; body: Promise<MessageBody> }[] = [];

  constructor(
    readonly env: SessionEnv,
    socket: Socket | TLSSocket,
    /** The client (src/net/proxied.ts): the socket's peer, or the one a trusted proxy named. */
    readonly peer: ClientPeer,
    readonly log: Logger,
  ) {
    this.socket = socket;
    this.secure = socket instanceof TLSSocket;
    this.remoteAddress = peer.address;
    this.cid = String((log.bindings() as { cid?: string }).cid ?? peer.address);
    this.reader = new LineReader(LIMITS.pop3.maxLineLength, LIMITS.pop3.maxPipelinedInput);
    this.out = new Output(socket, LIMITS.pop3.outputBatchBytes);
    this.finished = new Promise((resolve) => (this.finish = resolve));
    this.watch(socket);
    this.reader.attach(socket);
  }

  get ctx(): NodeContext {
    return this.env.ctx;
  }

  /** Run the session to its end; never throws. */
  async run(): Promise<void> {
    pop3SessionsOpen.inc();
    try {
      await this.reply('+OK Roost POP3 server ready.');
      while (this.state.kind !== 'closed' && !this.socket.destroyed) {
        // Replies wait in the batch only while further commands are already here.
        if (!this.reader.hasLine()) await this.out.flush();
        const input = await this.reader.readLine();
        if (input.kind === 'eof') break;
        await this.handle(input);
      }
    } catch (err) {
      this.log.error({ err }, 'pop3 session failed');
    } finally {
      await this.end();
      pop3SessionsOpen.dec();
      this.log.debug('pop3 session closed');
      this.finish();
    }
  }

  /** Server shutdown: let a running QUIT finish, close everything else now. */
  async shutdown(): Promise<void> {
    if (this.updating) await this.updating.catch(() => undefined);
    this.socket.destroy();
    await this.finished;
  }

  private async handle(input: Exclude<LineResult, { kind: 'eof' }>): Promise<void> {
    if (input.kind === 'tooLong') {
      await this.bad(`-ERR Line too long (limit ${LIMITS.pop3.maxLineLength} octets).`);
      return;
    }
    const text = input.text;
    const sp = text.indexOf(' ');
    const name = (sp < 0 ? text : text.slice(0, sp)).toUpperCase();
    const rest = sp < 0 ? '' : text.slice(sp + 1);
    this.log.trace({ command: name }, 'command');

    if (this.state.kind === 'authorization') {
      this.state.commands++;
      if (this.state.commands > LIMITS.pop3.maxCommandsBeforeAuth) {
        await this.reply('-ERR Too many commands before login, closing.');
        this.close();
        return;
      }
    }
    const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name as keyof typeof COMMANDS] : undefined;
    if (!command) {
      await this.bad('-ERR Unknown command.');
      return;
    }
    const kind = this.state.kind as StateKind;
    if (!(command.states as readonly StateKind[]).includes(kind)) {
      await this.bad(kind === 'authorization' ? '-ERR Command not valid before login.' : '-ERR Command not valid after login.');
      return;
    }
    const args = command.parse(rest);
    if (args instanceof ArgError) {
      await this.bad(`-ERR ${args.text}`);
      return;
    }
    await (command.run as (s: Session, a: unknown) => Promise<void>)(this, args);
  }

  /** A command that was wrong; too many of them end the session. */
  async bad(text: string): Promise<void> {
    this.badCommands++;
    if (this.badCommands > LIMITS.pop3.maxBadCommands) {
      await this.reply('-ERR Too many bad commands, closing.');
      this.close();
      return;
    }
    await this.reply(text);
  }

  /** One reply line (CRLF added). */
  reply(line: string): Promise<void> {
    return this.out.write(`${line}\r\n`);
  }

  /** A multi-line reply: call line() for each, then end(). */
  listing(): ListingWriter {
    return new ListingWriter(this.out, LIMITS.pop3.listingChunkBytes);
  }

  /** The next client line inside a command (SASL responses); what was queued goes out first, as the client waits for it. */
  async readLine(): Promise<LineResult> {
    if (!this.reader.hasLine()) await this.out.flush();
    return this.reader.readLine();
  }

  /** A complete command line from the client is waiting (it pipelines). */
  commandWaiting(): boolean {
    return this.reader.hasLine();
  }

  /** Up to `max` command lines the client has already sent (pipelining), without consuming them. */
  peekCommands(max: number): string[] {
    return this.reader.peekLines(max);
  }

  /**
   * Keep the messages that already received RETR/TOP commands will send
   * opened (small ones read whole, large ones with their first chunk read)
   * while the current reply is on the wire, so the file system works for
   * several messages at once. `plan` is in command order and bounded by the
   * caller (LIMITS.pop3.readAhead*); entries already under way are kept.
   */
  readAhead(plan: readonly { uid: number; open: () => Promise<MessageBody> }[]): void {
    let keep = 0;
    while (keep < this.ahead.length && keep < plan.length && this.ahead[keep]!.uid === plan[keep]!.uid) keep++;
    for (const a of this.ahead.splice(keep)) discard(a.body);
    for (const p of plan.slice(keep)) {
      const body = p.open();
      body.then(
        (r) => {
          if (Buffer.isBuffer(r)) return;
          // An I/O error before the command runs must not go unhandled; the
          // pipeline that consumes the stream later still sees it.
          r.on('error', () => undefined);
          r.read(0);
        },
        () => undefined,
      );
      this.ahead.push({ uid: p.uid, body });
    }
  }

  /** The message read ahead for `uid` if it is next (null if not); a mismatch drops everything read ahead. */
  takeAhead(uid: number): Promise<MessageBody> | null {
    const first = this.ahead[0];
    if (first && first.uid === uid) {
      this.ahead.shift();
      return first.body;
    }
    this.dropAhead();
    return null;
  }

  private dropAhead(): void {
    for (const a of this.ahead) discard(a.body);
    this.ahead = [];
  }

  /** The transaction state; the command table guarantees it for transaction commands. */
  tx(): TransactionState {
    if (this.state.kind !== 'transaction') throw new Error(`not in transaction state (${this.state.kind})`);
    return this.state;
  }

  /** Stop reading and close the connection (after what was written is flushed). */
  close(): void {
    if (this.state.kind === 'transaction') this.releaseMaildrop(this.state);
    this.state = { kind: 'closed' };
    this.out.push();
    this.socket.end();
  }

  /**
   * RFC 2595 §4: after "+OK" the TLS handshake starts at once. The reader is
   * detached first so no byte of the ClientHello is taken as a command; any
   * plaintext the client pipelined after STLS is thrown away (it could have
   * been injected by a man in the middle, CVE-2011-0411).
   */
  async startTls(): Promise<void> {
    const plain = this.socket;
    const leftover = this.reader.detach();
    if (leftover.length > 0) this.log.warn({ bytes: leftover.length }, 'discarded plaintext pipelined after STLS');
    await this.reply('+OK Begin TLS negotiation.');
    await this.out.flush();
    this.unwatch(plain);
    const tls = await serverTls(plain as Socket, this.env.secureContext);
    if (!tls) {
      this.state = { kind: 'closed' };
      return;
    }
    this.socket = tls;
    this.out.use(tls);
    this.watch(tls);
    this.secure = true;
    this.reader.attach(tls);
  }

  /**
   * Turn a login outcome into the transaction state or an error reply:
   * lock the maildrop (RFC 1939 §4, [IN-USE]), open INBOX, take the listing.
   */
  async loginWith(outcome: LoginOutcome): Promise<void> {
    if (this.state.kind !== 'authorization') return;
    if (outcome.kind !== 'ok') {
      pop3Logins.inc({ result: outcome.kind });
      if (outcome.kind === 'failed') {
        this.state.failures++;
        this.state.user = null;
        await this.reply('-ERR [AUTH] Authentication failed.');
        if (this.state.failures >= LIMITS.auth.maxFailuresPerConnection) {
          await this.reply('-ERR Too many failed logins, closing.');
          this.close();
        }
        return;
      }
      this.state.user = null;
      await this.reply(loginRefusal(outcome));
      return;
    }
    const account = outcome.account;
    const log = this.log.child({ account: account.id });
    const delay = this.ctx.config.pop3.login_delay;
    if (delay > 0) {
      const last = this.env.lastLogin.get(account.id);
      if (last !== undefined && Date.now() - last < delay * 1000) {
        pop3Logins.inc({ result: 'login_delay' });
        await this.reply(`-ERR [LOGIN-DELAY] Minimum time between logins is ${delay} seconds.`);
        return;
      }
    }
    let release: (() => void) | null = null;
    let handle: MailboxHandle | null = null;
    try {
      const user = this.ctx.store.user(account);
      release = user.lockMaildrop(this.cid);
      handle = await user.openMailbox('INBOX', { origin: this.cid });
      // Octets in STAT and LIST are the exact sizes (a lazily opened Maildir's are read from the files now).
      await handle.ensureFacts();
      const maildrop = new Maildrop(handle.snapshot(), uidlFormatter(account.uidlFormat || this.ctx.config.pop3.uidl_format), await user.recordedUidls());
      if (this.socket.destroyed || this.state.kind !== 'authorization') {
        // The client went away (or autologout fired) while INBOX was opening.
        handle.close();
        release();
        return;
      }
      this.state = { kind: 'transaction', account, handle, maildrop, release };
      if (delay > 0) this.env.lastLogin.set(account.id, Date.now());
      pop3Logins.inc({ result: 'ok' });
      log.info({ messages: maildrop.size }, 'pop3 login');
      const { count, octets } = maildrop.stat();
      await this.reply(`+OK Logged in, ${count} messages (${octets} octets).`);
    } catch (err) {
      handle?.close();
      release?.();
      pop3Logins.inc({ result: isRoostError(err, 'INUSE') ? 'in_use' : 'error' });
      if (this.state.kind === 'authorization') this.state.user = null;
      await this.reply(errorReply(err, log));
    }
  }

  /**
   * QUIT in the TRANSACTION state (RFC 1939 §6): apply the deletion marks
   * through the store (so IMAP sessions and the journal see them), set \Seen
   * on retrieved messages (as Dovecot does unless pop3_no_flag_updates), wait
   * for the replica as the replication gate says, then answer.
   */
  async update(st: TransactionState, apply: (st: TransactionState) => Promise<string>): Promise<void> {
    this.state = { kind: 'update' };
    const work = (async () => {
      let text: string;
      try {
        text = await apply(st);
      } catch (err) {
        text = errorReply(err, this.log);
      } finally {
        this.releaseMaildrop(st);
      }
      await this.reply(text);
    })();
    this.updating = work;
    await work;
    this.close();
  }

  private releaseMaildrop(st: TransactionState): void {
    this.dropAhead();
    st.handle.close();
    st.release();
  }

  /**
   * Release everything, then close the connection once the last reply (e.g.
   * QUIT's +OK) has reached the kernel; a client that stopped reading gets
   * LIMITS.pop3.closeLingerMs before the socket is destroyed.
   */
  private async end(): Promise<void> {
    if (this.state.kind === 'transaction') this.releaseMaildrop(this.state);
    this.state = { kind: 'closed' };
    this.reader.detach();
    this.out.push();
    const s = this.socket;
    if (s.destroyed) return;
    if (!s.writableFinished) {
      await new Promise<void>((resolve) => {
        const done = (): void => {
          clearTimeout(timer);
          s.off('finish', done);
          s.off('close', done);
          resolve();
        };
        const timer = setTimeout(done, LIMITS.pop3.closeLingerMs);
        s.once('finish', done);
        s.once('close', done);
        if (!s.writableEnded) s.end();
      });
    }
    s.destroy();
  }

  private readonly onTimeout = (): void => {
    // RFC 1939 §3: the autologout timer ends the session WITHOUT entering
    // the UPDATE state: no deletion is applied.
    this.log.info('pop3 autologout');
    if (this.state.kind === 'update') return;
    this.out.push();
    this.socket.end('-ERR Autologout; idle for too long.\r\n');
    if (this.state.kind === 'transaction') this.releaseMaildrop(this.state);
    this.state = { kind: 'closed' };
    setTimeout(() => this.socket.destroy(), 1000).unref();
  };

  private readonly onError = (err: Error): void => {
    this.log.debug({ err: err.message }, 'pop3 socket error');
  };

  private watch(socket: Duplex): void {
    (socket as Socket).setTimeout(this.env.idleTimeoutMs);
    socket.on('timeout', this.onTimeout);
    socket.on('error', this.onError);
  }

  private unwatch(socket: Duplex): void {
    (socket as Socket).setTimeout(0);
    socket.off('timeout', this.onTimeout);
    // Keep an error listener: the TLS socket drives this one from now on.
  }
}

/** Close a message read ahead and not used. */
function discard(body: Promise<MessageBody>): void {
  body.then(
    (r) => (Buffer.isBuffer(r) ? undefined : r.destroy()),
    () => undefined,
  );
}
