/**
 * A man in the middle that terminates TLS towards both nodes (TlsRelay:
 * its own self-signed certificate each way, plaintext in between, rewriting
 * what the primary sends). Both TLS links come up — the replica does not
 * check certificates — but the handshake proofs are bound to the TLS session
 * (RFC 9266 tls-exporter), so they fail: nothing is applied on the replica,
 * the relay reads nothing about the nodes, and both sides' status says why.
 * The same pair connected directly replicates, so it is the relay that is
 * refused.
 */
import { afterEach, describe, expect, it } from 'vitest';
import { TlsRelay } from './proxy.js';
import { Pair, ports, qmqpSend, replStatus, testMessage, waitUntil } from './pair.js';

let pair: Pair | null = null;
let relay: TlsRelay | null = null;
afterEach(async () => {
  await relay?.close();
  await pair?.cleanup();
  relay = null;
  pair = null;
});

describe('a TLS-terminating relay between the nodes', () => {
  it('fails the handshake: nothing is applied or readable through it, both sides say why; direct, the same pair replicates', async () => {
    pair = await Pair.create({ ack: 'async' });
    relay = new TlsRelay(pair.a.replPort);
    await relay.listen();
    relay.rewrite = { from: 'relayed-body', to: 'altered-body' };
    (pair.b.overrides.replication as Record<string, unknown>).peer = `127.0.0.1:${relay.port}`;
    await pair.startBoth();
    const q = (await ports(pair.a)).qmqp!;
    expect((await qmqpSend(q, Buffer.from('Subject: relayed-body\r\n\r\nrelayed-body\r\n'), 's@x.net', ['alice@example.org']))[0]).toBe('K');

    await waitUntil('replica reports the refusal', async () => /TLS session/.test((await replStatus(pair!.b)).replication.lastError ?? ''));
    await waitUntil('primary reports the refusal', async () => /TLS session/.test((await replStatus(pair!.a)).replication.lastRefusal?.reason ?? ''));
    const a = (await replStatus(pair.a)).replication;
    const b = (await replStatus(pair.b)).replication;
    expect(relay.relayed).toBeGreaterThan(0);
    expect(a.lastRefusal.reason).toMatch(/knows replication\.secret but sees a different TLS session/);
    expect(b.lastError).toMatch(/peer refused: .*terminates TLS/);
    expect(b).toMatchObject({ connected: false, appliedLsn: '0', receivedLsn: '0', lastLsn: '0', clusterId: null });
    // The primary's journal holds its accounts and the delivery; none of it crossed.
    expect(a.connected).toBe(false);
    expect(Number(a.lastLsn)).toBeGreaterThan(0);
    // The relay saw the handshake only: no node state, no record, no body.
    const seen = relay.text();
    expect(seen).toMatch(/"t":"hello"/);
    expect(seen).not.toMatch(/nodeId|clusterId|relayed-body|"t":"rec"/);

    // Without the relay the same nodes, secret and data replicate.
    await pair.kill(pair.b);
    (pair.b.overrides.replication as Record<string, unknown>).peer = `127.0.0.1:${pair.a.replPort}`;
    await pair.start(pair.b);
    await waitUntil('direct link replicates', async () => (await replStatus(pair!.b)).replication.appliedLsn === a.lastLsn, 20_000);
  }, 90_000);
});
