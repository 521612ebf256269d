/**
 * The vacation reply itself (RFC 3834 §3), built from the account's text the
 * way qmail-ldap's qmail-reply builds it (mailmagic.c), so a text migrated
 * from mailReplyText reads the same:
 *
 *  - A text whose first line is `%HEADER%` starts with header fields of its
 *    own, up to the first empty line: From, Subject, Content-Type,
 *    Content-Transfer-Encoding and X-* are taken (continuation lines with
 *    them); every other field is dropped (To, Precedence and the RFC 3834
 *    fields are ours). The rest is the body.
 *  - `%SUBJECT%` in the Subject field is the incoming message's subject
 *    ("Your Mail" when it has none); the default Subject is
 *    `[Auto-Reply] %SUBJECT%`.
 *
 * Unlike qmail-reply the default charset is UTF-8: LDAP DirectoryString
 * values (mailReplyText) and the embedded text are UTF-8 (RFC 4517 §3.3.6).
 * Line ends are LF, as messages are kept; the hand-off writes CRLF.
 */
import { randomBytes } from 'node:crypto';
import { LIMITS } from '../../limits.js';
import { rfc5322Date } from '../trace.js';
import type { ReplyHeader } from './header.js';

export interface ReplyInput {
  /** The account's vacation text (mailReplyText, `roost user vacation set`). */
  text: string;
  /** The account address the message was addressed to (the reply's From). */
  from: string;
  /** The incoming message's envelope sender (the reply's To and only recipient, RFC 3834 §4). */
  to: string;
  header: ReplyHeader;
  /** This node's name, for the Message-ID. */
  hostname: string;
  now?: Date;
}

/** qmail-reply's subject when the incoming message has none. */
export const NO_SUBJECT = 'Your Mail';
const DEFAULT_SUBJECT = 'Subject: [Auto-Reply] %SUBJECT%';
/** Fields a %HEADER% block may set (qmail-reply's ALLOW and SUBJECT entries); "x-" is a prefix. */
const TAKEN = ['from', 'subject', 'content-type', 'content-transfer-encoding'];

interface TextParts {
  /** Taken header lines by lower-cased field name, continuation lines joined with LF. */
  fields: Map<string, string>;
  /** X-* fields in order. */
  extra: string[];
  body: string;
}

function fieldName(line: string): string | null {
  const colon = line.indexOf(':');
  return colon > 0 ? line.slice(0, colon).trim().toLowerCase() : null;
}

/** Split a vacation text into its %HEADER% block (if any) and body. */
export function splitReplyText(text: string): TextParts {
  const lines = text.replace(/\r\n?/g, '\n').split('\n');
  const parts: TextParts = { fields: new Map(), extra: [], body: '' };
  if (lines[0]?.trimEnd().toUpperCase() !== '%HEADER%') {
    parts.body = lines.join('\n');
    return parts;
  }
  let i = 1;
  let open: { key: string; extra: boolean } | null = null;
  for (; i < lines.length && lines[i] !== ''; i++) {
    const line = lines[i]!;
    if (line[0] === ' ' || line[0] === '\t') {
      if (open?.extra) parts.extra[parts.extra.length - 1] += `\n${line}`;
      else if (open) parts.fields.set(open.key, `${parts.fields.get(open.key)}\n${line}`);
      continue;
    }
    open = null;
    const name = fieldName(line);
    if (name === null) continue;
    if (name.startsWith('x-')) {
      parts.extra.push(line);
      open = { key: name, extra: true };
    } else if (TAKEN.includes(name) && !parts.fields.has(name)) {
      // One of each (RFC 5322 §3.6 allows From and Subject once).
      parts.fields.set(name, line);
      open = { key: name, extra: false };
    }
  }
  parts.body = lines.slice(i + 1).join('\n');
  return parts;
}

/** The incoming subject as bytes: first Subject field, unfolded, trimmed, cut at LIMITS.delivery.maxReplySubjectBytes. */
export function originalSubject(h: ReplyHeader): Buffer {
  const v = (h.fields.get('subject')?.[0] ?? '').replace(/[\r\n]/g, '').trim();
  const b = Buffer.from(v === '' ? NO_SUBJECT : v, 'latin1');
  return b.subarray(0, LIMITS.delivery.maxReplySubjectBytes);
}

/** The Subject line with each %SUBJECT% (any case) replaced by the incoming subject's bytes. */
function subjectLine(line: string, subject: Buffer): Buffer {
  const pieces = line.split(/%SUBJECT%/i);
  const out: Buffer[] = [];
  pieces.forEach((p, i) => {
    if (i > 0) out.push(subject);
    out.push(Buffer.from(p, 'utf8'));
  });
  return Buffer.concat(out);
}

const MSG_ID = /<[^\s<>]+>/g;

/** RFC 3834 §3.1.5: In-Reply-To is the incoming Message-ID; References are its References (or In-Reply-To) plus that id. */
export function threading(h: ReplyHeader): { inReplyTo: string; references: string[] } | null {
  const id = (h.fields.get('message-id')?.[0] ?? '').match(MSG_ID)?.[0];
  if (id === undefined) return null;
  const prior = (h.fields.get('references')?.[0] ?? h.fields.get('in-reply-to')?.[0] ?? '').match(MSG_ID) ?? [];
  // The oldest (thread root) and the most recent ids are the ones readers use (RFC 5322 §3.6.4).
  const keep = LIMITS.delivery.maxReplyReferences - 1;
  const refs = prior.length > keep ? [prior[0]!, ...prior.slice(prior.length - keep + 1)] : prior;
  return { inReplyTo: id, references: [...refs, id] };
}

export function composeReply(r: ReplyInput): Buffer {
  const now = r.now ?? new Date();
  const parts = splitReplyText(r.text);
  const subject = originalSubject(r.header);
  const thread = threading(r.header);
  const lines: Buffer[] = [];
  const add = (s: string): void => void lines.push(Buffer.from(`${s}\n`, 'utf8'));
  add(`Date: ${rfc5322Date(now)}`);
  add(parts.fields.get('from') ?? `From: <${r.from}>`);
  add(`To: <${r.to}>`);
  lines.push(subjectLine(parts.fields.get('subject') ?? DEFAULT_SUBJECT, subject), Buffer.from('\n'));
  add(`Message-ID: <${now.getTime()}.${randomBytes(8).toString('hex')}.vacation@${r.hostname}>`);
  if (thread) {
    add(`In-Reply-To: ${thread.inReplyTo}`);
    add(`References: ${thread.references.join('\n ')}`);
  }
  // RFC 3834 §5: marks the reply as automatic so other responders stay quiet; Precedence as qmail-reply sets it.
  add('Auto-Submitted: auto-replied');
  add('Precedence: junk');
  add('MIME-Version: 1.0');
  add(parts.fields.get('content-type') ?? 'Content-Type: text/plain; charset=utf-8');
  add(parts.fields.get('content-transfer-encoding') ?? 'Content-Transfer-Encoding: 8bit');
  for (const x of parts.extra) add(x);
  const body = parts.body.endsWith('\n') || parts.body === '' ? parts.body : `${parts.body}\n`;
  return Buffer.concat([...lines, Buffer.from('\n'), Buffer.from(body, 'utf8')]);
}
