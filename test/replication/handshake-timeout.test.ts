/**
 * replication.handshakeTimeoutMs at N and N+1: a replica whose primary
 * accepts the connection and then says nothing (not even TLS) holds each
 * attempt that long, then gives up and tries again. The replica is a
 * spawned node; its peer is a real TCP listener that never answers.
 */
import type net from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { silentListener, TIMER_SLACK_MS } from '../helpers/timing.js';
import { Pair, waitUntil } from './pair.js';

let pair: Pair | undefined;
let silent: Awaited<ReturnType<typeof silentListener>> | undefined;
afterAll(async () => {
  await pair?.cleanup();
  await silent?.close();
});

describe('replication.handshakeTimeoutMs', () => {
  it('a silent primary: each attempt is held the limit, not less, then dropped and retried', { timeout: 120_000 }, async () => {
    const N = LIMITS.replication.handshakeTimeoutMs;
    const held: number[] = [];
    const opened = new Map<net.Socket, number>();
    silent = await silentListener((s) => {
      opened.set(s, performance.now());
      s.resume(); // read and drop its ClientHello, so its close is seen
      s.once('close', () => held.push(performance.now() - opened.get(s)!));
    });
    const port = silent.port;
    pair = await Pair.create({ peerOf: (name, peer) => (name === 'b' ? `127.0.0.1:${port}` : `127.0.0.1:${peer}`) });
    await pair.start(pair.b);
    // The follower's attempts (a shorter start-up probe, if any, closes sooner): one held the whole limit, then the next one came.
    // The replica's clock starts at its connect, a little before our accept: the hold seen here may fall short of N by that much (allowed: 1 s).
    const least = N - 1000 - TIMER_SLACK_MS;
    await waitUntil('an attempt held to the limit and a retry', () => held.some((h) => h >= least) && silent!.accepted.length >= 2, N * 6);
    expect(Math.max(...held)).toBeGreaterThanOrEqual(least);
  });
});
