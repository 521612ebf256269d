/**
 * The SMTP client (RFC 5321) for one message to one smarthost: greeting,
 * EHLO (HELO when EHLO is refused, §4.1.1.1), STARTTLS where offered or
 * required (RFC 3207), MAIL/RCPT/DATA pipelined where PIPELINING is offered
 * (RFC 2920 §3.1: DATA may close the group), the body streamed from the
 * store with dot-stuffing (./body.ts), QUIT. The outcome is one result per
 * recipient; a failure of the session itself (connect, timeout, bad reply,
 * TLS) leaves every recipient not yet decided temporary, so the next
 * smarthost can have them.
 */
import type { Readable } from 'node:stream';
import { LIMITS } from '../limits.js';
import { DataEncoder, isNonAsciiAddress } from './body.js';
import { SessionError, SmtpConnection } from './connection.js';
import { replyText, type SmtpReply } from './reply.js';

export type StartTlsPolicy = 'opportunistic' | 'required' | 'off';

export interface SmtpOptions {
  /** Our name in EHLO (config `hostname`). */
  helo: string;
  starttls: StartTlsPolicy;
  tlsVerify: boolean;
  /** Caps every wait; 0 = the RFC 5321 §4.5.3.2 values in LIMITS.outbound. */
  timeoutMs: number;
}

export interface OutboundMessage {
  /** Envelope sender, "" for the null reverse-path. */
  sender: string;
  /** Stored size (SIZE=, RFC 1870; an estimate, as the RFC allows). */
  size: number;
  /** A fresh stream of the stored bytes, read once per smarthost tried. */
  open(): Readable;
  /**
   * Whether the bytes have an octet above 127 (RFC 6152), as the receiving
   * side saw them (Incoming.eightBit): the copy is not read again to find out.
   */
  eightBit: boolean;
}

export type RecipientStatus = 'accepted' | 'temporary' | 'permanent';

export interface RecipientOutcome {
  recipient: string;
  status: RecipientStatus;
  /** The smarthost's reply (or our reason), one line, for logs and verdict text. */
  reply: string;
}

export interface SmtpResult {
  recipients: RecipientOutcome[];
  tls: boolean;
}

function status(code: number): RecipientStatus {
  return code >= 200 && code < 300 ? 'accepted' : code >= 500 ? 'permanent' : 'temporary';
}

function timeouts(capMs: number) {
  const o = LIMITS.outbound;
  const cap = (ms: number): number => (capMs > 0 ? Math.min(ms, capMs) : ms);
  return {
    connect: cap(o.connectTimeoutMs),
    greeting: cap(o.greetingTimeoutMs),
    command: cap(o.mailTimeoutMs),
    quit: cap(o.quitTimeoutMs),
    rcpt: cap(o.rcptTimeoutMs),
    dataInit: cap(o.dataInitTimeoutMs),
    dataBlock: cap(o.dataBlockTimeoutMs),
    dataTerm: cap(o.dataTermTimeoutMs),
  };
}

/** EHLO keywords (RFC 5321 §4.1.1.1): the first word of each line after the first, upper-cased. */
function extensions(r: SmtpReply): Map<string, string> {
  const m = new Map<string, string>();
  for (const line of r.lines.slice(1)) {
    const [kw, ...rest] = line.trim().split(/\s+/);
    if (kw) m.set(kw.toUpperCase(), rest.join(' '));
  }
  return m;
}

/** An address as a path (RFC 5321 §4.1.2); addresses reach us already checked for NUL and length. */
function path(address: string): string {
  return `<${address.replace(/[\r\n]/g, '')}>`;
}

class Refused extends Error {
  constructor(readonly reply: SmtpReply) {
    super(replyText(reply));
  }
}

/**
 * Hand one message to one smarthost. Never throws: a session failure is a
 * temporary outcome for every recipient, with the reason as its text.
 */
export async function sendMail(
  host: string,
  port: number,
  message: OutboundMessage,
  recipients: readonly string[],
  opts: SmtpOptions,
): Promise<SmtpResult> {
  const t = timeouts(opts.timeoutMs);
  let conn: SmtpConnection | null = null;
  const decided = new Map<string, RecipientOutcome>();
  const all = (s: RecipientStatus, reply: string): SmtpResult => ({
    recipients: recipients.map((r) => decided.get(r) ?? { recipient: r, status: s, reply }),
    tls: conn?.encrypted ?? false,
  });
  try {
    const eightBit = message.eightBit;
    const utf8 = isNonAsciiAddress(message.sender) || recipients.some(isNonAsciiAddress);
    conn = await SmtpConnection.connect(host, port, t.connect);
    const c = conn;
    const expect = async (timeoutMs: number, what: string): Promise<SmtpReply> => {
      const r = await c.reply(timeoutMs, what);
      if (r.code < 200 || r.code >= 400) throw new Refused(r);
      return r;
    };
    await expect(t.greeting, 'the greeting');
    const ehlo = async (): Promise<Map<string, string>> => {
      await c.write(`EHLO ${opts.helo}\r\n`, t.dataBlock);
      const r = await c.reply(t.command, 'EHLO');
      if (r.code === 250) return extensions(r);
      if (r.code < 500) throw new Refused(r);
      await c.write(`HELO ${opts.helo}\r\n`, t.dataBlock);
      await expect(t.command, 'HELO');
      return new Map();
    };
    let ext = await ehlo();
    if (opts.starttls !== 'off' && ext.has('STARTTLS')) {
      await c.write('STARTTLS\r\n', t.dataBlock);
      const r = await c.reply(t.command, 'STARTTLS');
      if (r.code === 220) {
        await c.startTls(host, opts.tlsVerify, LIMITS.net.tlsHandshakeTimeoutMs);
        // RFC 3207 §4.2: forget what was learnt before TLS and ask again.
        ext = await ehlo();
      } else if (opts.starttls === 'required') throw new Refused(r);
    }
    if (opts.starttls === 'required' && !c.encrypted) return all('temporary', `${host}:${port} does not offer STARTTLS (outbound.starttls = required)`);

    // RFC 6531 §3.4: a non-ASCII envelope only to a server that offers SMTPUTF8, with the parameter on MAIL.
    // Worded as the reply a server would give (RFC 6533 §3: 5.6.7, non-ASCII addresses not permitted), so the bounce carries that code.
    if (utf8 && !ext.has('SMTPUTF8')) {
      await quit(c, t.quit);
      return all('permanent', `554 5.6.7 ${host}:${port}: SMTPUTF8 not offered, and the envelope has a non-ASCII address (RFC 6531 §3.4)`);
    }
    // RFC 6152 §3: 8-bit data only to a server that offers 8BITMIME, with BODY=8BITMIME; no downgrade here
    // (RFC 3463 §3.7: 5.6.3, conversion required but not supported).
    if (eightBit && !ext.has('8BITMIME')) {
      await quit(c, t.quit);
      return all('permanent', `554 5.6.3 ${host}:${port}: 8BITMIME not offered, and the message has 8-bit octets (RFC 6152 §3)`);
    }
    const size = ext.has('SIZE') ? ` SIZE=${message.size}` : '';
    const body = eightBit ? ' BODY=8BITMIME' : '';
    const smtputf8 = utf8 ? ' SMTPUTF8' : '';
    const mail = `MAIL FROM:${path(message.sender)}${size}${body}${smtputf8}\r\n`;
    const rcpts = recipients.map((r) => `RCPT TO:${path(r)}\r\n`);
    const pipelining = ext.has('PIPELINING');
    let mailReply: SmtpReply;
    const rcptReplies: SmtpReply[] = [];
    let dataReply: SmtpReply | null = null;
    if (pipelining) {
      await c.write([mail, ...rcpts, 'DATA\r\n'].join(''), t.dataBlock);
      mailReply = await c.reply(t.command, 'MAIL');
      for (let i = 0; i < rcpts.length; i++) rcptReplies.push(await c.reply(t.rcpt, 'RCPT'));
      dataReply = await c.reply(t.dataInit, 'DATA');
    } else {
      await c.write(mail, t.dataBlock);
      mailReply = await c.reply(t.command, 'MAIL');
      if (mailReply.code === 250) {
        for (const line of rcpts) {
          await c.write(line, t.dataBlock);
          rcptReplies.push(await c.reply(t.rcpt, 'RCPT'));
        }
      }
    }
    if (mailReply.code !== 250) return all(status(mailReply.code) === 'permanent' ? 'permanent' : 'temporary', replyText(mailReply));
    const accepted: string[] = [];
    recipients.forEach((r, i) => {
      const rr = rcptReplies[i]!;
      if (rr.code === 250 || rr.code === 251) accepted.push(r);
      else decided.set(r, { recipient: r, status: status(rr.code) === 'permanent' ? 'permanent' : 'temporary', reply: replyText(rr) });
    });
    if (accepted.length === 0) {
      // RFC 2920 §3.1: a pipelined DATA after no accepted RCPT is refused; if a server said 354 anyway, end it empty.
      if (dataReply?.code === 354) {
        await c.write('.\r\n', t.dataBlock);
        await c.reply(t.dataTerm, 'the end of data');
      }
      await quit(c, t.quit);
      return all('temporary', 'no recipient accepted');
    }
    if (!dataReply) {
      await c.write('DATA\r\n', t.dataBlock);
      dataReply = await c.reply(t.dataInit, 'DATA');
    }
    if (dataReply.code !== 354) return all(status(dataReply.code) === 'permanent' ? 'permanent' : 'temporary', replyText(dataReply));
    await sendBody(c, message.open(), t.dataBlock);
    const final = await c.reply(t.dataTerm, 'the end of data');
    const finalStatus = status(final.code);
    for (const r of accepted) decided.set(r, { recipient: r, status: finalStatus, reply: replyText(final) });
    await quit(c, t.quit);
    return all('temporary', replyText(final));
  } catch (err) {
    // Refused before MAIL (greeting, EHLO, STARTTLS): this smarthost will not serve us; another may.
    if (err instanceof Refused) return all('temporary', `${host}:${port}: ${err.message}`);
    if (err instanceof SessionError) return all('temporary', `${host}:${port}: ${err.message}`);
    return all('temporary', `${host}:${port}: ${err instanceof Error ? err.message : String(err)}`);
  } finally {
    conn?.close();
  }
}

/** Stream the stored bytes as DATA, each block within the §4.5.3.2.5 timeout. */
async function sendBody(c: SmtpConnection, source: Readable, blockMs: number): Promise<void> {
  const enc = new DataEncoder();
  try {
    for await (const chunk of source) await c.write(enc.encode(chunk as Buffer), blockMs);
  } finally {
    source.destroy();
  }
  await c.write(enc.end(), blockMs);
}

/** QUIT is a courtesy (RFC 5321 §4.1.1.10): the outcome is already decided, so its reply or absence changes nothing. */
async function quit(c: SmtpConnection, timeoutMs: number): Promise<void> {
  try {
    await c.write('QUIT\r\n', timeoutMs);
    await c.reply(timeoutMs, 'QUIT');
  } catch {
    // Already decided; the connection is closed either way.
  }
}
