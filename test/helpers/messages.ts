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
