/**
 * Change events per (account, mailbox). The store emits
 * after the journal commit and the index update, so a listener that reads
 * the snapshot in its callback sees the change. Keys use the mailbox's
 * internal id, so a rename does not mix the streams of two mailboxes.
 */
import { EventEmitter } from 'node:events';
import type { MailboxEvent } from './types.js';

export type MailboxListener = (event: MailboxEvent) => void;

export class ChangeHub {
  private readonly emitters = new Map<string, EventEmitter>();

  /** warn: where a failing listener is reported (the store's log). */
  constructor(private readonly warn: (msg: string, err: unknown) => void) {}

  static key(accountId: string, mailboxId: number): string {
    return `${accountId}\u0000${mailboxId}`;
  }

  on(key: string, listener: MailboxListener): () => void {
    let em = this.emitters.get(key);
    if (!em) {
      em = new EventEmitter();
      // Thousands of IMAP sessions may watch one shared mailbox.
      em.setMaxListeners(0);
      this.emitters.set(key, em);
    }
    em.on('change', listener);
    return () => {
      const e = this.emitters.get(key);
      if (!e) return;
      e.off('change', listener);
      if (e.listenerCount('change') === 0) this.emitters.delete(key);
    };
  }

  listeners(key: string): number {
    return this.emitters.get(key)?.listenerCount('change') ?? 0;
  }

  /** Deliver to every listener; one listener throwing does not stop the others or the commit. */
  emit(key: string, event: MailboxEvent): void {
    const em = this.emitters.get(key);
    if (!em) return;
    for (const l of em.listeners('change') as MailboxListener[]) {
      try {
        l(event);
      } catch (err) {
        this.warn('store: event listener failed', err);
      }
    }
  }
}
