import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { LineReader, type LineResult } from '../../src/pop3/wire.js';

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
