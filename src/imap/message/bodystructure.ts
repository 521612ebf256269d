/**
 * BODY and BODYSTRUCTURE values (RFC 3501 §7.4.2, §9 `body`) from a parsed
 * tree, written as Dovecot 2.3 writes them (types as written, "7bit" for a
 * missing encoding, a default charset for text/*, extension data only in
 * BODYSTRUCTURE). The result is a byte string: send it as latin1.
 */
import type { MimeParam, MimePart } from '../../store/mime/types.js';
// The quoting of the stored ENVELOPE text (store/mime/envelope.ts), so both values quote alike.
import { imapNString, imapNStringNoLf } from '../../store/mime/quote.js';
import { EMPTY_ENVELOPE } from '../../store/mime/envelope.js';

const EMPTY_BODY = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0)';
const EMPTY_BODYSTRUCTURE = '("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" 0 0 NIL NIL NIL NIL)';

function params(list: readonly MimeParam[], defaultCharset: boolean): string {
  if (list.length === 0 && !defaultCharset) return 'NIL';
  const items: string[] = [];
  let sawCharset = false;
  for (const [k, v] of list) {
    if (defaultCharset && k.toLowerCase() === 'charset') sawCharset = true;
    items.push(imapNString(k), imapNString(v));
  }
  // RFC 2045 §5.2: text without a charset is us-ascii.
  if (defaultCharset && !sawCharset) items.push('"charset"', '"us-ascii"');
  return `(${items.join(' ')})`;
}

function extensionCommon(p: MimePart): string {
  const disp = p.disposition === null ? 'NIL' : `(${imapNString(p.disposition.type)} ${params(p.disposition.params, false)})`;
  const lang = p.language === null ? 'NIL' : `(${p.language.map((l) => imapNString(l)).join(' ')})`;
  return ` ${disp} ${lang} ${imapNStringNoLf(p.location)}`;
}

function writtenType(p: MimePart): [string, string] {
  return p.typeAsWritten ?? [p.type, p.subtype];
}

function isRfc822(p: MimePart): boolean {
  return p.type === 'message' && p.subtype === 'rfc822';
}

function leaf(p: MimePart, extended: boolean): string {
  let out: string;
  let text = false;
  if (isRfc822(p)) {
    out = '"message" "rfc822"';
  } else {
    const [t, s] = writtenType(p);
    text = p.type === 'text';
    out = `${imapNString(t)} ${imapNString(s)}`;
  }
  out += ` ${params(p.params, text)} ${imapNStringNoLf(p.id)} ${imapNStringNoLf(p.description)} `;
  out += p.encoding === null ? '"7bit"' : imapNString(p.encoding);
  out += ` ${p.vBodySize}`;
  if (text) {
    out += ` ${p.bodyLines}`;
  } else if (isRfc822(p)) {
    // RFC 3501 §7.4.2: envelope, body structure and size in lines of the encapsulated message.
    if (p.message) out += ` ${p.message.envelope} ${render(p.message, extended)}`;
    else out += ` ${EMPTY_ENVELOPE} ${extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY}`;
    out += ` ${p.bodyLines}`;
  }
  if (extended) out += ` ${imapNStringNoLf(p.md5)}${extensionCommon(p)}`;
  return `(${out})`;
}

function multipart(p: MimePart, extended: boolean): string {
  let out = '(';
  for (const c of p.parts ?? []) out += render(c, extended);
  if (!p.parts || p.parts.length === 0) out += extended ? EMPTY_BODYSTRUCTURE : EMPTY_BODY;
  out += ` ${imapNString(writtenType(p)[1])}`;
  if (extended) out += ` ${params(p.params, false)}${extensionCommon(p)}`;
  return out + ')';
}

function render(p: MimePart, extended: boolean): string {
  return p.parts !== undefined ? multipart(p, extended) : leaf(p, extended);
}

/**
 * A top-level text/plain part with nothing but charset=us-ascii and 7bit is
 * written in the canonical lower-case form, whatever case the header used:
 * Dovecot stores such messages as "plain 7bit" and regenerates the structure.
 */
function isPlain7bit(p: MimePart): boolean {
  if (p.parts || p.message || p.type !== 'text' || p.subtype !== 'plain') return false;
  if (p.params.length > 1) return false;
  if (p.params.length === 1 && (p.params[0][0].toLowerCase() !== 'charset' || p.params[0][1].toLowerCase() !== 'us-ascii')) return false;
  if (p.encoding !== null && p.encoding.toLowerCase() !== '7bit') return false;
  return p.id === null && p.description === null && p.md5 === null && p.disposition === null && p.language === null && p.location === null;
}

/** BODYSTRUCTURE (`extended`) or BODY value of a whole message (its top-level part). */
export function renderBodyStructure(tree: MimePart, extended: boolean): string {
  if (isPlain7bit(tree)) {
    const base = `("text" "plain" ("charset" "us-ascii") NIL NIL "7bit" ${tree.vBodySize} ${tree.bodyLines}`;
    return extended ? `${base} NIL NIL NIL NIL)` : `${base})`;
  }
  return render(tree, extended);
}
