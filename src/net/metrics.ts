/**
 * Metrics every listener shares (prom-client default register, scraped at
 * GET /metrics). Protocol servers inc() on accept and dec() on close.
 */
import { Gauge } from 'prom-client';

export const openConnections = new Gauge({
  name: 'roost_open_connections',
  help: 'Client connections currently open, by protocol',
  labelNames: ['protocol'] as const,
});
