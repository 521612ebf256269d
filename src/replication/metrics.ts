/** Replication metrics on prom-client's default registry (served by admin GET /metrics). */
import { Counter, Gauge, register } from 'prom-client';

function gauge(name: string, help: string): Gauge {
  return (register.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help });
}

function counter(name: string, help: string): Counter {
  return (register.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help });
}

/** What the scrape-time gauges read (the node's replication status); set by the Replication component. */
let statusSource: (() => ReplicationStatusLike) | null = null;

interface ReplicationStatusLike {
  lastLsn: string;
  lag: { records: number };
  journal: { firstLsn: string; usedBytes: number };
  snapshot: unknown;
  replicaNeedsResync: boolean;
}

export function setStatusSource(fn: (() => ReplicationStatusLike) | null): void {
  statusSource = fn;
  scraped = null;
}

/** One status per scrape: every live gauge's collect() in the same turn of the event loop shares it. */
let scraped: ReplicationStatusLike | null = null;
function scrapeStatus(): ReplicationStatusLike | null {
  if (!scraped && statusSource) {
    scraped = statusSource();
    setImmediate(() => {
      scraped = null;
    });
  }
  return scraped;
}

/** A gauge whose value is read from the status at scrape time. */
function live(name: string, help: string, read: (s: ReplicationStatusLike) => number): Gauge {
  const existing = register.getSingleMetric(name) as Gauge | undefined;
  if (existing) return existing;
  return new Gauge({
    name,
    help,
    collect() {
      const s = scrapeStatus();
      if (s) this.set(read(s));
    },
  });
}

export const metrics = {
  degraded: gauge('roost_replication_degraded', '1 while sync mode has degraded to async after a replica timeout'),
  primary: gauge('roost_replication_primary', '1 on the primary, 0 on a replica'),
  epoch: gauge('roost_replication_epoch', 'Current epoch of this node'),
  connected: gauge('roost_replication_connected', '1 while a replica is streaming from this primary (or this replica from its primary)'),
  lastLsn: live('roost_replication_last_lsn', 'Highest LSN in the local journal', (s) => Number(s.lastLsn)),
  ackedLsn: gauge('roost_replication_acked_lsn', 'Highest LSN the replica has acknowledged (primary side)'),
  lagRecords: live('roost_replication_lag_records', 'Journal records not yet acknowledged by the replica (primary) or not yet applied (replica)', (s) => s.lag.records),
  journalBytes: live('roost_journal_bytes', 'Bytes the journal occupies (bounded by replication.journal_max_bytes)', (s) => s.journal.usedBytes),
  journalFirstLsn: live('roost_journal_first_lsn', 'Lowest LSN still in the journal (older records were pruned)', (s) => Number(s.journal.firstLsn)),
  snapshotActive: live('roost_replication_snapshot_active', '1 while a full-resync snapshot is being sent or installed', (s) => (s.snapshot ? 1 : 0)),
  replicaNeedsResync: live('roost_replication_replica_needs_resync', '1 on a primary whose replica fell out of the journal (full resync on its next connect)', (s) => (s.replicaNeedsResync ? 1 : 0)),
  syncTimeouts: counter('roost_replication_sync_timeouts_total', 'Writes whose replica ack did not come within sync_timeout_ms'),
  recordsShipped: counter('roost_replication_records_shipped_total', 'Journal records sent to the replica'),
  recordsReadBack: counter(
    'roost_replication_records_read_back_total',
    'Journal records the shipper read from the journal database (a follower catching up); live records are shipped as committed',
  ),
  recordsApplied: counter('roost_replication_records_applied_total', 'Journal records applied from the primary'),
};
