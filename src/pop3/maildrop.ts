/**
 * The session's view of the maildrop (RFC 1939 §5): messages numbered 1..N
 * from the index snapshot taken at login, fixed for the whole session (a
 * delivery meanwhile does not renumber anything), plus the deletion marks
 * that QUIT applies in the UPDATE state. Nothing here touches a file.
 */
import type { MailboxSnapshot, MessageRecord, RecordedUidls } from '../store/store.js';
import type { UidlFormatter } from '../accounts/uidl-format.js';

export type Lookup =
  | { kind: 'ok'; record: MessageRecord }
  | { kind: 'nosuch' }
  | { kind: 'deleted' };

export class Maildrop {
  private readonly messages: readonly MessageRecord[];
  private readonly deleted: Uint8Array;
  private readonly retrieved: Uint8Array;
  private deletedCount = 0;
  private deletedOctets = 0;
  private readonly totalOctets: number;

  private readonly uidvalidity: number;

  private readonly recorded: ReadonlyMap<number, string> | null;

  /**
   * `format`: the account's UIDL form (./uidl-format.ts); the Maildir base
   * name when not given. `recorded`: UIDLs the old server answered (roost
   * import --pop3), which win for the messages they name — only while
   * INBOX keeps the UIDVALIDITY they were recorded under.
   */
  constructor(
    snapshot: MailboxSnapshot,
    private readonly format: UidlFormatter = (m) => m.basename,
    recorded: RecordedUidls | null = null,
  ) {
    this.messages = snapshot.messages;
    this.uidvalidity = snapshot.uidvalidity;
    this.recorded = recorded && recorded.uidvalidity === snapshot.uidvalidity ? recorded.byUid : null;
    this.deleted = new Uint8Array(this.messages.length);
    this.retrieved = new Uint8Array(this.messages.length);
    let total = 0;
    for (const m of this.messages) total += m.vsize;
    this.totalOctets = total;
  }

  /** Messages in the listing, deleted ones included (the numbering range). */
  get size(): number {
    return this.messages.length;
  }

  /** STAT: count and octets of the messages not marked deleted. */
  stat(): { count: number; octets: number } {
    return { count: this.messages.length - this.deletedCount, octets: this.totalOctets - this.deletedOctets };
  }

  /** Message `n` (1-based) for LIST/UIDL/RETR/TOP/DELE. */
  get(n: number): Lookup {
    if (!Number.isSafeInteger(n) || n < 1 || n > this.messages.length) return { kind: 'nosuch' };
    if (this.deleted[n - 1]) return { kind: 'deleted' };
    return { kind: 'ok', record: this.messages[n - 1]! };
  }

  /** The UIDL of a message (RFC 1939 §7). */
  uidl(m: MessageRecord): string {
    return this.recorded?.get(m.uid) ?? this.format(m, this.uidvalidity);
  }

  /** Every message not marked deleted, with its number, in order. */
  *live(): Generator<[number, MessageRecord]> {
    for (let i = 0; i < this.messages.length; i++) if (!this.deleted[i]) yield [i + 1, this.messages[i]!];
  }

  markDeleted(n: number): void {
    if (this.deleted[n - 1]) return;
    this.deleted[n - 1] = 1;
    this.deletedCount++;
    this.deletedOctets += this.messages[n - 1]!.vsize;
  }

  markRetrieved(n: number): void {
    this.retrieved[n - 1] = 1;
  }

  /** RSET: unmark all deletions (RFC 1939 §5). */
  reset(): void {
    this.deleted.fill(0);
    this.deletedCount = 0;
    this.deletedOctets = 0;
  }

  /** UIDs to expunge at QUIT. */
  deletedUids(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.messages.length; i++) if (this.deleted[i]) out.push(this.messages[i]!.uid);
    return out;
  }

  /**
   * UIDs retrieved with RETR (TOP does not count), kept,
   * and not yet \Seen: QUIT flags them \Seen as Dovecot does, so IMAP clients
   * of the same account see them as read.
   */
  seenUids(): number[] {
    const out: number[] = [];
    for (let i = 0; i < this.messages.length; i++) {
      const m = this.messages[i]!;
      if (this.retrieved[i] && !this.deleted[i] && !m.flags.includes('\\Seen')) out.push(m.uid);
    }
    return out;
  }
}
