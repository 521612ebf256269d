/**
 * Directory metrics (prom-client default register, scraped at GET /metrics).
 * `backend` is "sqlite" or "ldap" so both backends can share the names.
 */
import { Counter, Gauge } from 'prom-client';

export const directoryLookups = new Counter({
  name: 'roost_directory_lookups_total',
  help: 'Directory lookups by kind (recipient, login, id) and result (found, rejected, deferred, ok, failed, refused, unavailable)',
  labelNames: ['backend', 'kind', 'result'] as const,
});

export const directoryCacheHits = new Counter({
  name: 'roost_directory_cache_hits_total',
  help: 'Recipient lookups answered from the cache, by cache (positive, negative)',
  labelNames: ['backend', 'cache'] as const,
});

export const directoryErrors = new Counter({
  name: 'roost_directory_errors_total',
  help: 'Directory operations that failed for a reason other than the answer (connection, timeout, server error)',
  labelNames: ['backend', 'op'] as const,
});

export const directoryUp = new Gauge({
  name: 'roost_directory_up',
  help: '1 when the directory answered its last request, 0 while it is unreachable',
  labelNames: ['backend'] as const,
});
