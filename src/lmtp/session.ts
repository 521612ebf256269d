/**
 * One LMTP connection (RFC 2033): LHLO, then transactions of MAIL, RCPT…,
 * and DATA or BDAT…LAST, each answered with one reply per accepted
 * recipient (§4.2), every 250 meaning what QMQP's K means: on disk, synced,
 * indexed, and on the replica in sync mode (src/delivery).
 *
 * The state is a union carrying its data; the command
 * table says which states each command is allowed in. Replies to pipelined
 * commands (RFC 2920) are corked and written together when the session next
 * waits for input.
 */
import type net from 'node:net';
import type { NodeContext } from '../context.js';
import { deliverEach, Incoming, resolveRecipient, type ResolvedRecipient } from '../delivery/deliver.js';
import { deliveries } from '../delivery/metrics.js';
import { deliveredToLine, receivedLine } from '../delivery/trace.js';
import { verdictForError, type Verdict } from '../delivery/verdict.js';
import { RoostError } from '../errors.js';
import { LIMITS } from '../limits.js';
import type { Logger } from '../log/logger.js';
import { parseCommand, type Command } from './command.js';
import { CrlfDecoder, DataDecoder } from './data.js';
import { SocketInput } from './input.js';
import { formatOne, replyForVerdict, type Reply } from './replies.js';

type Transaction = { helo: string; sender: string; recipients: ResolvedRecipient[] };

type State =
  /** Connected, LHLO not yet seen. */
  | { kind: 'start' }
  | { kind: 'ready'; helo: string }
  /** MAIL accepted; RCPTs being collected. */
  | ({ kind: 'mail' } & Transaction)
  /** BDAT chunks arriving (RFC 3030); a failed chunk ends the transaction (back to ready). */
  | ({ kind: 'chunking'; incoming: Incoming; crlf: CrlfDecoder; size: number } & Transaction);

type Kind = State['kind'];
type Outcome = 'continue' | 'close';

const SEQUENCE = (text: string): Reply => ({ code: 503, status: '5.5.1', text });

export class LmtpSession {
  private state: State = { kind: 'start' };
  private bad = 0;
  private corked = false;
  /** Waiting for a command line with no message bytes held: safe to cut on shutdown. */
  idle = true;
  private closing = false;
  private readonly input: SocketInput;

  constructor(
    private readonly ctx: NodeContext,
    private readonly socket: net.Socket,
    private readonly log: Logger,
  ) {
    this.input = new SocketInput(socket, () => this.flush());
  }

  /** Serve until QUIT, end of input or shutdown. Never throws. */
  async run(): Promise<void> {
    const cfg = this.ctx.config.lmtp;
    this.socket.setTimeout(cfg.read_timeout_ms, () => {
      this.log.info('read timeout');
      this.socket.destroy();
    });
    try {
      await this.write(`220 ${this.ctx.config.hostname} LMTP Roost ready\r\n`);
      for (;;) {
        if (this.closing) {
          await this.write('421 4.3.2 Service shutting down, try again later\r\n');
          break;
        }
        this.idle = this.state.kind !== 'chunking';
        const line = await this.input.line(LIMITS.lmtp.maxLineLength);
        this.idle = false;
        if (line.kind === 'eof') break;
        const outcome = line.kind === 'toolong' ? await this.refuse({ code: 500, status: '5.5.2', text: 'Line too long' }) : await this.command(line.text);
        if (outcome === 'close') break;
      }
    } catch (err) {
      this.log.warn({ err }, 'lmtp session failed');
    } finally {
      await this.abort();
      this.flush();
      this.socket.end();
      this.socket.setTimeout(LIMITS.lmtp.closeLingerMs, () => this.socket.destroy());
    }
  }

  /** Shutdown: an idle session is told 421 now, a busy one after its current step. */
  shutdown(): void {
    this.closing = true;
    if (this.idle) {
      // The reply is flushed before the socket goes; the waiting read then sees the end of input.
      this.flush();
      this.socket.end('421 4.3.2 Service shutting down, try again later\r\n', () => this.socket.destroy());
    }
  }

  private async command(text: string): Promise<Outcome> {
    const cmd = parseCommand(text);
    if (cmd.verb === null) {
      if (cmd.fatal) {
        await this.write(formatOne(cmd));
        return 'close';
      }
      return this.refuse(cmd);
    }
    const row = TABLE[cmd.verb];
    if (!row.states.includes(this.state.kind)) {
      // BDAT's bytes follow the command whatever the answer (RFC 3030 §2): skip them to stay in step.
      if (cmd.verb === 'BDAT' && !(await this.input.take(cmd.size, async () => undefined))) return 'close';
      if (this.state.kind === 'chunking' && cmd.verb !== 'BDAT') await this.abort();
      return this.refuse(row.refusal(this.state.kind));
    }
    return row.run(this, cmd as never);
  }

  /** A refused command; too many of them end the connection (RFC 5321 §4.3.2 lets a server give up). */
  private async refuse(r: Reply): Promise<Outcome> {
    await this.write(formatOne(r));
    if (++this.bad < LIMITS.lmtp.maxBadCommands) return 'continue';
    await this.write('421 4.7.0 Too many errors, closing connection\r\n');
    return 'close';
  }

  // ----------------------------------------------------------- commands

  async lhlo(cmd: Extract<Command, { verb: 'LHLO' }>): Promise<Outcome> {
    await this.abort();
    this.state = { kind: 'ready', helo: cmd.domain };
    const lines = [this.ctx.config.hostname, 'PIPELINING', 'ENHANCEDSTATUSCODES', '8BITMIME', `SIZE ${this.ctx.config.lmtp.max_message_size}`, 'CHUNKING'];
    await this.write(lines.map((l, i) => `250${i === lines.length - 1 ? ' ' : '-'}${l}\r\n`).join(''));
    return 'continue';
  }

  async mail(cmd: Extract<Command, { verb: 'MAIL' }>): Promise<Outcome> {
    if (this.state.kind !== 'ready') return 'continue';
    // RFC 1870 §6.1: a declared size past the limit is refused at MAIL.
    if (cmd.size !== null && cmd.size > this.ctx.config.lmtp.max_message_size) {
      return this.refuse({ code: 552, status: '5.3.4', text: 'Message size exceeds fixed maximum message size' });
    }
    this.state = { kind: 'mail', helo: this.state.helo, sender: cmd.sender, recipients: [] };
    await this.write('250 2.1.0 Sender OK\r\n');
    return 'continue';
  }

  async rcpt(cmd: Extract<Command, { verb: 'RCPT' }>): Promise<Outcome> {
    const st = this.state;
    if (st.kind !== 'mail') return 'continue';
    if (st.recipients.length >= this.ctx.config.lmtp.max_recipients) {
      await this.write(formatOne({ code: 452, status: '4.5.3', text: 'Too many recipients' }));
      return 'continue';
    }
    // The directory decides at RCPT time (unknown, disabled, other host); a failure there is a 4xx.
    const r = await resolveRecipient(this.ctx, cmd.recipient);
    if ('code' in r) {
      deliveries.inc({ result: r.code, via: 'lmtp' });
      this.log.info({ recipient: cmd.recipient, verdict: r.code, text: r.text }, 'recipient refused');
      await this.write(formatOne(replyForVerdict(r, cmd.recipient)));
      return 'continue';
    }
    st.recipients.push({ address: cmd.recipient, account: r });
    await this.write(`250 2.1.5 <${cmd.recipient}> OK\r\n`);
    return 'continue';
  }

  async data(): Promise<Outcome> {
    const st = this.state;
    if (st.kind !== 'mail') return 'continue';
    // RFC 2033 §4.2: DATA with no accepted recipient is 503.
    if (st.recipients.length === 0) return this.refuse(SEQUENCE('No valid recipients'));
    const incoming = await this.startDraft(st);
    if (!('draft' in incoming)) {
      await this.write(formatOne(replyForVerdict(incoming, st.recipients[0]!.address)));
      return 'continue';
    }
    await this.write('354 Start mail input; end with <CRLF>.<CRLF>\r\n');
    const decoder = new DataDecoder();
    let failure: unknown = null;
    while (!decoder.done) {
      const c = await this.input.chunk();
      if (c === null) {
        await incoming.draft.discard().catch(() => undefined);
        this.log.info('connection ended during DATA; nothing delivered');
        return 'close';
      }
      const { data, end } = decoder.push(c);
      if (end >= 0) this.input.unshift(c.subarray(end));
      if (data.length > 0 && failure === null) {
        try {
          await incoming.write(data);
        } catch (err) {
          // Keep reading to the final dot (the client is still sending), then answer each recipient.
          failure = err;
          await incoming.draft.discard().catch(() => undefined);
        }
      }
    }
    await this.finishTransaction(st, incoming, failure);
    return 'continue';
  }

  async bdat(cmd: Extract<Command, { verb: 'BDAT' }>): Promise<Outcome> {
    const st0 = this.state;
    if (st0.kind !== 'mail' && st0.kind !== 'chunking') return 'continue';
    if (st0.recipients.length === 0) {
      if (!(await this.input.take(cmd.size, async () => undefined))) return 'close';
      return this.refuse(SEQUENCE('No valid recipients'));
    }
    let st: Extract<State, { kind: 'chunking' }>;
    if (st0.kind === 'mail') {
      const incoming = await this.startDraft(st0);
      if (!('draft' in incoming)) {
        if (!(await this.input.take(cmd.size, async () => undefined))) return 'close';
        this.state = { kind: 'ready', helo: st0.helo };
        await this.write(formatOne(replyForVerdict(incoming, st0.recipients[0]!.address)));
        return 'continue';
      }
      st = { ...st0, kind: 'chunking', incoming, crlf: new CrlfDecoder(), size: 0 };
      this.state = st;
    } else st = st0;
    st.size += cmd.size;
    let failure: unknown =
      st.size > this.ctx.config.lmtp.max_message_size ? new RoostError('TOOBIG', `BDAT total ${st.size} exceeds ${this.ctx.config.lmtp.max_message_size}`) : null;
    const ok = await this.input.take(cmd.size, async (b) => {
      if (failure !== null) return;
      try {
        await st.incoming.write(st.crlf.push(b));
      } catch (err) {
        failure = err;
      }
    });
    if (!ok) {
      this.log.info('connection ended during BDAT; nothing delivered');
      return 'close';
    }
    if (cmd.last) {
      if (failure === null) {
        try {
          await st.incoming.write(st.crlf.end());
        } catch (err) {
          failure = err;
        }
      }
      if (failure !== null) await st.incoming.draft.discard().catch(() => undefined);
      await this.finishTransaction(st, st.incoming, failure);
      return 'continue';
    }
    if (failure !== null) {
      // RFC 3030 §2: the transaction has failed; chunks already pipelined are read and refused (503).
      await st.incoming.draft.discard().catch(() => undefined);
      this.state = { kind: 'ready', helo: st.helo };
      const v = verdictForError(failure, this.ctx.config.qmqp.over_quota);
      this.countFailure(v, st.recipients.length);
      const r = replyForVerdict(v, st.recipients[0]!.address);
      return this.refuse({ ...r, text: r.text.replace(/^<[^>]*> /, '') });
    }
    await this.write(`250 2.0.0 ${cmd.size} octets received\r\n`);
    return 'continue';
  }

  async rset(): Promise<Outcome> {
    await this.abort();
    if (this.state.kind !== 'start') this.state = { kind: 'ready', helo: this.state.helo };
    await this.write('250 2.0.0 OK\r\n');
    return 'continue';
  }

  async simple(r: string): Promise<Outcome> {
    await this.write(r);
    return 'continue';
  }

  async quit(): Promise<Outcome> {
    await this.write(`221 2.0.0 ${this.ctx.config.hostname} closing connection\r\n`);
    return 'close';
  }

  // ----------------------------------------------------------- delivery

  /**
   * The draft of a transaction: our Received line, and qmail-local's
   * Delivered-To when the transaction has one recipient. With several, one
   * spool file is hard-linked into every Maildir (src/store), so the bytes
   * cannot name each recipient; Dovecot's LMTP leaves Delivered-To out then too.
   */
  private async startDraft(st: Transaction): Promise<Incoming | Verdict> {
    const received = receivedLine(this.socket.remoteAddress ?? 'unknown', this.ctx.config.hostname, { via: 'LMTP', helo: st.helo });
    const one = st.recipients.length === 1 ? st.recipients[0]!.address : undefined;
    const prefix = one !== undefined ? Buffer.concat([deliveredToLine(one), received]) : received;
    try {
      return await Incoming.open(this.ctx.store, { prefix, maxSize: this.ctx.config.lmtp.max_message_size }, one);
    } catch (err) {
      this.log.warn({ err }, 'could not start a draft');
      return verdictForError(err, this.ctx.config.qmqp.over_quota);
    }
  }

  /** All bytes are in (or receiving failed): one reply per accepted recipient, in RCPT order (RFC 2033 §4.2). */
  private async finishTransaction(st: Transaction, incoming: Incoming, failure: unknown): Promise<void> {
    this.state = { kind: 'ready', helo: st.helo };
    let verdicts: Verdict[];
    if (failure !== null) {
      const v = verdictForError(failure, this.ctx.config.qmqp.over_quota);
      this.log.info({ verdict: v.code, text: v.text, recipients: st.recipients.length }, 'message refused while receiving');
      this.countFailure(v, st.recipients.length);
      verdicts = st.recipients.map(() => v);
    } else {
      // Delivery waits on fsyncs and the replica, not on the client: no read timeout meanwhile.
      this.socket.setTimeout(0);
      verdicts = await deliverEach(this.ctx, { sender: st.sender, recipients: st.recipients, incoming, via: 'lmtp', log: this.log });
      this.socket.setTimeout(this.ctx.config.lmtp.read_timeout_ms);
    }
    await this.write(verdicts.map((v, i) => formatOne(replyForVerdict(v, st.recipients[i]!.address))).join(''));
  }

  private countFailure(v: Verdict, n: number): void {
    deliveries.inc({ result: v.code, via: 'lmtp' }, n);
  }

  /** Throw away a transaction's draft (RSET, LHLO, end of connection). */
  private async abort(): Promise<void> {
    if (this.state.kind === 'chunking') {
      const d = this.state.incoming.draft;
      this.state = { kind: 'ready', helo: this.state.helo };
      await d.discard().catch((err: unknown) => this.log.warn({ err }, 'draft discard failed'));
    }
  }

  // ----------------------------------------------------------- output

  /** Queue a reply (corked until the session waits for input); waits while the client is not reading. */
  private async write(text: string): Promise<void> {
    if (this.socket.destroyed) return;
    if (!this.corked) {
      this.socket.cork();
      this.corked = true;
    }
    this.socket.write(text);
    if (this.socket.writableLength > LIMITS.lmtp.maxQueuedOutput) {
      this.flush();
      await new Promise<void>((resolve) => {
        const done = (): void => {
          this.socket.off('drain', done);
          this.socket.off('close', done);
          resolve();
        };
        this.socket.on('drain', done);
        this.socket.on('close', done);
      });
    }
  }

  private flush(): void {
    if (this.corked) {
      this.corked = false;
      this.socket.uncork();
    }
  }
}

interface Row {
  states: readonly Kind[];
  refusal: (state: Kind) => Reply;
  run: (s: LmtpSession, cmd: never) => Promise<Outcome>;
}

const anyState: readonly Kind[] = ['start', 'ready', 'mail', 'chunking'];
const notInChunking = (k: Kind): Reply => (k === 'chunking' ? SEQUENCE('BDAT transaction in progress; send BDAT or RSET') : SEQUENCE('Bad sequence of commands'));

/** The command table: allowed states, the refusal outside them, the handler. */
const TABLE: Record<Command['verb'], Row> = {
  LHLO: { states: anyState, refusal: notInChunking, run: (s, c: Extract<Command, { verb: 'LHLO' }>) => s.lhlo(c) },
  HELO: {
    states: [],
    refusal: () => ({ code: 500, status: '5.5.1', text: 'This is LMTP: use LHLO (RFC 2033 §4.1)' }),
    run: () => Promise.resolve('continue'),
  },
  MAIL: {
    states: ['ready'],
    refusal: (k) => (k === 'start' ? SEQUENCE('Send LHLO first') : k === 'mail' ? SEQUENCE('Nested MAIL command') : notInChunking(k)),
    run: (s, c: Extract<Command, { verb: 'MAIL' }>) => s.mail(c),
  },
  RCPT: { states: ['mail'], refusal: (k) => (k === 'chunking' ? notInChunking(k) : SEQUENCE('Need MAIL before RCPT')), run: (s, c: Extract<Command, { verb: 'RCPT' }>) => s.rcpt(c) },
  DATA: { states: ['mail'], refusal: (k) => (k === 'chunking' ? notInChunking(k) : SEQUENCE('Need MAIL and RCPT before DATA')), run: (s) => s.data() },
  BDAT: { states: ['mail', 'chunking'], refusal: () => SEQUENCE('Need MAIL and RCPT before BDAT'), run: (s, c: Extract<Command, { verb: 'BDAT' }>) => s.bdat(c) },
  RSET: { states: anyState, refusal: notInChunking, run: (s) => s.rset() },
  NOOP: { states: anyState, refusal: notInChunking, run: (s) => s.simple('250 2.0.0 OK\r\n') },
  // RFC 5321 §3.5.3: 252 when the server will not verify but will accept the message.
  VRFY: { states: anyState, refusal: notInChunking, run: (s) => s.simple('252 2.5.0 Cannot VRFY user, but will accept message and attempt delivery\r\n') },
  HELP: { states: anyState, refusal: notInChunking, run: (s) => s.simple('214 2.0.0 See RFC 2033\r\n') },
  QUIT: { states: anyState, refusal: notInChunking, run: (s) => s.quit() },
};
