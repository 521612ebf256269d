/**
 * IMAP ENVELOPE (RFC 3501 §7.4.2) from a header block, rendered once at
 * parse time. RFC 2047 words are left encoded (the RFC says the server sends
 * the header as is; clients decode). Repeated fields: the last Date,
 * Subject, In-Reply-To and Message-ID count, address fields of every copy
 * are joined (Dovecot's reading; RFC 5322 §3.6 allows only one of each).
 */
import { parseAddressList, type Address } from './address.js';
import { fieldValue, type HeaderField } from './header.js';
import { imapNString, imapNStringNoLf, imapStringForHumans } from './quote.js';

export interface EnvelopeFields {
  date: string | null;
  subject: string | null;
  inReplyTo: string | null;
  messageId: string | null;
  from: Address[] | null;
  sender: Address[] | null;
  replyTo: Address[] | null;
  to: Address[] | null;
  cc: Address[] | null;
  bcc: Address[] | null;
}

/** Collect the envelope fields (byte strings, unfolded) from a header. */
export function envelopeFields(buf: Buffer, fields: readonly HeaderField[]): EnvelopeFields {
  const e: EnvelopeFields = {
    date: null, subject: null, inReplyTo: null, messageId: null,
    from: null, sender: null, replyTo: null, to: null, cc: null, bcc: null,
  };
  const addAddrs = (cur: Address[] | null, f: HeaderField): Address[] | null => {
    const list = parseAddressList(fieldValue(buf, f));
    if (list.length === 0) return cur;
    if (cur === null) return list;
    // Appended in place: concat per repeated field would copy the list each time.
    for (const a of list) cur.push(a);
    return cur;
  };
  for (const f of fields) {
    switch (f.lname) {
      case 'date': e.date = fieldValue(buf, f); break;
      case 'subject': e.subject = fieldValue(buf, f); break;
      case 'in-reply-to': e.inReplyTo = fieldValue(buf, f); break;
      case 'message-id': e.messageId = fieldValue(buf, f); break;
      case 'from': e.from = addAddrs(e.from, f); break;
      case 'sender': e.sender = addAddrs(e.sender, f); break;
      case 'reply-to': e.replyTo = addAddrs(e.replyTo, f); break;
      case 'to': e.to = addAddrs(e.to, f); break;
      case 'cc': e.cc = addAddrs(e.cc, f); break;
      case 'bcc': e.bcc = addAddrs(e.bcc, f); break;
    }
  }
  return e;
}

function addressList(list: Address[] | null): string {
  if (list === null || list.length === 0) return 'NIL';
  let out = '(';
  for (const a of list) {
    out += `(${a.name === null ? 'NIL' : imapStringForHumans(a.name)} ${imapNString(a.route)} ${imapNString(a.mailbox)} ${imapNString(a.domain)})`;
  }
  return out + ')';
}

/** The parenthesised ENVELOPE value (a byte string: send as latin1). */
export function renderEnvelopeFields(e: EnvelopeFields): string {
  return (
    '(' +
    [
      // Folded values lose their line ends but keep the blanks (Dovecot's choice).
      imapNStringNoLf(e.date),
      e.subject === null ? 'NIL' : imapStringForHumans(e.subject),
      addressList(e.from),
      // RFC 3501 §7.4.2: sender and reply-to default to from.
      addressList(e.sender ?? e.from),
      addressList(e.replyTo ?? e.from),
      addressList(e.to),
      addressList(e.cc),
      addressList(e.bcc),
      imapNStringNoLf(e.inReplyTo),
      imapNStringNoLf(e.messageId),
    ].join(' ') +
    ')'
  );
}

/** ENVELOPE of the header fields `fields` of `buf`. */
export function renderEnvelope(buf: Buffer, fields: readonly HeaderField[]): string {
  return renderEnvelopeFields(envelopeFields(buf, fields));
}

/** ENVELOPE of an encapsulated message that was not parsed (encoded message/rfc822). */
export const EMPTY_ENVELOPE = '(NIL NIL NIL NIL NIL NIL NIL NIL NIL NIL)';
