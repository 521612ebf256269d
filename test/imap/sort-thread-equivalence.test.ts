/**
 * Brute-force equivalence of SORT and THREAD (RFC 5256 §2.1, §3, §4; RFC
 * 5957 DISPLAYFROM/DISPLAYTO) with a plain reference written here from the
 * RFC rules: random mailboxes (RFC 2047 subjects and names in two charsets,
 * folded headers, Re:/Fwd:/[blob]/(fwd) chains, groups, missing and broken
 * headers, duplicate and looping Message-IDs, many equal keys) are built
 * from a model whose decoded values the test knows; every answer over a real
 * socket must equal the reference's, before and after messages are expunged
 * and more are delivered (the server's sort columns are then extended).
 * And after a restart: the node answers from the column image kept in the
 * index (src/imap/search/sort-column-image.ts) with every key row, stored
 * structure and message file content gone, then merges new messages in.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { sortColumns } from '../../src/imap/search/sort-columns.js';
import { startTestNode, type TestNode } from '../helpers/node.js';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';
import { rng } from '../helpers/rng.js';

let n: ImapTestNode;
let c: RawImap;
/** The node messages are delivered to (the restarted one after a restart). */
let target: TestNode;

beforeAll(async () => {
  n = await startImapNode();
  target = n.t;
  c = await login(n.port, n.user, n.pass);
});
afterAll(async () => {
  c?.close();
  await n?.stop();
});

// ---------------------------------------------------------------- the model

interface Addr {
  /** Decoded display name ('' for none). */
  name: string;
  local: string;
  domain: string;
  /** A group's name: the address is the group start (RFC 5322 §3.4 group). */
  group?: string;
}

interface Msg {
  uid: number;
  subject: string | null;
  from: Addr | null;
  to: Addr | null;
  cc: Addr | null;
  /** Sent date in ms, null when the header is missing or unparsable. */
  date: number | null;
  internalDate: number;
  size: number;
  messageId: string;
  inReplyTo: string;
  references: string[];
  flagged: boolean;
  seen: boolean;
}

// Base subjects: case variants (i;ascii-casemap: equal), non-ASCII (compared by octet after ASCII upper-casing only),
// blanks that collapse, an astral character, the empty subject.
const BASES = ['Lunch', 'lunch', 'LUNCH', 'Meeting  notes', 'Meeting notes', 'Straße', 'école', 'ÉCOLE', 'Ünïcode', '日本語', 'emoji 😀', '', 'zebra', 'a[b]c'];
const LEADERS = ['', '', 'Re: ', 'RE:', 're : ', 'Fwd: ', 'FW: ', 'fw:', '[list] ', '[list] Re: ', 'Re: [list] ', 'Re[2]: ', 'Re: Re: ', '[a][b] re: '];
const TRAILERS = ['', '', ' (fwd)', ' (FWD)', '  '];
const NAMES = ['', '', 'Alice', 'alice', 'Zed  Alice', 'Smith, John', 'Élodie', 'élodie', 'Straße', '日本', 'Ünal', 'bob'];
const LOCALS = ['alice', 'Bob', 'carol', 'ZED', 'dave', 'eve'];
const DOMAINS = ['x.example', 'Y.example'];
const ZONES = [0, 60, -300, 330];

function pick<T>(r: () => number, list: readonly T[]): T {
  return list[Math.floor(r() * list.length)]!;
}

function encodedWord(s: string, r: () => number): string {
  const latin1 = [...s].every((ch) => ch.codePointAt(0)! < 0x100);
  const charset = latin1 && r() < 0.5 ? 'ISO-8859-1' : 'UTF-8';
  const bytes = Buffer.from(s, charset === 'UTF-8' ? 'utf8' : 'latin1');
  if (r() < 0.5) return `=?${charset}?B?${bytes.toString('base64')}?=`;
  let q = '';
  for (const b of bytes) q += (b >= 0x30 && b <= 0x39) || (b >= 0x41 && b <= 0x5a) || (b >= 0x61 && b <= 0x7a) ? String.fromCharCode(b) : b === 0x20 ? '_' : `=${b.toString(16).toUpperCase().padStart(2, '0')}`;
  return `=?${charset}?Q?${q}?=`;
}

/** Header text for a decoded value: ASCII as is (sometimes folded), else RFC 2047 words (sometimes two, RFC 2047 §6.2 joins them). */
function headerText(s: string, r: () => number): string {
  if (s === '') return s;
  if (/^[\x20-\x7e]*$/.test(s) && r() < 0.7) {
    const sp = s.indexOf(' ');
    // A fold at a blank (RFC 5322 §2.2.3): unfolding gives the same text back.
    return sp > 0 && r() < 0.3 ? `${s.slice(0, sp)}\r\n${s.slice(sp)}` : s;
  }
  const chars = [...s];
  if (chars.length > 1 && r() < 0.3) {
    const cut = 1 + Math.floor(r() * (chars.length - 1));
    return `${encodedWord(chars.slice(0, cut).join(''), r)}\r\n ${encodedWord(chars.slice(cut).join(''), r)}`;
  }
  return encodedWord(s, r);
}

function addr(r: () => number, groups: boolean): Addr | null {
  const x = r();
  if (x < 0.1) return null;
  if (groups && x < 0.25) return { name: '', local: '', domain: '', group: pick(r, ['grp', 'Team', 'empty', 'alpha']) };
  return { name: pick(r, NAMES), local: pick(r, LOCALS), domain: pick(r, DOMAINS) };
}

function addrHeader(a: Addr, r: () => number): string {
  if (a.group !== undefined) return a.group === 'empty' ? 'empty:;' : `${a.group}: one@x.example, two@y.example;`;
  const spec = `${a.local}@${a.domain}`;
  if (a.name === '') return r() < 0.5 ? spec : `<${spec}>`;
  const name = /^[A-Za-z ]*$/.test(a.name) ? a.name : /^[\x20-\x7e]*$/.test(a.name) ? `"${a.name}"` : headerText(a.name, r);
  // A second address after the first: only the first counts (RFC 5256 §3).
  return `${name} <${spec}>${r() < 0.3 ? ', Other <aaa@a.example>' : ''}`;
}

function dateHeader(ms: number, zone: number): string {
  const d = new Date(ms + zone * 60_000);
  const days = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
  const months = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
  const p = (v: number): string => String(v).padStart(2, '0');
  const z = `${zone < 0 ? '-' : '+'}${p(Math.floor(Math.abs(zone) / 60))}${p(Math.abs(zone) % 60)}`;
  return `${days[d.getUTCDay()]}, ${d.getUTCDate()} ${months[d.getUTCMonth()]} ${d.getUTCFullYear()} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())} ${z}`;
}

/** One random message: its raw text and what the reference knows of it. */
function randomMessage(r: () => number): { raw: string; msg: Omit<Msg, 'uid' | 'size' | 'flagged' | 'seen'> } {
  const subject = r() < 0.08 ? null : `${pick(r, LEADERS)}${r() < 0.1 ? `[Fwd: ${pick(r, BASES)}]` : pick(r, BASES)}${pick(r, TRAILERS)}`;
  const from = addr(r, false);
  const to = addr(r, true);
  const cc = addr(r, true);
  const dx = r();
  // A few distinct instants (equal keys), one written in several zones; some missing, some unparsable.
  const sent = Date.UTC(2026, 10, 24, 10, Math.floor(r() * 4) * 5);
  const date = dx < 0.1 ? null : dx < 0.15 ? null : sent;
  const ids = (k: number): string => `<m${k}@x.example>`;
  const messageId = r() < 0.1 ? '' : ids(Math.floor(r() * 60));
  const refs: string[] = [];
  const nrefs = r() < 0.5 ? 0 : Math.floor(r() * 4);
  for (let i = 0; i < nrefs; i++) refs.push(ids(Math.floor(r() * 60)));
  const inReplyTo = r() < 0.4 ? ids(Math.floor(r() * 60)) : '';
  let raw = '';
  if (from) raw += `From: ${addrHeader(from, r)}\r\n`;
  if (to) raw += `To: ${addrHeader(to, r)}\r\n`;
  if (cc) raw += `Cc: ${addrHeader(cc, r)}\r\n`;
  // Trailing blanks end the header line either way; the model keeps them, the base subject drops them.
  if (subject !== null) raw += `Subject: ${headerText(subject.trimEnd(), r)}\r\n`;
  if (date !== null) raw += `Date: ${dateHeader(date, pick(r, ZONES))}\r\n`;
  else if (dx >= 0.1) raw += 'Date: sometime next week\r\n';
  if (messageId !== '') raw += `Message-ID: ${messageId}\r\n`;
  if (inReplyTo !== '') raw += `In-Reply-To: ${inReplyTo}\r\n`;
  if (refs.length > 0) raw += `References: ${refs.join(r() < 0.5 ? ' ' : '\r\n ')}\r\n`;
  raw += `\r\n${'x'.repeat(pick(r, [10, 20, 20, 35]))}\r\n`;
  return { raw, msg: { subject, from, to, cc, date, internalDate: 0, messageId, inReplyTo, references: refs } };
}

// ---------------------------------------------------------------- the reference (RFC 5256, RFC 5957, RFC 5051)

/** RFC 5256 §2.1 subj-blob at `i`: the index after it and its blanks, or -1. BLOBCHAR is US-ASCII minus brackets. */
function blobEnd(s: string, i: number): number {
  if (s[i] !== '[') return -1;
  let j = i + 1;
  while (j < s.length && s[j] !== ']' && s[j] !== '[' && s.charCodeAt(j) < 0x80) j++;
  if (s[j] !== ']') return -1;
  j++;
  while (s[j] === ' ') j++;
  return j;
}

/** subj-leader without its WSP alternative: *subj-blob subj-refwd; the index after it, or -1. */
function refwdEnd(s: string): number {
  let i = 0;
  for (let b = blobEnd(s, i); b !== -1; b = blobEnd(s, i)) i = b;
  const low = s.slice(i).toLowerCase();
  for (const word of ['re', 'fwd', 'fw']) {
    if (!low.startsWith(word)) continue;
    let j = i + word.length;
    while (s[j] === ' ') j++;
    const b = blobEnd(s, j);
    if (b !== -1) j = b;
    if (s[j] === ':') return j + 1;
  }
  return -1;
}

/** RFC 5256 §2.1 steps 1-6, and whether a reply/forward marker was taken off. */
function refBaseSubject(decoded: string): { base: string; reply: boolean } {
  let s = decoded.replace(/[ \t\r\n]+/g, ' ');
  let reply = false;
  for (;;) {
    // (2) subj-trailer: "(fwd)" or a blank, at the end.
    for (;;) {
      if (s.endsWith(' ')) s = s.slice(0, -1);
      else if (s.toLowerCase().endsWith('(fwd)')) {
        s = s.slice(0, -5);
        reply = true;
      } else break;
    }
    // (3)-(5) subj-leader, then a leading subj-blob that leaves something.
    for (;;) {
      if (s.startsWith(' ')) {
        s = s.slice(1);
        continue;
      }
      const r = refwdEnd(s);
      if (r !== -1) {
        s = s.slice(r);
        reply = true;
        continue;
      }
      const b = blobEnd(s, 0);
      if (b !== -1 && b < s.length) {
        s = s.slice(b);
        continue;
      }
      break;
    }
    // (6) "[fwd:" … "]": unwrap and go back to (2).
    if (s.toLowerCase().startsWith('[fwd:') && s.endsWith(']')) {
      s = s.slice(5, -1);
      reply = true;
      continue;
    }
    return { base: s, reply };
  }
}

/** i;ascii-casemap: a-z as A-Z. */
const asciiUpper = (s: string): string => s.replace(/[a-z]/g, (ch) => ch.toUpperCase());

/** i;unicode-casemap (RFC 5051 §2): simple title case per character (upper case where it is one character), then NFKD. */
const unicodeKey = (s: string): string =>
  [...s].map((ch) => ({ ǆ: 'ǅ', ǉ: 'ǈ', ǌ: 'ǋ', ǳ: 'ǲ' })[ch] ?? ([...ch.toUpperCase()].length === 1 ? ch.toUpperCase() : ch)).join('').normalize('NFKD');

/** Both comparators end in i;octet over UTF-8. */
const octets = (a: string, b: string): number => Buffer.compare(Buffer.from(a, 'utf8'), Buffer.from(b, 'utf8'));

const mailboxKey = (a: Addr | null): string => (a === null ? '' : asciiUpper(a.group ?? a.local.toLowerCase()));
/** RFC 5957 §3: the display name, else the addr-spec; a group start has its name. */
const displayKey = (a: Addr | null): string => {
  if (a === null) return '';
  if (a.group !== undefined) return unicodeKey(a.group);
  const name = a.name.replace(/[ \t]+/g, ' ').trim();
  return unicodeKey(name !== '' ? name : `${a.local}@${a.domain}`);
};
const sentDate = (m: Msg): number => m.date ?? m.internalDate;
const subjectKey = (m: Msg): string => asciiUpper(refBaseSubject(m.subject ?? '').base);

type Key = 'ARRIVAL' | 'CC' | 'DATE' | 'FROM' | 'SIZE' | 'SUBJECT' | 'TO' | 'DISPLAYFROM' | 'DISPLAYTO';
const KEYS: Key[] = ['ARRIVAL', 'CC', 'DATE', 'FROM', 'SIZE', 'SUBJECT', 'TO', 'DISPLAYFROM', 'DISPLAYTO'];

function keyCompare(k: Key, a: Msg, b: Msg): number {
  switch (k) {
    case 'ARRIVAL':
      return a.internalDate - b.internalDate;
    case 'DATE':
      return sentDate(a) - sentDate(b);
    case 'SIZE':
      return a.size - b.size;
    case 'SUBJECT':
      return octets(subjectKey(a), subjectKey(b));
    case 'FROM':
      return octets(mailboxKey(a.from), mailboxKey(b.from));
    case 'TO':
      return octets(mailboxKey(a.to), mailboxKey(b.to));
    case 'CC':
      return octets(mailboxKey(a.cc), mailboxKey(b.cc));
    case 'DISPLAYFROM':
      return octets(displayKey(a.from), displayKey(b.from));
    case 'DISPLAYTO':
      return octets(displayKey(a.to), displayKey(b.to));
  }
}

/** RFC 5256 §3: by each key in turn (REVERSE flips it), then by sequence number. `msgs` in sequence order. */
function refSort(msgs: readonly Msg[], criteria: readonly { key: Key; reverse: boolean }[]): Msg[] {
  const seq = new Map(msgs.map((m, i) => [m, i + 1]));
  return [...msgs].sort((a, b) => {
    for (const { key, reverse } of criteria) {
      const r = Math.sign(keyCompare(key, a, b));
      if (r !== 0) return reverse ? -r : r;
    }
    return seq.get(a)! - seq.get(b)!;
  });
}

interface Tree {
  msg: Msg | null;
  parent: Tree | null;
  kids: Tree[];
}

/** §5 thread list: a chain of only children flat, siblings each in parentheses. */
function renderForest(roots: readonly Tree[], id: (m: Msg) => number): string {
  const one = (t: Tree): string => {
    const ids: number[] = [];
    let cur = t;
    for (;;) {
      if (cur.msg) ids.push(id(cur.msg));
      if (cur.msg && cur.kids.length === 1) cur = cur.kids[0]!;
      else break;
    }
    return `${ids.join(' ')}${ids.length > 0 && cur.kids.length > 0 ? ' ' : ''}${cur.kids.map((k) => `(${one(k)})`).join('')}`;
  };
  return roots.map((r) => `(${one(r)})`).join('');
}

function refOrderedSubject(msgs: readonly Msg[], id: (m: Msg) => number): string {
  const seq = new Map(msgs.map((m, i) => [m, i + 1]));
  const byDate = (a: Msg, b: Msg): number => sentDate(a) - sentDate(b) || seq.get(a)! - seq.get(b)!;
  const sorted = [...msgs].sort((a, b) => octets(subjectKey(a), subjectKey(b)) || byDate(a, b));
  const roots: Tree[] = [];
  for (const m of sorted) {
    const last = roots[roots.length - 1];
    if (last && subjectKey(last.msg!) === subjectKey(m)) last.kids.push({ msg: m, parent: last, kids: [] });
    else roots.push({ msg: m, parent: null, kids: [] });
  }
  roots.sort((a, b) => byDate(a.msg!, b.msg!));
  return renderForest(roots, id);
}

/** RFC 5256 §4, step by step over object containers. */
function refReferences(msgs: readonly Msg[], id: (m: Msg) => number): string {
  const seq = new Map(msgs.map((m, i) => [m, i + 1]));
  const table = new Map<string, Tree>();
  const made: Tree[] = [];
  const get = (key: string): Tree => {
    let t = table.get(key);
    if (!t) {
      table.set(key, (t = { msg: null, parent: null, kids: [] }));
      made.push(t);
    }
    return t;
  };
  const reaches = (from: Tree | null, to: Tree): boolean => {
    for (let p = from; p; p = p.parent) if (p === to) return true;
    return false;
  };
  const cut = (t: Tree): void => {
    if (t.parent) t.parent.kids = t.parent.kids.filter((k) => k !== t);
    t.parent = null;
  };
  const hang = (p: Tree, t: Tree): void => {
    if (t.parent === p) return;
    cut(t);
    t.parent = p;
    p.kids.push(t);
  };
  msgs.forEach((m, i) => {
    // (1A) the message's container; a duplicate or missing Message-ID gets its own.
    let own = m.messageId !== '' ? get(m.messageId) : null;
    if (!own || own.msg) own = get(`\0${i}`);
    own.msg = m;
    // (1B) link the References (else In-Reply-To) chain, never making a loop or re-parenting.
    const chain = m.references.length > 0 ? m.references : m.inReplyTo !== '' ? [m.inReplyTo] : [];
    let prev: Tree | null = null;
    for (const r of chain) {
      const t = get(r);
      if (prev && !t.parent && t !== prev && !reaches(prev, t)) hang(prev, t);
      prev = t;
    }
    // (1C) the last reference is the parent (replacing an earlier guess), unless that makes a loop.
    if (own.parent && own.parent !== prev) cut(own);
    if (prev && prev !== own && !reaches(prev, own)) hang(prev, own);
  });
  const first = (t: Tree): Msg | null => t.msg ?? (t.kids[0] ? first(t.kids[0]) : null);
  const byDate = (a: Tree, b: Tree): number => {
    const x = first(a)!;
    const y = first(b)!;
    return sentDate(x) - sentDate(y) || seq.get(x)! - seq.get(y)!;
  };
  // (3) prune: childless dummies go; a dummy's children move up (at the root only a lone child).
  const prune = (list: Tree[], atRoot: boolean, owner: Tree | null): Tree[] => {
    const out: Tree[] = [];
    for (const t of list) {
      t.kids = prune(t.kids, false, t);
      if (t.msg) out.push(t);
      else if (t.kids.length === 0) continue;
      else if (!atRoot || t.kids.length === 1) for (const k of t.kids) out.push(Object.assign(k, { parent: owner }));
      else out.push(t);
    }
    return out;
  };
  const sortAll = (list: Tree[]): Tree[] => {
    for (const t of list) t.kids = sortAll(t.kids);
    return list.sort(byDate);
  };
  // (2)-(4)
  let roots = sortAll(prune(made.filter((t) => !t.parent), true, null));
  // (5) gather roots of one base subject.
  const subj = (t: Tree): string => {
    const m = t.msg ?? t.kids[0]?.msg;
    return m ? subjectKey(m) : '';
  };
  const reply = (t: Tree): boolean => {
    const m = t.msg ?? t.kids[0]?.msg;
    return m ? refBaseSubject(m.subject ?? '').reply : false;
  };
  const chosen = new Map<string, Tree>();
  for (const r of roots) {
    const s = subj(r);
    if (s === '') continue;
    const old = chosen.get(s);
    if (!old || (!r.msg && old.msg) || (old.msg && r.msg && reply(old) && !reply(r))) chosen.set(s, r);
  }
  const out: Tree[] = [];
  for (const r of roots) {
    if (r.parent) continue;
    const s = subj(r);
    const t = s === '' ? undefined : chosen.get(s);
    if (!t || t === r) out.push(r);
    // Both dummies: one gets the other's children; one dummy: the message goes under it
    // (the chosen root is a dummy whenever one of the subject is); a reply under a non-reply.
    else if (!t.msg && !r.msg) for (const k of [...r.kids]) hang(t, k);
    else if (!t.msg) hang(t, r);
    else if (r.msg && !reply(t) && reply(r)) hang(t, r);
    else {
      const d: Tree = { msg: null, parent: null, kids: [] };
      const at = out.indexOf(t);
      hang(d, t);
      hang(d, r);
      chosen.set(s, d);
      if (at >= 0) out[at] = d;
      else out.push(d);
    }
  }
  roots = sortAll(out);
  return renderForest(roots, id);
}

/** The most siblings under one parent (or at the top) in a §5 thread list. */
function maxSiblings(list: string): number {
  // Groups opened at each depth so far, within the current parent.
  const open: number[] = [0];
  let most = 0;
  for (const ch of list) {
    if (ch === '(') {
      most = Math.max(most, ++open[open.length - 1]!);
      open.push(0);
    } else if (ch === ')') open.pop();
  }
  return most;
}

// ---------------------------------------------------------------- driving the server

async function deliverRandom(box: string, r: () => number, count: number, into: Msg[]): Promise<void> {
  for (let i = 0; i < count; i++) {
    const { raw, msg } = randomMessage(r);
    // A few arrival instants, so ARRIVAL has ties too.
    const internalDate = Date.UTC(2026, 0, 1 + Math.floor(r() * 5));
    const draft = await target.ctx.store.createDraft();
    await draft.write(Buffer.from(raw));
    await draft.finish();
    const [saved] = await target.ctx.store.deliver([n.account], draft, { sender: 'test@example.org', mailbox: box, internalDate: new Date(internalDate) });
    into.push({ ...msg, uid: saved!.uid, internalDate, size: Buffer.byteLength(raw), flagged: false, seen: false });
  }
}

const numbers = (line: string, word: string): number[] =>
  line
    .slice(`* ${word}`.length)
    .trim()
    .split(' ')
    .filter((x) => x !== '')
    .map(Number);

async function untagged(cmd: string, word: string): Promise<string> {
  const reply = await c.cmd(cmd, 30_000);
  expect(reply.tagged, cmd).toMatch(/ OK /);
  return reply.untagged.find((l) => l.startsWith(`* ${word}`)) ?? '';
}

/** Every check of one state of the mailbox: `live` in UID (= sequence) order. */
async function compareAll(live: readonly Msg[], r: () => number): Promise<void> {
  const seqOf = new Map(live.map((m, i) => [m, i + 1]));
  const searches: [string, (m: Msg) => boolean][] = [
    ['ALL', () => true],
    ['FLAGGED', (m) => m.flagged],
    ['NOT FLAGGED', (m) => !m.flagged],
    // Flag-only programs: answered from the index's records in one walk (evaluate.ts recordHits).
    ['UNSEEN', (m) => !m.seen],
    ['SEEN', (m) => m.seen],
    ['OR FLAGGED UNSEEN', (m) => m.flagged || !m.seen],
    ['NOT SEEN FLAGGED', (m) => !m.seen && m.flagged],
    [`UNSEEN UID ${live[2]!.uid}:*`, (m) => !m.seen && m.uid >= live[2]!.uid],
    [`1:${Math.ceil(live.length / 2)}`, (m) => seqOf.get(m)! <= Math.ceil(live.length / 2)],
    [`UID ${live[3]!.uid}:${live[live.length - 4]!.uid}`, (m) => m.uid >= live[3]!.uid && m.uid <= live[live.length - 4]!.uid],
  ];
  // Every key alone, both ways, then random combinations.
  const criteriaList: { key: Key; reverse: boolean }[][] = KEYS.flatMap((key) => [[{ key, reverse: false }], [{ key, reverse: true }]]);
  for (let i = 0; i < 12; i++) {
    const k = 2 + Math.floor(r() * 3);
    criteriaList.push(Array.from({ length: k }, () => ({ key: pick(r, KEYS), reverse: r() < 0.4 })));
  }
  for (const criteria of criteriaList) {
    const [text, match] = searches[Math.floor(r() * searches.length)]!;
    const uid = r() < 0.3;
    const spec = criteria.map((x) => `${x.reverse ? 'REVERSE ' : ''}${x.key}`).join(' ');
    const cmd = `${uid ? 'UID ' : ''}SORT (${spec}) ${pick(r, ['UTF-8', 'US-ASCII'])} ${text}`;
    const expected = refSort(live.filter(match), criteria).map((m) => (uid ? m.uid : seqOf.get(m)!));
    expect(numbers(await untagged(cmd, 'SORT'), 'SORT'), cmd).toEqual(expected);
  }
  for (const [text, match] of searches) {
    for (const uid of [false, true]) {
      const id = (m: Msg): number => (uid ? m.uid : seqOf.get(m)!);
      const sel = live.filter(match);
      for (const [alg, ref] of [['ORDEREDSUBJECT', refOrderedSubject], ['REFERENCES', refReferences]] as const) {
        const cmd = `${uid ? 'UID ' : ''}THREAD ${alg} UTF-8 ${text}`;
        const want = ref(sel, id);
        expect(await untagged(cmd, 'THREAD'), cmd).toBe(want === '' ? '* THREAD' : `* THREAD ${want}`);
      }
    }
  }
}

describe('SORT and THREAD equal a brute-force reference', () => {
  for (const [seed, count] of [[1, 90], [2, 90], [3, 90]] as const) {
    it(`random mailbox, seed ${seed}, ${count} messages`, async () => {
      const r = rng(seed);
      const box = `Eq${seed}`;
      await n.t.ctx.store.user(n.account).createMailbox(box);
      const live: Msg[] = [];
      await deliverRandom(box, r, count, live);
      expect((await c.cmd(`SELECT ${box}`)).tagged).toMatch(/ OK /);
      const flag = live.filter(() => r() < 0.3);
      for (const m of flag) m.flagged = true;
      expect((await c.cmd(`UID STORE ${flag.map((m) => m.uid).join(',')} +FLAGS.SILENT (\\Flagged)`)).tagged).toMatch(/ OK /);
      const seen = live.filter(() => r() < 0.5);
      for (const m of seen) m.seen = true;
      expect((await c.cmd(`UID STORE ${seen.map((m) => m.uid).join(',')} +FLAGS.SILENT (\\Seen)`)).tagged).toMatch(/ OK /);
      await compareAll(live, r);
      // Expunge some, deliver more: the columns the first round built are extended, not rebuilt.
      const gone = live.filter(() => r() < 0.2);
      expect((await c.cmd(`UID STORE ${gone.map((m) => m.uid).join(',')} +FLAGS.SILENT (\\Deleted)`)).tagged).toMatch(/ OK /);
      expect((await c.cmd('EXPUNGE')).tagged).toMatch(/ OK /);
      const after = live.filter((m) => !gone.includes(m));
      await deliverRandom(box, r, 30, after);
      expect((await c.cmd('NOOP')).tagged).toMatch(/ OK /);
      await compareAll(after, r);
    }, 120_000);
  }
});

describe('THREAD=REFERENCES with long sibling lists (sorted by their keys, thread-references.ts)', () => {
  it('150 threads at the top and 150 replies to one message, sent dates with ties, equal the reference', async () => {
    const r = rng(11);
    const box = 'Wide';
    await n.t.ctx.store.user(n.account).createMailbox(box);
    const live: Msg[] = [];
    for (let i = 0; i < 301; i++) {
      // Five sent instants, in random order: siblings tie on the date and fall back to the sequence number.
      const date = Date.UTC(2026, 10, 24, 10, Math.floor(r() * 5));
      const reply = i > 150;
      const msg: Omit<Msg, 'uid' | 'size' | 'flagged' | 'seen' | 'internalDate'> = {
        subject: reply ? 'Re: t0' : `t${i}`,
        from: { name: '', local: 'a', domain: 'x.example' },
        to: null,
        cc: null,
        date,
        messageId: `<w${i}@x.example>`,
        inReplyTo: reply ? '<w0@x.example>' : '',
        references: [],
      };
      const raw =
        `From: a@x.example\r\nSubject: ${msg.subject}\r\nDate: ${dateHeader(date, 0)}\r\nMessage-ID: ${msg.messageId}\r\n` +
        `${reply ? 'In-Reply-To: <w0@x.example>\r\n' : ''}\r\nbody\r\n`;
      const draft = await target.ctx.store.createDraft();
      await draft.write(Buffer.from(raw));
      await draft.finish();
      const [saved] = await target.ctx.store.deliver([n.account], draft, { sender: 'test@example.org', mailbox: box, internalDate: new Date(date) });
      live.push({ ...msg, uid: saved!.uid, internalDate: date, size: Buffer.byteLength(raw), flagged: false, seen: false });
    }
    expect(maxSiblings(refReferences(live, (m) => m.uid))).toBeGreaterThan(64);
    expect((await c.cmd(`SELECT ${box}`)).tagged).toMatch(/ OK /);
    const seqOf = new Map(live.map((m, i) => [m, i + 1]));
    for (const uid of [false, true]) {
      const cmd = `${uid ? 'UID ' : ''}THREAD REFERENCES UTF-8 ALL`;
      expect(await untagged(cmd, 'THREAD'), cmd).toBe(`* THREAD ${refReferences(live, (m) => (uid ? m.uid : seqOf.get(m)!))}`);
    }
  }, 120_000);
});

describe('after a restart the columns come from the image in the index', () => {
  let node: TestNode | null = null;
  afterAll(async () => {
    await node?.stop();
  });

  it('random mailbox, seed 7: the same answers with every key row, structure and file content gone; new messages merge in', async () => {
    const r = rng(7);
    const box = 'Restart';
    await n.t.ctx.store.user(n.account).createMailbox(box);
    const live: Msg[] = [];
    await deliverRandom(box, r, 90, live);
    expect((await c.cmd(`SELECT ${box}`)).tagged).toMatch(/ OK /);
    const flag = live.filter(() => r() < 0.3);
    for (const m of flag) m.flagged = true;
    expect((await c.cmd(`UID STORE ${flag.map((m) => m.uid).join(',')} +FLAGS.SILENT (\\Flagged)`)).tagged).toMatch(/ OK /);
    await compareAll(live, r);
    c.close();
    const dataDir = n.t.dataDir;
    await n.t.stop({ keep: true });
    // While the node is down: every file of the mailbox says something else (same name and size),
    // and its key rows and stored structures are gone, so only the column image can give the answers.
    const dir = path.join(n.account.maildir, `.${box}`);
    let rewritten = 0;
    for (const sub of ['new', 'cur']) {
      for (const f of fs.readdirSync(path.join(dir, sub))) {
        const p = path.join(dir, sub, f);
        const size = fs.statSync(p).size;
        const head = 'Subject: q\r\n\r\n';
        fs.writeFileSync(p, size >= head.length ? head + 'z'.repeat(size - head.length) : 'z'.repeat(size));
        rewritten++;
      }
    }
    expect(rewritten).toBe(live.length);
    const indexDir = path.join(dataDir, 'index');
    let images = 0;
    for (const f of fs.readdirSync(indexDir).filter((x) => x.endsWith('.sqlite'))) {
      const db = new Database(path.join(indexDir, f));
      try {
        const id = db.prepare('SELECT id FROM mailboxes WHERE name = ?').pluck().get(box);
        if (id === undefined) continue;
        db.prepare('DELETE FROM sort_keys WHERE mailbox = ?').run(id);
        db.prepare('DELETE FROM structures WHERE mailbox = ?').run(id);
        images += db.prepare('SELECT count(*) FROM sort_columns WHERE mailbox = ?').pluck().get(id) as number;
      } finally {
        db.close();
      }
    }
    expect(images).toBe(1);
    // A new process has no columns in memory: this one forgets those of the node it replaces.
    sortColumns.clear();
    const before = { ...sortColumns.stats };
    node = await startTestNode({}, { dataDir });
    target = node;
    c = await login(node.ports.imap!, n.user, n.pass);
    expect((await c.cmd(`SELECT ${box}`)).tagged).toMatch(/ OK /);
    await compareAll(live, r);
    expect(sortColumns.stats.rowsRead - before.rowsRead).toBe(0);
    expect(sortColumns.stats.imagesLoaded - before.imagesLoaded).toBe(1);
    // Expunge some and deliver more (real files and rows): merged into the set read from the image.
    const gone = live.filter(() => r() < 0.2);
    expect((await c.cmd(`UID STORE ${gone.map((m) => m.uid).join(',')} +FLAGS.SILENT (\\Deleted)`)).tagged).toMatch(/ OK /);
    expect((await c.cmd('EXPUNGE')).tagged).toMatch(/ OK /);
    const after = live.filter((m) => !gone.includes(m));
    await deliverRandom(box, r, 30, after);
    expect((await c.cmd('NOOP')).tagged).toMatch(/ OK /);
    await compareAll(after, r);
    expect(sortColumns.stats.rowsRead - before.rowsRead).toBe(30);
  }, 180_000);
});
