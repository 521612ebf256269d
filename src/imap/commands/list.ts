/**
 * LIST, LSUB (RFC 3501 §6.3.8, §6.3.9) and XLIST (Gmail's, for Outlook 2013,
 * protocols.md §6.8). Wildcards: `*` matches anything, `%` anything but the
 * separator. Attributes: \Noselect for parents that exist only through their
 * children, \HasChildren/\HasNoChildren (RFC 3348), special-use (RFC 6154 —
 * returned on every LIST, as Dovecot does), XLIST's \Inbox and its names
 * for special use.
 */
import type { MailboxInfo, SpecialUse } from '../../store/types.js';
import type { CommandOf, ListSelection } from '../wire/types.js';
import { mailboxValue, untagged } from '../wire/encoder.js';
import { SEPARATOR } from '../names.js';
import type { CommandEnv, CommandResult } from '../session.js';
import { ok } from '../session.js';

/** RFC 3501 §6.3.8 matching; the INBOX prefix compares case-insensitively (§5.1). */
export function patternMatcher(reference: string, pattern: string): (name: string) => boolean {
  let full = reference + pattern;
  if (/^inbox(?=$|[.*%])/i.test(full)) full = `INBOX${full.slice(5)}`;
  let re = '^';
  for (const ch of full) {
    if (ch === '*') re += '.*';
    else if (ch === '%') re += '[^.]*';
    else re += ch.replace(/[\\^$.|?+()[\]{}]/g, '\\$&');
  }
  const rx = new RegExp(`${re}$`, 'su');
  return (name) => rx.test(name);
}

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

async function answer(env: CommandEnv, flavour: Flavour, reference: string, patterns: readonly string[], selection: ListSelection | null): Promise<CommandResult> {
  const s = env.s;
  // §6.3.8: an empty pattern asks for the hierarchy delimiter and root.
  if (patterns.length === 1 && patterns[0] === '') {
    s.out.push(`* ${flavour} (\\Noselect) "${SEPARATOR}" ""\r\n`);
    return ok(`${flavour} completed`);
  }
  const matchers = patterns.map((p) => patternMatcher(reference, p));
  const all = await s.user.listMailboxes();
  for (const m of all) {
    if (!matchers.some((f) => f(m.name))) continue;
    if (flavour === 'LSUB' && !m.subscribed) continue;
    if (selection?.subscribed && !m.subscribed) continue;
    if (selection?.specialUse && !m.specialUse) continue;
    const attrs = attributes(m, flavour);
    if (selection?.subscribed && m.subscribed) attrs.push('\\Subscribed');
    s.out.push(untagged({ kind: 'atom', value: flavour }, attrs.map((a) => ({ kind: 'atom' as const, value: a })), SEPARATOR, mailboxValue(m.name)));
    if (s.out.full) await s.out.flush();
  }
  return ok(`${flavour} completed`);
}

export const listCommand = (env: CommandEnv, cmd: CommandOf<'LIST'>): Promise<CommandResult> =>
  answer(env, 'LIST', cmd.args.reference, cmd.args.patterns, cmd.args.selection);
export const lsubCommand = (env: CommandEnv, cmd: CommandOf<'LSUB'>): Promise<CommandResult> =>
  answer(env, 'LSUB', cmd.args.reference, [cmd.args.pattern], null);
export const xlistCommand = (env: CommandEnv, cmd: CommandOf<'XLIST'>): Promise<CommandResult> =>
  answer(env, 'XLIST', cmd.args.reference, [cmd.args.pattern], null);
