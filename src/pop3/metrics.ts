/** POP3 metrics, on prom-client's default register (served by src/admin at /metrics). */
import { Counter, Gauge } from 'prom-client';

export const pop3Logins = new Counter({
  name: 'roost_pop3_logins_total',
  help: 'POP3 login attempts by result (ok, failed, refused, unavailable, throttled, in_use, error)',
  labelNames: ['result'] as const,
});

export const pop3MessagesRetrieved = new Counter({
  name: 'roost_pop3_messages_retrieved_total',
  help: 'Messages sent in full by RETR',
});

export const pop3BytesRetrieved = new Counter({
  name: 'roost_pop3_bytes_retrieved_total',
  help: 'Octets of message data sent by RETR and TOP (after CRLF conversion and dot-stuffing)',
});

export const pop3SessionsOpen = new Gauge({
  name: 'roost_pop3_sessions_open',
  help: 'POP3 connections currently open',
});

export const pop3MessagesDeleted = new Counter({
  name: 'roost_pop3_messages_deleted_total',
  help: 'Messages expunged at QUIT (UPDATE state)',
});
