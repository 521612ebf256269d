/** Delivery metrics (QMQP per message, LMTP per recipient, `roost deliver`), on prom-client's default register. */
import { Counter, Histogram } from 'prom-client';

export const deliveries = new Counter({
  name: 'roost_deliveries_total',
  help: 'Delivery attempts by result (K accepted, Z temporary failure, D permanent failure) and path',
  labelNames: ['result', 'via'] as const,
});

export const deliveredBytes = new Counter({
  name: 'roost_delivered_bytes_total',
  help: 'Bytes of accepted messages (as stored, including the Received line), counted once per message',
  labelNames: ['via'] as const,
});

export const deliveryLatency = new Histogram({
  name: 'roost_delivery_duration_seconds',
  help: 'From end of input to the verdict (recipient lookup, fsyncs, index commit, replica ack)',
  labelNames: ['result', 'via'] as const,
  buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
});

export const vacationReplies = new Counter({
  name: 'roost_vacation_replies_total',
  help: 'Vacation replies (RFC 3834) due after a delivery: sent, recent (already sent to that sender within delivery.vacation_days), failed',
  labelNames: ['result'] as const,
});
