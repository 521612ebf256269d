/** Replication metrics on prom-client's default registry (served by admin GET /metrics). */
import { Counter, Gauge, register } from 'prom-client';

function gauge(name: string, help: string): Gauge {
  return (register.getSingleMetric(name) as Gauge | undefined) ?? new Gauge({ name, help });
}

function counter(name: string, help: string): Counter {
  return (register.getSingleMetric(name) as Counter | undefined) ?? new Counter({ name, help });
}

export const metrics = {
  degraded: gauge('roost_replication_degraded', '1 while sync mode has degraded to async after a replica timeout'),
  primary: gauge('roost_replication_primary', '1 on the primary, 0 on a replica'),
  epoch: gauge('roost_replication_epoch', 'Current epoch of this node'),
  connected: gauge('roost_replication_connected', '1 while a replica is streaming from this primary (or this replica from its primary)'),
  lastLsn: gauge('roost_replication_last_lsn', 'Highest LSN in the local journal'),
  ackedLsn: gauge('roost_replication_acked_lsn', 'Highest LSN the replica has acknowledged (primary side)'),
  lagRecords: gauge('roost_replication_lag_records', 'Journal records not yet acknowledged by the replica'),
  syncTimeouts: counter('roost_replication_sync_timeouts_total', 'Writes whose replica ack did not come within sync_timeout_ms'),
  recordsShipped: counter('roost_replication_records_shipped_total', 'Journal records sent to the replica'),
  recordsApplied: counter('roost_replication_records_applied_total', 'Journal records applied from the primary'),
};
