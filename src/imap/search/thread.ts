/**
 * THREAD (RFC 5256 §3 ORDEREDSUBJECT, §4 REFERENCES) over sort items
 * (sort.ts), and the thread-list output (§5 BNF: `(3 6 (4 23)(44 7 96))`).
 * Numbers are sequence numbers, or UIDs for UID THREAD.
 */
import { asciiCasemap, type SortItem } from './sort.js';

interface Node {
  item: SortItem | null;
  parent: Node | null;
  children: Node[];
}

const node = (item: SortItem | null): Node => ({ item, parent: null, children: [] });

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

/** Thread list text; `id` gives the number to print for a message. */
function render(roots: readonly Node[], id: (i: SortItem) => number): string {
  const members = (start: Node): string => {
    const parts: string[] = [];
    let cur = start;
    for (;;) {
      if (cur.item) parts.push(String(id(cur.item)));
      if (cur.item && cur.children.length === 1) {
        cur = cur.children[0]!;
        continue;
      }
      if (cur.children.length > 0) parts.push(cur.children.map((c) => `(${members(c)})`).join(''));
      return parts.join(' ');
    }
  };
  return roots.map((r) => `(${members(r)})`).join('');
}

/** §3: sort by base subject then sent date; each subject group is one thread, all children of its first message. */
export function orderedSubject(items: readonly SortItem[], id: (i: SortItem) => number): string {
  const keyed = items.map((it) => ({ it, s: asciiCasemap(it.keys.subject) }));
  keyed.sort((a, b) => (a.s < b.s ? -1 : a.s > b.s ? 1 : a.it.date - b.it.date || a.it.seq - b.it.seq));
  const roots: Node[] = [];
  let current: Node | null = null;
  let subject: string | null = null;
  for (const k of keyed) {
    if (current && k.s === subject) {
      const child = node(k.it);
      child.parent = current;
      current.children.push(child);
      continue;
    }
    current = node(k.it);
    subject = k.s;
    roots.push(current);
  }
  roots.sort(byDate);
  return render(roots, id);
}

function isAncestor(maybe: Node, of: Node): boolean {
  for (let p: Node | null = of; p; p = p.parent) if (p === maybe) return true;
  return false;
}

function unlink(child: Node): void {
  if (child.parent) child.parent.children = child.parent.children.filter((c) => c !== child);
  child.parent = null;
}

function link(parent: Node, child: Node): void {
  if (child.parent === parent) return;
  unlink(child);
  child.parent = parent;
  parent.children.push(child);
}

/** §4 REFERENCES. */
export function references(items: readonly SortItem[], id: (i: SortItem) => number): string {
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
  for (const it of [...items].sort((a, b) => a.seq - b.seq)) {
    let own = it.keys.messageId !== '' ? container(it.keys.messageId) : null;
    // A duplicate or missing Message-ID gets a container of its own (§4 step 1A).
    if (!own || own.item) own = container(`\0unique-${unique++}`);
    own.item = it;
    const refs = it.keys.references.length > 0 ? it.keys.references : it.keys.inReplyTo !== '' ? [it.keys.inReplyTo] : [];
    let prev: Node | null = null;
    for (const r of refs) {
      const c = container(r);
      if (prev && !c.parent && c !== prev && !isAncestor(c, prev)) link(prev, c);
      prev = c;
    }
    // (1C) The last reference is the message's parent. A parent it already has (set by an earlier
    // message's References) is dropped first, as §4 1C says the most recent one is probably wrong; the
    // new link is then skipped if it would make a loop, which leaves the message a root.
    if (own.parent && own.parent !== prev) unlink(own);
    if (prev && prev !== own && !isAncestor(own, prev)) link(prev, own);
  }
  // (2) Root set.
  let roots = all.filter((c) => c.parent === null);
  // (3) Prune dummies: drop childless ones, promote children (at the root only a single child is promoted).
  const prune = (list: Node[], atRoot: boolean): Node[] => {
    const out: Node[] = [];
    for (const c of list) {
      c.children = prune(c.children, false);
      for (const ch of c.children) ch.parent = c;
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
  roots = prune(roots, true);
  // Sort children first (step 6) so a dummy's date is its earliest child's.
  const sortTree = (n: Node): void => {
    for (const c of n.children) sortTree(c);
    n.children.sort(byDate);
  };
  for (const r of roots) sortTree(r);
  // (4) Sort the root set by date.
  roots.sort(byDate);
  // (5) Gather roots with the same base subject.
  const subjectOf = (n: Node): string => asciiCasemap((n.item ?? n.children[0]?.item)?.keys.subject ?? '');
  const isReply = (n: Node): boolean => (n.item ?? n.children[0]?.item)?.keys.isReply ?? false;
  const bySubject = new Map<string, Node>();
  for (const r of roots) {
    const s = subjectOf(r);
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
    if (!t || t === r) {
      merged.push(r);
      continue;
    }
    if (!t.item && !r.item) {
      for (const c of [...r.children]) link(t, c);
    } else if (!t.item && r.item) {
      link(t, r);
    } else if (t.item && !isReply(t) && r.item && isReply(r)) {
      link(t, r);
    } else {
      // Neither is a reply of the other: both become children of a new dummy in t's place.
      const d = node(null);
      const at = merged.indexOf(t);
      link(d, t);
      link(d, r);
      bySubject.set(s, d);
      if (at >= 0) merged[at] = d;
      else merged.push(d);
    }
  }
  for (const r of merged) sortTree(r);
  merged.sort(byDate);
  return render(merged, id);
}
