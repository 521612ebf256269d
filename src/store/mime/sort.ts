/**
 * SORT / THREAD keys (RFC 5256, RFC 5957) taken from the top-level header at
 * parse time, so SORT never re-reads message files.
 */
import type { SortKeys } from './types.js';
import { fieldValue, type HeaderField } from './header.js';
import { parseAddressList, type Address } from './address.js';
import { decodeHeaderValue, normalizeSpace } from './decode.js';

const MONTHS: Record<string, number> = {
  jan: 0, feb: 1, mar: 2, apr: 3, may: 4, jun: 5, jul: 6, aug: 7, sep: 8, oct: 9, nov: 10, dec: 11,
};
const ZONES: Record<string, number> = {
  UT: 0, UTC: 0, GMT: 0, Z: 0, EST: -300, EDT: -240, CST: -360, CDT: -300, MST: -420, MDT: -360, PST: -480, PDT: -420,
};
// RFC 5322 §3.3 date-time (and obs- forms): [day ","] d mon yyyy hh:mm[:ss] zone.
const DATE_RE = /(\d{1,2})\s+([A-Za-z]{3})[A-Za-z]*\s+(\d{2,4})\s+(\d{1,2}):(\d{1,2})(?::(\d{1,2}))?\s*([+-]\d{4}|[A-Za-z]{1,5})?/;

/** An RFC 5322 date-time: the instant, and the zone it was written in (minutes east of UTC). */
export interface SentDate {
  ms: number;
  zone: number;
}

/** Parse an RFC 5322 date to ms since the epoch, or null when it makes no sense. */
export function parseRfc5322Date(value: string): number | null {
  return parseRfc5322DateZone(value)?.ms ?? null;
}

/**
 * Parse an RFC 5322 date keeping its zone: SEARCH SENTON and friends compare
 * the calendar day as written in the header (RFC 3501 §6.4.4 "disregarding
 * time and timezone"), which the instant alone cannot give back.
 */
export function parseRfc5322DateZone(value: string): SentDate | null {
  const m = DATE_RE.exec(value.slice(0, 200));
  if (!m) return null;
  const mon = MONTHS[m[2].toLowerCase()];
  if (mon === undefined) return null;
  let year = Number(m[3]);
  // RFC 5322 §4.3: two-digit years 00-49 are 20xx, 50-99 are 19xx; three digits add 1900.
  if (m[3].length === 2) year += year < 50 ? 2000 : 1900;
  else if (m[3].length === 3) year += 1900;
  const day = Number(m[1]);
  const h = Number(m[4]);
  const mi = Number(m[5]);
  const s = m[6] ? Number(m[6]) : 0;
  if (day < 1 || day > 31 || h > 23 || mi > 59 || s > 60) return null;
  let offset = 0;
  const z = m[7];
  if (z) {
    if (z[0] === '+' || z[0] === '-') {
      const hh = Number(z.slice(1, 3));
      const mm = Number(z.slice(3, 5));
      offset = (z[0] === '-' ? -1 : 1) * (hh * 60 + mm);
    } else offset = ZONES[z.toUpperCase()] ?? 0;
  }
  const t = Date.UTC(year, mon, day, h, mi, s) - offset * 60_000;
  return Number.isFinite(t) ? { ms: t, zone: offset } : null;
}

/**
 * RFC 5256 §2.1 base subject, with whether a reply/forward marker was
 * removed (§2.1 steps 2-6). Input is decoded text.
 */
export function baseSubject(subject: string): { base: string; isReply: boolean } {
  let s = normalizeSpace(subject);
  let isReply = false;
  for (let guard = 0; guard < 100; guard++) {
    const before = s;
    // (2) subj-trailer: "(fwd)" and blanks at the end.
    for (;;) {
      const t = s.replace(/\s*\(fwd\)$/i, '');
      if (t === s) break;
      s = t.trimEnd();
      isReply = true;
    }
    // (3)-(5) subj-leader: blobs and "re"/"fw"/"fwd" [blob] ":" at the start.
    for (;;) {
      const m = /^(?:\[[^[\]]*\]\s*)*(?:re|fwd?)\s*(?:\[[^[\]]*\]\s*)?:\s*/i.exec(s);
      if (m) {
        s = s.slice(m[0].length);
        isReply = true;
        continue;
      }
      const blob = /^\[[^[\]]*\]\s*/.exec(s);
      if (blob && blob[0].length < s.length) {
        s = s.slice(blob[0].length);
        continue;
      }
      break;
    }
    // (6) "[fwd:" ... "]" wrapper.
    const w = /^\[fwd:\s*([\s\S]*)\]$/i.exec(s);
    if (w) {
      s = w[1].trim();
      isReply = true;
    }
    if (s === before) break;
  }
  return { base: s, isReply };
}

/**
 * The first member of an address list, a group's start marker included
 * (RFC 5256 §3 CC/FROM/TO and RFC 5957 §3 take the first address as written; for a
 * group that is its name, mailbox = group name and domain = null here, which
 * is what Dovecot sorts on too).
 */
function firstAddress(list: Address[]): Address | null {
  return list[0] ?? null;
}

function msgIds(value: string): string[] {
  return value.match(/<[^<>\s]{1,998}>/g) ?? [];
}

export function sortKeys(buf: Buffer, fields: readonly HeaderField[]): SortKeys {
  let date: string | null = null;
  let subject = '';
  let from: Address[] = [];
  let to: Address[] = [];
  let cc: Address[] = [];
  let messageId = '';
  let inReplyTo = '';
  let references: string[] = [];
  for (const f of fields) {
    switch (f.lname) {
      case 'date': date ??= fieldValue(buf, f); break;
      case 'subject': subject ||= fieldValue(buf, f); break;
      case 'from': if (from.length === 0) from = parseAddressList(fieldValue(buf, f)); break;
      case 'to': if (to.length === 0) to = parseAddressList(fieldValue(buf, f)); break;
      case 'cc': if (cc.length === 0) cc = parseAddressList(fieldValue(buf, f)); break;
      case 'message-id': messageId ||= msgIds(fieldValue(buf, f))[0] ?? ''; break;
      case 'in-reply-to': inReplyTo ||= msgIds(fieldValue(buf, f))[0] ?? ''; break;
      case 'references': if (references.length === 0) references = msgIds(fieldValue(buf, f)).slice(0, 1000); break;
    }
  }
  const subj = baseSubject(decodeHeaderValue(subject));
  const f0 = firstAddress(from);
  const t0 = firstAddress(to);
  const c0 = firstAddress(cc);
  const display = (a: Address | null): string => {
    if (a === null) return '';
    // RFC 5957 §3: the decoded display name; when it is absent or decodes to nothing, the addr-spec
    // (a group's start marker has only its name, in `mailbox`).
    const name = a.name ? normalizeSpace(decodeHeaderValue(a.name)) : '';
    if (name !== '') return name;
    if (a.mailbox === null) return '';
    return a.domain === null ? a.mailbox : `${a.mailbox}@${a.domain}`;
  };
  const sent = date === null ? null : parseRfc5322DateZone(date);
  return {
    date: sent?.ms ?? null,
    dateZone: sent?.zone ?? 0,
    subject: subj.base,
    isReply: subj.isReply,
    from: (f0?.mailbox ?? '').toLowerCase(),
    to: (t0?.mailbox ?? '').toLowerCase(),
    cc: (c0?.mailbox ?? '').toLowerCase(),
    displayFrom: display(f0),
    displayTo: display(t0),
    messageId,
    inReplyTo,
    references,
  };
}
