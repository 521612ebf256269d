/**
 * Follows one IMAP session's view of its selected mailbox from the untagged
 * responses the server sent it, and records every response that no correct
 * server could have sent (the invariants imaptest's stress mode checks):
 *
 *  - sequence numbers are valid: `n EXPUNGE` and `n FETCH` have 1 ≤ n ≤ EXISTS
 *    (RFC 3501 §7.4.1, §7.4.2); `VANISHED uids` (QRESYNC, RFC 7162 §3.2.10)
 *    names only messages in the view;
 *  - EXISTS never shrinks; only EXPUNGE removes messages (§5.2, §7.3.1);
 *    RECENT never exceeds EXISTS (§7.3.2);
 *  - no EXPUNGE (or VANISHED) while a FETCH, STORE, SEARCH or COPY by
 *    sequence number runs (§7.4.1);
 *  - a UID keeps its sequence number except through EXPUNGEs, and UIDs
 *    ascend with sequence numbers (§2.3.1.1, §2.3.1.2);
 *  - a keyword appears in FETCH only after FLAGS announced it, and FLAGS
 *    never drops a keyword a message still carries (§7.2.6);
 *  - per-UID MODSEQ never decreases, HIGHESTMODSEQ (also in STATUS of the
 *    selected mailbox) never decreases and is at least every MODSEQ shown
 *    before it (RFC 7162 §3.1.2.1, §3.1.4.1, §3.1.10);
 *  - every FETCH response is one well-formed line (a message vanishing
 *    mid-answer must not cut it);
 *  - nothing after BYE but the tagged answer of LOGOUT (RFC 3501 §6.1.3).
 *
 * It parses the lines itself (it trusts nothing the server says about its
 * own consistency) and keeps the flags of each UID as last seen, so a test
 * can compare them with the server's state at the end.
 */

/** A parsed IMAP value: atom/number as string, quoted string, or list. */
type Value = string | { q: string } | Value[];

/** Tokenise `text` from `pos` into values until the end or a closing ')'. */
function parseList(text: string, start: number): { values: Value[]; end: number; closed: boolean } {
  const values: Value[] = [];
  let i = start;
  while (i < text.length) {
    const c = text[i]!;
    if (c === ' ') {
      i++;
    } else if (c === ')') {
      return { values, end: i + 1, closed: true };
    } else if (c === '(') {
      const inner = parseList(text, i + 1);
      values.push(inner.values);
      i = inner.end;
      if (!inner.closed) break;
    } else if (c === '"') {
      let s = '';
      i++;
      while (i < text.length && text[i] !== '"') {
        if (text[i] === '\\') i++;
        s += text[i++];
      }
      values.push({ q: s });
      i++;
    } else if (c === '{') {
      const close = text.indexOf('}', i);
      const n = Number(text.slice(i + 1, close));
      const from = close + 3; // `}` CRLF
      values.push({ q: text.slice(from, from + n) });
      i = from + n;
    } else {
      let j = i;
      // An atom; `BODY[...]<...>` keeps its brackets (which may hold spaces and lists).
      let depth = 0;
      while (j < text.length) {
        const d = text[j]!;
        if (d === '[') depth++;
        else if (d === ']') depth--;
        else if (depth === 0 && (d === ' ' || d === ')' || d === '(')) break;
        j++;
      }
      values.push(text.slice(i, j));
      i = j;
    }
  }
  return { values, end: i, closed: false };
}

function atoms(v: Value | undefined): string[] | null {
  if (!Array.isArray(v)) return null;
  return v.map((x) => (typeof x === 'string' ? x : Array.isArray(x) ? '(…)' : x.q));
}

const isKeyword = (f: string): boolean => !f.startsWith('\\');
/** Same stored flags; \Recent is per session (RFC 3501 §2.3.2), so it is left out. */
const sameFlags = (a: readonly string[], b: readonly string[]): boolean => {
  const stored = (l: readonly string[]): string[] =>
    l
      .map((f) => f.toLowerCase())
      .filter((f) => f !== '\\recent')
      .sort();
  const x = stored(a);
  const y = stored(b);
  return x.length === y.length && x.every((f, i) => f === y[i]);
};

export class ViewChecker {
  readonly violations: string[] = [];
  selected = false;
  /** UIDs by sequence number - 1; 0 while unknown (announced by EXISTS only). */
  uids: number[] = [];
  /** Flags of each UID as last shown to this session. */
  readonly flags = new Map<number, string[]>();
  private readonly modseqs = new Map<number, bigint>();
  private keywords = new Set<string>();
  private highest = 0n;
  private maxShown = 0n;
  private byeSeen = false;
  private logoutTag: string | null = null;
  private noExpunge = false;
  private command = '';
  /** The selected mailbox's name as the client wrote it (STATUS of it is checked too). */
  private mailbox = '';

  constructor(readonly name: string) {}

  get exists(): number {
    return this.uids.length;
  }

  /** The session is (re)connected: a fresh, unselected view. */
  reset(): void {
    this.selected = false;
    this.uids = [];
    this.flags.clear();
    this.modseqs.clear();
    this.keywords = new Set();
    this.highest = 0n;
    this.maxShown = 0n;
    this.byeSeen = false;
    this.logoutTag = null;
  }

  private fail(why: string, line: string): void {
    this.violations.push(`${this.name}: ${why} (command ${JSON.stringify(this.command)}): ${line.slice(0, 300)}`);
  }

  /**
   * Feed a command and everything the server answered to it, in order
   * (`untagged` then `tagged`; null while IDLE is still running). A
   * STORE .SILENT is applied to the flags this view knows before the
   * answer's lines, which show the state after it.
   */
  feed(tag: string, command: string, untagged: readonly string[], tagged: string | null): void {
    this.command = command;
    const words = command.toUpperCase().split(' ');
    const uidCmd = words[0] === 'UID';
    const verb = uidCmd ? words[1] : words[0];
    this.noExpunge = !uidCmd && (verb === 'FETCH' || verb === 'STORE' || verb === 'SEARCH' || verb === 'COPY');
    if (verb === 'SELECT' || verb === 'EXAMINE') {
      this.mailbox = command.split(' ')[1] ?? '';
      this.selected = false;
      this.uids = [];
      this.flags.clear();
      this.modseqs.clear();
      this.keywords = new Set();
      this.highest = 0n;
      this.maxShown = 0n;
    }
    if (verb === 'LOGOUT') this.logoutTag = tag;
    if (verb === 'STORE' && /\.SILENT/i.test(command)) this.applySilent(command, uidCmd);
    for (const l of untagged) this.untagged(l);
    if (tagged !== null) this.tagged(tag, tagged, verb ?? '');
    this.noExpunge = false;
  }

  /** Lines that came with no command of ours in progress (IDLE pushes are fed with the IDLE command instead). */
  unsolicited(lines: readonly string[]): void {
    for (const l of lines) this.untagged(l);
  }

  private tagged(tag: string, line: string, verb: string): void {
    if (this.byeSeen && tag !== this.logoutTag) this.fail('tagged answer after BYE', line);
    if ((verb === 'SELECT' || verb === 'EXAMINE') && line.startsWith(`${tag} OK`)) this.selected = true;
    if (verb === 'CLOSE' || verb === 'UNSELECT') this.selected = false;
    this.respCode(line);
  }

  private untagged(line: string): void {
    if (this.byeSeen) {
      this.fail('untagged response after BYE', line);
      return;
    }
    if (line.startsWith('* BYE')) {
      this.byeSeen = true;
      return;
    }
    if (line.startsWith('+')) return;
    let m = /^\* (\d+) (EXISTS|EXPUNGE|FETCH|RECENT)\b ?(.*)$/s.exec(line);
    if (m) {
      const n = Number(m[1]);
      if (m[2] === 'EXISTS') this.onExists(n, line);
      else if (m[2] === 'EXPUNGE') this.onExpunge(n, line);
      else if (m[2] === 'FETCH') this.onFetch(n, m[3]!, line);
      // RFC 3501 §7.3.2: the recent messages are some of the messages there are.
      else if (n > this.uids.length) this.fail(`RECENT ${n} above EXISTS ${this.uids.length}`, line);
      return;
    }
    m = /^\* VANISHED (\(EARLIER\) )?([\d:,]+)$/.exec(line);
    if (m) {
      // EARLIER reports history (QRESYNC SELECT, UID FETCH ... VANISHED) and changes nothing in the view.
      if (!m[1]) for (const uid of expandSet(m[2]!)) this.onVanished(uid, line);
      return;
    }
    m = /^\* STATUS (\S+) \(.*HIGHESTMODSEQ (\d+)/.exec(line);
    if (m) {
      // RFC 7162 §3.1.10: the selected mailbox's STATUS HIGHESTMODSEQ covers every MODSEQ this session was shown.
      if (this.selected && m[1] === this.mailbox && BigInt(m[2]!) < this.maxShown) this.fail(`STATUS HIGHESTMODSEQ ${m[2]} below a MODSEQ already shown (${this.maxShown})`, line);
      return;
    }
    m = /^\* FLAGS \((.*)\)$/.exec(line);
    if (m) {
      this.onFlags(m[1]!.split(' ').filter((f) => f !== ''), line);
      return;
    }
    this.respCode(line);
  }

  private respCode(line: string): void {
    const hm = /\[HIGHESTMODSEQ (\d+)\]/.exec(line);
    if (hm && this.selected) {
      const h = BigInt(hm[1]!);
      if (h < this.highest) this.fail(`HIGHESTMODSEQ went down ${this.highest} -> ${h}`, line);
      if (h < this.maxShown) this.fail(`HIGHESTMODSEQ ${h} below a MODSEQ already shown (${this.maxShown})`, line);
      this.highest = h;
    } else if (hm) {
      // At SELECT (the tagged OK has not come yet): the start of this mailbox's numbers.
      this.highest = BigInt(hm[1]!);
    }
  }

  private onExists(n: number, line: string): void {
    if (n < this.uids.length) {
      this.fail(`EXISTS shrank ${this.uids.length} -> ${n}`, line);
      this.uids.length = n;
      return;
    }
    while (this.uids.length < n) this.uids.push(0);
  }

  private onExpunge(n: number, line: string): void {
    if (this.noExpunge) this.fail('EXPUNGE during a sequence-number FETCH/STORE/SEARCH/COPY', line);
    if (n < 1 || n > this.uids.length) {
      this.fail(`EXPUNGE ${n} outside 1:${this.uids.length}`, line);
      return;
    }
    const [uid] = this.uids.splice(n - 1, 1);
    if (uid) {
      this.flags.delete(uid);
      this.modseqs.delete(uid);
    }
  }

  /**
   * One UID of `* VANISHED`: its slot leaves the view. A UID this view never
   * learnt is one of the unknown slots between its known neighbours; those
   * are interchangeable, so removing any of them is exact.
   */
  private onVanished(uid: number, line: string): void {
    if (this.noExpunge) this.fail('VANISHED during a sequence-number FETCH/STORE/SEARCH/COPY', line);
    let i = this.uids.indexOf(uid);
    if (i < 0) {
      // The last known UID below it; the slot after that is unknown when the gap can hold it.
      let below = -1;
      for (let k = 0; k < this.uids.length; k++) {
        const u = this.uids[k]!;
        if (u > uid) break;
        if (u !== 0) below = k;
      }
      i = this.uids[below + 1] === 0 ? below + 1 : -1;
    }
    if (i < 0) {
      this.fail(`VANISHED UID ${uid} is not in the view`, line);
      return;
    }
    this.uids.splice(i, 1);
    this.flags.delete(uid);
    this.modseqs.delete(uid);
  }

  private onFlags(list: string[], line: string): void {
    const next = new Set(list.filter(isKeyword));
    for (const [uid, f] of this.flags) {
      // Only keywords the server announced: one this client added with .SILENT may not have been shown yet.
      for (const k of f) if (this.keywords.has(k) && !next.has(k)) this.fail(`FLAGS dropped keyword ${k} still on UID ${uid}`, line);
    }
    this.keywords = next;
  }

  private onFetch(n: number, rest: string, line: string): void {
    if (n < 1 || n > this.uids.length) {
      this.fail(`FETCH ${n} outside 1:${this.uids.length}`, line);
      return;
    }
    const open = rest.indexOf('(');
    const parsed = parseList(rest, open + 1);
    // One response per line: a FETCH cut short (a message vanishing mid-answer) runs into the next line.
    if (open < 0 || !parsed.closed || parsed.end !== rest.length) this.fail('malformed FETCH response', line);
    const items = parsed.values;
    let uid = 0;
    let flags: string[] | null = null;
    let modseq: bigint | null = null;
    for (let i = 0; i + 1 < items.length; i += 2) {
      const key = String(items[i]).toUpperCase();
      const v = items[i + 1];
      if (key === 'UID') uid = Number(v);
      else if (key === 'FLAGS') flags = atoms(v);
      else if (key === 'MODSEQ') modseq = BigInt(atoms(v)?.[0] ?? '0');
    }
    const known = this.uids[n - 1]!;
    if (uid) {
      if (known && known !== uid) this.fail(`sequence ${n} was UID ${known}, now UID ${uid}`, line);
      // UIDs ascend with sequence numbers: the nearest known neighbours bound it.
      for (let i = n - 2; i >= 0; i--) {
        const u = this.uids[i]!;
        if (u === 0) continue;
        if (u >= uid) this.fail(`UID ${uid} at ${n} is not above UID ${u} at ${i + 1}`, line);
        break;
      }
      for (let i = n; i < this.uids.length; i++) {
        const u = this.uids[i]!;
        if (u === 0) continue;
        if (u <= uid) this.fail(`UID ${uid} at ${n} is not below UID ${u} at ${i + 1}`, line);
        break;
      }
      if (!known) this.uids[n - 1] = uid;
    }
    const who = uid || known;
    if (flags) {
      for (const f of flags) if (isKeyword(f) && !this.keywords.has(f)) this.fail(`keyword ${f} used before FLAGS announced it`, line);
      if (who) this.flags.set(who, flags);
    }
    if (modseq !== null) {
      if (modseq > this.maxShown) this.maxShown = modseq;
      if (who) {
        const before = this.modseqs.get(who);
        if (before !== undefined && modseq < before) this.fail(`UID ${who} MODSEQ went down ${before} -> ${modseq}`, line);
        this.modseqs.set(who, modseq);
      }
    }
  }

  /** `STORE set ±FLAGS.SILENT (list)`: what the client itself changed (a message's flags become unknown when they were). */
  private applySilent(command: string, uidCmd: boolean): void {
    const m = /STORE (\S+) ([+-]?)FLAGS\.SILENT \(?([^)]*)\)?$/i.exec(command);
    if (!m) return;
    const given = m[3]!.split(' ').filter((f) => f !== '');
    for (const uid of this.targets(m[1]!, uidCmd)) {
      const cur = this.flags.get(uid);
      if (m[2] === '') this.flags.set(uid, [...given]);
      else if (!cur) continue;
      else if (m[2] === '+') this.flags.set(uid, [...new Set([...cur, ...given])]);
      else this.flags.set(uid, cur.filter((f) => !given.some((g) => g.toLowerCase() === f.toLowerCase())));
    }
  }

  /** UIDs a sequence or UID set names, among those this view knows. */
  private targets(set: string, uidCmd: boolean): number[] {
    const out: number[] = [];
    for (const part of set.split(',')) {
      const [a, b] = part.split(':');
      const last = uidCmd ? Math.max(0, ...this.uids) : this.uids.length;
      const lo = a === '*' ? last : Number(a);
      const hi = b === undefined ? lo : b === '*' ? last : Number(b);
      const [x, y] = lo <= hi ? [lo, hi] : [hi, lo];
      if (uidCmd) {
        for (const u of this.uids) if (u >= x && u <= y) out.push(u);
      } else {
        for (let s = x; s <= y && s <= this.uids.length; s++) if (this.uids[s - 1]) out.push(this.uids[s - 1]!);
      }
    }
    return out;
  }

  /**
   * Compare the view with the server's state of the mailbox (UIDs in order
   * and their flags, read by a fresh session once everything is quiet).
   */
  compareWith(state: readonly { uid: number; flags: readonly string[] }[]): void {
    const line = `server has ${state.length} messages`;
    if (state.length !== this.uids.length) this.fail(`view has ${this.uids.length} messages at the end`, line);
    for (let i = 0; i < Math.min(state.length, this.uids.length); i++) {
      const u = this.uids[i]!;
      const s = state[i]!;
      if (u && u !== s.uid) this.fail(`sequence ${i + 1} is UID ${u} in the view, ${s.uid} on the server`, line);
      const f = this.flags.get(s.uid);
      if (f && !sameFlags(f, s.flags)) this.fail(`UID ${s.uid} flags last seen (${f.join(' ')}) differ from the server's (${s.flags.join(' ')})`, line);
    }
  }
}

/** The UIDs of a set like `3:5,9` (small sets only: the test's mailboxes are small). */
function expandSet(set: string): number[] {
  const out: number[] = [];
  for (const part of set.split(',')) {
    const [a, b] = part.split(':').map(Number);
    const lo = Math.min(a!, b ?? a!);
    const hi = Math.max(a!, b ?? a!);
    for (let u = lo; u <= hi && out.length < 100_000; u++) out.push(u);
  }
  return out;
}

/** `* n FETCH (UID u FLAGS (...))` lines of `UID FETCH 1:* (FLAGS)` as the server's state, in sequence order. */
export function stateFromFetch(lines: readonly string[]): { uid: number; flags: string[] }[] {
  const out: { seq: number; uid: number; flags: string[] }[] = [];
  for (const l of lines) {
    const m = /^\* (\d+) FETCH \((.*)\)$/s.exec(l);
    if (!m) continue;
    const items = parseList(m[2]!, 0).values;
    let uid = 0;
    let flags: string[] = [];
    for (let i = 0; i + 1 < items.length; i += 2) {
      const key = String(items[i]).toUpperCase();
      if (key === 'UID') uid = Number(items[i + 1]);
      else if (key === 'FLAGS') flags = atoms(items[i + 1]) ?? [];
    }
    out.push({ seq: Number(m[1]), uid, flags });
  }
  return out.sort((a, b) => a.seq - b.seq).map(({ uid, flags }) => ({ uid, flags }));
}
