/**
 * One IMAP connection: reads commands from the wire reader, dispatches them
 * through the command table, writes answers with back-pressure, and hands
 * the selected mailbox's queued changes out at safe points.
 *
 * State is a discriminated union: what exists only after
 * LOGIN (the user's store) or SELECT (the mailbox view) cannot be reached
 * before. Multi-line exchanges (AUTHENTICATE continuations, IDLE, the
 * message literals of APPEND) are a separate `mode`, because they are
 * "a command in progress" (RFC 3501 §7.4.1) rather than states.
 *
 * Reading pulls (habit 3): the socket is paused while a chunk's events are
 * handled, so a client that pipelines faster than we answer waits in its
 * own TCP window, not in our memory.
 */
import type { Socket } from 'node:net';
import tls from 'node:tls';
import type { Account } from '../accounts/directory.js';
import type { NodeContext } from '../context.js';
import { isRoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import { connectionLogger, type Logger } from '../log/logger.js';
import type { AuthGuard, SaslExchange } from '../net/auth-guard.js';
import { serverTls } from '../net/tls-handshake.js';
import type { UserStore } from '../store/store.js';
import { MailboxView, SequenceError } from './mailbox-view.js';
import { ClosedError, Output } from './output.js';
import { allowsExpunge, GRAMMAR, rulesOf, runCommand } from './registry.js';
import { continueSasl } from './commands/authenticate.js';
import { answerForError } from './responses.js';
import { appendLimit } from './append-limit.js';
import { writeUpdates } from './updates.js';
import { EXTENSION_CAPABILITIES } from './capabilities.js';
import { compressLayer, type CompressLayer } from './compress.js';
import { AppendAssembly, appendFailure } from './commands/catenate.js';
import { SearchContexts } from './search-context.js';
import type { Notifier } from './notify.js';
import { CommandReader } from './wire/tokenizer.js';
import { directPeer, type ClientPeer } from '../net/proxied.js';
import { continuation, tagged, untaggedStatus } from './wire/encoder.js';
import type { Command, ResponseCode, WireEvent } from './wire/types.js';
import { bad, PENDING, type CommandResult, type CommandSession, type SessionState } from './command.js';

type Mode =
  | { readonly kind: 'idle'; readonly tag: string; readonly keepalive: NodeJS.Timeout }
  | { readonly kind: 'sasl'; readonly tag: string; readonly exchange: SaslExchange }
  /** Receiving APPEND message literals (and CATENATE TEXT parts) into the command's drafts. */
  | { readonly kind: 'append'; readonly tag: string; readonly assembly: AppendAssembly };

let nextSessionId = 0;

/** RFC 2177: the line that ends IDLE (case-insensitive like every IMAP keyword). */
const isIdleDone = (line: string): boolean => line.toUpperCase() === 'DONE';

export class Session implements CommandSession {
  state: SessionState = { kind: 'notAuth', authFailures: 0 };
  readonly out: Output;
  readonly log: Logger;
  /** Opaque origin id given to the store, so events from our own changes can be told apart. */
  readonly id: string;
  readonly remoteAddress: string;
  /** RFC 5161 ENABLE state: 'CONDSTORE' once any CONDSTORE-enabling command ran (RFC 7162 §3.1), 'QRESYNC' after ENABLE QRESYNC. */
  readonly enabled = new Set<string>();
  /** RFC 5267 §4.3 SEARCH RETURN (UPDATE) contexts of the selected mailbox. */
  readonly searchContexts: SearchContexts;
  /** RFC 5465 NOTIFY state, from the first NOTIFY SET on. */
  notifier: Notifier | null = null;
  private notifyQueued = false;
  private mode: Mode | null = null;
  private readonly reader: CommandReader;
  private badCommands = 0;
  /** Commands received before login (LIMITS.imap.maxCommandsBeforeAuth). */
  private preAuthCommands = 0;
  /** Commands between dispatch and their result: the client is waiting on us, not idle. */
  private running = 0;
  private closed = false;
  private ended = false;
  private pumping = false;
  private idleWake: NodeJS.Immediate | null = null;
  private pushChain: Promise<void> = Promise.resolve();
  /** Where client bytes come from: the socket, or the inflater after COMPRESS (RFC 4978). */
  private input: { pause(): unknown; resume(): unknown };
  /** The DEFLATE layer once COMPRESS is active (RFC 4978). */
  private compression: CompressLayer | null = null;
  private done!: () => void;
  private readonly finished = new Promise<void>((r) => (this.done = r));
  /** Resolves when the connection has ended (slots held for it are released then). */
  get whenEnded(): Promise<void> {
    return this.finished;
  }

  constructor(
    readonly ctx: NodeContext,
    private socket: Socket,
    public secure: boolean,
    readonly guard: AuthGuard,
    private readonly secureContext: () => tls.SecureContext,
    /** The client (src/net/proxied.ts): the socket's peer, or the one a trusted proxy named. */
    readonly peer: ClientPeer = directPeer(socket),
  ) {
    this.id = `imap-${(nextSessionId = (nextSessionId + 1) % Number.MAX_SAFE_INTEGER).toString(36)}`;
    this.remoteAddress = peer.address;
    this.log = connectionLogger('imap', `${this.remoteAddress}:${peer.port}`, peer.via);
    this.out = new Output(socket);
    this.searchContexts = new SearchContexts(this.log);
    this.input = socket;
    this.reader = new CommandReader(GRAMMAR, {
      maxLineLength: LIMITS.imap.maxLineLength,
      maxLiteralSize: appendLimit(ctx),
      maxNonSyncLiteral: LIMITS.imap.maxNonSyncLiteral,
      maxNestingDepth: LIMITS.imap.maxNestingDepth,
    });
  }

  /** Greet, then serve until the connection ends. */
  async run(): Promise<void> {
    this.attach(this.socket);
    // Commands restart the autologout clock, so a connection that never logs
    // in is also bounded in total time (Dovecot: 180 s), or one host could
    // hold every slot with NOOPs.
    const preAuth = setTimeout(() => {
      if (this.state.kind === 'notAuth' && !this.closed) this.byeAndClose('Login time limit exceeded');
    }, LIMITS.imap.notAuthMaxSessionMs);
    preAuth.unref();
    void this.finished.then(() => clearTimeout(preAuth));
    this.out.push(`* OK [CAPABILITY ${this.capabilities().join(' ')}] Roost IMAP ready\r\n`);
    await this.safeFlush();
    return this.finished;
  }

  /** Close from outside (server shutdown). */
  async shutdown(reason: string): Promise<void> {
    if (this.closed) return;
    this.bye(reason);
    await this.safeFlush();
    this.end();
  }

  get user(): UserStore {
    if (this.state.kind !== 'auth' && this.state.kind !== 'selected') throw new Error('not authenticated');
    return this.state.user;
  }

  get view(): MailboxView {
    if (this.state.kind !== 'selected') throw new Error('no mailbox selected');
    return this.state.view;
  }

  /** The capability list for the current state (RFC 3501 §7.2.1; RFC 2595 §3.2 LOGINDISABLED). */
  capabilities(): string[] {
    const caps = ['IMAP4rev1', 'LITERAL+', 'SASL-IR', 'ID', 'ENABLE', 'IDLE', 'NAMESPACE'];
    if (this.state.kind === 'notAuth') {
      if (!this.secure) caps.push('STARTTLS');
      if (this.guard.allowPlaintext(this.secure, this.remoteAddress, this.peer.via !== null)) caps.push('AUTH=PLAIN', 'AUTH=LOGIN');
      else caps.push('LOGINDISABLED');
    } else {
      caps.push('UIDPLUS', 'MOVE', 'UNSELECT', 'CHILDREN', 'SPECIAL-USE', 'XLIST', `APPENDLIMIT=${appendLimit(this.ctx)}`);
      caps.push(...EXTENSION_CAPABILITIES);
    }
    return caps;
  }

  /**
   * Queue `* BYE text` as the last untagged response (RFC 3501 §7.1.5): the
   * selected mailbox is let go first, so no queued EXPUNGE/EXISTS/FETCH can
   * follow, and the output is sealed, so nothing still running (an IDLE
   * push, a streaming answer) can either. `allowTag` is the command whose
   * tagged answer may still come (LOGOUT's OK, §6.1.3).
   */
  bye(text: string, allowTag: string | null = null): void {
    if (this.out.sealed) return;
    this.deselect();
    this.out.push(`* BYE ${text}\r\n`);
    this.out.seal(allowTag);
  }

  /**
   * A CONDSTORE-enabling command ran (RFC 7162 §3.1). The first one while a
   * mailbox is selected also reports that mailbox's HIGHESTMODSEQ, which is
   * the store's current one, so it is at least every modseq shown before.
   */
  enableCondstore(): void {
    if (this.enabled.has('CONDSTORE')) return;
    this.enabled.add('CONDSTORE');
    if (this.state.kind === 'selected') this.out.push(`* OK [HIGHESTMODSEQ ${this.state.view.handle.snapshot().highestModseq}] Highest\r\n`);
  }

  /** Leave the selected state (CLOSE, UNSELECT, a failed SELECT). */
  deselect(): void {
    if (this.state.kind !== 'selected') return;
    this.state.view.close();
    this.state = { kind: 'auth', account: this.state.account, user: this.state.user };
  }

  /** Begin a SASL exchange: send the challenge, answer when the client's line comes. */
  beginSasl(tag: string, exchange: SaslExchange, challenge: string): void {
    this.mode = { kind: 'sasl', tag, exchange };
    this.out.push(`+ ${challenge}\r\n`);
    this.reader.expectLine();
  }

  /** RFC 2177: answer `+ idling`, then push changes until DONE. */
  beginIdle(tag: string): void {
    const keepalive = setInterval(() => {
      this.out.push('* OK Still here\r\n');
      void this.safeFlush();
    }, LIMITS.imap.idleKeepaliveMs);
    keepalive.unref();
    this.mode = { kind: 'idle', tag, keepalive };
    this.out.push('+ idling\r\n');
    if (this.state.kind === 'selected') this.state.view.onUpdate = () => this.scheduleIdlePush();
    if (this.state.kind === 'selected' || this.notifier?.hasPending) this.scheduleIdlePush();
    this.reader.expectLine();
  }

  /** The drafts of the APPEND now completing (the command module stores them); null if no literal came. */
  takeAppendAssembly(): AppendAssembly | null {
    if (this.mode?.kind !== 'append') return null;
    const { assembly } = this.mode;
    this.mode = null;
    return assembly;
  }

  /** A new assembly for this session's APPEND (commands/catenate.ts). */
  newAppendAssembly(): AppendAssembly {
    const selected = this.state.kind === 'selected' ? this.state.view.handle.name : null;
    return new AppendAssembly({ store: this.ctx.store, user: this.user, selected, maxSize: appendLimit(this.ctx) });
  }

  /**
   * Write the view's queued changes that are allowed now. Pushes are chained:
   * an IDLE push still streaming flag changes finishes before DONE's answer.
   */
  pushUpdates(allowExpunge: boolean): Promise<void> {
    const p = this.pushChain.then(() => this.writePending(allowExpunge));
    this.pushChain = p.catch(() => undefined);
    return p;
  }

  private async writePending(allowExpunge: boolean): Promise<void> {
    // RFC 5465: other mailboxes' STATUS/LIST notifications go out at the same safe points.
    if (this.notifier?.hasPending) await this.notifier.write(this.out);
    if (this.state.kind !== 'selected') return;
    const view = this.state.view;
    const updates = view.flush({ allowExpunge });
    // RFC 5267 §4.3: live SEARCH results change around the updates (search-context.ts).
    this.searchContexts.beforeWrite(this.out, view, updates);
    if (updates.length > 0 && (await writeUpdates(this.out, view, updates, { modseq: this.enabled.has('CONDSTORE'), vanished: this.enabled.has('QRESYNC') }))) {
      this.bye('Selected mailbox was deleted or renamed, have to disconnect');
      await this.safeFlush();
      this.end();
      return;
    }
    await this.searchContexts.afterWrite(this.out, view);
  }

  // ---------------------------------------------------------------- reading

  private attach(socket: Socket): void {
    socket.setTimeout(LIMITS.imap.notAuthTimeoutMs);
    socket.on('data', this.onData);
    socket.on('timeout', this.onTimeout);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
  }

  private detach(socket: Socket): void {
    socket.off('data', this.onData);
    socket.off('timeout', this.onTimeout);
    socket.off('error', this.onError);
    socket.off('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.reader.push(chunk);
    if (this.pumping) return;
    this.input.pause();
    this.pumping = true;
    this.pump()
      .catch((err: unknown) => {
        if (!(err instanceof ClosedError)) this.log.error({ err }, 'imap session failed');
        this.end();
      })
      .finally(() => {
        this.pumping = false;
        if (!this.closed) this.input.resume();
      });
  };

  /**
   * Start the autologout clock again, for the current state (RFC 3501 §5.4:
   * at least 30 minutes once logged in; a short one before). Called at each
   * command and when a login succeeds, so the longer timer applies at once.
   */
  restartAutologout(): void {
    this.socket.setTimeout(this.state.kind === 'notAuth' ? LIMITS.imap.notAuthTimeoutMs : LIMITS.imap.idleTimeoutMs);
  }

  private readonly onTimeout = (): void => {
    // RFC 3501 §5.4 autologout is for an idle client. A command still running
    // (a LOGIN whose account's first open indexes 100,000 files)
    // is the server's time: the clock starts again instead — unless the command
    // waits for the client to read its answer (a client that stopped reading is idle too).
    if (this.running > 0 && !this.socket.writableNeedDrain) {
      this.restartAutologout();
      return;
    }
    this.byeAndClose('Autologout; idle for too long');
  };

  private readonly onError = (err: Error): void => {
    this.log.debug({ err: err.message }, 'socket error');
  };

  private readonly onClose = (): void => {
    this.end();
  };

  /** Handle every complete event in the buffered bytes. */
  private async pump(): Promise<void> {
    for (;;) {
      if (this.closed) return;
      const ev = this.reader.next();
      if (ev.kind === 'needMore') break;
      await this.handle(ev);
    }
    await this.out.flush();
  }

  private async handle(ev: WireEvent): Promise<void> {
    switch (ev.kind) {
      case 'command':
        return this.dispatch(ev.command);
      case 'literal':
        return this.onLiteral(ev);
      case 'appendData':
        return this.onAppendData(ev.chunk);
      case 'appendEnd':
        return this.onAppendEnd();
      case 'line':
        return this.onLine(ev.text);
      case 'error':
        await this.abandonAppend();
        if (ev.status === 'BAD' && this.tooManyBad()) return;
        this.out.push(ev.tag === null ? untaggedStatus(ev.status === 'NO' ? 'NO' : 'BAD', ev.text) : this.taggedWithCode(ev.tag, ev.status, ev.text, ev.code));
        return;
      case 'needMore':
        return;
    }
  }

  private taggedWithCode(tag: string, status: 'OK' | 'NO' | 'BAD', text: string, code: string | null): Buffer | string {
    return code === null ? tagged(tag, status, text) : `${tag} ${status} [${code}] ${text}\r\n`;
  }

  /** RFC 3501 gives no number; LIMITS.imap.maxBadCommands BADs are answered, the next gets BYE. */
  private tooManyBad(): boolean {
    this.badCommands++;
    if (this.badCommands <= LIMITS.imap.maxBadCommands) return false;
    this.byeAndClose('Too many invalid IMAP commands');
    return true;
  }

  private async dispatch(cmd: Command): Promise<void> {
    if (this.state.kind === 'notAuth' && ++this.preAuthCommands > LIMITS.imap.maxCommandsBeforeAuth) {
      this.byeAndClose('Too many commands before login');
      return;
    }
    const spec = rulesOf(cmd);
    if (!(spec.states as readonly string[]).includes(this.state.kind)) {
      const why = this.state.kind === 'notAuth' ? 'Not logged in' : this.state.kind === 'auth' ? 'No mailbox selected' : 'Already logged in';
      if (!this.tooManyBad()) this.out.push(tagged(cmd.tag, 'BAD', `${cmd.name}: ${why}`));
      return;
    }
    // Every command resets the autologout timer (RFC 3501 §5.4).
    this.restartAutologout();
    let result: CommandResult;
    this.running++;
    try {
      result = await runCommand({ s: this, tag: cmd.tag }, cmd);
    } catch (err) {
      if (err instanceof ClosedError) throw err;
      if (err instanceof SequenceError) result = bad(`Invalid message set: ${err.message}`);
      else {
        const a = answerForError(err, this.log, cmd.name);
        result = { status: a.status, text: a.text, code: a.code ? { name: a.code } : undefined };
      }
    } finally {
      this.running--;
    }
    if (result === PENDING) return;
    if (this.state.kind === 'selected' || this.notifier) await this.pushUpdates(allowsExpunge(spec, cmd));
    this.out.tagged(cmd.tag, tagged(cmd.tag, result.status, result.text, result.code));
    if (result.after) {
      await this.out.flush();
      await result.after();
    }
  }

  // ---------------------------------------------------------------- APPEND literals

  private async onLiteral(ev: Extract<WireEvent, { kind: 'literal' }>): Promise<void> {
    const head = ev.append;
    if (!head) {
      // An ordinary synchronising literal inside a command: the reader has checked its size.
      this.reader.acceptLiteral();
      if (ev.sync) this.out.push(continuation('Ready for literal data'));
      await this.out.flush();
      return;
    }
    const refuse = async (status: 'NO' | 'BAD', text: string, code?: ResponseCode): Promise<void> => {
      this.reader.rejectLiteral();
      await this.abandonAppend();
      this.out.push(tagged(ev.tag, status, text, code));
    };
    if (this.state.kind !== 'auth' && this.state.kind !== 'selected') return refuse('BAD', 'APPEND: Not logged in');
    if (!this.ctx.replication.writable) return refuse('NO', 'This server is a standby; writes are refused', { name: 'UNAVAILABLE' });
    // RFC 7888 §4 / RFC 3501 §6.3.11: refuse before the client sends the bytes.
    if (head.size > appendLimit(this.ctx)) return refuse('NO', 'Message too large', { name: 'TOOBIG' });
    if (this.mode?.kind !== 'append') {
      try {
        // Only existence matters here (TRYCREATE): status() would count every message before each "+".
        await this.state.user.checkMailbox(head.mailbox);
      } catch (err) {
        if (isRoostError(err, 'NOTFOUND')) return refuse('NO', 'Mailbox does not exist', { name: 'TRYCREATE' });
        const a = answerForError(err, this.log, 'APPEND');
        return refuse(a.status, a.text, a.code ? { name: a.code } : undefined);
      }
    }
    // RFC 3502 gives no number; each message is a spool file until the command ends.
    if (head.index >= LIMITS.imap.maxAppendMessages) return refuse('NO', `Too many messages in one APPEND (limit ${LIMITS.imap.maxAppendMessages})`, { name: 'LIMIT' });
    const mode: Mode = this.mode?.kind === 'append' ? this.mode : { kind: 'append', tag: ev.tag, assembly: this.newAppendAssembly() };
    this.mode = mode;
    try {
      await mode.assembly.beginLiteral(head, ev.size, ev.before);
    } catch (err) {
      const a = appendFailure(err, this.log);
      return refuse(a.status, a.text, a.code);
    }
    this.reader.acceptLiteral();
    if (ev.sync) {
      this.out.push(continuation('Ready for literal data'));
      await this.out.flush();
    }
  }

  private async onAppendData(chunk: Buffer): Promise<void> {
    // A write error is kept and answered when the command ends (the client is sending the literal anyway).
    if (this.mode?.kind === 'append') await this.mode.assembly.write(chunk);
  }

  private async onAppendEnd(): Promise<void> {
    if (this.mode?.kind === 'append') await this.mode.assembly.endLiteral();
  }

  /** The APPEND did not complete (syntax error, client gone): nothing may reach the Maildir. */
  private async abandonAppend(): Promise<void> {
    const mode = this.mode;
    if (mode?.kind !== 'append') return;
    this.mode = null;
    await mode.assembly.discard();
  }

  // ---------------------------------------------------------------- continuation lines

  private async onLine(text: string): Promise<void> {
    const mode = this.mode;
    if (mode?.kind === 'idle') {
      clearInterval(mode.keepalive);
      this.mode = null;
      if (this.state.kind === 'selected') this.state.view.onUpdate = null;
      if (this.idleWake) clearImmediate(this.idleWake);
      this.idleWake = null;
      if (!isIdleDone(text)) {
        if (!this.tooManyBad()) this.out.push(tagged(mode.tag, 'BAD', 'Expected DONE'));
        return;
      }
      await this.pushUpdates(true);
      this.out.push(tagged(mode.tag, 'OK', 'Idle completed'));
      return;
    }
    if (mode?.kind === 'sasl') {
      this.mode = null;
      const result = await continueSasl({ s: this, tag: mode.tag }, mode.exchange, text).catch((err: unknown) => {
        const a = answerForError(err, this.log, 'AUTHENTICATE');
        const r: CommandResult = { status: a.status, text: a.text, code: a.code ? { name: a.code } : undefined };
        return r;
      });
      if (result === PENDING) return;
      this.out.push(tagged(mode.tag, result.status, result.text, result.code));
      if (result.after) {
        await this.out.flush();
        await result.after();
      }
    }
  }

  /**
   * NOTIFY has news (notify.ts): during IDLE it goes with the idle push;
   * between commands it is written at once (RFC 5465 §1: no need to poll),
   * unless a command has begun by the time the counts are read.
   */
  wakeNotify(): void {
    if (this.mode?.kind === 'idle') return this.scheduleIdlePush();
    // One write queued at a time: while a reader that does not read keeps us in drain, changes gather (bounded) in the notifier.
    if (!this.quiet() || this.notifyQueued) return;
    this.notifyQueued = true;
    const p = this.pushChain.then(() => {
      this.notifyQueued = false;
      return this.notifier?.write(this.out, () => this.quiet());
    });
    this.pushChain = p.then(() => this.safeFlush()).catch(() => this.end());
  }

  /** No command is being read or run, no exchange is in progress. */
  private quiet(): boolean {
    return !this.pumping && this.mode === null && !this.closed && !this.out.sealed;
  }

  private scheduleIdlePush(): void {
    // Batch the events of one store commit (they arrive in the same tick), then push at once.
    if (this.idleWake || this.mode?.kind !== 'idle') return;
    this.idleWake = setImmediate(() => {
      this.idleWake = null;
      if (this.mode?.kind !== 'idle') return;
      void this.pushUpdates(true)
        .then(() => this.safeFlush())
        .catch(() => this.end());
    });
  }

  // ---------------------------------------------------------------- TLS, close

  /** RFC 3501 §6.2.1: after the tagged OK, negotiate TLS; bytes the client sent early are discarded (RFC 7817 §... injection). */
  async upgradeTls(): Promise<void> {
    const old = this.socket;
    this.detach(old);
    this.reader.takeBuffered();
    const secure = await serverTls(old, this.secureContext());
    if (!secure) this.end();
    if (!secure || this.closed) return;
    this.socket = secure;
    this.secure = true;
    this.out.replaceSink(secure);
    this.input = secure;
    this.attach(secure);
  }

  /** RFC 4978 §3: after the tagged OK of COMPRESS, everything in both directions is DEFLATE. */
  startCompression(): void {
    const raw = this.socket;
    raw.off('data', this.onData);
    const layer = compressLayer(raw, this.reader.takeBuffered());
    layer.input.on('data', this.onData);
    // Paused like the socket it replaces while this command's pump runs; the pump's end resumes it.
    layer.input.pause();
    layer.input.on('error', () => this.end());
    this.input = layer.input;
    this.out.replaceSink(layer.sink);
    this.compression = layer;
  }

  /** COMPRESS=DEFLATE is active (a second COMPRESS answers NO [COMPRESSIONACTIVE]). */
  get compressed(): boolean {
    return this.compression !== null;
  }

  /** LOGOUT: the BYE was queued by the command (bye()); close after the tagged OK is written. */
  async logout(): Promise<void> {
    this.deselect();
    this.state = { kind: 'logout' };
    await this.safeFlush();
    this.end();
  }

  /**
   * The server ends the session on its own (limits, autologout): say BYE and
   * close; nothing else is read or sent (RFC 3501 §7.1.5). bye() alone only
   * queues it, for a caller that closes after more output (LOGOUT's OK).
   */
  private byeAndClose(text: string): void {
    this.bye(text);
    void this.safeFlush().then(() => this.end());
    this.closed = true;
  }

  private async safeFlush(): Promise<void> {
    try {
      await this.out.flush();
    } catch {
      this.end();
    }
  }

  private end(): void {
    if (this.ended) return;
    this.ended = true;
    if (this.mode?.kind === 'idle') clearInterval(this.mode.keepalive);
    if (this.idleWake) clearImmediate(this.idleWake);
    this.notifier?.close();
    void this.abandonAppend();
    if (this.state.kind === 'selected') this.state.view.close();
    if (this.state.kind !== 'logout') this.state = { kind: 'logout' };
    this.closed = true;
    this.detach(this.socket);
    this.socket.on('error', () => undefined);
    // Under COMPRESS the last responses may still be in the deflater: ending it flushes them, then ends the socket.
    if (this.compression) this.compression.sink.end();
    else this.socket.end();
    // A peer that never reads its last bytes must not keep the socket forever.
    setTimeout(() => this.socket.destroy(), LIMITS.imap.closeLingerMs).unref();
    this.done();
  }
}
