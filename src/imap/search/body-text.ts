/**
 * BODY/TEXT matching over a message's decoded text without holding the
 * message or its text whole and without one long synchronous stretch
 * (RFC 3501 §6.4.4: the text keys match decoded text). It walks the same
 * parts, in the same order, with the same "\n" between them and the same
 * character limit as store/mime/decode.ts textForSearch (which the
 * full-text index still uses for its small messages), but each text part
 * is read WINDOW bytes at a time, transfer-decoded, converted from its
 * charset with a streaming decoder, lower-cased and matched in pieces of
 * FEED characters, yielding between pieces (src/work/budget.ts). A 40 MB
 * body is then many slices of a few milliseconds each and a few hundred
 * kilobytes in memory, instead of one long stall over 40 MB.
 */
import iconv from 'iconv-lite';
import { LIMITS } from '../../limits.js';
import { decodeBase64, decodeQuotedPrintable, decodedHeaders } from '../../store/mime/decode.js';
import type { MimePart, MimeTree } from '../../store/mime/types.js';
import type { WorkBudget } from '../../work/budget.js';
import type { MatchRun } from './matcher.js';

const WINDOW = LIMITS.tuning.searchWindowBytes;
const FEED = LIMITS.tuning.searchFeedChars;

/** Bytes [start, end) of the message (a short read means the file ends there). */
export type ByteSource = (start: number, end: number) => Promise<Buffer>;

const isBlank = (c: number): boolean => c === 0x20 || c === 0x09 || c === 0x0d || c === 0x0a;

/** Where to cut a base64 window that is not the part's last: after a whole number of 4-character quanta, so pieces decode alone. */
function base64Cut(b: Buffer): number {
  let sig = 0;
  for (let i = 0; i < b.length; i++) if (!isBlank(b[i]!)) sig++;
  let cut = b.length;
  while (sig % 4 !== 0 && cut > 0) if (!isBlank(b[--cut]!)) sig--;
  return cut > 0 ? cut : b.length;
}

/** Where to cut a quoted-printable window that is not the part's last: after a line end, so no "=XX" escape or soft break is split. */
function qpCut(b: Buffer): number {
  const nl = b.lastIndexOf(0x0a);
  if (nl >= 0) return nl + 1;
  // One line longer than a window: cut before an "=" that begins an escape.
  if (b[b.length - 1] === 0x3d) return b.length - 1;
  if (b[b.length - 2] === 0x3d) return b.length - 2;
  return b.length;
}

/** The part's body [start, end) with its transfer encoding removed (leniently, as for searching), a window at a time. */
async function* transferDecoded(read: ByteSource, start: number, end: number, encoding: string | null, budget: WorkBudget): AsyncGenerator<Buffer> {
  const enc = (encoding ?? '7bit').toLowerCase();
  for (let pos = start; pos < end; ) {
    const want = Math.min(end, pos + WINDOW);
    const win = await read(pos, want);
    if (win.length === 0) return;
    const last = pos + win.length >= end;
    let cut = win.length;
    if (!last && enc === 'base64') cut = base64Cut(win);
    else if (!last && enc === 'quoted-printable') cut = qpCut(win);
    const raw = win.subarray(0, cut);
    yield enc === 'base64' ? decodeBase64(raw).data : enc === 'quoted-printable' ? decodeQuotedPrintable(raw) : raw;
    pos += cut;
    await budget.step(cut);
  }
}

/**
 * How bytes become text, as charsetToString chooses: raw bytes (no or a
 * Unicode/ASCII charset, or one iconv does not know) as UTF-8 when the
 * whole part is valid UTF-8, else as latin1 (RFC 6532); others by iconv.
 */
type Mode = 'utf8' | 'latin1' | { iconv: string };

function modeOf(charset: string | null): Mode {
  const cs = (charset ?? '').trim().toLowerCase();
  if (cs === '' || cs === 'us-ascii' || cs === 'ascii' || cs === 'utf-8' || cs === 'utf8' || !iconv.encodingExists(cs)) return 'utf8';
  return { iconv: cs };
}

/** Thrown inside a part read as UTF-8 that turns out not to be: the part is read again as latin1. */
class NotUtf8 extends Error {}

/** Feeds lower-cased text to the matcher, holding back a word cut by a piece end (lower-casing can look at the next letter: final sigma). */
class Folder {
  private carry = '';

  constructor(
    private readonly run: MatchRun,
    private readonly budget: WorkBudget,
  ) {}

  async push(text: string): Promise<void> {
    for (let i = 0; i < text.length && !this.run.complete; i += FEED) {
      const t = this.carry + text.slice(i, i + FEED);
      let cut = t.length;
      while (cut > 0 && !isBlank(t.charCodeAt(cut - 1))) cut--;
      // A run of text without blanks is not held back beyond a piece.
      if (t.length - cut > FEED) cut = t.length;
      this.carry = t.slice(cut);
      this.budget.charge(cut);
      this.run.feed(t.slice(0, cut).toLowerCase());
      await this.budget.pause();
    }
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
 * `run`, stopping early once every needle is found (a part being read as
 * UTF-8 is still checked to its end: invalid UTF-8 anywhere makes the whole
 * part latin1, and it is matched again so).
 */
export async function matchBodyText(read: ByteSource, tree: MimeTree, run: MatchRun, budget: WorkBudget, maxChars: number = LIMITS.store.maxSearchTextChars): Promise<void> {
  let size = 0;
  let first = true;
  const separate = (): void => {
    if (!first) run.feed('\n');
    first = false;
  };
  /** One text part in one decoding; the characters it counts against maxChars. */
  const scanPart = async (p: MimePart, mode: Mode, room: number): Promise<number> => {
    const fold = new Folder(run, budget);
    const utf8 = mode === 'utf8' ? new TextDecoder('utf-8', { fatal: true }) : null;
    const conv = typeof mode === 'object' ? iconv.getDecoder(mode.iconv) : null;
    let chars = 0;
    let stopped = false;
    const take = async (text: string): Promise<boolean> => {
      // The part's text beyond the limit is not searched (it still counts whole, as in textForSearch).
      const left = room - chars;
      chars += text.length;
      await fold.push(text.length > left ? text.slice(0, Math.max(0, left)) : text);
      return chars < room && !run.complete;
    };
    for await (const bytes of transferDecoded(read, p.bodyStart, p.bodyEnd, p.cte ?? p.encoding, budget)) {
      let text: string;
      if (utf8) {
        try {
          text = utf8.decode(bytes, { stream: true });
        } catch {
          throw new NotUtf8();
        }
        // Whether the part is UTF-8 is decided by all of it (as rawToString decides): once matching is
        // done, the rest is still decoded, only to see that it is valid.
        if (stopped) continue;
      } else text = conv ? conv.write(bytes) : bytes.toString('latin1');
      if (!(await take(text))) {
        stopped = true;
        if (!utf8) break;
      }
    }
    if (stopped && !utf8) {
      fold.flush();
      return chars;
    }
    if (utf8) {
      let rest: string;
      try {
        rest = utf8.decode();
      } catch {
        throw new NotUtf8();
      }
      if (!stopped) await take(rest);
    } else if (conv) await take(conv.end() ?? '');
    fold.flush();
    return chars;
  };
  const walk = async (p: MimePart): Promise<void> => {
    if (size >= maxChars || run.complete) return;
    if (p.parts) {
      for (const c of p.parts) await walk(c);
      return;
    }
    if (p.message) {
      const head = await read(p.message.headerStart, p.message.bodyStart);
      const h = decodedHeaders(head, 0, head.length);
      separate();
      budget.charge(h.length);
      run.feed(h.toLowerCase());
      size += h.length;
      await budget.pause();
      // The encapsulated message's offsets are the outer file's: walk on with the same source.
      await walk(p.message);
      return;
    }
    if (p.type !== 'text' || p.synthetic || p.bodyEnd <= p.bodyStart) return;
    separate();
    const mode = modeOf(charsetOf(p));
    const before = run.snapshot();
    try {
      size += await scanPart(p, mode, maxChars - size);
    } catch (err) {
      if (!(err instanceof NotUtf8)) throw err;
      run.restore(before);
      size += await scanPart(p, 'latin1', maxChars - size);
    }
  };
  await walk(tree);
}
