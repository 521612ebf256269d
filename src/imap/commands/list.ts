/**
 * LIST, LSUB (RFC 3501 §6.3.8, §6.3.9) and XLIST (Gmail's, for Outlook 2013,
 * protocols.md §6.8). Wildcards: `*` matches anything, `%` anything but the
 * separator. Attributes: \Noselect for parents that exist only through their
 * children, \HasChildren/\HasNoChildren (RFC 3348), special-use (RFC 6154 —
 * returned on every LIST, as Dovecot does), XLIST's \Inbox and its names
 * for special use.
 *
 * LIST-EXTENDED (RFC 5258): selection options SUBSCRIBED, SPECIAL-USE
 * (RFC 6154 §5.1), RECURSIVEMATCH (parents of subscribed mailboxes with
 * CHILDINFO, §3.5) and REMOTE (no remote mailboxes: nothing to add); return
 * options SUBSCRIBED, CHILDREN and SPECIAL-USE (both always given) and
 * STATUS (RFC 5819 LIST-STATUS: a STATUS line after each selectable
 * mailbox). Extended answers say \NonExistent for parents that exist only
 * through their children (§3, which implies \Noselect).
 */
import type { MailboxInfo, SpecialUse } from '../../store/types.js';
import type { CommandOf, ImapValue, ListArgs, ListSelection } from '../wire/types.js';
import { mailboxValue, untagged } from '../wire/encoder.js';
import { SEPARATOR } from '../names.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { ok } from '../session.js';
import { patternMatcher } from '../list-match.js';
import { valueOf } from './status.js';

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
  const all = await s.user.listMailboxes();
  const extended = ext?.extended === true;
  const showSubscribed = selection?.subscribed === true || ext?.returnOptions.subscribed === true;
  const statusItems = ext?.returnOptions.status ?? null;
  if (statusItems?.includes('HIGHESTMODSEQ')) s.enabled.add('CONDSTORE');
  // RFC 5258 §3.5: with SUBSCRIBED and RECURSIVEMATCH, an unsubscribed match with subscribed descendants is listed with CHILDINFO.
  const subscribedNames = selection?.recursiveMatch ? all.filter((m) => m.subscribed).map((m) => m.name) : [];
  for (const m of all) {
    if (!matchers.some((f) => f(m.name))) continue;
    if (flavour === 'LSUB' && !m.subscribed) continue;
    let childInfo = false;
    if (selection?.subscribed && !m.subscribed) {
      if (!selection.recursiveMatch || !subscribedNames.some((n) => n.startsWith(m.name + SEPARATOR))) continue;
      childInfo = true;
    }
    if (selection?.specialUse && !m.specialUse) continue;
    let attrs = attributes(m, flavour);
    if (extended) attrs = attrs.map((a) => (a === '\\Noselect' ? '\\NonExistent' : a));
    if (showSubscribed && m.subscribed) attrs.push('\\Subscribed');
    const values: ImapValue[] = [{ kind: 'atom', value: flavour }, attrs.map((a) => ({ kind: 'atom' as const, value: a })), SEPARATOR, mailboxValue(m.name)];
    // mbox-list-extended (§6): ("CHILDINFO" ("SUBSCRIBED")), tag and values as strings.
    if (childInfo) values.push(['CHILDINFO', ['SUBSCRIBED']]);
    s.out.push(untagged(...values));
    if (statusItems && m.selectable) {
      // RFC 5819 §2: a mailbox that cannot be opened just gets no STATUS line.
      const st = await s.user.status(m.name).catch(() => null);
      if (st) {
        const items: (string | number | bigint | { kind: 'atom'; value: string })[] = [];
        for (const item of statusItems) {
          const v = valueOf(item, st);
          if (v !== null) items.push({ kind: 'atom', value: item }, v);
        }
        s.out.push(untagged({ kind: 'atom', value: 'STATUS' }, mailboxValue(m.name), items));
      }
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
