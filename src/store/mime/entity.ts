/**
 * Pieces both MIME parsers share (parse.ts over a whole buffer, stream.ts
 * fed chunk by chunk): how a part is described by its header fields, and the
 * parts the parsers make up (RFC 2045, RFC 2046).
 */
import type { MimeMessage, MimePart } from './types.js';
import { fieldValue, type HeaderField } from './header.js';
import { parseContentType, parseDisposition, parseEncoding, parseLanguage } from './content.js';
import { renderEnvelope } from './envelope.js';

function first(fields: HeaderField[], lname: string): HeaderField | undefined {
  for (const f of fields) if (f.lname === lname) return f;
  return undefined;
}

/**
 * Fill a part from its header fields (offsets into `buf`): Content-* fields,
 * the encoding BINARY undoes, and for a message its ENVELOPE.
 */
export function describeEntity(buf: Buffer, fields: HeaderField[], part: MimePart, isMessage: boolean): void {
  // A message header without MIME-Version and without Content-Type is not
  // MIME (RFC 2045 §4): its other Content-* fields are ignored, as Dovecot does.
  if (!isMessage || fields.some((f) => f.lname === 'mime-version' || f.lname === 'content-type')) {
    applyContentFields(buf, part, fields);
  }
  // BINARY reads Content-Transfer-Encoding its own way (as Dovecot's decoder
  // does): also in a non-MIME header, the last field counts, and a malformed
  // value means an unknown encoding.
  let cteField: HeaderField | undefined;
  for (const f of fields) if (f.lname === 'content-transfer-encoding') cteField = f;
  if (cteField) {
    const v = fieldValue(buf, cteField);
    const cte = parseEncoding(v) ?? v.trim();
    if (cte !== part.encoding) part.cte = cte;
  }
  if (isMessage) (part as MimeMessage).envelope = renderEnvelope(buf, fields);
}

function applyContentFields(buf: Buffer, part: MimePart, fields: HeaderField[]): void {
  const ct = first(fields, 'content-type');
  if (ct) {
    const t = parseContentType(fieldValue(buf, ct));
    part.type = t.type.toLowerCase();
    part.subtype = t.subtype.toLowerCase();
    if (t.type !== part.type || t.subtype !== part.subtype) part.typeAsWritten = [t.type, t.subtype];
    part.params = t.params;
  }
  // The first Content-Transfer-Encoding that parses counts (a malformed one is skipped, as Dovecot does).
  for (const f of fields) {
    if (f.lname !== 'content-transfer-encoding') continue;
    part.encoding = parseEncoding(fieldValue(buf, f));
    if (part.encoding !== null) break;
  }
  for (const f of fields) {
    if (!f.lname.startsWith('content-')) continue;
    switch (f.lname) {
      case 'content-id':
        part.id ??= fieldValue(buf, f);
        break;
      case 'content-description':
        part.description ??= fieldValue(buf, f);
        break;
      case 'content-md5':
        part.md5 ??= fieldValue(buf, f);
        break;
      case 'content-location':
        part.location ??= fieldValue(buf, f);
        break;
      case 'content-language':
        part.language ??= parseLanguage(fieldValue(buf, f));
        break;
      case 'content-disposition':
        // Dovecot re-reads a later Content-Disposition while the first had no parameters.
        if (part.disposition === null || part.disposition.params.length === 0) {
          part.disposition = parseDisposition(fieldValue(buf, f)) ?? part.disposition;
        }
        break;
    }
  }
}

export function boundaryOf(part: MimePart): Buffer | null {
  for (const [k, v] of part.params) {
    // An empty boundary is still a boundary: every line starting "--" delimits (as Dovecot reads it).
    if (k.toLowerCase() === 'boundary') return Buffer.from(v, 'latin1');
  }
  return null;
}

/**
 * A part with no Content-* fields yet: text/plain, or message/rfc822 inside a
 * multipart/digest (RFC 2046 §5.1.5); its body starts empty at `bodyStart`.
 */
export function emptyPart(headerStart: number, bodyStart: number, vHeaderSize: number, digest: boolean): MimePart {
  return {
    headerStart,
    bodyStart,
    bodyEnd: bodyStart,
    vHeaderSize,
    vBodySize: 0,
    bodyLines: 0,
    type: digest ? 'message' : 'text',
    subtype: digest ? 'rfc822' : 'plain',
    params: [],
    id: null,
    description: null,
    encoding: null,
    md5: null,
    disposition: null,
    language: null,
    location: null,
  };
}

/** Dovecot shows a multipart without usable parts as one empty text/plain part. */
export function addEmptyChild(part: MimePart): void {
  part.parts = [{ ...emptyPart(part.bodyStart, part.bodyStart, 0, false), synthetic: true }];
}

