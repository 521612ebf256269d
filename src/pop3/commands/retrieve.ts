/**
 * RETR and TOP (RFC 1939 §7): a message streams from its file through the
 * CRLF-converting, dot-stuffing stage into the socket with pipeline(), so a
 * slow client holds the file read back instead of filling memory; a small
 * one is read whole and written at once.
 */
import { pipeline } from 'node:stream/promises';
import { DotStuffer, dotStuffStage } from '../dotstuff.js';
import { pop3BytesRetrieved, pop3MessagesRetrieved } from '../metrics.js';
import { errorReply } from '../replies.js';
import { LIMITS } from '../../limits.js';
import type { MailboxHandle, MessageRecord } from '../../store/store.js';
import type { MessageBody, CommandSession } from '../session-api.js';
import { ArgError, noSuchMessage, oneMessage, parseNumber, splitArgs, type Command } from './args.js';

export const retr: Command<{ msg: number }> = {
  states: ['transaction'],
  parse: oneMessage,
  async run(s, { msg }) {
    const sent = await send(s, msg, null);
    if (sent) {
      s.tx().maildrop.markRetrieved(msg);
      pop3MessagesRetrieved.inc();
    }
  },
};

export const top: Command<{ msg: number; lines: number }> = {
  states: ['transaction'],
  parse(args) {
    const parts = splitArgs(args);
    if (parts.length !== 2) return new ArgError('TOP requires a message number and a line count.');
    const msg = parseNumber(parts[0]!);
    const lines = parseNumber(parts[1]!);
    if (msg === null) return new ArgError('Invalid message number.');
    if (lines === null) return new ArgError('Invalid line count.');
    return { msg, lines };
  },
  async run(s, { msg, lines }) {
    await send(s, msg, lines);
  },
};

/**
 * Small messages are read whole (one buffer of at most
 * LIMITS.pop3.readWholeMaxBytes: fewer file system round trips and no stream
 * machinery per message); larger ones stream with back-pressure.
 */
function openBody(handle: MailboxHandle, record: MessageRecord): Promise<MessageBody> {
  return record.size <= LIMITS.pop3.readWholeMaxBytes ? handle.readMessage(record.uid) : handle.openMessage(record.uid);
}

/** The message number of a RETR or TOP command line, else null. */
function nextRetrieval(line: string | null): number | null {
  const m = line === null ? null : /^(?:RETR|TOP) +([0-9]{1,15})(?: |$)/i.exec(line);
  return m ? Number(m[1]) : null;
}

/** The LIMITS.pop3 keys readAheadCount reads, as numbers (not the shipped literals). */
export type ReadAheadLimits = { readonly [K in 'readAheadMessages' | 'readAheadBytes' | 'readWholeMaxBytes']: number };

/**
 * How many of the messages named by consecutive pipelined RETR/TOP lines
 * (`sizes`, in command order) are read ahead: at most
 * LIMITS.pop3.readAheadMessages, and no more than LIMITS.pop3.readAheadBytes
 * held, a streamed message counting one chunk (readWholeMaxBytes). The
 * first always goes, whatever its size: it is the next to be sent. With the
 * shipped values (8 messages, 1 MiB, whole up to 512 KiB) the count binds
 * for mail of a few KiB and the bytes for attachments; `limits` lets a test
 * move either bound.
 */
export function readAheadCount(
  sizes: readonly number[],
  limits: ReadAheadLimits = LIMITS.pop3,
): number {
  let bytes = 0;
  let n = 0;
  for (const size of sizes) {
    if (n >= limits.readAheadMessages) break;
    bytes += Math.min(size, limits.readWholeMaxBytes);
    if (n > 0 && bytes > limits.readAheadBytes) break;
    n++;
  }
  return n;
}

/**
 * The messages that the consecutive RETR/TOP lines waiting in the input will
 * send, within the read-ahead budget (readAheadCount). With none waiting after a RETR of
 * message `after`, the next message is read as a guess (when small): clients
 * that send one RETR at a time (fetchmail, poplib) download in order, and
 * their next RETR then finds its message read.
 */
function planAhead(s: CommandSession, after: number | null): { uid: number; open: () => Promise<MessageBody> }[] {
  const { handle, maildrop } = s.tx();
  const lines = s.peekCommands(LIMITS.pop3.readAheadMessages);
  if (lines.length === 0 && after !== null) {
    const look = maildrop.get(after + 1);
    if (look.kind === 'ok' && look.record.size <= LIMITS.pop3.guessAheadMaxBytes) {
      const record = look.record;
      return [{ uid: record.uid, open: () => openBody(handle, record) }];
    }
    return [];
  }
  const records: MessageRecord[] = [];
  for (const line of lines) {
    const n = nextRetrieval(line);
    if (n === null) break;
    const look = maildrop.get(n);
    if (look.kind !== 'ok') break;
    records.push(look.record);
  }
  return records.slice(0, readAheadCount(records.map((r) => r.size))).map((record) => ({ uid: record.uid, open: () => openBody(handle, record) }));
}

/**
 * Pass the file's bytes on, and fail if it ends before `size` (the bytes
 * indexed): another program truncated it mid-reply. The failure ends the
 * connection before the terminating "." (RFC 1939 §3), so the client sees
 * an incomplete reply, not a shorter message it might then DELE. The open
 * descriptor keeps a file that is unlinked meanwhile (expunged) readable.
 */
function whole(size: number): (src: AsyncIterable<Buffer>) => AsyncGenerator<Buffer> {
  return async function* (src) {
    let n = 0;
    for await (const chunk of src) {
      n += chunk.length;
      yield chunk;
    }
    if (n < size) throw new Error(`message file ended after ${n} of ${size} bytes`);
  };
}

/** Stream message `msg` (all of it, or TOP's header + `lines`); true when sent in full. */
async function send(s: CommandSession, msg: number, lines: number | null): Promise<boolean> {
  const err = noSuchMessage(s, msg);
  if (err) {
    await s.reply(err);
    return false;
  }
  const { handle, maildrop } = s.tx();
  const look = maildrop.get(msg);
  if (look.kind !== 'ok') return false;
  let body: MessageBody;
  try {
    body = await (s.takeAhead(look.record.uid) ?? openBody(handle, look.record));
    // Nothing is written yet: a file shorter than indexed (truncated by another program) is refused here.
    if (Buffer.isBuffer(body) && body.length < look.record.size) throw new Error(`message file UID ${look.record.uid} has ${body.length} of ${look.record.size} bytes`);
  } catch (e) {
    await s.reply(errorReply(e, s.log));
    return false;
  }
  const plan = planAhead(s, lines === null ? msg : null);
  const first = Buffer.from(lines === null ? `+OK ${look.record.vsize} octets\r\n` : '+OK Top of message follows.\r\n');
  // size = vsize: the file has no bare LF (vsize counts each as two octets), so only dots need adding.
  const stuffer = new DotStuffer(lines, look.record.size === look.record.vsize);
  let octets = 0;
  if (Buffer.isBuffer(body)) {
    // A small message: one conversion, queued with the replies around it (one write per batch).
    const converted = stuffer.convert(body);
    octets = converted.length;
    pop3BytesRetrieved.inc(octets);
    const queued = s.out.write(first, converted, stuffer.end());
    // A client that waits for this reply gets it before the guess at its next
    // message is read: the read then overlaps the client's turn, not ours.
    if (!s.commandWaiting()) s.out.push();
    s.readAhead(plan);
    await queued;
    return !s.socket.destroyed;
  }
  // Pipelining: RETR/TOP commands already received get their messages
  // opened while this one is on the wire.
  s.readAhead(plan);
  // A large one streams straight into the socket, after the replies queued before it.
  await s.out.flush();
  try {
    // end: false — the socket carries the rest of the session.
    await pipeline(body, whole(look.record.size), dotStuffStage(stuffer, first, (n) => (octets += n)), s.socket, { end: false });
  } catch (e) {
    // Mid-reply there is no way to say -ERR: the connection is gone or must go.
    s.log.info({ err: (e as Error).message, uid: look.record.uid }, 'message transfer aborted');
    body.destroy();
    s.socket.destroy();
    return false;
  } finally {
    pop3BytesRetrieved.inc(octets);
  }
  if (lines === null && stuffer.contentOctets !== look.record.vsize)
    s.log.warn({ uid: look.record.uid, vsize: look.record.vsize, sent: stuffer.contentOctets }, 'RETR size differs from the listed size');
  return true;
}
