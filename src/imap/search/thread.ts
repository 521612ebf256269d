/**
 * THREAD (RFC 5256 §3 ORDEREDSUBJECT, §4 REFERENCES) over sort items
 * (sort.ts), and the thread-list output (§5 BNF: `(3 6 (4 23)(44 7 96))`).
 * Numbers are sequence numbers, or UIDs for UID THREAD.
 *
 * Threading runs in slices under the command's budget (src/work/budget.ts):
 * each linking step and comparison is charged, the loops pause, and the
 * tree walks are iterative, so a 20,000-message reference chain neither
 * holds the event loop nor overflows the stack.
 */
import type { WorkBudget } from '../../work/budget.js';
import { sortInSlices } from '../../work/sort.js';
import { countingPass, type Selected } from './sort.js';

/** What threading needs of one message (a position of the selection). */
interface Item {
  readonly seq: number;
  /** The number printed: sequence number, or UID for UID THREAD. */
  readonly id: number;
  /** Sent date (RFC 5256 §3 DATE). */
  readonly date: number;
  /** Base subject, i;ascii-casemap'ed. */
  readonly subject: string;
  readonly isReply: boolean;
  readonly messageId: string;
  readonly inReplyTo: string;
  readonly references: readonly string[];
}

interface Node {
  item: Item | null;
  parent: Node | null;
  children: Node[];
}

const node = (item: Item | null): Node => ({ item, parent: null, children: [] });

/** Date used to order siblings and roots: the message's, or a dummy's first child's (§4 steps 4 and 6). */
function dateOf(n: Node): number {
  for (let c: Node | undefined = n; c; c = c.children[0]) if (c.item) return c.item.date;
  return 0;
}
function seqOf(n: Node): number {
  for (let c: Node | undefined = n; c; c = c.children[0]) if (c.item) return c.item.seq;
  return 0;
}
const byDate = (a: Node, b: Node): number => dateOf(a) - dateOf(b) || seqOf(a) - seqOf(b);

function itemsOf(sel: Selected, uid: boolean): Item[] {
  const c = sel.cols;
  const out: Item[] = new Array(sel.count);
  for (let p = 0; p < sel.count; p++) {
    const s = sel.slot[p]!;
    out[p] = {
      seq: sel.seq[p]!,
      id: uid ? sel.uid[p]! : sel.seq[p]!,
      date: c.date[s]!,
      subject: c.strings.SUBJECT[s]!,
      isReply: c.isReply[s] === 1,
      messageId: c.messageId[s]!,
      inReplyTo: c.inReplyTo[s]!,
      references: c.references[s]!,
    };
  }
  return out;
}

/**
 * Thread list text; `id` gives the number to print for a message. A chain
 * of single children is written flat ("1 2 3"), siblings each in
 * parentheses after it (§5); an explicit stack instead of recursion.
 */
async function render(roots: readonly Node[], budget: WorkBudget): Promise<string> {
  const out: string[] = [];
  const stack: (string | Node)[] = [];
  for (let i = roots.length - 1; i >= 0; i--) stack.push(')', roots[i]!, '(');
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (typeof x === 'string') {
      out.push(x);
      continue;
    }
    const ids: string[] = [];
    let cur = x;
    for (;;) {
      if (cur.item) ids.push(String(cur.item.id));
      if (cur.item && cur.children.length === 1) cur = cur.children[0]!;
      else break;
    }
    out.push(ids.join(' ') + (ids.length > 0 && cur.children.length > 0 ? ' ' : ''));
    for (let i = cur.children.length - 1; i >= 0; i--) stack.push(')', cur.children[i]!, '(');
    await budget.step(ids.length + cur.children.length);
  }
  return out.join('');
}

/** Nodes of the forest, every node after all of its descendants (a reversed pre-order walk). */
function bottomUp(roots: readonly Node[]): Node[] {
  const order: Node[] = [];
  const stack = [...roots];
  while (stack.length > 0) {
    const n = stack.pop()!;
    order.push(n);
    for (const c of n.children) stack.push(c);
  }
  return order.reverse();
}

async function sortSiblings(list: Node[], budget: WorkBudget): Promise<Node[]> {
  if (list.length < 2) return list;
  return sortInSlices(list, byDate, budget);
}

/**
 * §3: sort by base subject then sent date (then sequence number: counting
 * passes over the columns' ranks, sort.ts); each subject group is one
 * thread, all children of its first message; threads ordered by the sent
 * date of their first message.
 */
export async function orderedSubject(sel: Selected, uid: boolean, budget: WorkBudget): Promise<string> {
  const subject = await sel.cols.rank('SUBJECT');
  const date = await sel.cols.rank('DATE');
  let order: Int32Array<ArrayBuffer> = new Int32Array(sel.count);
  for (let i = 0; i < sel.count; i++) order[i] = i;
  await budget.step(sel.count + date.distinct);
  order = countingPass(order, sel.slot, date.rank, date.distinct, false);
  await budget.step(sel.count + subject.distinct);
  order = countingPass(order, sel.slot, subject.rank, subject.distinct, false);
  // Thread starts (positions into `order`), then the threads by their first message's date and sequence number.
  const starts: number[] = [];
  for (let i = 0; i < order.length; i++) {
    if (i === 0 || subject.rank[sel.slot[order[i]!]!] !== subject.rank[sel.slot[order[i - 1]!]!]) starts.push(i);
  }
  // Positions ascend with sequence numbers: sorted, then a stable pass by date breaks date ties by sequence number.
  const at = new Map<number, number>();
  for (let t = 0; t < starts.length; t++) at.set(order[starts[t]!]!, t);
  const firsts = Int32Array.from(starts, (i) => order[i]!).sort();
  await budget.step(sel.count + date.distinct);
  const threads = countingPass(firsts, sel.slot, date.rank, date.distinct, false);
  const ids = uid ? sel.uid : sel.seq;
  // §5: a thread of one message is "(a)", of two "(a b)", of more "(a (b)(c)…)".
  const out: string[] = [];
  for (let k = 0; k < threads.length; k++) {
    const t = at.get(threads[k]!)!;
    const from = starts[t]!;
    const to = t + 1 < starts.length ? starts[t + 1]! : order.length;
    let text = `(${ids[order[from]!]}`;
    if (to - from === 2) text += ` ${ids[order[from + 1]!]}`;
    else if (to - from > 2) {
      text += ' ';
      for (let i = from + 1; i < to; i++) text += `(${ids[order[i]!]})`;
    }
    out.push(`${text})`);
    if ((k & 1023) === 1023) await budget.step(1024);
  }
  return out.join('');
}

/** Is `maybe` `of` or one of its ancestors? The walk is charged: a long chain makes it long. */
function isAncestor(maybe: Node, of: Node, budget: WorkBudget): boolean {
  // A node without children is nobody's ancestor: the usual case (a message's own container) costs nothing.
  if (maybe.children.length === 0) return maybe === of;
  let steps = 0;
  let found = false;
  for (let p: Node | null = of; p; p = p.parent) {
    steps++;
    if (p === maybe) {
      found = true;
      break;
    }
  }
  budget.charge(steps);
  return found;
}

function unlink(child: Node, budget: WorkBudget): void {
  if (child.parent) {
    budget.charge(child.parent.children.length);
    child.parent.children = child.parent.children.filter((c) => c !== child);
  }
  child.parent = null;
}

function link(parent: Node, child: Node, budget: WorkBudget): void {
  if (child.parent === parent) return;
  unlink(child, budget);
  child.parent = parent;
  parent.children.push(child);
}

/** §4 step 3 over the whole forest, children before parents: childless dummies go, a dummy's children move up (at the root only a single child). */
function prune(roots: Node[]): Node[] {
  const level = (list: readonly Node[], atRoot: boolean): Node[] => {
    const out: Node[] = [];
    for (const c of list) {
      if (c.item) out.push(c);
      else if (c.children.length === 0) continue;
      else if (!atRoot || c.children.length === 1) {
        for (const ch of c.children) {
          ch.parent = atRoot ? null : c.parent;
          out.push(ch);
        }
      } else out.push(c);
    }
    return out;
  };
  for (const c of bottomUp(roots)) {
    c.children = level(c.children, false);
    for (const ch of c.children) ch.parent = c;
  }
  return level(roots, true);
}

/** Step 6 over a forest: children before parents, so a dummy's date is its earliest child's. */
async function sortTrees(roots: readonly Node[], budget: WorkBudget): Promise<void> {
  for (const n of bottomUp(roots)) {
    n.children = await sortSiblings(n.children, budget);
    await budget.step(1);
  }
}

/** §4 REFERENCES. */
export async function references(sel: Selected, uid: boolean, budget: WorkBudget): Promise<string> {
  const items = itemsOf(sel, uid);
  const table = new Map<string, Node>();
  const all: Node[] = [];
  const container = (msgid: string): Node => {
    let c = table.get(msgid);
    if (!c) {
      table.set(msgid, (c = node(null)));
      all.push(c);
    }
    return c;
  };
  let unique = 0;
  // (1) Link messages by Message-ID, References (or In-Reply-To).
  // The selection is in sequence order already.
  for (const it of items) {
    let own = it.messageId !== '' ? container(it.messageId) : null;
    // A duplicate or missing Message-ID gets a container of its own (§4 step 1A).
    if (!own || own.item) own = container(`\0unique-${unique++}`);
    own.item = it;
    const refs = it.references.length > 0 ? it.references : it.inReplyTo !== '' ? [it.inReplyTo] : [];
    let prev: Node | null = null;
    for (const r of refs) {
      const c = container(r);
      if (prev && !c.parent && c !== prev && !isAncestor(c, prev, budget)) link(prev, c, budget);
      prev = c;
    }
    // (1C) The last reference is the message's parent. A parent it already has (set by an earlier
    // message's References) is dropped first, as §4 1C says the most recent one is probably wrong; the
    // new link is then skipped if it would make a loop, which leaves the message a root.
    if (own.parent && own.parent !== prev) unlink(own, budget);
    if (prev && prev !== own && !isAncestor(own, prev, budget)) link(prev, own, budget);
    await budget.step(1 + refs.length);
  }
  // (2) Root set.
  let roots = all.filter((c) => c.parent === null);
  // (3) Prune dummies: drop childless ones, promote children (at the root only a single child is promoted).
  roots = prune(roots);
  await budget.step(all.length);
  // Sort children first (step 6) so a dummy's date is its earliest child's.
  await sortTrees(roots, budget);
  // (4) Sort the root set by date.
  roots = await sortSiblings(roots, budget);
  // (5) Gather roots with the same base subject.
  const subjectOf = (n: Node): string => (n.item ?? n.children[0]?.item)?.subject ?? '';
  const isReply = (n: Node): boolean => (n.item ?? n.children[0]?.item)?.isReply ?? false;
  const bySubject = new Map<string, Node>();
  for (const r of roots) {
    const s = subjectOf(r);
    await budget.step(1);
    if (s === '') continue;
    const old = bySubject.get(s);
    if (!old || (!r.item && old.item) || (old.item && r.item && isReply(old) && !isReply(r))) bySubject.set(s, r);
  }
  const merged: Node[] = [];
  for (const r of roots) {
    // Already placed under an earlier root of the same subject (a dummy made for it).
    if (r.parent) continue;
    const s = subjectOf(r);
    const t = s === '' ? undefined : bySubject.get(s);
    await budget.step(1);
    if (!t || t === r) {
      merged.push(r);
      continue;
    }
    if (!t.item && !r.item) {
      for (const c of [...r.children]) link(t, c, budget);
    } else if (!t.item && r.item) {
      link(t, r, budget);
    } else if (t.item && !isReply(t) && r.item && isReply(r)) {
      link(t, r, budget);
    } else {
      // Neither is a reply of the other: both become children of a new dummy in t's place.
      const d = node(null);
      budget.charge(merged.length);
      const at = merged.indexOf(t);
      link(d, t, budget);
      link(d, r, budget);
      bySubject.set(s, d);
      if (at >= 0) merged[at] = d;
      else merged.push(d);
    }
  }
  await sortTrees(merged, budget);
  return render(await sortSiblings(merged, budget), budget);
}
