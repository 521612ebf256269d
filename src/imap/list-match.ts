/**
 * LIST wildcard matching (RFC 3501 §6.3.8): `*` matches any run of
 * characters, `%` any run without the hierarchy delimiter, anything else
 * itself. Used by LIST, LSUB, XLIST and LIST-EXTENDED.
 *
 * A backtracking regular expression takes exponential time on patterns like
 * `*a*a*a*a*b` against a long name, and one LIST would stall the process.
 * This matcher runs the pattern as a set of states advanced once per name
 * character (a Thompson NFA): at most (pattern length + 1) states per
 * character, so O(pattern × name) in the worst case, and no recursion.
 */
import { SEPARATOR } from './names.js';

const STAR = 1;
const PERCENT = 2;

/** A compiled pattern: literal code units and wildcard markers. */
interface Compiled {
  /** Per position: 0 = literal, STAR or PERCENT. */
  readonly kind: Uint8Array;
  /** Per position: the literal UTF-16 code unit (unused for wildcards). */
  readonly unit: Uint16Array;
  /** Literal positions: a name shorter than this cannot match. */
  readonly literals: number;
}

function compile(pattern: string): Compiled {
  const kind: number[] = [];
  const unit: number[] = [];
  let literals = 0;
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern.charCodeAt(i);
    const k = c === 0x2a ? STAR : c === 0x25 ? PERCENT : 0;
    const last = kind.length - 1;
    if (k !== 0 && last >= 0 && kind[last] !== 0) {
      // Adjacent wildcards: `**`, `*%` and `%*` mean `*`, `%%` means `%`.
      if (k === STAR) kind[last] = STAR;
      continue;
    }
    kind.push(k);
    unit.push(k === 0 ? c : 0);
    if (k === 0) literals++;
  }
  return { kind: Uint8Array.from(kind), unit: Uint16Array.from(unit), literals };
}

/**
 * Whether `name` matches the compiled pattern. State i means "the first i
 * pattern positions have matched"; a wildcard state also stands for the
 * state after it (the wildcard may match nothing).
 */
function run(p: Compiled, name: string, separator: number): boolean {
  const n = p.kind.length;
  if (name.length < p.literals) return false;
  let cur = new Uint8Array(n + 1);
  let next = new Uint8Array(n + 1);
  const close = (s: Uint8Array): void => {
    for (let i = 0; i < n; i++) if (s[i] && p.kind[i] !== 0) s[i + 1] = 1;
  };
  cur[0] = 1;
  close(cur);
  for (let j = 0; j < name.length; j++) {
    const c = name.charCodeAt(j);
    next.fill(0);
    let alive = false;
    for (let i = 0; i < n; i++) {
      if (!cur[i]) continue;
      const k = p.kind[i];
      if (k === STAR || (k === PERCENT && c !== separator)) {
        next[i] = 1;
        alive = true;
      } else if (k === 0 && p.unit[i] === c) {
        next[i + 1] = 1;
        alive = true;
      }
    }
    if (!alive) return false;
    close(next);
    [cur, next] = [next, cur];
  }
  return cur[n] === 1;
}

/** A matcher for one pattern with `separator` as the hierarchy delimiter for `%`. */
export function wildcardMatcher(pattern: string, separator: string = SEPARATOR): (name: string) => boolean {
  const p = compile(pattern);
  const sep = separator.charCodeAt(0);
  return (name) => run(p, name, sep);
}

/**
 * RFC 3501 §6.3.8 reference + pattern. The INBOX prefix compares
 * case-insensitively (§5.1); names arrive with it canonical ("INBOX").
 */
export function patternMatcher(reference: string, pattern: string): (name: string) => boolean {
  let full = reference + pattern;
  if (/^inbox(?=$|[.*%])/i.test(full)) full = `INBOX${full.slice(5)}`;
  return wildcardMatcher(full);
}
