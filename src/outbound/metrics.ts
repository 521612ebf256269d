/** Outbound hand-off metrics (smarthosts and cluster peers), on prom-client's default register. */
import { Counter, Histogram } from 'prom-client';

export const handoffs = new Counter({
  name: 'roost_outbound_handoffs_total',
  help: 'Hand-offs of one message by outcome (accepted by a peer for every recipient, temporary, permanent) and kind (smtp, qmqp)',
  labelNames: ['result', 'kind'] as const,
});

export const handoffRecipients = new Counter({
  name: 'roost_outbound_recipients_total',
  help: 'Recipients handed off, by outcome (accepted, temporary, permanent) and kind',
  labelNames: ['status', 'kind'] as const,
});

export const handoffAttempts = new Counter({
  name: 'roost_outbound_attempts_total',
  help: 'Sessions with a peer, by peer and whether it decided every recipient it was given (decided) or not (failed)',
  labelNames: ['peer', 'result'] as const,
});

export const handoffLatency = new Histogram({
  name: 'roost_outbound_duration_seconds',
  help: 'From the first connection attempt to the outcome of a hand-off',
  labelNames: ['result', 'kind'] as const,
  buckets: [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
});
