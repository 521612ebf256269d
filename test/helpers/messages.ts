/**
 * Message builders shared by several test files.
 */
import { createHash } from 'node:crypto';

/**
 * A deterministic message for an id (the crash tests' checker rebuilds it
 * from the Message-Id to compare byte for byte): a Message-Id and Subject,
 * then pseudo-random base64 lines, 200 B – 40 KB, with `eol` line ends.
 */
export function deterministicMessage(id: string, opts: { domain: string; subject: string; eol: '\n' | '\r\n' }): Buffer {
  const seed = createHash('sha256').update(id).digest();
  const size = 200 + (seed.readUInt32BE(0) % 40_000);
  const lines: string[] = [`Message-Id: <${id}@${opts.domain}>`, `Subject: ${opts.subject}`, ''];
  let h = seed;
  let len = 0;
  while (len < size) {
    h = createHash('sha256').update(h).digest();
    const line = h.toString('base64');
    lines.push(line);
    len += line.length + opts.eol.length;
  }
  return Buffer.from(`${lines.join(opts.eol)}${opts.eol}`, 'latin1');
}

/**
 * Messages whose bytes need care in POP3's byte-stuffing and line-end
 * conversion (RFC 1939 §3): dot lines, no final line end, bare CR, bare LF
 * in CRLF mail, the empty message, a header without a blank line.
 */
export const POP3_EDGE_MESSAGES: readonly string[] = [
  'From: a@example.org\nSubject: lf\n\nline\n.leading dot\n..two\n.\nlast\n',
  'From: b@example.org\r\nSubject: crlf\r\n\r\nline\r\n.\r\n..\r\nend\r\n',
  'From: c@example.org\nSubject: open end\n\nno final newline',
  'From: d@example.org\r\nSubject: open end crlf\r\n\r\nno final line end',
  '.From: dot first\n\n.body',
  'Subject: bare CR\n\na\rb\n\rc\n.\rd\nends in CR\r',
  'Subject: mixed\r\n\r\ncrlf\r\nlf\nlf again\n\r\n.crlf dot\r\n.lf dot\n',
  '',
  '\n',
  '.',
  'Subject: header only, no blank line\n',
  'Subject: blank body\n\n',
];

/** A small RFC 5322 message numbered `n`, CRLF line ends (the IMAP tests' builder; test/imap/helpers/node.ts re-exports it as `message`). */
export function numberedMessage(n: number, opts: { subject?: string; from?: string; body?: string; headers?: string } = {}): string {
  return (
    `From: ${opts.from ?? `Sender ${n} <sender${n}@example.net>`}\r\n` +
    `To: Alice <alice@example.org>\r\n` +
    `Subject: ${opts.subject ?? `Message ${n}`}\r\n` +
    `Date: Tue, 24 Nov 2026 10:00:${String(n % 60).padStart(2, '0')} +0000\r\n` +
    `Message-ID: <m${n}@example.net>\r\n` +
    (opts.headers ?? '') +
    `\r\n` +
    `${opts.body ?? `Body of message ${n}.`}\r\n`
  );
}

/** A minimal message with LF line ends, as QMQP hands one to a Maildir (the store tests' builder; test/store/helpers.ts re-exports it as `message`). */
export function plainMessage(subject: string, body = 'Hello\n'): Buffer {
  return Buffer.from(`From: a@example.org\nTo: b@example.org\nSubject: ${subject}\n\n${body}`);
}

/** Message `i` of a series `tag`, about `size` bytes, its Message-ID `<tag-i@test.invalid>` (the replication tests' builder; test/replication/pair.ts re-exports it as `testMessage`). */
export function taggedMessage(i: number, tag: string, size = 600): Buffer {
  const head = `From: sender@example.net\r\nTo: alice@example.org\r\nSubject: ${tag} ${i}\r\nMessage-ID: <${tag}-${i}@test.invalid>\r\n\r\n`;
  const line = `line of ${tag} message ${i} `.padEnd(70, 'x') + '\r\n';
  let body = '';
  while (body.length + head.length < size) body += line;
  return Buffer.from(head + body);
}
