/**
 * Keeping the full-text index (./fts/fulltext.ts) current without a search
 * asking: a mailbox that received mail (any 'append' event: delivery,
 * APPEND, COPY/MOVE, replication, files picked up from disk) or that a
 * session opened (imported or reindexed mail, a Maildir dropped in) is
 * noted, and once it has been quiet for LIMITS.store.ftsQuietMs — or at the
 * latest LIMITS.store.ftsMaxDelayMs after it was first noted — it is caught
 * up by a paced background job, one mailbox at a time. A burst of
 * deliveries is therefore not slowed by indexing behind each message, and
 * a SEARCH BODY that comes later finds the index complete.
 *
 * A mailbox noted only for new mail remembers the new UIDs, and its
 * catch-up indexes just those: a burst into a mailbox of 100,000 messages
 * costs the burst, not a comparison of every UID with the index. One
 * opened (whose index may lack anything) or with more than
 * LIMITS.store.ftsMaxNotedUids new messages is compared whole.
 *
 * Bounded: at most LIMITS.store.ftsMaxQueued mailboxes wait; past that the
 * oldest is forgotten and is reconciled by its next search instead, as
 * before this existed.
 */
import { LIMITS } from '../limits.js';

/**
 * What a noted mailbox is caught up with: a way to run its catch-up (of the
 * UIDs given, or of everything the index lacks when null), or null when it
 * is gone.
 */
export type CatchUp = (uids: readonly number[] | null) => Promise<void> | null;

interface Waiting {
  run: CatchUp;
  /** New mail's UIDs since it was noted; null: compare the whole mailbox. */
  uids: number[] | null;
  first: number;
  last: number;
}

export class TextIndexer {
  private readonly waiting = new Map<string, Waiting>();
  private timer: NodeJS.Timeout | null = null;
  private busy = false;
  private closed = false;
  /** The job running now (close() waits for it). */
  private current: Promise<void> = Promise.resolve();

  constructor(private readonly warn: (msg: string, err: unknown) => void) {}

  /**
   * `key` (one mailbox) received the messages `appended`, or was opened
   * (null); `run` catches it up when it is due.
   */
  note(key: string, run: CatchUp, appended: readonly number[] | null = null): void {
    if (this.closed) return;
    const now = Date.now();
    const w = this.waiting.get(key);
    if (w) {
      w.last = now;
      w.run = run;
      w.uids = w.uids === null || appended === null ? null : w.uids.concat(appended);
    } else {
      if (this.waiting.size >= LIMITS.store.ftsMaxQueued) this.waiting.delete(this.waiting.keys().next().value as string);
      this.waiting.set(key, { run, uids: appended === null ? null : [...appended], first: now, last: now });
    }
    const noted = this.waiting.get(key)!;
    if (noted.uids !== null && noted.uids.length > LIMITS.store.ftsMaxNotedUids) noted.uids = null;
    this.arm();
  }

  /** Mailboxes waiting (status, tests). */
  get queued(): number {
    return this.waiting.size;
  }

  private arm(): void {
    if (this.timer || this.busy || this.closed || this.waiting.size === 0) return;
    this.timer = setTimeout(() => {
      this.timer = null;
      void this.tick();
    }, LIMITS.store.ftsQuietMs);
    // Never what keeps a process (a CLI tool, a test) alive.
    this.timer.unref();
  }

  private due(now: number): [string, Waiting] | null {
    for (const entry of this.waiting) {
      const w = entry[1];
      if (now - w.last >= LIMITS.store.ftsQuietMs || now - w.first >= LIMITS.store.ftsMaxDelayMs) return entry;
    }
    return null;
  }

  private async tick(): Promise<void> {
    this.busy = true;
    try {
      for (let next = this.due(Date.now()); next && !this.closed; next = this.due(Date.now())) {
        const [key, w] = next;
        this.waiting.delete(key);
        const job = w.run(w.uids);
        if (!job) continue;
        this.current = job.catch((err: unknown) => {
          // A mailbox deleted or an account moved while waiting is not worth a warning.
          if ((err as { code?: string }).code !== 'NOTFOUND') this.warn('store: background text indexing failed', err);
        });
        await this.current;
      }
    } finally {
      this.busy = false;
      this.arm();
    }
  }

  /** Stop noting and starting jobs (first step of closing the store). */
  stop(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
    this.waiting.clear();
  }

  /** The job running when stop() was called, ended (it stops at its next batch once the index is closed). */
  idle(): Promise<void> {
    return this.current;
  }
}
