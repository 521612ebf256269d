/**
 * RFC 1939 §3 and §7 byte for byte over a seeded random corpus and the
 * golden MIME fixtures: every RETR and TOP reply read off a real socket is
 * compared with a reference built here one byte at a time (a bare LF gains
 * a CR, CRLF and a bare CR stay, a "." at a line start is doubled, the reply
 * ends with CRLF "." CRLF, one CRLF more when the last line has no line end).
 * The random messages mix LF-only, CRLF-only and mixed line ends, lines of
 * dots, bare CRs, no final line end, and sizes below and above
 * LIMITS.pop3.readWholeMaxBytes (read whole or streamed), so each of the
 * bulk conversions in src/pop3/dotstuff.ts and the read-ahead of pipelined
 * commands is checked against the same reference.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { RawClient } from '../helpers/pop3-client.js';
import { rng } from '../helpers/rng.js';
import { mailboxNode } from './helpers.js';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/** One random message; `style` picks its line ends, `bytes` its rough size. */
function randomMessage(r: () => number, style: 'lf' | 'crlf' | 'mixed', bytes: number): Buffer {
  const end = (): string => (style === 'lf' ? '\n' : style === 'crlf' ? '\r\n' : ['\n', '\r\n', '\r\n', '\r\r\n'][Math.floor(r() * 4)]!);
  // Some start with a dot line (no header at all): the very first byte is stuffed.
  const parts: string[] = r() < 0.1 ? [`.starts with a dot${end()}`] : [];
  parts.push(`From: a@example.org${end()}`, `Subject: random ${Math.floor(r() * 1e6)}${end()}`, end());
  let size = 0;
  while (size < bytes) {
    const pick = r();
    let line: string;
    if (pick < 0.1) line = '.';
    else if (pick < 0.18) line = `.${'.'.repeat(Math.floor(r() * 3))}dot line`;
    else if (pick < 0.22) line = '';
    else if (pick < 0.26 && style === 'mixed') line = `bare\rCR inside`;
    else if (pick < 0.28) line = 'x'.repeat(200 + Math.floor(r() * 3000));
    else line = 'text '.repeat(1 + Math.floor(r() * 20)).trimEnd();
    parts.push(line + end());
    size += line.length + 2;
  }
  let s = parts.join('');
  // Some end without a line end, some in a lone "." line or a bare CR.
  const tail = r();
  if (tail < 0.2) s = s.replace(/\r?\n$/, '');
  else if (tail < 0.3) s += '.';
  else if (tail < 0.35 && style === 'mixed') s += 'last\r';
  return Buffer.from(s, 'latin1');
}

/** The message's lines, each with its line end (LF, with a CR before it when the message had one); the last may have none. */
function splitLines(m: Buffer): Buffer[] {
  const out: Buffer[] = [];
  let start = 0;
  for (let i = 0; i < m.length; i++) {
    if (m[i] === LF) {
      out.push(m.subarray(start, i + 1));
      start = i + 1;
    }
  }
  if (start < m.length) out.push(m.subarray(start));
  return out;
}

/** A line as sent: a bare LF gains a CR, a leading "." another ".". */
function wireLine(line: Buffer): number[] {
  const bytes: number[] = [];
  if (line[0] === DOT) bytes.push(DOT);
  for (let i = 0; i < line.length; i++) {
    if (line[i] === LF && (i === 0 || line[i - 1] !== CR)) bytes.push(CR);
    bytes.push(line[i]!);
  }
  return bytes;
}

function reply(lines: Buffer[]): Buffer {
  const bytes: number[] = [];
  for (const l of lines) for (const b of wireLine(l)) bytes.push(b);
  const complete = bytes.length === 0 || bytes[bytes.length - 1] === LF;
  for (const b of Buffer.from(complete ? '.\r\n' : '\r\n.\r\n', 'latin1')) bytes.push(b);
  return Buffer.from(bytes);
}

/** A line with nothing on it but its line end (CRLF or LF). */
const blank = (l: Buffer): boolean => (l.length === 1 && l[0] === LF) || (l.length === 2 && l[0] === CR && l[1] === LF);

function topReference(m: Buffer, n: number): Buffer {
  const ls = splitLines(m);
  const b = ls.findIndex(blank);
  return reply(b < 0 ? ls : ls.slice(0, b + 1 + n));
}

/** RFC 1939 §11: the size with CRLF line ends (a bare CR is one octet as it is). */
function vsize(m: Buffer): number {
  let n = m.length;
  for (let i = 0; i < m.length; i++) if (m[i] === LF && (i === 0 || m[i - 1] !== CR)) n++;
  return n;
}

const r = rng(16_1939);
const RANDOM: Buffer[] = [];
for (let i = 0; i < 90; i++) {
  const style = (['lf', 'crlf', 'mixed'] as const)[i % 3];
  // Mostly small (read whole); every fifteenth above readWholeMaxBytes (streamed in chunks).
  const size = i % 15 === 14 ? LIMITS.pop3.readWholeMaxBytes + Math.floor(r() * 200_000) : Math.floor(r() * 20_000);
  RANDOM.push(randomMessage(r, style, size));
}
const FIXTURE_DIR = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../mime/fixtures');
const FIXTURES = readdirSync(FIXTURE_DIR)
  .filter((f) => f.endsWith('.eml'))
  .sort()
  .map((f) => readFileSync(path.join(FIXTURE_DIR, f)));
const MESSAGES = [...RANDOM, ...FIXTURES];

describe('RETR and TOP byte for byte: a seeded random corpus and the golden MIME fixtures (RFC 1939 §3, §7)', () => {
  const box = mailboxNode('corpus@example.org', MESSAGES, 120_000);
  const session = (): Promise<RawClient> => box.session();

  it('the corpus has what it is meant to test', () => {
    expect(FIXTURES.length).toBeGreaterThanOrEqual(70);
    const all = Buffer.concat(RANDOM).toString('latin1');
    expect(all).toMatch(/\n\./);
    expect(all).toMatch(/[^\r]\n/);
    expect(all).toMatch(/\r[^\n]/);
    expect(RANDOM.some((m) => m[m.length - 1] !== LF)).toBe(true);
    expect(RANDOM.some((m) => m[0] === DOT)).toBe(true);
    expect(RANDOM.filter((m) => m.length > LIMITS.pop3.readWholeMaxBytes).length).toBeGreaterThanOrEqual(5);
  });

  it('every RETR, pipelined in one write, then the same one at a time', async () => {
    const c = await session();
    c.socket.write(MESSAGES.map((_, i) => `RETR ${i + 1}\r\n`).join('') + 'NOOP\r\n');
    for (const [i, m] of MESSAGES.entries()) {
      expect(await c.line(60_000), `RETR ${i + 1}`).toBe(`+OK ${vsize(m)} octets`);
      expect((await c.multiRaw(60_000)).equals(reply(splitLines(m))), `RETR ${i + 1} bytes`).toBe(true);
    }
    expect(await c.line()).toBe('+OK');
    for (const [i, m] of MESSAGES.entries()) {
      expect(await c.cmd(`RETR ${i + 1}`)).toBe(`+OK ${vsize(m)} octets`);
      expect((await c.multiRaw(60_000)).equals(reply(splitLines(m))), `RETR ${i + 1} bytes, alone`).toBe(true);
    }
    c.destroy();
  }, 180_000);

  it('TOP with random line counts, pipelined out of order', async () => {
    const c = await session();
    const tr = rng(7);
    const asks = MESSAGES.map((_, i) => ({ i, n: [0, 1, 2, 5, 40, 100_000][Math.floor(tr() * 6)]! }));
    for (let k = asks.length - 1; k > 0; k--) {
      const j = Math.floor(tr() * (k + 1));
      [asks[k], asks[j]] = [asks[j]!, asks[k]!];
    }
    c.socket.write(asks.map(({ i, n }) => `TOP ${i + 1} ${n}\r\n`).join(''));
    for (const { i, n } of asks) {
      expect(await c.line(60_000)).toBe('+OK Top of message follows.');
      expect((await c.multiRaw(60_000)).equals(topReference(MESSAGES[i]!, n)), `TOP ${i + 1} ${n}`).toBe(true);
    }
    c.destroy();
  }, 180_000);
});
