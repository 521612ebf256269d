/**
 * `roost import ADDRESS imap://… --pop3 pop3[s]://user@host[:port]`: POP3
 * continuity from a server whose UIDLs Roost cannot compute.
 * The old server's POP3 listing (UIDL and LIST, RFC 1939 §7 and §5) is
 * matched to its IMAP INBOX (UID and RFC822.SIZE, RFC 3501 §6.4.5) and
 * recorded by UID (store/maildir/pop3-uidls.ts); Roost's POP3 answers those
 * UIDLs, so "leave mail on server" clients download nothing again.
 *
 * The match is by position: a POP3 maildrop lists INBOX in the order IMAP
 * numbers it (Dovecot, Courier). Both listings must have the same count and
 * every size must agree, or nothing is recorded and the run fails — a wrong
 * UIDL makes a client skip a message it never had, worse than none.
 */
import net from 'node:net';
import tls from 'node:tls';
import { RoostError } from '../../errors.js';
import { LIMITS } from '../../limits.js';
import { isValidUidl, readRecordedUidls, writeRecordedUidls } from '../../store/maildir-import.js';
import { parseServerUrl, type ServerUrl, type ServerUrlForm } from '../server-url.js';

export type Pop3Source = ServerUrl;

const POP3_URL: ServerUrlForm = {
  // RFC 2384 §3 names the scheme "pop"; "pop3" is the form mail clients write.
  schemes: { 'pop3:': false, 'pop3s:': true, 'pop:': false, 'pops:': true },
  ports: { plain: 110, secure: 995 },
  name: 'pop3',
  prefix: '--pop3: ',
  passwordInUrl: 'the password is the one on stdin, not in the URL',
};

/** Parse `pop3://user@host[:port]` / `pop3s://…` (RFC 2384 form; the user may be %-encoded). */
export function parsePop3Url(url: string): Pop3Source {
  return parseServerUrl(url, POP3_URL);
}

/** A minimal POP3 client for the listing: greeting, USER/PASS, UIDL, LIST, QUIT. */
class Pop3Lines {
  private buf = '';
  private waiting: (() => void) | null = null;
  private failed: Error | null = null;

  constructor(private readonly socket: net.Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      if (this.buf.length > LIMITS.importPop3.maxListingBytes) this.fail(new RoostError('LIMIT', 'the POP3 listing is larger than expected'));
      this.waiting?.();
    });
    socket.on('error', (err) => this.fail(err));
    socket.on('close', () => this.fail(new RoostError('TEMP', 'the POP3 server closed the connection')));
    socket.setTimeout(LIMITS.importPop3.timeoutMs, () => this.fail(new RoostError('TEMP', 'the POP3 server did not answer in time')));
  }

  private fail(err: Error): void {
    this.failed ??= err;
    this.waiting?.();
  }

  private async until(done: () => boolean): Promise<void> {
    while (!done()) {
      if (this.failed) throw this.failed;
      await new Promise<void>((r) => (this.waiting = r));
      this.waiting = null;
    }
  }

  /** One status line (+OK / -ERR). */
  async status(): Promise<string> {
    await this.until(() => this.buf.includes('\r\n'));
    const i = this.buf.indexOf('\r\n');
    const line = this.buf.slice(0, i);
    this.buf = this.buf.slice(i + 2);
    return line;
  }

  /** A multi-line answer (RFC 1939 §3), dot-unstuffed, without the status line. */
  async multi(): Promise<string[]> {
    const first = await this.status();
    if (!first.startsWith('+OK')) throw new RoostError('TEMP', `POP3 server: ${first}`);
    // Scanned from where the last look stopped: a listing of 300,000 lines arrives in hundreds of chunks.
    let from = 0;
    let end = -1;
    await this.until(() => {
      if (this.buf.startsWith('.\r\n')) end = 0;
      else {
        const at = this.buf.indexOf('\r\n.\r\n', Math.max(0, from - 4));
        from = this.buf.length;
        if (at >= 0) end = at + 2;
      }
      return end >= 0;
    });
    const lines = end === 0 ? [] : this.buf.slice(0, end - 2).split('\r\n');
    this.buf = this.buf.slice(end + 3);
    return lines.map((l) => (l.startsWith('..') ? l.slice(1) : l));
  }

  send(line: string): void {
    this.socket.write(`${line}\r\n`);
  }
}

/** The old server's POP3 listing: per message number, its UIDL and size. */
export async function pop3Listing(src: Pop3Source, password: string, tlsVerify: boolean): Promise<{ uidl: string; size: number }[]> {
  const socket = src.secure
    ? tls.connect({ host: src.host, port: src.port, servername: net.isIP(src.host) ? undefined : src.host, rejectUnauthorized: tlsVerify })
    : net.connect(src.port, src.host);
  const c = new Pop3Lines(socket);
  try {
    const greeting = await c.status();
    if (!greeting.startsWith('+OK')) throw new RoostError('TEMP', `POP3 server: ${greeting}`);
    c.send(`USER ${src.user}`);
    const u = await c.status();
    if (!u.startsWith('+OK')) throw new RoostError('AUTHFAILED', `POP3 USER refused: ${u}`);
    c.send(`PASS ${password}`);
    const p = await c.status();
    if (!p.startsWith('+OK')) throw new RoostError('AUTHFAILED', `POP3 login refused: ${p}`);
    c.send('UIDL');
    const uidls = await c.multi();
    c.send('LIST');
    const sizes = await c.multi();
    c.send('QUIT');
    const byNumber = new Map<number, { uidl: string; size: number }>();
    for (const l of uidls) {
      const m = /^(\d+) (\S+)$/.exec(l);
      if (!m || !isValidUidl(m[2]!)) throw new RoostError('PARSE', `POP3 UIDL line not understood: ${JSON.stringify(l.slice(0, 100))}`);
      byNumber.set(Number(m[1]), { uidl: m[2]!, size: -1 });
    }
    for (const l of sizes) {
      const m = /^(\d+) (\d+)/.exec(l);
      const e = m ? byNumber.get(Number(m[1])) : undefined;
      if (!m || !e) throw new RoostError('PARSE', `POP3 LIST line not understood or without a UIDL: ${JSON.stringify(l.slice(0, 100))}`);
      e.size = Number(m[2]);
    }
    return [...byNumber].sort((a, b) => a[0] - b[0]).map(([, e]) => e);
  } finally {
    socket.destroy();
  }
}

/**
 * Match the POP3 listing to INBOX's (UID, size) in UID order and record the
 * UIDLs in the account's Maildir. Returns how many were recorded; throws
 * (recording nothing) when the two listings do not describe the same messages.
 */
export async function recordPop3Uidls(
  maildir: string,
  inbox: { uidvalidity: number; messages: { uid: number; size: number }[] },
  pop3: { uidl: string; size: number }[],
): Promise<number> {
  const imap = [...inbox.messages].sort((a, b) => a.uid - b.uid);
  if (imap.length !== pop3.length)
    throw new RoostError('TEMP', `the old server's POP3 lists ${pop3.length} messages and its IMAP INBOX ${imap.length} (mail arriving or expunged meanwhile?): nothing recorded, run the import again`);
  const differ = imap.findIndex((m, i) => m.size !== pop3[i]!.size);
  if (differ >= 0)
    throw new RoostError('TEMP', `POP3 message ${differ + 1} has ${pop3[differ]!.size} octets, IMAP UID ${imap[differ]!.uid} ${imap[differ]!.size}: the listings do not match, nothing recorded`);
  const seen = new Set<string>();
  for (const p of pop3) {
    if (seen.has(p.uidl)) throw new RoostError('PARSE', `the old server answered the UIDL ${p.uidl} twice (RFC 1939 §7 wants them unique): nothing recorded`);
    seen.add(p.uidl);
  }
  // Earlier runs' records stay for messages no longer at the source (deleted there after they were copied).
  const old = await readRecordedUidls(maildir);
  const byUid = new Map(old && old.uidvalidity === inbox.uidvalidity ? old.byUid : []);
  imap.forEach((m, i) => byUid.set(m.uid, pop3[i]!.uidl));
  await writeRecordedUidls(maildir, { uidvalidity: inbox.uidvalidity, byUid });
  return imap.length;
}
