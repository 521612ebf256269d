/**
 * A small in-memory stand-in for the store's journal and replication surface,
 * so the replication layer (handshake, streaming, acks, role changes) can be
 * exercised over real TLS sockets in one process without the Maildir store.
 * Deliveries are records with their bytes; apply keeps the primary's LSNs.
 */
import { Readable } from 'node:stream';
import type { JournalRecord, Store } from '../../src/store/store.js';
import { RoostError } from '../../src/errors.js';

export class MemStore {
  records: JournalRecord[] = [];
  bodies = new Map<bigint, Buffer>();
  epoch = 1;
  writable = true;
  applied = 0n;
  applyDelayMs = 0;
  /** Slow journal reads on the primary: records are acknowledged (async) before they can be shipped. */
  readDelayMs = 0;
  /** Offer ReplicationSupport.reset (full resync). */
  canReset = true;
  private listeners = new Set<(r: readonly JournalRecord[]) => void>();

  lastLsn(): bigint {
    return this.records.length ? this.records[this.records.length - 1]!.lsn : 0n;
  }

  /** A local write (primary). */
  write(accountId: string, body: Buffer | null, data: Record<string, unknown> = {}): JournalRecord {
    if (!this.writable) throw new RoostError('NOTPRIMARY', 'replica');
    const r: JournalRecord = { lsn: this.lastLsn() + 1n, epoch: this.epoch, time: Date.now(), accountId, kind: body ? 'deliver' : 'flags', data };
    this.records.push(r);
    if (body) this.bodies.set(r.lsn, body);
    for (const l of this.listeners) l([r]);
    return r;
  }

  asStore(): Store {
    const self = this;
    const apply = async (r: JournalRecord, body: Buffer | null): Promise<void> => {
      if (r.lsn <= self.applied) return;
      if (self.applyDelayMs) await new Promise((res) => setTimeout(res, self.applyDelayMs));
      self.records.push(r);
      if (body) self.bodies.set(r.lsn, body);
      self.applied = r.lsn;
    };
    return {
      lastLsn: () => self.lastLsn(),
      readJournal: async (after: bigint, limit: number) => {
        if (self.readDelayMs) await new Promise((res) => setTimeout(res, self.readDelayMs));
        return self.records.filter((r) => r.lsn > after).slice(0, limit);
      },
      onJournal: (l: (r: readonly JournalRecord[]) => void) => {
        self.listeners.add(l);
        return () => self.listeners.delete(l);
      },
      replication: {
        openDelivered: async (r: JournalRecord) => Readable.from([self.bodies.get(r.lsn) ?? Buffer.alloc(0)]),
        readDelivered: async (r: JournalRecord) => self.bodies.get(r.lsn) ?? Buffer.alloc(0),
        apply,
        applyBatch: async (items: readonly { record: JournalRecord; body: Buffer | null }[]) => {
          for (const it of items) await apply(it.record, it.body);
        },
        journalInfo: () => ({ firstLsn: String(self.records[0]?.lsn ?? 0n), lastLsn: String(self.lastLsn()), usedBytes: 0, maxBytes: null, pruned: 0 }),
        pinJournal: () => () => undefined,
        appliedLsn: () => self.applied,
        setEpoch: (e: number) => {
          self.epoch = e;
        },
        setWritable: (w: boolean) => {
          self.writable = w;
        },
        listAccountIds: async () => [],
        ...(self.canReset
          ? {
              reset: async () => {
                self.records = [];
                self.bodies.clear();
                self.applied = 0n;
              },
            }
          : {}),
      },
    } as unknown as Store;
  }
}
