/**
 * SEARCH program evaluation (RFC 3501 §6.4.4) over one mailbox view.
 *
 * Keys are answered from the cheapest source that can: flags, sizes, dates
 * and UIDs from the index snapshot (no file opened); SUBJECT, FROM, TO, CC,
 * BCC and HEADER on the common fields from the search fields the index
 * stored at delivery (store/mime/search-header.ts INDEXED_FIELDS, read a
 * page of messages per query); the Date: header from the stored MIME
 * structure's sort keys; other HEADER fields and TEXT from the decoded
 * header block (RFC 2047 words decoded; store/mime/search-header.ts), read
 * from the file, whose common fields are then stored for a message
 * delivered before the index kept them;
 * BODY/TEXT from the text parts with base64/quoted-printable removed and
 * charsets converted (src/store/mime/decode.ts). Within an AND, cheap keys
 * run first, so a file is opened only for messages the cheap keys did not
 * already rule out. Matching is case-insensitive substring matching, as
 * §6.4.4 asks: each key's string is lower-cased once per command (prepare)
 * and each message's header and body text once per message. The strings of
 * all keys that look at one text (the body, the header block, one field)
 * are matched together in one pass over it (search/matcher.ts), so a
 * program of thousands of keys reads each text once, not once per key.
 *
 * The work is charged to the command's budget and runs in slices that
 * yield to the event loop (src/work/budget.ts): per message, per chunk of
 * body text (search/body-text.ts), per sequence set resolved; past
 * LIMITS.imap.commandWorkUnits the command is answered NO [LIMIT].
 */
import type { MailboxHandle } from '../../store/store.js';
import type { MessageRecord } from '../../store/types.js';
import type { MimeTree } from '../../store/mime/types.js';
import { parseRfc5322DateZone } from '../../store/mime/sort.js';
import type { ImapDate, SearchKey, SequenceSet } from '../wire/types.js';
import type { MailboxView } from '../mailbox-view.js';
import { textNarrowing } from './fulltext.js';
import { storedKey, storedNarrowing, usesStoredFields } from './stored-fields.js';
import {
  fieldsOf,
  INDEXED_FIELDS,
  searchHeader,
  searchHeaderOfPrefix,
  type SearchHeader,
  type StoredSearchFields,
} from '../../store/mime/search-header.js';
import { decodedHeaderBlocks, unshared, type MailboxValues } from '../fetch/shared-values.js';
import { WorkBudget } from '../../work/budget.js';
import { matchBodyText, type ByteSource } from './body-text.js';
import { NeedleSet, type MatchRun } from './matcher.js';
import { LIMITS } from '../../limits.js';
import { everyMessage, type HitColumns } from './hits.js';
import { compareDay, dayOfImap, recordHits, recordMatches, setMembers, type Sets } from './record-keys.js';

export type { HitColumns } from './hits.js';

/** The strings a prepared program matches, per text they look at. */
interface Needles {
  /** BODY and TEXT. */
  readonly body: NeedleSet;
  /** TEXT: the decoded header block. */
  readonly headers: NeedleSet;
  /** SUBJECT and HEADER, by lower-cased field name. */
  readonly fields: ReadonlyMap<string, NeedleSet>;
  /** FROM/TO/CC/BCC, by lower-cased field name. */
  readonly addresses: ReadonlyMap<string, NeedleSet>;
}

const WHOLE_READ_MAX = LIMITS.tuning.searchWholeReadMaxBytes;
const TEXT_CHUNK = LIMITS.tuning.searchHeaderChunkChars;

/** Per-message data loaded on demand and shared by all keys of one message. */
class MessageData {
  private tree: MimeTree | null = null;
  private header: SearchHeader | null = null;
  private fields: Map<string, string[]> | null = null;
  /** The stored fields split by name (from `stored`). */
  private storedFields: Map<string, string[]> | null = null;
  /** Per address field: its decoded values and its canonical forms. */
  private addresses: Map<string, readonly string[]> | null = null;
  /** Match results per text, made on first use for all of that text's needles at once. */
  private readonly runs = new Map<string, MatchRun>();

  constructor(
    private readonly handle: MailboxHandle,
    readonly rec: MessageRecord,
    private readonly headerCache: MailboxValues<SearchHeader>,
    private readonly needles: Needles,
    private readonly budget: WorkBudget,
    /** The index's stored search fields: undefined when none are stored yet, null when kept out (too long). */
    private readonly stored: StoredSearchFields | null | undefined,
    /** Where header blocks read for a message without stored fields go, to be stored. */
    private readonly fill: [number, SearchHeader][],
  ) {}

  async structure(): Promise<MimeTree> {
    return (this.tree ??= await this.handle.structure(this.rec.uid));
  }

  /**
   * The header block as SEARCH sees it (search/header.ts). Most headers fit
   * in the first HEAD_PROBE bytes: read those and find the blank line, which
   * avoids loading the stored structure; a longer header falls back to it.
   */
  async searchHeader(): Promise<SearchHeader> {
    // Process-wide cache (fetch/shared-values.ts): a repeated SEARCH FROM/HEADER opens no file.
    if (this.header !== null) return this.header;
    this.header = this.headerCache.get(this.rec.uid) ?? null;
    if (this.header === null) {
      const probe = await this.handle.readMessage(this.rec.uid, { start: 0, end: HEAD_PROBE });
      this.header = searchHeaderOfPrefix(probe, probe.length < HEAD_PROBE);
      if (this.header === null) {
        const tree = await this.structure();
        const bytes = await this.handle.readMessage(this.rec.uid, { start: tree.headerStart, end: tree.bodyStart });
        this.header = searchHeader(bytes, 0, bytes.length);
      }
      this.headerCache.set(this.rec.uid, this.header);
      this.budget.charge(this.header.text.length + this.header.addresses.length);
    }
    if (this.stored === undefined) this.fill.push([this.rec.uid, this.header]);
    return this.header;
  }

  /** Lower-cased decoded header text ("name: value" lines). */
  async headerText(): Promise<string> {
    return (await this.searchHeader()).text;
  }

  /** Lower-cased decoded values of field `lname`, split once per message. */
  async field(lname: string): Promise<readonly string[]> {
    if (this.stored && INDEXED_FIELDS.has(lname)) {
      this.storedFields ??= fieldsOf(this.stored.fields);
      return this.storedFields.get(lname) ?? NONE;
    }
    this.fields ??= fieldsOf(await this.headerText());
    return this.fields.get(lname) ?? NONE;
  }

  /**
   * What FROM/TO/CC/BCC match: the decoded field as written (§6.4.4 "header
   * field contains") and its address list in canonical form (addressListText),
   * so `user@domain.org` also finds `<user (comment)@ (comment) domain.org>`.
   */
  async addressField(lname: string): Promise<readonly string[]> {
    this.addresses ??= new Map();
    let values = this.addresses.get(lname);
    if (values === undefined) {
      const forms = fieldsOf(this.stored ? this.stored.addresses : (await this.searchHeader()).addresses).get(lname) ?? NONE;
      values = [...(await this.field(lname)), ...forms];
      this.addresses.set(lname, values);
    }
    return values;
  }

  /** Does the decoded body text contain `needle`? The first call matches every BODY/TEXT needle in one pass. */
  async bodyHas(needle: string): Promise<boolean> {
    let run = this.runs.get('body');
    if (!run) {
      run = this.needles.body.run(this.budget);
      const tree = await this.structure();
      const uid = this.rec.uid;
      // A small message is read in one go (one file operation); a big one a window at a time, never whole.
      const whole = this.rec.size <= WHOLE_READ_MAX ? await this.handle.readMessage(uid) : null;
      const read: ByteSource = whole ? (start, end) => Promise.resolve(whole.subarray(start, end)) : (start, end) => this.handle.readMessage(uid, { start, end });
      await this.budget.step(whole?.length ?? 1);
      await matchBodyText(read, tree, run, this.budget);
      this.runs.set('body', run);
    }
    return run.has(needle);
  }

  /** Does the decoded header block contain `needle` (TEXT)? */
  async headerHas(needle: string): Promise<boolean> {
    let run = this.runs.get('headers');
    if (!run) {
      run = this.needles.headers.run(this.budget);
      const text = await this.headerText();
      for (let i = 0; i < text.length && !run.complete; i += TEXT_CHUNK) {
        run.feed(text.slice(i, i + TEXT_CHUNK));
        await this.budget.pause();
      }
      this.runs.set('headers', run);
    }
    return run.has(needle);
  }

  /** Does a value of field `lname` (SUBJECT, HEADER; or an address field's forms) contain `needle`? Each value is a text of its own. */
  async fieldHas(lname: string, needle: string, address: boolean): Promise<boolean> {
    const key = `${address ? 'a' : 'f'}:${lname}`;
    let run = this.runs.get(key);
    if (!run) {
      const set = (address ? this.needles.addresses : this.needles.fields).get(lname)!;
      run = set.run(this.budget);
      for (const v of address ? await this.addressField(lname) : await this.field(lname)) {
        run.boundary();
        run.feed(v);
        if (run.complete) break;
      }
      await this.budget.pause();
      this.runs.set(key, run);
    }
    return run.has(needle);
  }

  /**
   * The sent date's calendar day as written in the Date: header, in the
   * header's own zone (§6.4.4 SENTBEFORE/SENTON/SENTSINCE: "disregarding
   * time and timezone"): `Sun, 25 Mar 2007 00:00:00 +0200` is on 25 March.
   * Without a usable Date: the day is 1 January 1970, as Dovecot reads it
   * (RFC 3501 gives no fallback; RFC 5256's INTERNALDATE fallback is SORT's).
   */
  async sentDay(): Promise<number> {
    const sort = (await this.structure()).sort;
    if (sort.date === null) return utcDay(0);
    let zone = sort.dateZone;
    // A structure stored before the zone was kept: read it from the header again.
    if (zone === undefined) zone = parseRfc5322DateZone((await this.field('date'))[0] ?? '')?.zone ?? 0;
    return utcDay(sort.date + zone * 60_000);
  }
}

const NONE: readonly string[] = [];

const HEAD_PROBE = LIMITS.tuning.searchHeadProbeBytes;
const PARALLEL = LIMITS.tuning.searchParallel;

const STORED_PAGE = LIMITS.tuning.searchStoredPage;

/** Calendar day (yyyymmdd) of an instant read in UTC. */
const utcDay = (ms: number): number => {
  const d = new Date(ms);
  return d.getUTCFullYear() * 10000 + (d.getUTCMonth() + 1) * 100 + d.getUTCDate();
};
/** Costs computed so far, by key object (prepare sorts by cost at every level: each node is costed once). */
const costs = new WeakMap<SearchKey, number>();

/** 0: index snapshot only; 1: stored search fields; 2: structure; 3: header bytes; 4: body bytes. */
function cost(k: SearchKey): number {
  let c = costs.get(k);
  if (c === undefined) costs.set(k, (c = costOf(k)));
  return c;
}

function costOf(k: SearchKey): number {
  switch (k.key) {
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE':
      return 2;
    case 'BCC':
    case 'CC':
    case 'FROM':
    case 'TO':
    case 'SUBJECT':
    case 'HEADER':
      return storedKey(k) ? 1 : 3;
    case 'BODY':
    case 'TEXT':
      return 4;
    case 'NOT':
      return cost(k.operand);
    case 'OR':
      return Math.max(cost(k.left), cost(k.right));
    case 'AND':
      return k.operands.reduce((m, o) => Math.max(m, cost(o)), 0);
    default:
      return 0;
  }
}

/** A search key that this server cannot answer (SEARCHRES `$` without a saved result). */
export class UnsupportedSearchKey extends Error {}

async function matches(k: SearchKey, m: MessageData, seq: number, sets: Sets): Promise<boolean> {
  // Keys the message record answers alone (flags, sizes, dates, UIDs, sequence numbers, modseq).
  if (cost(k) === 0) return recordMatches(k, m.rec, seq, sets);
  switch (k.key) {
    case 'SENTBEFORE':
    case 'SENTON':
    case 'SENTSINCE':
      return compareDay(k.key === 'SENTBEFORE' ? 'BEFORE' : k.key === 'SENTON' ? 'ON' : 'SINCE', await m.sentDay(), dayOfImap(k.date));
    // String keys were lower-cased by prepare(), the message's text by MessageData.
    case 'BCC':
    case 'CC':
    case 'FROM':
    case 'TO':
      return m.fieldHas(k.key.toLowerCase(), k.value, true);
    case 'SUBJECT':
      return m.fieldHas('subject', k.value, false);
    case 'HEADER':
      // §6.4.4: an empty string matches every message that has the field.
      return k.value === '' ? (await m.field(k.field)).length > 0 : m.fieldHas(k.field, k.value, false);
    case 'BODY':
      return m.bodyHas(k.value);
    case 'TEXT':
      return (await m.headerHas(k.value)) || (await m.bodyHas(k.value));
    case 'NOT':
      return !(await matches(k.operand, m, seq, sets));
    case 'OR':
      return (await matches(k.left, m, seq, sets)) || (await matches(k.right, m, seq, sets));
    case 'AND': {
      for (const op of k.operands) if (!(await matches(op, m, seq, sets))) return false;
      return true;
    }
    default:
      return recordMatches(k, m.rec, seq, sets);
  }
}

/**
 * Prepare the program once per command: cheap operands of every AND first
 * (short-circuit before opening files), and every string a key matches on
 * lower-cased (matching compares with lower-cased message text). Set keys
 * keep their SequenceSet objects, which setMembers resolves once by identity.
 */
function prepare(k: SearchKey, budget: WorkBudget): SearchKey {
  budget.charge(1);
  switch (k.key) {
    case 'AND':
      return { key: 'AND', operands: k.operands.map((o) => prepare(o, budget)).sort((a, b) => cost(a) - cost(b)) };
    case 'OR':
      return { key: 'OR', left: prepare(k.left, budget), right: prepare(k.right, budget) };
    case 'NOT':
      return { key: 'NOT', operand: prepare(k.operand, budget) };
    case 'BCC':
    case 'CC':
    case 'FROM':
    case 'TO':
    case 'SUBJECT':
    case 'BODY':
    case 'TEXT':
      return { ...k, value: k.value.toLowerCase() };
    case 'HEADER':
      return { ...k, field: k.field.toLowerCase(), value: k.value.toLowerCase() };
    default:
      return k;
  }
}

/** The strings of a prepared program, grouped by the text they are matched against; and the number of keys. */
function collectNeedles(prog: SearchKey): { needles: Needles; size: number } {
  const body: string[] = [];
  const headers: string[] = [];
  const fields = new Map<string, string[]>();
  const addresses = new Map<string, string[]>();
  const add = (m: Map<string, string[]>, name: string, v: string): void => {
    const l = m.get(name);
    if (l) l.push(v);
    else m.set(name, [v]);
  };
  let size = 0;
  // Iterative: an OR chain of thousands of keys nests that deep.
  const stack: SearchKey[] = [prog];
  while (stack.length > 0) {
    const k = stack.pop()!;
    size++;
    switch (k.key) {
      case 'AND':
        // A loop, not push(...operands): no spread of a client-sized list into arguments.
        for (const o of k.operands) stack.push(o);
        break;
      case 'OR':
        stack.push(k.left, k.right);
        break;
      case 'NOT':
        stack.push(k.operand);
        break;
      case 'BODY':
        body.push(k.value);
        break;
      case 'TEXT':
        body.push(k.value);
        headers.push(k.value);
        break;
      case 'SUBJECT':
        add(fields, 'subject', k.value);
        break;
      case 'HEADER':
        add(fields, k.field, k.value);
        break;
      case 'BCC':
      case 'CC':
      case 'FROM':
      case 'TO':
        add(addresses, k.key.toLowerCase(), k.value);
        break;
      default:
        break;
    }
  }
  const sets = (m: Map<string, string[]>): Map<string, NeedleSet> => new Map([...m].map(([n, l]) => [n, new NeedleSet(l)]));
  return { needles: { body: new NeedleSet(body), headers: new NeedleSet(headers), fields: sets(fields), addresses: sets(addresses) }, size };
}

/** Resolve every UID/sequence set of the program before the scan, in slices (a set can span the whole mailbox). */
async function resolveSets(prog: SearchKey, sets: Sets, budget: WorkBudget): Promise<void> {
  const stack: SearchKey[] = [prog];
  while (stack.length > 0) {
    const k = stack.pop()!;
    if (k.key === 'AND') for (const o of k.operands) stack.push(o);
    else if (k.key === 'OR') stack.push(k.left, k.right);
    else if (k.key === 'NOT') stack.push(k.operand);
    else if ((k.key === 'UID' || k.key === 'SEQ') && !sets.members.has(k.set)) {
      await budget.step(setMembers(k.set, k.key === 'UID', sets).size + 1);
    }
  }
}

/**
 * Evaluate `program` over the messages of `view` (those another session
 * expunged meanwhile are skipped). Returns matching UIDs with their
 * sequence numbers, ascending. The work is charged to `budget` (a SORT or
 * THREAD passes its own, which it goes on using); past it this throws
 * RoostError('LIMIT').
 */
export async function evaluateSearch(view: MailboxView, program: SearchKey, budget: WorkBudget = new WorkBudget()): Promise<{ uid: number; seq: number }[]> {
  const r = await evaluate(view, program, budget);
  return Array.isArray(r) ? r : Array.from(r.uid, (uid, i) => ({ uid, seq: r.seq[i]! }));
}

/** evaluateSearch's answer as columns: for ALL (most SORTs and THREADs) no object per message is made. */
export async function searchHits(view: MailboxView, program: SearchKey, budget: WorkBudget): Promise<HitColumns> {
  const r = await evaluate(view, program, budget);
  if (!Array.isArray(r)) return r;
  return { uid: Float64Array.from(r, (h) => h.uid), seq: Float64Array.from(r, (h) => h.seq) };
}

async function evaluate(view: MailboxView, program: SearchKey, budget: WorkBudget): Promise<{ uid: number; seq: number }[] | HitColumns> {
  const prog = prepare(program, budget);
  // LARGER, SMALLER, BEFORE, SINCE, ON, OLDER, YOUNGER read sizes and INTERNALDATE (store/facts.ts).
  await view.handle.ensureFacts();
  const { needles, size } = collectNeedles(prog);
  await budget.step(size);
  const sets: Sets = { members: new Map(), view, now: Date.now() };
  await resolveSets(prog, sets, budget);
  // SEARCH/SORT/THREAD … ALL: every message the store still has, without a key evaluation each.
  if (prog.key === 'ALL') return everyMessage(view, budget);
  // Flags, sizes, dates, UIDs alone (SORT … UNSEEN): one synchronous walk over the index's records.
  if (cost(prog) === 0) return recordHits(view, prog, sets, size, budget);
  const all: number[] = [];
  for (let seq = 1; seq <= view.exists; seq++) all.push(view.uidAt(seq));
  // The full-text index rules out messages that cannot contain a required BODY/TEXT string (fulltext.ts).
  const possible = await textNarrowing(view.handle, prog, budget);
  const stored = usesStoredFields(prog);
  // And the stored fields rule out messages that lack a required SUBJECT/FROM/HEADER… string (stored-fields.ts).
  const excluded = stored ? await storedNarrowing(view.handle, prog, budget) : null;
  const { found } = view.records(possible || excluded ? all.filter((uid) => (!possible || possible.has(uid)) && !excluded?.has(uid)) : all);
  const out: { uid: number; seq: number }[] = [];
  const headerCache = view.accountId ? decodedHeaderBlocks.forMailbox(view.accountId, view.handle.name, view.uidvalidity) : unshared<SearchHeader>();
  /** Stored search fields of the messages of the current page (when the program has keys they answer). */
  let page = new Map<number, StoredSearchFields | null>();
  const fill: [number, SearchHeader][] = [];
  const one = async (rec: MessageRecord): Promise<boolean> => {
    try {
      // Each message costs at least one unit per key, and yields when its slice is used up.
      await budget.step(size);
      const data = new MessageData(view.handle, rec, headerCache, needles, budget, stored ? page.get(rec.uid) : null, fill);
      return await matches(prog, data, view.seqOf(rec.uid), sets);
    } catch (err) {
      if (err instanceof UnsupportedSearchKey) throw err;
      // A message expunged while we read it does not match; anything else is real.
      if ((err as { code?: string }).code === 'NOTFOUND') return false;
      throw err;
    }
  };
  // Keys that only look at the index run one by one; keys that read files keep PARALLEL messages in flight
  // (a sliding window: a slow file does not hold up the next fifteen, as fixed batches would).
  const hit = new Uint8Array(found.length);
  let next = 0;
  let stop = 0;
  const worker = async (): Promise<void> => {
    try {
      while (next < stop) {
        const i = next++;
        if (await one(found[i]!)) hit[i] = 1;
      }
    } catch (err) {
      // Stop the other workers too; the first error answers the command.
      next = stop;
      throw err;
    }
  };
  // A page at a time: one index query for its stored fields, then the files it still needs.
  for (let start = 0; start < found.length; start += STORED_PAGE) {
    stop = Math.min(found.length, start + STORED_PAGE);
    next = start;
    if (stored) {
      const rows = await view.handle.searchFields(found.slice(start, stop).map((r) => r.uid));
      await budget.step(rows.length);
      page = new Map(rows);
    }
    await Promise.all(Array.from({ length: Math.min(PARALLEL, stop - start) }, worker));
    // Header blocks read from files of messages stored without fields: kept for the next SEARCH.
    // A failure to write that cache must not fail the SEARCH; the next one tries again.
    if (fill.length > 0) await view.handle.keepSearchFields(fill.splice(0)).catch(() => undefined);
  }
  for (let i = 0; i < found.length; i++) if (hit[i]) out.push({ uid: found[i]!.uid, seq: view.seqOf(found[i]!.uid) });
  return out;
}

/** Does the program use the MODSEQ key (RFC 7162 §3.1.5: then the answer carries the highest modseq)? */
export function usesModseq(k: SearchKey): boolean {
  switch (k.key) {
    case 'MODSEQ':
      return true;
    case 'NOT':
      return usesModseq(k.operand);
    case 'OR':
      return usesModseq(k.left) || usesModseq(k.right);
    case 'AND':
      return k.operands.some(usesModseq);
    default:
      return false;
  }
}
