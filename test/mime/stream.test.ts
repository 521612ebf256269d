/**
 * The streaming MIME parser (src/store/mime/stream.ts) must build exactly the
 * tree the whole-buffer parser builds (parser
 * tests feed split input). Every fixture the MIME tests use — the 74 shared
 * ones, Dovecot's edge, random and address cases, and each of them with LF
 * line ends — is fed in chunks of many sizes, 1 byte included, and the JSON
 * the index would store is compared byte for byte.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { parseMessage } from '../../src/store/mime/parse.js';
import { MimeStreamParser } from '../../src/store/mime/stream.js';
import { LIMITS } from '../../src/limits.js';
import { fieldValue, splitFields } from '../../src/store/mime/header.js';

const HERE = dirname(fileURLToPath(import.meta.url));
const DIRS = ['fixtures', 'dovecot/edge', 'dovecot/random', 'dovecot/addresses'];

function load(): [string, Buffer][] {
  const out: [string, Buffer][] = [];
  for (const d of DIRS) {
    for (const f of readdirSync(join(HERE, d)).filter((n) => n.endsWith('.eml')).sort()) {
      out.push([`${d}/${f}`, readFileSync(join(HERE, d, f))]);
    }
  }
  return out;
}

function streamed(raw: Buffer, size: number): string {
  const p = new MimeStreamParser();
  for (let off = 0; off < raw.length; off += size) p.push(raw.subarray(off, off + size));
  return JSON.stringify(p.end());
}

const toLf = (b: Buffer): Buffer => Buffer.from(b.toString('latin1').replace(/\r\n/g, '\n'), 'latin1');
const SIZES = [1, 2, 3, 4, 5, 7, 16, 61, 512, 4096, 1 << 30];
/** The 800 generated cases are many and small: fewer sizes, 1 byte still among them. */
const FEWER = [1, 3, 61, 1 << 30];
const messages = load();

describe('streaming MIME parser = whole-buffer parser', () => {
  it('has the fixtures', () => {
    expect(messages.length).toBeGreaterThanOrEqual(74 + 108 + 400 + 400);
  });

  for (const d of DIRS) {
    const sizes = d.includes('random') || d.includes('addresses') ? FEWER : SIZES;
    it(`${d}: every message, CRLF and LF, at chunk sizes ${sizes.join(' ')}`, () => {
      let compared = 0;
      for (const [name, crlf] of messages.filter(([n]) => n.startsWith(`${d}/`))) {
        for (const raw of [crlf, toLf(crlf)]) {
          const want = JSON.stringify(parseMessage(raw));
          for (const size of sizes) {
            expect(streamed(raw, size), `${name} in chunks of ${size}`).toBe(want);
            compared++;
          }
        }
      }
      expect(compared).toBeGreaterThan(0);
    });
  }

  it('edge cases split into two at every offset', () => {
    const edge = messages.filter(([n]) => n.startsWith('dovecot/edge/')).slice(0, 60);
    for (const [name, raw] of edge) {
      const want = JSON.stringify(parseMessage(raw));
      for (let cut = 0; cut <= raw.length; cut++) {
        const p = new MimeStreamParser();
        p.push(raw.subarray(0, cut));
        p.push(raw.subarray(cut));
        expect(JSON.stringify(p.end()), `${name} cut at ${cut}`).toBe(want);
      }
    }
  });

  it('empty input, no line end at the end, lone CR and LF', () => {
    for (const s of ['', 'a', '\n', '\r', '\r\n', 'Subject: x', 'Subject: x\r\n\r\nbody', 'a\n\n--b\n']) {
      const raw = Buffer.from(s, 'latin1');
      for (const size of [1, 2, 100]) expect(streamed(raw, size), JSON.stringify(s)).toBe(JSON.stringify(parseMessage(raw)));
    }
  });

  it('a header longer than LIMITS.store.maxHeaderBytes: fields starting inside it count, each cut at twice it, in both parsers', () => {
    const max = LIMITS.store.maxHeaderBytes;
    for (const subjectLen of [max - 100, max - 10, max + 10, 3 * max]) {
      const raw = Buffer.from(`From: a@b\r\nSubject: ${'x'.repeat(subjectLen)}\r\nTo: c@d\r\n\r\nbody\r\n`, 'latin1');
      const want = JSON.stringify(parseMessage(raw));
      expect(streamed(raw, 65536)).toBe(want);
      const tree = parseMessage(raw);
      expect(tree.envelope.length).toBeLessThan(2 * max + 200);
      expect(tree.envelope.length).toBeGreaterThan(Math.min(subjectLen, 2 * max - 40));
      // The To: line starts past the limit and so is not read.
      expect(tree.envelope.includes('"c"')).toBe(subjectLen < max - 50);
    }
  });

  it('a field line ending at exactly twice maxHeaderBytes is whole; one byte longer, it is cut there', () => {
    const max = LIMITS.store.maxHeaderBytes;
    for (const extra of [0, 1]) {
      // "X-Long: " + value + "\r\n" ends at 2 * max (+ extra).
      const value = 'v'.repeat(2 * max - 'X-Long: '.length - 2 + extra);
      const hdr = Buffer.from(`X-Long: ${value}\r\n\r\nbody\r\n`, 'latin1');
      const fields = splitFields(hdr, 0, hdr.length - 'body\r\n'.length, max);
      expect(fields.length).toBe(1);
      const got = fieldValue(hdr, fields[0]!);
      expect(got.length, `extra ${extra}`).toBe(extra === 0 ? value.length : value.length + 1);
      expect(got.endsWith('\r'), `extra ${extra}`).toBe(extra === 1);
      expect(streamed(hdr, 4096)).toBe(JSON.stringify(parseMessage(hdr)));
    }
  });

  it('keeps memory bounded: 64 MB streamed in 64 KB chunks keeps no body bytes', () => {
    const p = new MimeStreamParser();
    p.push(Buffer.from('Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Type: text/plain\r\n\r\n'));
    const line = Buffer.from(`${'y'.repeat(76)}\r\n`);
    const chunk = Buffer.concat(Array.from({ length: 65536 / line.length }, () => line));
    const before = process.memoryUsage().heapUsed;
    for (let i = 0; i < 1024; i++) p.push(chunk);
    p.push(Buffer.from('\r\n--zz--\r\n'));
    const grown = process.memoryUsage().heapUsed - before;
    const tree = p.end();
    expect(tree.parts![0]!.bodyLines).toBe(1024 * Math.floor(65536 / line.length));
    // Loose: the parser keeps a few small objects, never the 64 MB it saw.
    expect(grown).toBeLessThan(32 * 1024 * 1024);
  });
});
