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
  /** Read from the role's owner at each write (ReplicationSupport.followRole). */
  writableSource: () => boolean = () => true;
  get writable(): boolean {
    return this.writableSource();
  }
  applied = 0n;
  applyDelayMs = 0;
  /**
   * Slow reads on the primary, of the journal and of bodies: records are acknowledged (async)
   * before they can be shipped (live records are shipped as announced, their bodies still read).
   */
  readDelayMs = 0;
  /** Offer ReplicationSupport.reset (full resync). */
  canReset = true;
  private listeners = new Set<(r: readonly JournalRecord[]) => void>();

  lastLsn(): bigint {
    return this.records.length ? this.records[this.records.length - 1]!.lsn : 0n;
  }

  /** A local write (primary): a delivery of `body`, or a flag change. `extra` fields ride along in the record's data. */
  write(accountId: string, body: Buffer | null, extra: Record<string, unknown> = {}): JournalRecord {
    if (!this.writable) throw new RoostError('NOTPRIMARY', 'replica');
    const lsn = this.lastLsn() + 1n;
    const head = { lsn, epoch: this.epoch, time: Date.now(), accountId };
    // Well-formed data of each kind: the replica decodes what it receives (src/store/journal/codec.ts).
    const mailbox = { maildir: `/mem/${accountId}`, mailbox: 'INBOX', uidvalidity: 1, modseq: lsn.toString() };
    const r: JournalRecord = body
      ? {
          ...head,
          kind: 'deliver',
          data: { ...mailbox, ...extra, uid: Number(lsn), basename: `m${lsn}`, filename: `new/m${lsn}`, flags: [], internalDate: head.time, size: body.length, vsize: body.length },
        }
      : { ...head, kind: 'flags', data: { ...mailbox, ...extra, updates: [] } };
    this.records.push(r);
    if (body) this.bodies.set(r.lsn, body);
    for (const l of this.listeners) l([r]);
    return r;
  }

  /** Append a record as given (one this release may not be able to read) and announce it. */
  writeRaw(r: JournalRecord): void {
    this.records.push(r);
    for (const l of this.listeners) l([r]);
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
        openDelivered: async (r: JournalRecord) => {
          if (self.readDelayMs) await new Promise((res) => setTimeout(res, self.readDelayMs));
          return Readable.from([self.bodies.get(r.lsn) ?? Buffer.alloc(0)]);
        },
        readDelivered: async (r: JournalRecord) => {
          if (self.readDelayMs) await new Promise((res) => setTimeout(res, self.readDelayMs));
          return self.bodies.get(r.lsn) ?? Buffer.alloc(0);
        },
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
        followRole: (isPrimary: () => boolean) => {
          self.writableSource = isPrimary;
        },
        setWritable: (w: boolean) => {
          self.writableSource = () => w;
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
