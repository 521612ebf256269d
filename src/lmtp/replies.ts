/**
 * LMTP replies (RFC 5321 §4.2, enhanced status codes RFC 2034 / RFC 3463).
 * Delivery verdicts become reply codes in exactly one switch (replyForVerdict);
 * the class digit always follows the verdict: K → 2xx, Z → 4xx, D → 5xx.
 */
import type { Verdict } from '../delivery/verdict.js';
import { LIMITS } from '../limits.js';

export interface Reply {
  code: number;
  /** Enhanced status code (RFC 3463), e.g. "5.1.1". */
  status: string;
  text: string;
}

/** The qmail-style "(#5.1.1)" a directory text carries, if it matches the verdict's class. */
function statusInText(text: string, cls: '4' | '5'): string | null {
  const m = /#([245])\.(\d{1,3})\.(\d{1,3})\)?\s*$/.exec(text);
  return m && m[1] === cls ? `${m[1]}.${m[2]}.${m[3]}` : null;
}

/** Drop the qmail "(#x.y.z)" suffix: the enhanced code goes in front in LMTP. */
function plain(text: string): string {
  return text.replace(/\s*\(#[245]\.\d{1,3}\.\d{1,3}\)\s*$/, '').slice(0, LIMITS.qmqp.maxReplyText);
}

/** THE mapping of delivery verdicts to LMTP replies. */
export function replyForVerdict(v: Verdict, recipient: string): Reply {
  const text = `<${recipient}> ${plain(v.text)}`;
  const temp = v.code === 'Z';
  switch (v.reason) {
    case 'accepted':
      return { code: 250, status: '2.0.0', text: `<${recipient}> delivered (${v.text})` };
    case 'badaddress':
      return { code: 501, status: '5.1.3', text };
    case 'norecipients':
      return { code: 503, status: '5.5.1', text };
    case 'toomanyrecipients':
      // RFC 5321 §4.5.3.1.10: too many recipients is 452, and the client sends the rest later.
      return { code: 452, status: '4.5.3', text };
    case 'toobig':
      return temp ? { code: 452, status: '4.3.1', text } : { code: 552, status: '5.3.4', text };
    case 'usertoobig':
      return { code: 552, status: '5.2.3', text };
    case 'overquota':
      return temp ? { code: 452, status: '4.2.2', text } : { code: 552, status: '5.2.2', text };
    case 'limit':
      return temp ? { code: 451, status: '4.3.2', text } : { code: 552, status: '5.3.4', text };
    case 'disabled':
      return { code: 550, status: '5.2.1', text };
    case 'nomailbox':
      return { code: 550, status: '5.1.1', text };
    case 'directory':
      return temp ? { code: 451, status: statusInText(v.text, '4') ?? '4.3.0', text } : { code: 550, status: statusInText(v.text, '5') ?? '5.1.1', text };
    case 'notprimary':
      return { code: 451, status: '4.3.2', text };
    case 'directorydown':
      // RFC 3463 X.4.3: directory server failure (qmail-ldap uses #4.4.3 too).
      return { code: 451, status: '4.4.3', text };
    case 'temporary':
      return { code: 451, status: '4.3.0', text };
    case 'mailboxbusy':
      // RFC 5321 §4.2.3: 450 "mailbox unavailable (e.g., mailbox busy)"; RFC 3463 X.2.1 with a 4: not accepting messages for now.
      return { code: 450, status: '4.2.1', text };
    case 'loop':
      // RFC 3463 X.4.6: routing loop detected.
      return { code: 554, status: '5.4.6', text };
    case 'relaydenied':
      return { code: 550, status: '5.7.1', text };
    case 'remote':
      return temp ? { code: 451, status: statusInText(v.text, '4') ?? '4.4.0', text } : { code: 550, status: statusInText(v.text, '5') ?? '5.0.0', text };
  }
}

/** One reply line (RFC 5321 §4.2, with the RFC 2034 enhanced code). */
export function formatOne(r: Reply): string {
  return `${r.code} ${r.status} ${r.text}\r\n`;
}
