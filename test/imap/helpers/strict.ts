/**
 * A strict reader of a server's byte stream (RFC 3501 §7, §9 response
 * syntax), for tests that must prove no response was cut off: every
 * response starts as `* `, `+ ` or `tag `; a literal `{n}` or `~{n}` is
 * followed by exactly n bytes and then by a space, ")" or the line end;
 * parentheses balance before the CRLF that ends a response (a line that ends
 * inside a list is the "Missing ')'" imaptest reports); quoted strings hold
 * no CR or LF. Status responses (OK/NO/BAD/BYE/PREAUTH) are free text after
 * their code, so only their line end is checked.
 */

export interface StrictResult {
  /** Each complete response (latin1, literals inline, without the final CRLF). */
  responses: string[];
  /** The first violation, with the byte offset; null when the stream is well formed. */
  error: string | null;
  /** Bytes after the last complete response: the stream ended inside a response (e.g. a connection cut mid-literal). */
  incomplete: number;
}

const START = /^(?:\* (?:\d+ (?:FETCH|EXISTS|EXPUNGE|RECENT)|[A-Z][A-Z0-9.-]*)|\+|[A-Za-z0-9.]+ (?:OK|NO|BAD))(?: |\r\n)/;
const STATUS = /^(?:\* |[A-Za-z0-9.]+ )(?:OK|NO|BAD|BYE|PREAUTH)(?: |\r\n)/;
const LITERAL = /^~?\{(\d+)\}\r\n/;

export function parseStrict(data: Buffer): StrictResult {
  const s = data.toString('latin1');
  const responses: string[] = [];
  let pos = 0;
  const fail = (why: string, at: number): StrictResult => ({
    responses,
    error: `${why} at byte ${at}: ${JSON.stringify(s.slice(Math.max(0, at - 60), at + 60))}`,
    incomplete: 0,
  });
  const incomplete = (): StrictResult => ({ responses, error: null, incomplete: s.length - pos });
  while (pos < s.length) {
    const head = s.slice(pos, pos + 200);
    const start = START.exec(head);
    if (!start) {
      // Too short to judge yet is not an error: the stream may have ended here.
      if (!head.includes('\r\n') && head.length < 200) return incomplete();
      return fail('not the start of a response', pos);
    }
    if (head.startsWith('+') || STATUS.test(head)) {
      const nl = s.indexOf('\r\n', pos);
      if (nl < 0) return incomplete();
      // A status text may carry a [code] with a list in it, but never a literal.
      responses.push(s.slice(pos, nl));
      pos = nl + 2;
      continue;
    }
    let depth = 0;
    let i = pos;
    let done = false;
    while (i < s.length) {
      const c = s[i]!;
      if (c === '"') {
        let j = i + 1;
        while (j < s.length && s[j] !== '"') {
          if (s[j] === '\r' || s[j] === '\n') return fail('line end inside a quoted string', j);
          j += s[j] === '\\' ? 2 : 1;
        }
        if (j >= s.length) return incomplete();
        i = j + 1;
        continue;
      }
      if (c === '(') depth++;
      else if (c === ')') {
        if (--depth < 0) return fail("unbalanced ')'", i);
      } else if (c === '{' || (c === '~' && s[i + 1] === '{')) {
        const lit = LITERAL.exec(s.slice(i, i + 40));
        if (lit) {
          const end = i + lit[0].length + Number(lit[1]);
          if (end > s.length) return incomplete();
          const next = s[end];
          if (next === undefined) return incomplete();
          if (next !== ' ' && next !== ')' && next !== '\r') return fail(`literal of ${lit[1]} bytes followed by ${JSON.stringify(next)}`, end);
          i = end;
          continue;
        }
      } else if (c === '\r' || c === '\n') {
        if (c === '\n' || s[i + 1] !== '\n') {
          if (i + 1 >= s.length) return incomplete();
          return fail('bare CR or LF', i);
        }
        if (depth !== 0) return fail(`Missing ')' (line ended at depth ${depth})`, i);
        responses.push(s.slice(pos, i));
        pos = i + 2;
        done = true;
        break;
      }
      i++;
    }
    if (!done) return incomplete();
  }
  return { responses, error: null, incomplete: 0 };
}
