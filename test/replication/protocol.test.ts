import { describe, expect, it } from 'vitest';
import { pino } from 'pino';
import { randomBytes } from 'node:crypto';
import net from 'node:net';
import { FrameDecoder, Link, encodeFrame, forkPoint, macEqual, newNonce, proofMac, receiveBody, type Frame, type Transcript } from '../../src/replication/protocol.js';
import { LIMITS } from '../../src/limits.js';
import { AckGate } from '../../src/replication/gate.js';
import { isRoostError } from '../../src/errors.js';
import { messageIdOf } from '../../src/replication/catchup.js';
import { compareManifests } from '../../src/replication/verify.js';

const silent = pino({ level: 'silent' });

describe('frame codec', () => {
  const frames: [Frame, Buffer | undefined][] = [
    [{ t: 'ack', lsn: '42' }, undefined],
    [{ t: 'rec', r: { lsn: '7', epoch: 2, time: 1, accountId: 'a@example.org', kind: 'deliver', data: { uid: 3 } } }, Buffer.from('Subject: x\r\n\r\nbody\r\n')],
    [{ t: 'hb', lastLsn: '9', committedLsn: '8', time: 5 }, undefined],
  ];
  const wire = Buffer.concat(frames.flatMap(([f, b]) => encodeFrame(f, b)));

  it('decodes whole input, split at every offset, and byte by byte', () => {
    const check = (chunks: Buffer[]): void => {
      const d = new FrameDecoder();
      const got = chunks.flatMap((c) => d.push(c));
      expect(got.map((m) => m.frame)).toEqual(frames.map(([f]) => f));
      expect(got[1]!.body.toString()).toBe('Subject: x\r\n\r\nbody\r\n');
      expect(got[0]!.body.length).toBe(0);
    };
    check([wire]);
    for (let i = 1; i < wire.length; i++) check([wire.subarray(0, i), wire.subarray(i)]);
    check([...wire].map((b) => Buffer.from([b])));
  });

  it('refuses oversized and malformed frames', () => {
    const big = Buffer.alloc(8);
    big.writeUInt32BE(2 * 1024 * 1024, 0);
    expect(() => new FrameDecoder().push(big)).toThrow(/header/);
    const bad = Buffer.alloc(8 + 3);
    bad.writeUInt32BE(3, 0);
    bad.write('{x}', 8);
    expect(() => new FrameDecoder().push(bad)).toThrow(/JSON/);
  });
});

describe('handshake limits in the frame decoder', () => {
  const { maxHandshakeFrame, maxHandshakeBytes } = LIMITS.replication;
  const sized = (total: number): Buffer => {
    // A frame of exactly `total` bytes: 8 of lengths, a small JSON header, the rest body.
    const header = Buffer.from(JSON.stringify({ t: 'ack', lsn: '1' }));
    const body = Buffer.alloc(total - 8 - header.length, 0x61);
    return Buffer.concat(encodeFrame({ t: 'ack', lsn: '1' }, body));
  };

  it('takes a frame of maxHandshakeFrame bytes before authentication and refuses one byte more at its length prefix', () => {
    expect(sized(maxHandshakeFrame).length).toBe(maxHandshakeFrame);
    expect(new FrameDecoder(true).push(sized(maxHandshakeFrame))).toHaveLength(1);
    // Only the 8 length bytes are needed to refuse: a 200 MB claim is cut before any of it is buffered.
    const claim = Buffer.alloc(8);
    claim.writeUInt32BE(10, 0);
    claim.writeUInt32BE(maxHandshakeFrame - 8 - 10 + 1, 4);
    expect(() => new FrameDecoder(true).push(claim)).toThrow(/before authentication/);
    claim.writeUInt32BE(200 * 1024 * 1024, 4);
    expect(() => new FrameDecoder(true).push(claim)).toThrow(/before authentication/);
  });

  it('caps the bytes of all handshake frames together at maxHandshakeBytes', () => {
    const d = new FrameDecoder(true);
    const frame = sized(1024);
    let taken = 0;
    for (let sent = 0; sent + frame.length <= maxHandshakeBytes; sent += frame.length) taken += d.push(frame).length;
    expect(taken).toBe(maxHandshakeBytes / 1024);
    expect(() => d.push(Buffer.alloc(1))).toThrow(/before authentication/);
  });

  it('lifts the caps once the peer proved the secret', () => {
    const d = new FrameDecoder(true);
    d.lift();
    expect(d.push(sized(maxHandshakeBytes * 4))).toHaveLength(1);
  });
});

describe('frame cap after authentication and chunked bodies (protocol version 3)', () => {
  const { maxFrameBody, bodyChunkBytes, maxSpoolFrameBody } = LIMITS.replication;
  const claim = (body: number): Buffer => {
    const header = Buffer.from(JSON.stringify({ t: 'chunk' }));
    const lengths = Buffer.alloc(8);
    lengths.writeUInt32BE(header.length, 0);
    lengths.writeUInt32BE(body, 4);
    return Buffer.concat([lengths, header]);
  };

  it('takes a frame body of maxFrameBody bytes and refuses one byte more at its length prefix', () => {
    expect(bodyChunkBytes).toBeLessThanOrEqual(maxFrameBody);
    const d = new FrameDecoder(true);
    d.lift();
    const ok = d.push(Buffer.concat(encodeFrame({ t: 'chunk' }, Buffer.alloc(maxFrameBody, 0x62))));
    expect(ok).toHaveLength(1);
    expect(ok[0]!.body.length).toBe(maxFrameBody);
    const e = new FrameDecoder(true);
    e.lift();
    // Only the lengths and header are needed to refuse: nothing of the body is waited for.
    expect(() => e.push(claim(maxFrameBody + 1))).toThrow(`frame body of ${maxFrameBody + 1} bytes (limit ${maxFrameBody})`);
    expect(() => new FrameDecoder().push(claim(256 * 1024 * 1024))).toThrow(/frame body of/);
  });

  it('the spool reader keeps the old cap, so bodies spooled inline before the upgrade still apply', () => {
    expect(new FrameDecoder(false, maxSpoolFrameBody).push(claim(maxFrameBody + 1))).toHaveLength(0);
    expect(() => new FrameDecoder(false, maxSpoolFrameBody).push(claim(maxSpoolFrameBody + 1))).toThrow(/frame body of/);
  });

  it('sends a body up to bodyChunkBytes inline and a larger one as chunk frames over a real socket', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const a = new Link(client);
    const b = new Link(await accepted);
    a.authenticated();
    b.authenticated();
    try {
      const rec = { t: 'rec' as const, r: { lsn: '1', epoch: 1, time: 1, accountId: 'a', kind: 'deliver' as const, data: {} } };
      const small = randomBytes(bodyChunkBytes);
      const large = randomBytes(bodyChunkBytes * 3 + 17);
      // The large one from a stream of odd-sized pieces, as a file would give them.
      async function* pieces(): AsyncGenerator<Buffer> {
        for (let off = 0; off < large.length; off += 100_000) yield large.subarray(off, off + 100_000);
      }
      const sent = Promise.all([a.sendBody(rec, small), a.sendBody(rec, pieces())]);
      const got: Buffer[] = [];
      const frames: string[] = [];
      for (let i = 0; i < 2; i++) {
        const first = await b.next(10_000);
        const parts: Buffer[] = [];
        frames.push(`${first.frame.t}${(first.frame as { chunked?: boolean }).chunked ? '+chunked' : ''}`);
        await receiveBody(b, first, async (piece) => {
          expect(piece.length).toBeLessThanOrEqual(bodyChunkBytes);
          parts.push(piece);
        }, 10_000);
        got.push(Buffer.concat(parts));
      }
      await sent;
      expect(frames).toEqual(['rec', 'rec+chunked']);
      expect(got[0]!.equals(small)).toBe(true);
      expect(got[1]!.equals(large)).toBe(true);
    } finally {
      a.close();
      b.close();
      server.close();
    }
  });

  it('a chunked body whose end names another byte count is refused', async () => {
    const server = net.createServer();
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const accepted = new Promise<net.Socket>((r) => server.once('connection', r));
    const client = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    const a = new Link(client);
    const b = new Link(await accepted);
    b.authenticated();
    try {
      await a.send({ t: 'snap-dir', chunked: true });
      await a.send({ t: 'chunk' }, Buffer.alloc(10));
      await a.send({ t: 'chunk-end', bytes: 11 });
      await expect(receiveBody(b, await b.next(10_000), async () => undefined, 10_000)).rejects.toThrow(/10 bytes, its end says 11/);
    } finally {
      a.close();
      b.close();
      server.close();
    }
  });
});

describe('handshake proofs', () => {
  it('bind the side, the purpose, both nonces and the TLS exporter value', () => {
    const secret = 'a-replication-secret-of-32-chars!';
    const t: Transcript = { purpose: 'follow', nonceC: newNonce(), nonceS: newNonce(), binding: randomBytes(32) };
    const c = proofMac(secret, 'C', t);
    expect(macEqual(c, proofMac(secret, 'C', { ...t }))).toBe(true);
    expect(macEqual(c, proofMac(secret + 'x', 'C', t))).toBe(false);
    expect(macEqual(c, proofMac(secret, 'S', t))).toBe(false);
    expect(macEqual(c, proofMac(secret, 'C', { ...t, purpose: 'verify' }))).toBe(false);
    expect(macEqual(c, proofMac(secret, 'C', { ...t, nonceC: t.nonceS, nonceS: t.nonceC }))).toBe(false);
    // Another TLS session (a relay's): the bound proof fails, the unbound one still matches.
    const relayed = { ...t, binding: randomBytes(32) };
    expect(macEqual(c, proofMac(secret, 'C', relayed))).toBe(false);
    expect(macEqual(proofMac(secret, 'C', t, false), proofMac(secret, 'C', relayed, false))).toBe(true);
    expect(macEqual(c, proofMac(secret, 'C', t, false))).toBe(false);
    expect(macEqual(c, 'zz')).toBe(false);
    expect(macEqual(42, c)).toBe(false);
  });
});

describe('fork point (DRBD generation identifiers)', () => {
  const h = (...p: [number, number][]): { epoch: number; startLsn: string }[] => p.map(([epoch, s]) => ({ epoch, startLsn: String(s) }));
  it('a follower on the same line catches up', () => {
    expect(forkPoint(h([1, 1], [2, 50]), h([1, 1]), 40n)).toBeNull();
    expect(forkPoint(h([1, 1], [2, 50]), h([1, 1], [2, 50]), 70n)).toBeNull();
    expect(forkPoint(h([1, 1]), [], 0n)).toBeNull();
  });
  it('an old primary that wrote past the promotion point diverged there', () => {
    expect(forkPoint(h([1, 1], [2, 50]), h([1, 1]), 55n)).toBe(50n);
    expect(forkPoint(h([1, 1], [2, 50]), h([1, 1]), 50n)).toBe(50n);
  });
  it('an orphaned epoch diverges at its own start', () => {
    expect(forkPoint(h([1, 1], [3, 60]), h([1, 1], [2, 45]), 70n)).toBe(45n);
  });
});

describe('ack gate', () => {
  const gate = (over: Partial<ConstructorParameters<typeof AckGate>[0]> = {}): AckGate =>
    new AckGate({ enabled: true, ack: 'sync', syncTimeoutMs: 200, onSyncTimeout: 'tempfail', lastLsn: () => 10n, isPrimary: () => true, log: silent, ...over });

  it('releases every waiter at or below one ack (group commit)', async () => {
    const g = gate();
    const done: number[] = [];
    const ws = [3n, 1n, 2n, 5n].map((l) => g.waitFor(l).then(() => done.push(Number(l))));
    await new Promise((r) => setTimeout(r, 10));
    expect(done).toEqual([]);
    g.onAck(3n);
    await Promise.all(ws.slice(0, 3));
    expect(done.sort()).toEqual([1, 2, 3]);
    expect(g.pending).toBe(1);
    g.onAck(5n);
    await ws[3];
    expect(g.committedLsn).toBe(5n);
  });

  it('tempfail: a missing ack rejects with TEMP and nothing else changes', async () => {
    const g = gate();
    const err = await g.waitFor(4n).catch((e: unknown) => e);
    expect(isRoostError(err, 'TEMP')).toBe(true);
    expect(g.degraded).toBe(false);
    expect(g.committedLsn).toBe(0n);
  });

  it('degrade: a missing ack releases waiters, then later writes pass at once until caught up', async () => {
    let last = 4n;
    const g = gate({ onSyncTimeout: 'degrade', lastLsn: () => last });
    await g.waitFor(4n);
    expect(g.degraded).toBe(true);
    last = 6n;
    await g.waitFor(6n);
    g.onAck(5n);
    expect(g.degraded).toBe(true);
    g.onAck(6n);
    expect(g.degraded).toBe(false);
  });

  it('async mode and disabled replication never wait; a replica refuses', async () => {
    await gate({ ack: 'async' }).waitFor(9n);
    await gate({ enabled: false }).waitFor(9n);
    const g = gate({ isPrimary: () => false });
    expect(g.writable).toBe(false);
    expect(isRoostError(await g.waitFor(1n).catch((e: unknown) => e), 'NOTPRIMARY')).toBe(true);
  });

  it('keeps no copy of the role: it reads its owner, and a step-down fails the writes waiting', async () => {
    let role: 'primary' | 'replica' = 'primary';
    const g = gate({ isPrimary: () => role === 'primary' });
    expect(g.writable).toBe(true);
    const waiting = g.waitFor(11n).catch((e: unknown) => e);
    role = 'replica';
    expect(g.writable).toBe(false);
    expect(isRoostError(await g.waitFor(12n).catch((e: unknown) => e), 'NOTPRIMARY')).toBe(true);
    g.steppedDown();
    expect(isRoostError(await waiting, 'NOTPRIMARY')).toBe(true);
    role = 'primary';
    expect(g.writable).toBe(true);
    g.onAck(13n);
    await g.waitFor(13n);
  });
});

describe('hand-back helpers and verify comparison', () => {
  it('finds Message-ID in the header block only, with folding', () => {
    expect(messageIdOf(Buffer.from('Subject: a\r\nMessage-ID:\r\n <x@y>\r\n\r\nMessage-ID: <no>\r\n'))).toBe('<x@y>');
    expect(messageIdOf(Buffer.from('Subject: a\n\nMessage-ID: <no>\n'))).toBeNull();
  });
  it('lists every kind of difference', () => {
    const base = { accountId: 'a', mailbox: 'INBOX', uidvalidity: 1, uidnext: 3, messages: [[1, 'f1', '\\Seen', '5', 'aa'], [2, 'f2', '', '6', 'bb']] as [number, string, string, string, string][] };
    expect(compareManifests([base], [structuredClone(base)]).identical).toBe(true);
    const other = structuredClone(base);
    other.uidnext = 4;
    other.messages[0]![2] = '';
    other.messages[1]![4] = 'cc';
    const r = compareManifests([base], [other, { ...base, mailbox: 'Sent', messages: [] }]);
    expect(r.identical).toBe(false);
    expect(r.differences.join('\n')).toMatch(/UIDNEXT 3 here, 4/);
    expect(r.differences.join('\n')).toMatch(/UID 1: flags/);
    expect(r.differences.join('\n')).toMatch(/UID 2: content differs/);
    expect(r.differences.join('\n')).toMatch(/"Sent": only on peer/);
  });
});
