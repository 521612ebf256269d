/**
 * Header blocks (RFC 5322 §2.2): finding where one ends and splitting it into
 * fields, on Buffers with native indexOf so a header costs one pass.
 */

export interface HeaderField {
  /** Field name as written, trailing whitespace before the colon removed. */
  name: string;
  /** Lower-cased name for lookups. */
  lname: string;
  /** Offset of the first byte of the field's first line. */
  start: number;
  /** Offset just after the field's last line end (or the end of data). */
  end: number;
  /** Offset of the value (after the colon and leading blanks). */
  valueStart: number;
  /** Offset of the end of the value (before the last line end). */
  valueEnd: number;
}

const LF = 0x0a;
const CR = 0x0d;

/**
 * Split the header block [start, end) into fields. Lines before the first
 * field that start with whitespace, and lines without a colon, are skipped
 * (they carry no field) but stay inside the block. `maxBytes` bounds how
 * much of the block is looked at: fields starting in it, each cut at
 * twice `maxBytes` from `start`.
 */
export function splitFields(buf: Buffer, start: number, end: number, maxBytes = Infinity): HeaderField[] {
  const fields: HeaderField[] = [];
  const stop = Math.min(end, start + maxBytes);
  const cut = Math.min(end, start + 2 * maxBytes);
  let p = start;
  let cur: HeaderField | null = null;
  while (p < stop) {
    let nl = buf.indexOf(LF, p);
    // A field that starts inside the limit is read to its end, but not past
    // twice the limit: its value would otherwise be as long as the message
    // (and the streaming parser keeps only that much).
    if (nl >= cut) nl = -1;
    const lineEnd = nl < 0 || nl >= end ? cut : nl + 1;
    let contentEnd = nl < 0 || nl >= end ? cut : nl;
    if (contentEnd > p && buf[contentEnd - 1] === CR && contentEnd === nl) contentEnd--;
    const c = buf[p];
    if (c === CR && contentEnd === p) break;
    if (contentEnd === p) break;
    if ((c === 0x20 || c === 0x09) && cur !== null) {
      cur.end = lineEnd;
      cur.valueEnd = contentEnd;
    } else {
      cur = null;
      const colon = buf.indexOf(0x3a, p);
      if (colon >= 0 && colon < contentEnd) {
        let nameEnd = colon;
        while (nameEnd > p && (buf[nameEnd - 1] === 0x20 || buf[nameEnd - 1] === 0x09)) nameEnd--;
        const name = buf.toString("latin1", p, nameEnd);
        let v = colon + 1;
        while (v < contentEnd && (buf[v] === 0x20 || buf[v] === 0x09)) v++;
        // A value of blanks only loses just the one blank after the colon (as Dovecot reads it).
        if (v === contentEnd && colon + 1 < contentEnd) v = colon + 2;
        cur = { name, lname: name.toLowerCase(), start: p, end: lineEnd, valueStart: v, valueEnd: contentEnd };
        fields.push(cur);
      }
    }
    nl = lineEnd;
    p = nl;
  }
  return fields;
}

/**
 * The value of a field as a byte string, folding line ends kept (Dovecot's
 * "full value": a folded Date or Message-ID is then sent as a literal).
 */
export function fieldValue(buf: Buffer, f: HeaderField): string {
  return buf.toString('latin1', f.valueStart, f.valueEnd);
}

/** Unfold (RFC 5322 §2.2.3): remove the line ends of folded lines, keep the whitespace. */
export function unfold(value: string): string {
  return value.indexOf('\n') >= 0 ? value.replace(/\r?\n/g, '') : value;
}

/**
 * Every value of header `name` (case-insensitive) in a header block, in
 * order, unfolded, as byte strings (latin1; decode with decodeHeaderValue
 * for text).
 */
export function headerValues(headerBytes: Buffer, name: string): string[] {
  const lname = name.toLowerCase();
  const out: string[] = [];
  for (const f of splitFields(headerBytes, 0, headerBytes.length)) {
    if (f.lname === lname) out.push(unfold(fieldValue(headerBytes, f)));
  }
  return out;
}
