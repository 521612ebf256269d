/**
 * NOTIFY arguments (RFC 5465 §8):
 *
 *   notify = "NOTIFY" SP (notify-set / notify-none)
 *   notify-set = "SET" [status-indicator] SP event-groups
 *   event-group = "(" filter-mailboxes SP events ")"
 *   events = ( "(" event *(SP event) ")" ) / "NONE"
 *   message-event = ( "MessageNew" [SP "(" fetch-att *(SP fetch-att) ")" ] ) / "MessageExpunge" / "FlagChange"
 *
 * Event names are case-insensitive atoms. Names Roost does not support are
 * kept apart so the command can answer NO [BADEVENT] (§5.9, §3.1) rather
 * than BAD: they are well-formed.
 */
import { LIMITS } from '../../limits.js';
import { Args, astringBytes, mailboxName, ParseError } from './args.js';

import type { NotifyArgs, NotifyEvent, NotifyFilter, NotifyGroup, Token } from './types.js';

const KNOWN: ReadonlyMap<string, NotifyEvent> = new Map(
  (['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange'] as const).map((e) => [e.toUpperCase(), e]),
);

/** Event names RFC 5465 defines that Roost does not offer (no METADATA, no ANNOTATE). */
const DEFINED_UNSUPPORTED: ReadonlyMap<string, string> = new Map(
  ['AnnotationChange', 'MailboxMetadataChange', 'ServerMetadataChange'].map((e) => [e.toUpperCase(), e]),
);

export function parseNotify(a: Args): NotifyArgs {
  const verb = a.keyword('NOTIFY SET or NONE');
  if (verb === 'NONE') {
    a.end();
    return { kind: 'none' };
  }
  if (verb !== 'SET') throw new ParseError(`Invalid NOTIFY argument ${verb}: expected SET or NONE`);
  let status = false;
  if (a.peekKeyword() === 'STATUS') {
    a.next('STATUS');
    status = true;
  }
  const groups: NotifyGroup[] = [];
  const counted = { names: 0 };
  do groups.push(eventGroup(a.list('NOTIFY event group'), counted));
  while (!a.done);
  const selected = groups.filter((g) => g.filter.kind === 'selected');
  // §6: "selected" and "selected-delayed" name the same mailbox; one filter for it.
  if (selected.length > 1) throw new ParseError('NOTIFY names the selected mailbox more than once');
  return { kind: 'set', status, groups };
}

function eventGroup(items: readonly Token[], counted: { names: number }): NotifyGroup {
  const g = new Args(items, 'NOTIFY');
  const filter = filterMailboxes(g, counted);
  const t = g.next('NOTIFY events');
  g.end();
  if (t.type === 'atom' && t.section === null && t.value.toUpperCase() === 'NONE') return { filter, events: [], unsupported: [] };
  if (t.type !== 'list' || t.items.length === 0) throw new ParseError('Invalid NOTIFY events: expected a list of events or NONE');
  const events: NotifyEvent[] = [];
  const unsupported: string[] = [];
  const e = new Args(t.items, 'NOTIFY');
  while (!e.done) {
    const name = e.atom('NOTIFY event');
    const known = KNOWN.get(name.toUpperCase());
    if (known === 'MessageNew' && e.peek()?.type === 'list') {
      // RFC 5465 §5.2 lets MessageNew carry FETCH attributes for the selected mailbox; Roost sends EXISTS only.
      throw new ParseError('MessageNew with fetch attributes is not supported');
    }
    if (known) {
      if (!events.includes(known)) events.push(known);
    } else unsupported.push(DEFINED_UNSUPPORTED.get(name.toUpperCase()) ?? name);
  }
  if (filter.kind === 'selected' && events.some((x) => x === 'MailboxName' || x === 'SubscriptionChange')) {
    // §6.1: only message events make sense for the selected mailbox.
    throw new ParseError('Only message events may be given for the selected mailbox');
  }
  return { filter, events, unsupported };
}

function filterMailboxes(g: Args, counted: { names: number }): NotifyFilter {
  const kind = g.keyword('NOTIFY filter');
  switch (kind) {
    case 'SELECTED':
      return { kind: 'selected', delayed: false };
    case 'SELECTED-DELAYED':
      return { kind: 'selected', delayed: true };
    case 'INBOXES':
      return { kind: 'inboxes' };
    case 'PERSONAL':
      return { kind: 'personal' };
    case 'SUBSCRIBED':
      return { kind: 'subscribed' };
    case 'SUBTREE':
    case 'MAILBOXES': {
      const t = g.next('NOTIFY mailboxes');
      const toks = t.type === 'list' ? t.items : [t];
      if (toks.length === 0) throw new ParseError('Empty NOTIFY mailbox list');
      counted.names += toks.length;
      if (counted.names > LIMITS.imap.notifyMaxMailboxes) {
        throw new ParseError(`NOTIFY names too many mailboxes (limit ${LIMITS.imap.notifyMaxMailboxes})`, 'NO', 'LIMIT');
      }
      const names = toks.map((x) => mailboxName(astringBytes(x, 'mailbox name')));
      return { kind: kind === 'SUBTREE' ? 'subtree' : 'mailboxes', names };
    }
    default:
      throw new ParseError(`Unknown NOTIFY filter ${kind}`);
  }
}
