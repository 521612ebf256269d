import net from 'node:net';
import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineReader, Output, type LineResult } from '../../src/pop3/wire.js';

/** Feed `input` in the given pieces and read every line until EOF. */
async function readAll(pieces: Buffer[], maxLine: number): Promise<LineResult[]> {
  const src = new PassThrough();
  const reader = new LineReader(maxLine, 64);
  reader.attach(src);
  const out: LineResult[] = [];
  const done = (async () => {
    for (;;) {
      const r = await reader.readLine();
      out.push(r);
      if (r.kind === 'eof') return;
    }
  })();
  for (const p of pieces) {
    src.write(p);
    await new Promise((r) => setImmediate(r));
  }
  src.end();
  await done;
  return out;
}

const split = (b: Buffer, at: number[]): Buffer[] => {
  const out: Buffer[] = [];
  let prev = 0;
  for (const a of [...at, b.length]) {
    out.push(b.subarray(prev, a));
    prev = a;
  }
  return out.filter((x) => x.length > 0);
};

describe('LineReader', () => {
  const input = Buffer.from('USER alice\r\nPASS p w\r\nbare lf\n\r\nNOOP\r\n' + 'x'.repeat(10) + '\r\n' + 'y'.repeat(11) + '\r\n' + 'z'.repeat(40) + '\r\nQUIT\r\npartial');
  const want: LineResult[] = [
    { kind: 'line', text: 'USER alice' },
    { kind: 'line', text: 'PASS p w' },
    { kind: 'line', text: 'bare lf' },
    { kind: 'line', text: '' },
    { kind: 'line', text: 'NOOP' },
    { kind: 'line', text: 'x'.repeat(10) }, // exactly the limit
    { kind: 'tooLong' }, // limit + 1
    { kind: 'tooLong' }, // far over, skipped to its LF
    { kind: 'line', text: 'QUIT' },
    { kind: 'eof' }, // the partial last line is dropped
  ];

  it('whole, split at every offset, byte by byte', async () => {
    expect(await readAll([input], 10)).toEqual(want);
    for (let i = 1; i < input.length; i++) expect(await readAll(split(input, [i]), 10)).toEqual(want);
    expect(await readAll(split(input, Array.from({ length: input.length }, (_, i) => i)), 10)).toEqual(want);
  });

  it('detach hands back unread input (what STLS throws away)', async () => {
    const src = new PassThrough();
    const reader = new LineReader(100, 1000);
    reader.attach(src);
    src.write('STLS\r\nUSER injected\r\n');
    expect(await reader.readLine()).toEqual({ kind: 'line', text: 'STLS' });
    expect(reader.peekLines(5)).toEqual(['USER injected']);
    expect(reader.detach().toString()).toBe('USER injected\r\n');
  });
});

describe('Output', () => {
  /** A connected pair of loopback sockets; `received` collects what the far end got. */
  async function pair(): Promise<{ near: net.Socket; received: () => string; arrived: (n: number) => Promise<void>; close: () => void }> {
    let got = '';
    let wake: (() => void) | null = null;
    const server = net.createServer();
    const far = new Promise<net.Socket>((resolve) => server.once('connection', resolve));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const near = net.connect((server.address() as net.AddressInfo).port, '127.0.0.1');
    await new Promise<void>((r) => near.once('connect', r));
    const f = await far;
    f.on('data', (d) => {
      got += d.toString('latin1');
      wake?.();
    });
    return {
      near,
      received: () => got,
      arrived: async (n) => {
        const until = Date.now() + 10_000;
        while (got.length < n && Date.now() < until) await new Promise<void>((r) => ((wake = r), setTimeout(r, 100)));
      },
      close: () => {
        near.destroy();
        f.destroy();
        server.close();
      },
    };
  }

  it('holds replies below the batch size until flush, sends a full batch (N and N+1 octets) at once, in order', async () => {
    const p = await pair();
    try {
      const out = new Output(p.near, 10);
      // 9 octets: under the batch size, nothing is handed to the socket.
      await out.write('+OK 1\r\n', 'ab');
      expect(p.near.bytesWritten).toBe(0);
      await out.flush();
      await p.arrived(9);
      expect(p.received()).toBe('+OK 1\r\nab');
      // Exactly 10 octets: the batch is full and goes out by itself.
      await out.write('0123456789');
      await p.arrived(19);
      expect(p.received()).toBe('+OK 1\r\nab0123456789');
      // 11 octets in three pieces: one batch, the pieces in order.
      await out.write('abc', 'defg', 'hijk');
      await p.arrived(30);
      expect(p.received()).toBe('+OK 1\r\nab0123456789abcdefghijk');
      // push() hands over without waiting (before end()).
      await out.write('.\r\n');
      out.push();
      await p.arrived(33);
      expect(p.received().endsWith('hijk.\r\n')).toBe(true);
    } finally {
      p.close();
    }
  });

  it('after the socket is gone, writes resolve and nothing is queued', async () => {
    const p = await pair();
    const out = new Output(p.near, 10);
    p.near.destroy();
    await out.write('x'.repeat(100));
    await out.flush();
    expect(p.near.destroyed).toBe(true);
    p.close();
  });
});
