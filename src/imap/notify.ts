/**
 * One session's NOTIFY state (RFC 5465): which mailboxes it watches for
 * which events, and the notifications waiting for a safe point.
 *
 * Changes come from the store's per-account journal subscription
 * (Store.onAccountJournal), not from open mailboxes: a
 * session watching every mailbox of a 10,000-folder account holds one
 * listener and a small map of the mailboxes that changed, never a
 * MailboxHandle per mailbox. Counts are read from the index (STATUS) only
 * when the notification is written, so ten deliveries to one mailbox cost
 * one STATUS line.
 *
 * The selected mailbox is the view's business (EXISTS/EXPUNGE/FETCH,
 * mailbox-view.ts); message events for it never become STATUS here (§5).
 */
import type { Store, UserStore } from '../store/store.js';
import type { JournalRecord, MailboxStatus } from '../store/types.js';
import { isRoostError } from '../errors.js';
import type { Logger } from '../log/logger.js';
import { LIMITS } from '../limits.js';
import { SEPARATOR } from './names.js';
import type { Output } from './output.js';
import { mailboxValue, untagged, untaggedStatus } from './wire/encoder.js';
import type { ImapValue, NotifyEvent, NotifyFilter, NotifyGroup, StatusItem } from './wire/types.js';
import { statusResponse } from './status-response.js';

/** Every event Roost reports, in the order `[BADEVENT (...)]` lists them (§5.9). */
export const SUPPORTED_EVENTS: readonly NotifyEvent[] = ['MessageNew', 'MessageExpunge', 'FlagChange', 'MailboxName', 'SubscriptionChange'];

type MessageEvent = 'MessageNew' | 'MessageExpunge' | 'FlagChange';
const MESSAGE_EVENTS: ReadonlySet<NotifyEvent> = new Set<NotifyEvent>(['MessageNew', 'MessageExpunge', 'FlagChange']);

const ITEM_ORDER: readonly StatusItem[] = ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY', 'UNSEEN', 'HIGHESTMODSEQ'];

/**
 * STATUS items for a mailbox's events (§5.1–§5.3): MessageNew → MESSAGES
 * UIDNEXT UIDVALIDITY, MessageExpunge → MESSAGES, FlagChange → UIDVALIDITY
 * HIGHESTMODSEQ, as Dovecot sends them. A change notification (not the
 * initial one of NOTIFY SET STATUS) adds UNSEEN, which is what a client
 * showing unread counts needs after new mail, expunges and \Seen changes.
 */
export function statusItems(events: Iterable<NotifyEvent>, change: boolean): StatusItem[] {
  const want = new Set<StatusItem>();
  for (const e of events) {
    if (e === 'MessageNew') ['MESSAGES', 'UIDNEXT', 'UIDVALIDITY'].forEach((i) => want.add(i as StatusItem));
    if (e === 'MessageExpunge') want.add('MESSAGES');
    if (e === 'FlagChange') ['UIDVALIDITY', 'HIGHESTMODSEQ'].forEach((i) => want.add(i as StatusItem));
    if (change && MESSAGE_EVENTS.has(e)) want.add('UNSEEN');
  }
  return ITEM_ORDER.filter((i) => want.has(i));
}

/** NOTIFY's items (ITEM_ORDER) never include APPENDLIMIT, the one item that needs the limit. */
function statusLine(name: string, items: readonly StatusItem[], st: MailboxStatus): Buffer {
  return statusResponse(name, items, st, 0);
}

function listLine(attrs: readonly string[], name: string, oldName?: string): Buffer {
  const values: ImapValue[] = [
    { kind: 'atom', value: 'LIST' },
    attrs.map((a) => ({ kind: 'atom' as const, value: a })),
    SEPARATOR,
    mailboxValue(name),
  ];
  // RFC 5465 §5.4 / RFC 5258 §3.5: a rename is a LIST of the new name with OLDNAME.
  if (oldName !== undefined) values.push(['OLDNAME', [mailboxValue(oldName)]]);
  return untagged(...values);
}

export class Notifier {
  private groups: readonly NotifyGroup[] = [];
  private stop: (() => void) | null = null;
  /** Mailboxes with message events waiting, and which events happened. */
  private readonly pending = new Map<string, Set<MessageEvent>>();
  /** LIST notifications (MailboxName, SubscriptionChange) in the order they happened. */
  private lists: Buffer[] = [];
  private overflowed = false;
  /** Subscribed names, kept only while a `subscribed` filter is in force. */
  private subscribed: Set<string> | null = null;
  private readonly sets = new WeakMap<NotifyFilter, ReadonlySet<string>>();

  constructor(
    private readonly store: Store,
    private readonly user: UserStore,
    /** The selected mailbox's name, or null. */
    private readonly selected: () => string | null,
    private readonly log: Logger,
    /** Something new is pending (the session pushes it during IDLE or while quiet). */
    private readonly wake: () => void,
  ) {}

  /** Anything to write at the next safe point. */
  get hasPending(): boolean {
    return this.overflowed || this.pending.size > 0 || this.lists.length > 0;
  }

  /**
   * NOTIFY SET (§3.1): replace the watch list; notifications pending under the
   * old one are dropped. With `status`, write the initial STATUS of every
   * watched mailbox (other than the selected one) that has message events.
   */
  async set(groups: readonly NotifyGroup[], status: boolean, out: Output): Promise<void> {
    this.none();
    this.groups = groups;
    if (groups.some((g) => g.filter.kind === 'subscribed')) this.subscribed = new Set(await this.user.subscriptions());
    const watches = groups.some((g) => g.filter.kind !== 'selected' && g.events.length > 0);
    if (watches) this.stop = this.store.onAccountJournal(this.user.account.id, (recs) => this.onRecords(recs));
    if (!status) return;
    const selected = this.selected();
    for (const m of await this.user.listMailboxes()) {
      if (!m.selectable || m.name === selected) continue;
      const events = this.eventsFor(m.name).filter((e) => MESSAGE_EVENTS.has(e));
      if (events.length === 0) continue;
      const st = await this.statusOf(m.name);
      if (st) out.push(statusLine(m.name, statusItems(events, false), st));
    }
  }

  /** NOTIFY NONE (§3.1), and what an overflow leaves (§5.8). */
  none(): void {
    this.stop?.();
    this.stop = null;
    this.groups = [];
    this.subscribed = null;
    this.pending.clear();
    this.lists = [];
  }

  close(): void {
    this.none();
  }

  /**
   * Write what is pending. At a safe point (a command's answer, IDLE) pass no
   * `canPush`. Between commands (the session was quiet) the lines are
   * gathered first and pushed only if `canPush()` still holds once the
   * counts are read, so nothing lands inside a command that started
   * meanwhile (a FETCH literal); otherwise everything is put back, the
   * mailboxes to be read afresh, so no stale STATUS follows a newer one.
   */
  async write(out: Output, canPush: () => boolean = () => true): Promise<void> {
    const overflowed = this.overflowed;
    const lists = this.lists;
    const pending = [...this.pending];
    this.overflowed = false;
    this.lists = [];
    this.pending.clear();
    const lines: Buffer[] = [];
    if (overflowed) lines.push(untaggedStatus('OK', 'Too many notifications; NOTIFY is off, use NOTIFY SET again', { name: 'NOTIFICATIONOVERFLOW' }));
    for (const l of lists) lines.push(l);
    const selected = this.selected();
    for (const [name, events] of pending) {
      if (name === selected) continue;
      const st = await this.statusOf(name);
      if (st) lines.push(statusLine(name, statusItems(events, true), st));
    }
    if (canPush()) {
      for (const l of lines) out.push(l);
      return;
    }
    this.overflowed ||= overflowed;
    this.lists = [...lists, ...this.lists];
    for (const [name, events] of pending) for (const e of events) this.add(name, e);
  }

  /** The events the first group matching `name` asks for (non-selected filters). */
  private eventsFor(name: string): readonly NotifyEvent[] {
    for (const g of this.groups) if (g.filter.kind !== 'selected' && this.matches(g.filter, name)) return g.events;
    return [];
  }

  private matches(f: NotifyFilter, name: string): boolean {
    switch (f.kind) {
      case 'selected':
        return false;
      // §6.2: mailboxes that receive mail; Roost delivers to INBOX.
      case 'inboxes':
        return name === 'INBOX';
      case 'personal':
        return true;
      case 'subscribed':
        return this.subscribed?.has(name) ?? false;
      case 'subtree':
        return f.names.some((n) => name === n || name.startsWith(n + SEPARATOR));
      case 'mailboxes':
        return this.nameSet(f).has(name);
    }
  }

  /** Up to LIMITS.imap.notifyMaxMailboxes names, looked up once per journal record: a set, made once. */
  private nameSet(f: Extract<NotifyFilter, { names: readonly string[] }>): ReadonlySet<string> {
    let set = this.sets.get(f);
    if (!set) this.sets.set(f, (set = new Set(f.names)));
    return set;
  }

  /**
   * A notification is a courtesy, not an answer: a mailbox gone since the
   * event (its LIST (\NonExistent) says so, if asked for) or a failing
   * read skips the line rather than failing the command it rides with.
   */
  private async statusOf(name: string): Promise<MailboxStatus | null> {
    try {
      return await this.user.status(name);
    } catch (err) {
      if (!isRoostError(err, 'NOTFOUND')) this.log.warn({ err, mailbox: name }, 'NOTIFY status failed; notification skipped');
      return null;
    }
  }

  private onRecords(recs: readonly JournalRecord[]): void {
    const before = this.pending.size + this.lists.length;
    for (const r of recs) this.note(r);
    if (this.pending.size + this.lists.length > LIMITS.imap.notifyMaxPending) {
      // §5.8: too much to keep: say so once and behave as after NOTIFY NONE.
      this.none();
      this.overflowed = true;
    }
    if (this.hasPending && (this.overflowed || this.pending.size + this.lists.length !== before)) this.wake();
  }

  private note(r: JournalRecord): void {
    switch (r.kind) {
      case 'deliver':
        return this.message(r.data.mailbox, 'MessageNew');
      case 'expunge':
        return this.message(r.data.mailbox, 'MessageExpunge');
      case 'flags':
        return this.message(r.data.mailbox, 'FlagChange');
      case 'mailbox-create': {
        const name = r.data.mailbox;
        return this.list(name, () => listLine([], name));
      }
      case 'mailbox-delete': {
        const name = r.data.mailbox;
        return this.list(name, () => listLine(['\\NonExistent'], name));
      }
      case 'mailbox-rename': {
        const d = r.data;
        if (d.pairs === undefined) {
          // RFC 3501 §6.3.5: INBOX stays, its messages move to the new mailbox.
          this.message('INBOX', 'MessageExpunge');
          return this.list(d.to, () => listLine([], d.to));
        }
        for (const [f, t] of d.pairs) {
          if (this.subscribed?.delete(f)) this.subscribed.add(t);
          this.list(t, () => listLine([], t, f), f);
        }
        return;
      }
      case 'subscribe': {
        const name = r.data.mailbox;
        const on = r.data.subscribed;
        const matched = this.eventsFor(name).includes('SubscriptionChange');
        if (on) this.subscribed?.add(name);
        else this.subscribed?.delete(name);
        // §5.5: an unsubscribed name still matched `subscribed` a moment ago.
        if (matched || this.eventsFor(name).includes('SubscriptionChange')) this.lists.push(listLine(on ? ['\\Subscribed'] : [], name));
        return;
      }
      default:
        return;
    }
  }

  private message(name: string, event: MessageEvent): void {
    if (name === this.selected() || !this.eventsFor(name).includes(event)) return;
    this.add(name, event);
  }

  private add(name: string, event: MessageEvent): void {
    let set = this.pending.get(name);
    if (!set) this.pending.set(name, (set = new Set()));
    set.add(event);
  }

  /** A MailboxName notification (§5.4) when `name` (or the old name of a rename) is watched for it. */
  private list(name: string, line: () => Buffer, oldName?: string): void {
    const watched = this.eventsFor(name).includes('MailboxName') || (oldName !== undefined && this.eventsFor(oldName).includes('MailboxName'));
    if (watched) this.lists.push(line());
  }
}
