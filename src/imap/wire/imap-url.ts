/**
 * IMAP URLs (RFC 5092) as CATENATE's `URL` parts name them (RFC 4469 §3):
 * a message, or a section or byte range of one, in a mailbox of the
 * logged-in user on this server. Accepted forms, resolved against the
 * session's base `imap://user@host/` (RFC 5092 §7 relative references):
 *
 *   /INBOX;UIDVALIDITY=785799047/;UID=113330/;SECTION=1.5.9/;PARTIAL=0.1024
 *   ;UID=20/;SECTION=HEADER          (relative to the selected mailbox)
 *
 * Anything else — another server or user (`imap://…`, `//host/…`), a
 * mailbox without `;UID=`, URLAUTH parameters (RFC 4467 is not offered),
 * malformed escapes — gives null, which the command answers with
 * NO [BADURL url] (RFC 4469 §5).
 */
import { canonicalInbox } from './args.js';
import type { ImapUrlRef, Section, SectionSpecifier } from './types.js';

const NZ_NUMBER = /^[1-9][0-9]{0,9}$/;
const NUMBER = /^[0-9]{1,10}$/;
const MAX_U32 = 4294967295;

function nz(s: string): number | null {
  if (!NZ_NUMBER.test(s)) return null;
  const n = Number(s);
  return n <= MAX_U32 ? n : null;
}

/** %-decoding of UTF-8 (RFC 5092 §9 for mailbox names, RFC 3986 §2.1); null on a bad escape or bad UTF-8. */
function unescape(s: string): string | null {
  try {
    return decodeURIComponent(s);
  } catch {
    return null;
  }
}

/** `key=value` of a `;KEY=value` segment (keys are case-insensitive, RFC 5092 §11). */
function param(seg: string, key: string): string | null {
  const prefix = `;${key}=`;
  return seg.length > prefix.length && seg.slice(0, prefix.length).toUpperCase() === prefix ? seg.slice(prefix.length) : null;
}

const SPECIFIERS: readonly SectionSpecifier[] = ['HEADER.FIELDS.NOT', 'HEADER.FIELDS', 'HEADER', 'TEXT', 'MIME'];
/** header-fld-name: printable US-ASCII except ":" (RFC 5322 §2.2 ftext). */
const FIELD_NAME = /^[\x21-\x39\x3b-\x7e]+$/;

/** `enc-section` after %-decoding: the text inside FETCH's `BODY[…]` (RFC 3501 §6.4.5). */
export function parseUrlSection(text: string): Section | null {
  const m = /^([^ ()]*)(?: \(([^()]*)\))?$/.exec(text);
  if (!m || m[1] === '') return null;
  const comps = m[1]!.split('.');
  const part: number[] = [];
  let i = 0;
  for (; i < comps.length && /^[0-9]+$/.test(comps[i]!); i++) {
    const n = nz(comps[i]!);
    if (n === null) return null;
    part.push(n);
  }
  const rest = comps.slice(i).join('.').toUpperCase();
  const specifier = rest === '' ? null : (SPECIFIERS.find((s) => s === rest) ?? null);
  if (rest !== '' && specifier === null) return null;
  // RFC 3501 §6.4.5: MIME only for a part.
  if (specifier === 'MIME' && part.length === 0) return null;
  const wantsFields = specifier === 'HEADER.FIELDS' || specifier === 'HEADER.FIELDS.NOT';
  if (wantsFields !== (m[2] !== undefined)) return null;
  const fields = wantsFields ? m[2]!.split(' ').filter((f) => f !== '') : [];
  if (wantsFields && (fields.length === 0 || !fields.every((f) => FIELD_NAME.test(f)))) return null;
  return { part, specifier, fields };
}

/** The reference a CATENATE URL names, or null when we cannot resolve it (see the file comment). */
export function parseImapUrl(url: string): ImapUrlRef | null {
  let mailbox: string | null = null;
  let uidvalidity: number | null = null;
  let rest: string;
  if (url.startsWith('/')) {
    // An absolute path on this server: `/` enc-mailbox [;UIDVALIDITY=n] then `/;UID=…`.
    if (url.startsWith('//')) return null;
    const cut = url.indexOf('/;', 1);
    if (cut < 0) return null;
    const [enc, ...params] = url.slice(1, cut).split(';');
    const name = unescape(enc!);
    if (!name) return null;
    mailbox = canonicalInbox(name);
    if (params.length > 1) return null;
    if (params.length === 1) {
      const v = param(`;${params[0]!}`, 'UIDVALIDITY');
      uidvalidity = v === null ? null : nz(v);
      if (uidvalidity === null) return null;
    }
    rest = url.slice(cut + 1);
  } else if (url.startsWith(';')) {
    rest = url;
  } else {
    return null;
  }
  // rest: ;UID=n [/;SECTION=s] [/;PARTIAL=p]
  const segs = rest.split('/;').map((s, i) => (i === 0 ? s : `;${s}`));
  const uidText = param(segs[0]!, 'UID');
  const uid = uidText === null ? null : nz(uidText);
  if (uid === null) return null;
  let k = 1;
  let section: Section | null = null;
  const sectionText = segs[k] !== undefined ? param(segs[k]!, 'SECTION') : null;
  if (sectionText !== null) {
    const decoded = unescape(sectionText);
    section = decoded === null ? null : parseUrlSection(decoded);
    if (section === null) return null;
    k++;
  }
  let partial: ImapUrlRef['partial'] = null;
  const partialText = segs[k] !== undefined ? param(segs[k]!, 'PARTIAL') : null;
  if (partialText !== null) {
    // RFC 5092 §11 partial-range = number ["." nz-number]
    const m = /^([0-9]+)(?:\.([0-9]+))?$/.exec(partialText);
    if (!m || !NUMBER.test(m[1]!) || Number(m[1]) > MAX_U32) return null;
    const length = m[2] === undefined ? null : nz(m[2]);
    if (m[2] !== undefined && length === null) return null;
    partial = { offset: Number(m[1]), length };
    k++;
  }
  // Anything left (;EXPIRE=, ;URLAUTH= of RFC 4467, unknown parameters) is not resolvable here.
  if (k !== segs.length) return null;
  return { mailbox, uidvalidity, uid, section, partial };
}
