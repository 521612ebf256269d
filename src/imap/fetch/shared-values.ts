/**
 * Per-message values derived from a message's bytes, shared by every session
 * of the process: rendered ENVELOPE / BODY / BODYSTRUCTURE (FETCH) and
 * decoded header blocks (SEARCH). A message's bytes never change under its
 * (mailbox, UIDVALIDITY, UID), so an entry is never stale; it only ages out.
 * Without it every UID FETCH 1:* (ENVELOPE BODYSTRUCTURE) reads and parses
 * each message's stored structure again (clients re-fetch these on every
 * resync), and every SEARCH FROM/HEADER reads every message file again.
 *
 * Two levels, so a lookup in a 100,000-message FETCH is one Map.get by UID
 * (no key string per message): mailboxes are kept least recently used first;
 * over the byte budget, the oldest entries of the least recently used
 * mailbox go first.
 */
import { LIMITS } from '../../limits.js';
import { searchHeaderSize, type SearchHeader } from '../../store/mime/search-header.js';

export interface StructureTexts {
  envelope?: string;
  body?: string;
  bodystructure?: string;
}

/** The values of one mailbox (one UIDVALIDITY), by UID. */
export interface MailboxValues<V> {
  get(uid: number): V | undefined;
  set(uid: number, value: V): void;
}

export class SharedValues<V> {
  private readonly boxes = new Map<string, Map<number, V>>();
  private bytes = 0;

  constructor(
    private readonly maxBytes: number,
    private readonly sizeOf: (v: V) => number,
  ) {}

  /** Look up once per command; the mailbox becomes the most recently used. */
  forMailbox(accountId: string, mailbox: string, uidvalidity: number): MailboxValues<V> {
    const key = `${accountId}\0${mailbox}\0${uidvalidity}`;
    let box = this.boxes.get(key);
    if (box) this.boxes.delete(key);
    else box = new Map();
    this.boxes.set(key, box);
    const values = box;
    return {
      get: (uid) => values.get(uid),
      set: (uid, value) => this.put(values, uid, value),
    };
  }

  private put(box: Map<number, V>, uid: number, value: V): void {
    const old = box.get(uid);
    if (old !== undefined) this.bytes -= this.sizeOf(old) + ENTRY_OVERHEAD;
    box.set(uid, value);
    this.bytes += this.sizeOf(value) + ENTRY_OVERHEAD;
    while (this.bytes > this.maxBytes) {
      const first = this.boxes.entries().next();
      if (first.done) break;
      const [key, oldest] = first.value;
      const entry = oldest.entries().next();
      if (entry.done) {
        if (oldest === box) break;
        this.boxes.delete(key);
        continue;
      }
      const [u, v] = entry.value;
      oldest.delete(u);
      this.bytes -= this.sizeOf(v) + ENTRY_OVERHEAD;
      if (oldest.size === 0 && oldest !== box) this.boxes.delete(key);
    }
  }
}

/** Rough per-entry bookkeeping (Map slot, object header) counted against the budget. */
const ENTRY_OVERHEAD = 64;

const STRUCTURE_TEXT_BYTES = LIMITS.tuning.structureTextCacheBytes;

const textsSize = (t: StructureTexts): number => (t.envelope?.length ?? 0) + (t.body?.length ?? 0) + (t.bodystructure?.length ?? 0);

export const structureTexts = new SharedValues<StructureTexts>(STRUCTURE_TEXT_BYTES, textsSize);

/** Decoded header blocks and their address forms for SEARCH (search/header.ts, search/evaluate.ts). */
export const decodedHeaderBlocks = new SharedValues<SearchHeader>(LIMITS.imap.searchHeaderCacheBytes, searchHeaderSize);

/** Values kept nowhere: for a view whose owner is unknown (no risk of mixing accounts). */
export function unshared<V>(): MailboxValues<V> {
  return { get: () => undefined, set: () => undefined };
}
