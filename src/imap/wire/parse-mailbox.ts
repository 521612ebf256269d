/**
 * Arguments of the mailbox commands: SELECT/EXAMINE with CONDSTORE and
 * QRESYNC parameters (RFC 7162 §3.1.8, §3.2.5), CREATE with USE (RFC 6154
 * §3), LIST with RFC 5258 selection and return options (RFC 5819 STATUS,
 * RFC 6154 SPECIAL-USE), LSUB/XLIST, and STATUS items (RFC 3501 §6.3.10,
 * RFC 7162 HIGHESTMODSEQ, RFC 8438 SIZE).
 */
import type { SpecialUse } from '../../store/types.js';
import { LIMITS } from '../../limits.js';
import { Args, ParseError, astringBytes, parseModseq } from './args.js';
import { decodeListPattern } from '../../text/mutf7.js';

import type { ListArgs, ListReturn, ListSelection, QresyncParams, SelectArgs, SequenceSet, StatusItem, Token } from './types.js';

const SPECIAL_USE = new Map(
  (['\\All', '\\Archive', '\\Drafts', '\\Flagged', '\\Junk', '\\Sent', '\\Trash'] as SpecialUse[]).map((u) => [u.toUpperCase(), u]),
);

const STATUS_ITEMS: readonly StatusItem[] = ['MESSAGES', 'RECENT', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ', 'SIZE', 'APPENDLIMIT'];

export function statusItems(items: readonly Token[]): StatusItem[] {
  if (items.length === 0) throw new ParseError('Empty STATUS item list');
  const out: StatusItem[] = [];
  for (const t of items) {
    const v = t.type === 'atom' && t.section === null ? t.value.toUpperCase() : '';
    const item = STATUS_ITEMS.find((s) => s === v);
    if (!item) throw new ParseError(`Unknown STATUS item ${t.type === 'atom' ? t.value : '(not an atom)'}`);
    if (!out.includes(item)) out.push(item);
  }
  return out;
}

export function selectArgs(a: Args): SelectArgs {
  const mailbox = a.mailbox();
  let condstore = false;
  let qresync: QresyncParams | null = null;
  if (!a.done) {
    const params = new Args(a.list('SELECT parameters'), 'SELECT parameters');
    while (!params.done) {
      const p = params.keyword('SELECT parameter');
      if (p === 'CONDSTORE') {
        condstore = true;
      } else if (p === 'QRESYNC') {
        const q = new Args(params.list('QRESYNC parameters'), 'QRESYNC');
        const uidvalidity = q.number('UIDVALIDITY', true);
        const modseq = parseModseq(q.atom('mod-sequence'), 'mod-sequence', false);
        let knownUids: SequenceSet | null = null;
        let seqMatch: QresyncParams['seqMatch'] = null;
        if (q.peek()?.type === 'atom') knownUids = q.sequenceSet('known UIDs');
        if (!q.done) {
          const m = new Args(q.list('sequence match data'), 'QRESYNC');
          seqMatch = { seqs: m.sequenceSet('known sequence set'), uids: m.sequenceSet('known UID set') };
          m.end();
        }
        q.end();
        qresync = { uidvalidity, modseq, knownUids, seqMatch };
      } else {
        throw new ParseError(`Unknown SELECT parameter ${p}`);
      }
    }
  }
  a.end();
  return { mailbox, condstore, qresync };
}

/**
 * list-mailbox = 1*list-char / string: atoms may carry % and * (the tokenizer
 * allows them). A pattern or reference is not a mailbox name, so modified
 * UTF-7 is decoded leniently (decodeListPattern) rather than refused.
 */
function listMailbox(t: Token, what: string): string {
  const wire = astringBytes(t, what).toString('latin1');
  if (wire.length > LIMITS.imap.maxListPatternLength) {
    throw new ParseError(`${what} longer than ${LIMITS.imap.maxListPatternLength} octets`, 'NO', 'LIMIT');
  }
  return decodeListPattern(wire);
}

export function listArgs(a: Args): ListArgs {
  const selection = { subscribed: false, remote: false, recursiveMatch: false, specialUse: false };
  let extended = false;
  if (a.peek()?.type === 'list') {
    extended = true;
    for (const t of a.list('selection options')) {
      const o = t.type === 'atom' ? t.value.toUpperCase() : '';
      if (o === 'SUBSCRIBED') selection.subscribed = true;
      else if (o === 'REMOTE') selection.remote = true;
      else if (o === 'RECURSIVEMATCH') selection.recursiveMatch = true;
      else if (o === 'SPECIAL-USE') selection.specialUse = true;
      else throw new ParseError(`Unknown LIST selection option ${t.type === 'atom' ? t.value : ''}`.trimEnd());
    }
    // RFC 5258 §3: RECURSIVEMATCH MUST NOT be the only option, nor come with REMOTE alone (it selects nothing to recurse on).
    if (selection.recursiveMatch && !selection.subscribed && !selection.specialUse) {
      throw new ParseError('RECURSIVEMATCH needs another selection option');
    }
  }
  const reference = listMailbox(a.next('reference name'), 'reference name');
  const pt = a.next('mailbox pattern');
  let patterns: string[];
  if (pt.type === 'list') {
    extended = true;
    if (pt.items.length === 0) throw new ParseError('Empty mailbox pattern list');
    if (pt.items.length > LIMITS.imap.maxListPatterns) throw new ParseError(`More than ${LIMITS.imap.maxListPatterns} mailbox patterns`, 'NO', 'LIMIT');
    patterns = pt.items.map((t) => listMailbox(t, 'mailbox pattern'));
  } else {
    patterns = [listMailbox(pt, 'mailbox pattern')];
  }
  const ret = { subscribed: false, children: false, specialUse: false, status: null as StatusItem[] | null };
  if (!a.done) {
    if (a.keyword('RETURN') !== 'RETURN') throw new ParseError('Expected RETURN');
    extended = true;
    const r = new Args(a.list('return options'), 'LIST RETURN');
    while (!r.done) {
      const o = r.keyword('return option');
      if (o === 'SUBSCRIBED') ret.subscribed = true;
      else if (o === 'CHILDREN') ret.children = true;
      else if (o === 'SPECIAL-USE') ret.specialUse = true;
      else if (o === 'STATUS') ret.status = statusItems(r.list('STATUS items'));
      else throw new ParseError(`Unknown LIST return option ${o}`);
    }
  }
  a.end();
  const selectionOut: ListSelection = selection;
  const returnOptions: ListReturn = ret;
  return { reference, patterns, selection: selectionOut, returnOptions, extended };
}

export function listPatternArgs(a: Args): { reference: string; pattern: string } {
  const reference = listMailbox(a.next('reference name'), 'reference name');
  const pattern = listMailbox(a.next('mailbox pattern'), 'mailbox pattern');
  a.end();
  return { reference, pattern };
}

export function createArgs(a: Args): { mailbox: string; specialUse: SpecialUse[] } {
  const mailbox = a.mailbox();
  const specialUse: SpecialUse[] = [];
  if (!a.done) {
    // RFC 6154 §3: CREATE name (USE (\Drafts ...))
    const p = new Args(a.list('CREATE parameters'), 'CREATE parameters');
    while (!p.done) {
      const k = p.keyword('CREATE parameter');
      if (k !== 'USE') throw new ParseError(`Unknown CREATE parameter ${k}`);
      for (const t of p.list('USE attributes')) {
        const u = t.type === 'atom' ? SPECIAL_USE.get(t.value.toUpperCase()) : undefined;
        if (!u) throw new ParseError(`Unsupported special-use attribute ${t.type === 'atom' ? t.value : ''}`.trimEnd(), 'NO', 'USEATTR');
        if (!specialUse.includes(u)) specialUse.push(u);
      }
    }
  }
  a.end();
  return { mailbox, specialUse };
}

