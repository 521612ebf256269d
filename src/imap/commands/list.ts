/**
 * LIST, LSUB (RFC 3501 §6.3.8, §6.3.9) and XLIST (Gmail's; Outlook 2013 reads
 * special use from XLIST only). Wildcards: `*` matches anything, `%` anything but the
 * separator. Attributes: \Noselect for parents that exist only through their
 * children, \HasChildren/\HasNoChildren (RFC 3348), special-use (RFC 6154 —
 * returned on every LIST, as Dovecot does), XLIST's \Inbox and its names
 * for special use.
 *
 * Subscriptions are names (RFC 3501 §6.3.6): a subscribed mailbox that was
 * deleted stays in LSUB and LIST (SUBSCRIBED), the latter as \NonExistent.
 * LSUB lists an unsubscribed parent of a subscribed name, reached through
 * "%", as \Noselect (§6.3.9).
 *
 * LIST-EXTENDED (RFC 5258): selection options SUBSCRIBED, SPECIAL-USE
 * (RFC 6154 §5.1), RECURSIVEMATCH (unsubscribed parents of subscribed
 * names the patterns do not reach, with CHILDINFO, §3.5) and REMOTE (no
 * remote mailboxes: nothing to add); return
 * options SUBSCRIBED, CHILDREN and SPECIAL-USE (both always given) and
 * STATUS (RFC 5819 LIST-STATUS: a STATUS line after each selectable
 * mailbox). Extended answers say \NonExistent for parents that exist only
 * through their children (§3, which implies \Noselect).
 */
import type { MailboxInfo, SpecialUse } from '../../store/types.js';
import type { CommandOf, ImapValue, ListArgs, ListSelection } from '../wire/types.js';
import { mailboxValue, untagged } from '../wire/encoder.js';
import { SEPARATOR } from '../names.js';
import type { CommandEnv, CommandResult } from '../command.js';
import { ok } from '../command.js';
import { patternMatcher } from '../list-match.js';
import { statusResponse } from '../status-response.js';
import { appendLimit } from '../append-limit.js';

type Flavour = 'LIST' | 'LSUB' | 'XLIST';

const XLIST_NAMES: Partial<Record<SpecialUse, string>> = {
  '\\Sent': '\\Sent',
  '\\Trash': '\\Trash',
  '\\Drafts': '\\Drafts',
  '\\Junk': '\\Spam',
  '\\All': '\\AllMail',
  '\\Flagged': '\\Starred',
};

function attributes(m: MailboxInfo, flavour: Flavour): string[] {
  const attrs: string[] = [];
  if (!m.selectable) attrs.push('\\Noselect');
  attrs.push(m.hasChildren ? '\\HasChildren' : '\\HasNoChildren');
  if (flavour === 'XLIST') {
    if (m.name === 'INBOX') attrs.push('\\Inbox');
    const x = m.specialUse ? XLIST_NAMES[m.specialUse] : undefined;
    if (x) attrs.push(x);
  } else if (m.specialUse && flavour === 'LIST') {
    attrs.push(m.specialUse);
  }
  return attrs;
}

/** Mailboxes first by name, INBOX before all (as the store lists them). */
const byName = (x: string, y: string): number => (x === 'INBOX' ? -1 : y === 'INBOX' ? 1 : x < y ? -1 : x > y ? 1 : 0);

/** One name to answer for: an existing mailbox (or parent), or a name known only from the subscriptions (info null). */
interface Candidate {
  readonly name: string;
  readonly info: MailboxInfo | null;
  readonly subscribed: boolean;
  /** RFC 5258 §3.5: listed because a subscribed descendant matches the selection but not the patterns. */
  readonly childInfo: boolean;
  /** RFC 3501 §6.3.9: LSUB's unsubscribed parent of a subscribed name, matched through "%". */
  readonly lsubParent: boolean;
}

/** "A.B.C" → ["A", "A.B"]. */
function ancestorsOf(name: string): string[] {
  const out: string[] = [];
  for (let i = name.indexOf(SEPARATOR); i > 0; i = name.indexOf(SEPARATOR, i + 1)) out.push(name.slice(0, i));
  return out;
}

async function candidates(
  env: CommandEnv,
  flavour: Flavour,
  matches: (name: string) => boolean,
  wildcardParents: boolean,
  selection: ListSelection | null,
): Promise<Candidate[]> {
  const user = env.s.user;
  const all = await user.listMailboxes();
  const existing = new Map(all.map((m) => [m.name, m]));
  const entry = (name: string, subscribed: boolean, childInfo = false, lsubParent = false): Candidate => ({
    name,
    info: existing.get(name) ?? null,
    subscribed,
    childInfo,
    lsubParent,
  });
  const wantsSubscriptions = flavour === 'LSUB' || selection?.subscribed === true;
  if (!wantsSubscriptions) return all.filter((m) => matches(m.name)).map((m) => entry(m.name, m.subscribed));
  // Subscriptions are names: DELETE leaves them (RFC 3501 §6.3.6), so some have no mailbox.
  const subs = new Set(await user.subscriptions());
  const out = new Map<string, Candidate>();
  for (const name of subs) if (matches(name)) out.set(name, entry(name, true));
  if (flavour === 'LSUB') {
    // §6.3.9: with "%", an unsubscribed parent of a subscribed name is listed \Noselect.
    if (wildcardParents) {
      for (const name of subs) {
        for (const a of ancestorsOf(name)) if (!subs.has(a) && !out.has(a) && matches(a)) out.set(a, entry(a, false, false, true));
      }
    }
  } else if (selection?.recursiveMatch) {
    // RFC 5258 §3.5: a parent whose subscribed descendant the patterns do not reach is listed with CHILDINFO.
    for (const name of subs) {
      if (matches(name)) continue;
      for (const a of ancestorsOf(name)) if (!subs.has(a) && !out.has(a) && matches(a)) out.set(a, entry(a, false, true));
    }
  }
  return [...out.values()].sort((x, y) => byName(x.name, y.name));
}

function attributesOf(c: Candidate, flavour: Flavour, extended: boolean): string[] {
  if (c.lsubParent) return ['\\Noselect'];
  // A name without a mailbox (a subscription that outlived it, or a parent of one): RFC 5258 §3 \NonExistent.
  if (!c.info) return [extended ? '\\NonExistent' : '\\Noselect'];
  const attrs = attributes(c.info, flavour);
  return extended ? attrs.map((a) => (a === '\\Noselect' ? '\\NonExistent' : a)) : attrs;
}

async function answer(
  env: CommandEnv,
  flavour: Flavour,
  reference: string,
  patterns: readonly string[],
  selection: ListSelection | null,
  ext: ListArgs | null = null,
): Promise<CommandResult> {
  const s = env.s;
  // §6.3.8: an empty pattern asks for the hierarchy delimiter and root.
  if (patterns.length === 1 && patterns[0] === '') {
    s.out.push(`* ${flavour} (\\Noselect) "${SEPARATOR}" ""\r\n`);
    return ok(`${flavour} completed`);
  }
  const matchers = patterns.map((p) => patternMatcher(reference, p));
  const matches = (name: string): boolean => matchers.some((f) => f(name));
  const wildcardParents = patterns.some((p) => (reference + p).includes('%'));
  const extended = ext?.extended === true;
  const showSubscribed = flavour === 'LIST' && (selection?.subscribed === true || ext?.returnOptions.subscribed === true);
  const statusItems = ext?.returnOptions.status ?? null;
  // RFC 7162 §3.1: STATUS (HIGHESTMODSEQ), here in LIST-STATUS, enables CONDSTORE.
  if (statusItems?.includes('HIGHESTMODSEQ')) s.enableCondstore();
  for (const c of await candidates(env, flavour, matches, wildcardParents, selection)) {
    if (selection?.specialUse && !c.info?.specialUse) continue;
    const attrs = attributesOf(c, flavour, extended);
    if (showSubscribed && c.subscribed) attrs.push('\\Subscribed');
    const values: ImapValue[] = [{ kind: 'atom', value: flavour }, attrs.map((a) => ({ kind: 'atom' as const, value: a })), SEPARATOR, mailboxValue(c.name)];
    // mbox-list-extended (§6): ("CHILDINFO" ("SUBSCRIBED")), tag and values as strings.
    if (c.childInfo) values.push(['CHILDINFO', ['SUBSCRIBED']]);
    s.out.push(untagged(...values));
    if (statusItems && c.info?.selectable) {
      // RFC 5819 §2: a mailbox that cannot be opened just gets no STATUS line.
      const st = await s.user.status(c.name).catch(() => null);
      if (st) s.out.push(statusResponse(c.name, statusItems, st, appendLimit(s.ctx)));
    }
    if (s.out.full) await s.out.flush();
  }
  return ok(`${flavour} completed`);
}

export const listCommand = (env: CommandEnv, cmd: CommandOf<'LIST'>): Promise<CommandResult> =>
  answer(env, 'LIST', cmd.args.reference, cmd.args.patterns, cmd.args.selection, cmd.args);
export const lsubCommand = (env: CommandEnv, cmd: CommandOf<'LSUB'>): Promise<CommandResult> =>
  answer(env, 'LSUB', cmd.args.reference, [cmd.args.pattern], null);
export const xlistCommand = (env: CommandEnv, cmd: CommandOf<'XLIST'>): Promise<CommandResult> =>
  answer(env, 'XLIST', cmd.args.reference, [cmd.args.pattern], null);
