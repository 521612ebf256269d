/**
 * Which of a SEARCH program's strings occur in a text, in one pass
 * (RFC 3501 §6.4.4: every string key is a case-insensitive substring test;
 * the caller lower-cases both sides once).
 *
 * A few needles are searched with indexOf, which is native and fast, the
 * chunk searched once per needle. Past INDEXOF_MAX needles an Aho-Corasick
 * automaton is built once per command and every text is read once whatever
 * the number of needles: 4,000 `NOT BODY` keys over a 16 M character body
 * cost one pass, not 4,000. Text is fed in chunks (the caller yields between
 * them, src/work/budget.ts); a match across a chunk boundary is found
 * either way (a tail is kept for indexOf, the automaton's state carries).
 */
import type { WorkBudget } from '../../work/budget.js';
import { LIMITS } from '../../limits.js';

const INDEXOF_MAX = LIMITS.tuning.searchIndexOfMax;

/** The needles of one text source (body, header text, a field), prepared once per command. */
export class NeedleSet {
  readonly needles: readonly string[];
  private readonly index = new Map<string, number>();
  private ac: Automaton | null = null;

  constructor(needles: Iterable<string>) {
    const list: string[] = [];
    for (const n of needles) {
      if (this.index.has(n)) continue;
      this.index.set(n, list.length);
      list.push(n);
    }
    this.needles = list;
  }

  idOf(needle: string): number {
    const id = this.index.get(needle);
    if (id === undefined) throw new Error(`needle not prepared: ${needle}`);
    return id;
  }

  /** Start matching one text. */
  run(budget: WorkBudget): MatchRun {
    if (this.needles.length > INDEXOF_MAX) this.ac ??= new Automaton(this.needles, budget);
    return new MatchRun(this, this.ac, budget);
  }
}

export interface MatchSnapshot {
  readonly found: Uint8Array;
  readonly remaining: number;
  readonly tail: string;
  readonly state: number;
  readonly seen: Uint8Array | null;
}

/** Matching state over one text: feed chunks, then read `has`. */
export class MatchRun {
  private readonly found: Uint8Array;
  private remaining: number;
  /** indexOf mode: the last characters of the text so far, for a match across chunks. */
  private tail = '';
  private readonly maxLen: number;
  /** Automaton mode: current state and the output states already reported. */
  private state = 0;
  private readonly seen: Uint8Array | null;

  constructor(
    private readonly set: NeedleSet,
    private readonly ac: Automaton | null,
    private readonly budget: WorkBudget,
  ) {
    this.found = new Uint8Array(set.needles.length);
    this.remaining = set.needles.length;
    let maxLen = 0;
    set.needles.forEach((n, i) => {
      // §6.4.4: the empty string is a substring of every text.
      if (n === '') this.mark(i);
      if (n.length > maxLen) maxLen = n.length;
    });
    this.maxLen = maxLen;
    this.seen = ac ? new Uint8Array(ac.states) : null;
  }

  /** True once every needle has been found: the rest of the text need not be read. */
  get complete(): boolean {
    return this.remaining === 0;
  }

  has(needle: string): boolean {
    return this.found[this.set.idOf(needle)] === 1;
  }

  private mark(i: number): void {
    if (this.found[i]) return;
    this.found[i] = 1;
    this.remaining--;
  }

  /** The state so far, to go back to if a text must be read again (body-text.ts: a part that is not UTF-8 after all). */
  snapshot(): MatchSnapshot {
    return { found: this.found.slice(), remaining: this.remaining, tail: this.tail, state: this.state, seen: this.seen?.slice() ?? null };
  }

  restore(s: MatchSnapshot): void {
    this.found.set(s.found);
    this.remaining = s.remaining;
    this.tail = s.tail;
    this.state = s.state;
    if (this.seen && s.seen) this.seen.set(s.seen);
  }

  /** Start of a separate text (another value of the same field): no match spans the two. */
  boundary(): void {
    this.tail = '';
    this.state = 0;
  }

  /** Feed the next chunk of (lower-cased) text. */
  feed(chunk: string): void {
    if (this.remaining === 0 || chunk === '') return;
    if (this.ac) {
      this.budget.charge(chunk.length);
      this.state = this.ac.scan(chunk, this.state, this.seen!, (id) => this.mark(id));
      return;
    }
    const text = this.tail + chunk;
    const needles = this.set.needles;
    this.budget.charge(text.length * this.remaining);
    for (let i = 0; i < needles.length; i++) if (!this.found[i] && text.includes(needles[i]!)) this.mark(i);
    this.tail = this.maxLen > 1 ? text.slice(-(this.maxLen - 1)) : '';
  }
}

/**
 * Aho-Corasick over UTF-16 code units (a substring of well-formed text in
 * code units is one in code points too). Root transitions are a flat
 * table, the others maps; failure links make the scan linear.
 */
class Automaton {
  readonly states: number;
  private readonly root = new Int32Array(65536);
  private readonly next: Map<number, number>[] = [new Map()];
  private readonly fail: Int32Array;
  /** Nearest state on the failure chain (itself included) where a needle ends, or -1. */
  private readonly outState: Int32Array;
  /** Needles ending exactly at a state. */
  private readonly ends: number[][] = [[]];

  constructor(needles: readonly string[], budget: WorkBudget) {
    let total = 0;
    needles.forEach((n, id) => {
      total += n.length;
      let s = 0;
      for (let i = 0; i < n.length; i++) {
        const c = n.charCodeAt(i);
        let t = this.next[s]!.get(c);
        if (t === undefined) {
          t = this.next.length;
          this.next.push(new Map());
          this.ends.push([]);
          this.next[s]!.set(c, t);
        }
        s = t;
      }
      this.ends[s]!.push(id);
    });
    budget.charge(total);
    this.states = this.next.length;
    this.fail = new Int32Array(this.states);
    this.outState = new Int32Array(this.states).fill(-1);
    // Breadth first: a state's failure link is found from its parent's.
    const queue: number[] = [];
    for (const [c, t] of this.next[0]!) {
      this.root[c] = t;
      queue.push(t);
    }
    for (let q = 0; q < queue.length; q++) {
      const s = queue[q]!;
      this.outState[s] = this.ends[s]!.length > 0 ? s : this.outState[this.fail[s]!]!;
      for (const [c, t] of this.next[s]!) {
        this.fail[t] = this.step(this.fail[s]!, c);
        queue.push(t);
      }
    }
  }

  private step(s: number, c: number): number {
    for (;;) {
      if (s === 0) return this.root[c]!;
      const t = this.next[s]!.get(c);
      if (t !== undefined) return t;
      s = this.fail[s]!;
    }
  }

  /** Run `text` from state `s`; report each needle found (each output state once per text via `seen`). */
  scan(text: string, s: number, seen: Uint8Array, report: (id: number) => void): number {
    for (let i = 0; i < text.length; i++) {
      s = this.step(s, text.charCodeAt(i));
      // A reported state's whole output chain was reported with it.
      for (let o = this.outState[s]!; o > 0 && !seen[o]; o = this.outState[this.fail[o]!]!) {
        seen[o] = 1;
        for (const id of this.ends[o]!) report(id);
      }
    }
    return s;
  }
}
