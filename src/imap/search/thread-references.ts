/**
 * THREAD=REFERENCES (RFC 5256 §4) over the shared sort columns, with
 * containers as numbers: container i < distinct is Message-ID i of the
 * column set (ColumnSet.threadIds), the others are made for messages
 * without a usable Message-ID (§4 step 1A) and for the dummies of step 5.
 * Parents are an Int32Array; only containers with children carry a list.
 * Siblings are ordered by the sent date of the message, or of a dummy's
 * first child (§4 steps 4 and 6), then by sequence number: one number per
 * message from the DATE rank, so no comparison looks at an object.
 *
 * Linking, walks and sorts are charged to the command's budget and pause
 * between slices (src/work/budget.ts); the tree walks are iterative, so a
 * 20,000-message reference chain neither holds the event loop nor
 * overflows the stack.
 */
import type { WorkBudget } from '../../work/budget.js';
import { sortInSlices } from '../../work/sort.js';
import type { NumberWriter } from './digits.js';
import type { Selected } from './sort.js';

/** Sibling lists up to this long are sorted with a comparison; longer ones as their keys (byKeys). */
const SMALL_SORT = 64;

/** §4 over the selection, the thread list written to `w` (numbers: UIDs when `uid`, else sequence numbers). */
export async function references(w: NumberWriter, sel: Selected, uid: boolean, budget: WorkBudget): Promise<void> {
  const cols = sel.cols;
  const ids = cols.threadIds();
  const dateRank = (await cols.rank('DATE')).rank;
  const subjectRank = await cols.rank('SUBJECT');
  const m = sel.count;
  const base = ids.distinct;
  // Message-ID containers, one more per message (step 1A), one more per root (step 5's dummies).
  const cap = base + 2 * m + 1;
  const item = new Int32Array(cap).fill(-1);
  const parent = new Int32Array(cap).fill(-1);
  const kids: (number[] | undefined)[] = new Array(cap);
  let made = base;
  // Sort key of a message (a position p): date rank, then sequence number (p ascends with it).
  const msgKey = new Float64Array(m);
  for (let p = 0; p < m; p++) msgKey[p] = dateRank[sel.slot[p]!]! * (m + 1) + p;

  const childCount = (c: number): number => kids[c]?.length ?? 0;
  /** Is `maybe` `of` or one of its ancestors? The walk is charged. */
  const isAncestor = (maybe: number, of: number): boolean => {
    // A container without children is nobody's ancestor: the usual case costs nothing.
    if (childCount(maybe) === 0) return maybe === of;
    let steps = 0;
    let found = false;
    for (let q = of; q !== -1; q = parent[q]!) {
      steps++;
      if (q === maybe) {
        found = true;
        break;
      }
    }
    budget.charge(steps);
    return found;
  };
  const unlink = (child: number): void => {
    const p = parent[child]!;
    if (p !== -1) {
      const list = kids[p]!;
      budget.charge(list.length);
      const at = list.indexOf(child);
      if (at >= 0) list.splice(at, 1);
    }
    parent[child] = -1;
  };
  const link = (p: number, child: number): void => {
    if (parent[child] === p) return;
    unlink(child);
    parent[child] = p;
    (kids[p] ??= []).push(child);
  };

  // (1) Link messages by Message-ID and References (or In-Reply-To), in sequence order.
  const used = new Uint8Array(cap);
  let steps = 0;
  for (let p = 0; p < m; p++) {
    const s = sel.slot[p]!;
    let own = ids.own[s]!;
    // A duplicate or missing Message-ID gets a container of its own (§4 step 1A).
    if (own === -1 || item[own] !== -1) own = made++;
    item[own] = p;
    used[own] = 1;
    let prev = -1;
    const end = ids.refStart[s + 1]!;
    for (let r = ids.refStart[s]!; r < end; r++) {
      const c = ids.refs[r]!;
      used[c] = 1;
      if (prev !== -1 && parent[c] === -1 && c !== prev && !isAncestor(c, prev)) link(prev, c);
      prev = c;
    }
    // (1C) The last reference is the parent. A parent set by an earlier message's References is dropped
    // first (§4 1C: the most recent is probably wrong); a link that would make a loop is skipped.
    if (parent[own] !== -1 && parent[own] !== prev) unlink(own);
    if (prev !== -1 && prev !== own && !isAncestor(own, prev)) link(prev, own);
    steps += 1 + end - ids.refStart[s]!;
    if (steps >= 4096) {
      await budget.step(steps);
      steps = 0;
    }
  }

  // (2) The root set: containers some message named, without a parent.
  let roots: number[] = [];
  for (let c = 0; c < made; c++) if (used[c] && parent[c] === -1) roots.push(c);
  await budget.step(steps + made);

  // (3) Prune, children before parents: childless dummies go, a dummy's children move up
  // (at the root only a single child).
  const level = (list: readonly number[], atRoot: boolean, owner: number): number[] => {
    const out: number[] = [];
    for (const c of list) {
      if (item[c] !== -1) out.push(c);
      else if (childCount(c) === 0) continue;
      else if (!atRoot || kids[c]!.length === 1) {
        for (const ch of kids[c]!) {
          parent[ch] = owner;
          out.push(ch);
        }
      } else out.push(c);
    }
    return out;
  };
  for (const c of bottomUp(roots, kids)) {
    const list = kids[c];
    if (list && list.length > 0) kids[c] = level(list, false, c);
  }
  roots = level(roots, true, -1);
  await budget.step(made);

  // Representative message of a container: its own, or its first child's after sorting (steps 4, 6).
  const rep = new Int32Array(cap).fill(-1);
  const keyOf = (c: number): number => {
    const r = rep[c]!;
    return r === -1 ? 0 : msgKey[r]!;
  };
  /** Container of each representative message, for the list being sorted. */
  const ofRep = new Int32Array(m);
  /**
   * Siblings' keys are distinct (each container's message is in its own
   * subtree), so a long list is sorted as its keys, natively, each
   * container found again from its key's message (key % (m + 1)); a list
   * with a container without a message keeps the comparison sort.
   */
  const byKeys = (list: number[]): number[] | null => {
    const keys = new Float64Array(list.length);
    for (let i = 0; i < list.length; i++) {
      const c = list[i]!;
      const r = rep[c]!;
      if (r === -1) return null;
      ofRep[r] = c;
      keys[i] = msgKey[r]!;
    }
    keys.sort();
    for (let i = 0; i < keys.length; i++) list[i] = ofRep[keys[i]! % (m + 1)]!;
    return list;
  };
  const sortList = async (list: number[]): Promise<number[]> => {
    if (list.length < 2) return list;
    await budget.step(list.length * Math.ceil(Math.log2(list.length)));
    if (list.length <= SMALL_SORT) return list.sort((a, b) => keyOf(a) - keyOf(b));
    return byKeys(list) ?? sortInSlices(list, (a, b) => keyOf(a) - keyOf(b), budget);
  };
  const sortTrees = async (tops: readonly number[]): Promise<void> => {
    for (const c of bottomUp(tops, kids)) {
      const list = kids[c];
      if (list && list.length > 0) kids[c] = await sortList(list);
      rep[c] = item[c] !== -1 ? item[c]! : list && list.length > 0 ? rep[kids[c]![0]!]! : -1;
    }
  };
  // Children first (step 6), so a dummy's date is its earliest child's; then (4) the roots.
  await sortTrees(roots);
  roots = await sortList(roots);

  // (5) Gather roots with the same base subject.
  /** The subject rank of a container (its message's, or a dummy's first child's), -1 for none or "". */
  const emptySubject = cols.emptySubject;
  const messageOf = (c: number): number => (item[c] !== -1 ? item[c]! : childCount(c) > 0 ? item[kids[c]![0]!]! : -1);
  const subjectOf = (c: number): number => {
    const p = messageOf(c);
    if (p === -1) return -1;
    const r = subjectRank.rank[sel.slot[p]!]!;
    return r === emptySubject ? -1 : r;
  };
  const isReply = (c: number): boolean => {
    const p = messageOf(c);
    return p !== -1 && cols.isReply[sel.slot[p]!] === 1;
  };
  const bySubject = new Int32Array(subjectRank.distinct).fill(-1);
  for (const r of roots) {
    const s = subjectOf(r);
    if (s === -1) continue;
    const old = bySubject[s]!;
    const rItem = item[r] !== -1;
    const oldItem = old !== -1 && item[old] !== -1;
    if (old === -1 || (!rItem && oldItem) || (oldItem && rItem && isReply(old) && !isReply(r))) bySubject[s] = r;
  }
  await budget.step(roots.length);
  const merged: number[] = [];
  const placedAt = new Int32Array(cap).fill(-1);
  // Roots whose children step 5 changed, in the order first changed (a dummy after the root it takes in):
  // the only lists step 6 has to sort again, every other subtree is still as step 4 sorted it.
  const touched: number[] = [];
  const isTouched = new Uint8Array(cap);
  const touch = (c: number): void => {
    if (isTouched[c]) return;
    isTouched[c] = 1;
    touched.push(c);
  };
  for (const r of roots) {
    // Already placed under an earlier root of the same subject (a dummy made for it).
    if (parent[r] !== -1) continue;
    const s = subjectOf(r);
    const t = s === -1 ? -1 : bySubject[s]!;
    if (t === -1 || t === r) {
      placedAt[r] = merged.length;
      merged.push(r);
      continue;
    }
    const tItem = item[t] !== -1;
    const rItem = item[r] !== -1;
    if (!tItem && !rItem) {
      for (const c of [...(kids[r] ?? [])]) link(t, c);
      touch(t);
    } else if (!tItem && rItem) {
      link(t, r);
      touch(t);
    } else if (tItem && !isReply(t) && rItem && isReply(r)) {
      link(t, r);
      touch(t);
    } else {
      // Neither is a reply of the other: both become children of a new dummy in t's place.
      const d = made++;
      touch(d);
      const at = placedAt[t]!;
      link(d, t);
      link(d, r);
      bySubject[s] = d;
      if (at >= 0) {
        merged[at] = d;
        placedAt[d] = at;
      } else {
        placedAt[d] = merged.length;
        merged.push(d);
      }
    }
  }
  await budget.step(roots.length);
  // (6) Sort again what step 5 changed; a touched root's own children were sorted before it took them.
  for (const c of touched) {
    const list = kids[c];
    if (list && list.length > 0) kids[c] = await sortList(list);
    rep[c] = item[c] !== -1 ? item[c]! : list && list.length > 0 ? rep[kids[c]![0]!]! : -1;
  }
  await render(w, await sortList(merged), kids, item, uid ? sel.uid : sel.seq, budget);
}

/** Containers of the forest, every one after all of its descendants (a reversed pre-order walk). */
function bottomUp(roots: readonly number[], kids: readonly (number[] | undefined)[]): number[] {
  const order: number[] = [];
  const stack = [...roots];
  while (stack.length > 0) {
    const c = stack.pop()!;
    order.push(c);
    const list = kids[c];
    if (list) for (const ch of list) stack.push(ch);
  }
  return order.reverse();
}

/**
 * Thread list (§5) into `w`: a chain of single children written flat
 * ("1 2 3"), siblings each in parentheses after it; an explicit stack
 * instead of recursion.
 */
async function render(
  w: NumberWriter,
  roots: readonly number[],
  kids: readonly (number[] | undefined)[],
  item: Int32Array,
  ids: Float64Array,
  budget: WorkBudget,
): Promise<void> {
  // -1 stands for ")" and -2 for "(".
  const stack: number[] = [];
  for (let i = roots.length - 1; i >= 0; i--) stack.push(-1, roots[i]!, -2);
  let steps = 0;
  while (stack.length > 0) {
    const x = stack.pop()!;
    if (x < 0) {
      w.byte(x === -1 ? 0x29 : 0x28);
      continue;
    }
    let wrote = false;
    let cur = x;
    for (;;) {
      const p = item[cur]!;
      if (p !== -1) {
        if (wrote) w.byte(0x20);
        w.num(ids[p]!);
        wrote = true;
      }
      const list = kids[cur];
      if (p !== -1 && list?.length === 1) cur = list[0]!;
      else break;
      steps++;
    }
    const list = kids[cur] ?? [];
    if (wrote && list.length > 0) w.byte(0x20);
    for (let i = list.length - 1; i >= 0; i--) stack.push(-1, list[i]!, -2);
    steps += 1 + list.length;
    if (steps >= 4096) {
      await budget.step(steps);
      steps = 0;
    }
  }
  budget.charge(steps);
}
