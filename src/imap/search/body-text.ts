/**
 * BODY/TEXT matching over a message's decoded text without building it
 * whole and without one long synchronous stretch (RFC 3501 §6.4.4: the
 * text keys match decoded text). It walks the same parts, in the same
 * order, with the same "\n" between them and the same character limit as
 * store/mime/decode.ts textForSearch (which the full-text index still
 * uses for its small messages), but each text part is transfer-decoded,
 * converted from its charset, lower-cased and matched CHUNK bytes at a
 * time, yielding between chunks (src/work/budget.ts). A 40 MB body is then
 * slices of a few milliseconds each instead of one long stall.
 */
import { isUtf8 } from 'node:buffer';
import iconv from 'iconv-lite';
import { LIMITS } from '../../limits.js';
import { decodeBase64, decodeQuotedPrintable, decodedHeaders } from '../../store/mime/decode.js';
import type { MimePart, MimeTree } from '../../store/mime/types.js';
import type { WorkBudget } from '../../work/budget.js';
import type { MatchRun } from './matcher.js';

/** Bytes decoded, and characters folded and matched, per slice step (a few milliseconds each). */
const CHUNK = 64 * 1024;

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

/** End of the next base64 piece from `start`: a whole number of 4-character quanta, so pieces decode alone. */
function base64Cut(b: Buffer, start: number, end: number): number {
  if (end >= b.length) return b.length;
  let sig = 0;
  for (let i = start; i < end; i++) if (!isBlank(b[i]!)) sig++;
  let cut = end;
  while (sig % 4 !== 0 && cut > start) if (!isBlank(b[--cut]!)) sig--;
  return cut > start ? cut : end;
}

/** End of the next quoted-printable piece: after a line end, so no "=XX" escape or soft break is split. */
function qpCut(b: Buffer, start: number, end: number): number {
  if (end >= b.length) return b.length;
  const nl = b.lastIndexOf(0x0a, end - 1);
  if (nl >= start) return nl + 1;
  // One line longer than a piece: cut before an "=" that begins an escape.
  let cut = end;
  if (b[cut - 1] === 0x3d) cut -= 1;
  else if (b[cut - 2] === 0x3d) cut -= 2;
  return cut;
}

/** The body of one part with its transfer encoding removed (leniently, as for searching), decoded in pieces. */
async function transferDecoded(body: Buffer, encoding: string | null, budget: WorkBudget): Promise<Buffer> {
  const enc = (encoding ?? '7bit').toLowerCase();
  if (enc !== 'base64' && enc !== 'quoted-printable') return body;
  const pieces: Buffer[] = [];
  for (let pos = 0; pos < body.length; ) {
    const end = enc === 'base64' ? base64Cut(body, pos, pos + CHUNK) : qpCut(body, pos, pos + CHUNK);
    const raw = body.subarray(pos, end);
    pieces.push(enc === 'base64' ? decodeBase64(raw).data : decodeQuotedPrintable(raw));
    pos = end;
    await budget.step(raw.length);
  }
  return pieces.length === 1 ? pieces[0]! : Buffer.concat(pieces);
}

/** A decoder from bytes to text, fed in pieces (charsetToString's choice of decoder, RFC 6532 for raw bytes). */
function textDecoder(bytes: Buffer, charset: string | null): { write(b: Buffer): string; cut(b: Buffer, start: number, end: number): number } {
  const cs = (charset ?? '').trim().toLowerCase();
  const whole = (b: Buffer, start: number, end: number): number => Math.min(end, b.length);
  if (cs === '' || cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8' || !iconv.encodingExists(cs)) {
    // Valid UTF-8 as UTF-8, anything else as latin1: decided for the whole part, as rawToString does.
    if (!isUtf8(bytes)) return { write: (b) => b.toString('latin1'), cut: whole };
    return {
      write: (b) => b.toString('utf8'),
      // Back off to the first byte of a character, so no piece ends inside one.
      cut: (b, start, end) => {
        if (end >= b.length) return b.length;
        let c = end;
        while (c > start && c > end - 4 && (b[c]! & 0xc0) === 0x80) c--;
        return c > start ? c : end;
      },
    };
  }
  const d = iconv.getDecoder(cs);
  return { write: (b) => d.write(b), cut: whole };
}

/** Feeds lower-cased text to the matcher, holding back a word cut by a piece end (lower-casing can look at the next letter: final sigma). */
class Folder {
  private carry = '';

  constructor(private readonly run: MatchRun) {}

  push(text: string): void {
    const t = this.carry + text;
    let cut = t.length;
    while (cut > 0 && !isBlank(t.charCodeAt(cut - 1))) cut--;
    // A run of text without blanks is not held back beyond a piece.
    if (t.length - cut > CHUNK) cut = t.length;
    this.carry = t.slice(cut);
    this.run.feed(t.slice(0, cut).toLowerCase());
  }

  flush(): void {
    if (this.carry !== '') this.run.feed(this.carry.toLowerCase());
    this.carry = '';
  }
}

function charsetOf(p: MimePart): string | null {
  for (const [k, v] of p.params) if (k.toLowerCase() === 'charset') return v;
  return null;
}

/**
 * Match the message's decoded body text (textForSearch's `body`) against
 * `run`, stopping early once every needle is found.
 */
export async function matchBodyText(raw: Buffer, tree: MimeTree, run: MatchRun, budget: WorkBudget, maxChars: number = LIMITS.store.maxSearchTextChars): Promise<void> {
  let size = 0;
  let first = true;
  const separate = (): void => {
    if (!first) run.feed('\n');
    first = false;
  };
  const walk = async (p: MimePart): Promise<void> => {
    if (size >= maxChars || run.complete) return;
    if (p.parts) {
      for (const c of p.parts) await walk(c);
      return;
    }
    if (p.message) {
      const h = decodedHeaders(raw, p.message.headerStart, p.message.bodyStart);
      separate();
      budget.charge(h.length);
      run.feed(h.toLowerCase());
      size += h.length;
      await budget.pause();
      await walk(p.message);
      return;
    }
    if (p.type !== 'text' || p.synthetic || p.bodyEnd <= p.bodyStart) return;
    const bytes = await transferDecoded(raw.subarray(p.bodyStart, p.bodyEnd), p.cte ?? p.encoding, budget);
    const dec = textDecoder(bytes, charsetOf(p));
    const fold = new Folder(run);
    separate();
    for (let pos = 0; pos < bytes.length && !run.complete; ) {
      const end = dec.cut(bytes, pos, pos + CHUNK);
      let text = dec.write(bytes.subarray(pos, end));
      pos = end;
      // The part's text beyond the limit is not searched (it still counts whole, as in textForSearch).
      const room = maxChars - size;
      size += text.length;
      if (text.length > room) {
        text = text.slice(0, Math.max(0, room));
        pos = bytes.length;
      }
      budget.charge(text.length);
      fold.push(text);
      await budget.pause();
    }
    fold.flush();
  };
  await walk(tree);
}
