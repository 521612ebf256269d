/**
 * BINARY (RFC 3516) through the wire against Dovecot 2.3.19's answers for
 * the 74 shared MIME fixtures (test/mime/fixtures): BINARY.PEEK[1] labels,
 * literal sizes and sha256 of the decoded bytes, the same NO [code] where
 * Dovecot refused; plus BINARY.SIZE agreeing with the literal, literal8 for
 * NUL bytes, a partial range, a missing part, and \Seen set by BINARY[].
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

const DIR = path.resolve(__dirname, '../mime/fixtures');

interface FetchEntry {
  status: string | null;
  tagged?: string;
  response_head?: string;
  response_tail?: string;
  literal?: { length: number; sha256?: string } | null;
}

const names = readdirSync(DIR)
  .filter((f) => /^\d+\.json$/.test(f))
  .sort();

let n: ImapTestNode;
let c: RawImap;
const uidOf = new Map<string, number>();

async function append(mailbox: string, eml: Buffer): Promise<number> {
  c.write(`ap APPEND ${mailbox} {${eml.length}+}\r\n`);
  c.write(Buffer.concat([eml, Buffer.from('\r\n')]));
  const r = await c.until('ap');
  const m = /APPENDUID \d+ (\d+)/.exec(r.tagged);
  if (!m) throw new Error(r.tagged);
  return Number(m[1]);
}

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  await c.cmd('CREATE Bin');
  for (const f of names) uidOf.set(f, await append('Bin', readFileSync(path.join(DIR, f.replace('.json', '.eml')))));
  await c.cmd('SELECT Bin');
}, 60_000);
afterAll(async () => {
  c?.close();
  await n?.stop();
});

const afterUid = (line: string): string => line.replace(/^\* \d+ FETCH \(UID \d+ /, '');

describe('BINARY matches Dovecot on the shared fixtures', () => {
  it('BINARY.PEEK[1] and BINARY.SIZE[1] for all 74', async () => {
    let compared = 0;
    let refused = 0;
    for (const f of names) {
      const fx = JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as { fetch: Record<string, FetchEntry> };
      const uid = uidOf.get(f)!;
      for (const [item, want] of Object.entries(fx.fetch)) {
        if (!item.startsWith('BINARY')) continue;
        const r = await c.cmd(`UID FETCH ${uid} (${item})`);
        if (want.status === 'NO') {
          // The same response code as Dovecot ([UNKNOWN-CTE], or [PARSE] for undecodable data).
          const code = /\[([A-Z-]+)\]/.exec(want.tagged!)![1];
          expect(r.tagged, `${f} ${item}`).toMatch(new RegExp(`NO \\[${code}\\]`));
          refused++;
          continue;
        }
        // Dovecot failed internally on one fixture (status null): nothing to compare.
        if (want.status !== 'OK') continue;
        expect(r.tagged, `${f} ${item}`).toMatch(/OK/);
        const got = afterUid(r.untagged.find((l) => l.includes(' FETCH ('))!);
        const head = afterUid(want.response_head!);
        expect(got.startsWith(head), `${f} ${item}: ${got.slice(0, 60)} vs ${head}`).toBe(true);
        const body = Buffer.from(got.slice(head.length, got.length - 1), 'latin1');
        expect(body.length, `${f} ${item}`).toBe(want.literal!.length);
        if (want.literal!.sha256) expect(createHash('sha256').update(body).digest('hex'), `${f} ${item}`).toBe(want.literal!.sha256);
        const size = await c.cmd(`UID FETCH ${uid} (BINARY.SIZE[1])`);
        expect(size.untagged[0], `${f} BINARY.SIZE`).toMatch(new RegExp(`BINARY\\.SIZE\\[1\\] ${body.length}\\)$`));
        compared++;
      }
    }
    expect(compared).toBe(71);
    expect(refused).toBe(2);
  });

  it('literal8 for NUL bytes, partial, missing part, BINARY[] sets \\Seen', async () => {
    const eml = Buffer.from(
      'Subject: b\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=X\r\n\r\n--X\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: base64\r\n\r\nAAECAwQ=\r\n--X--\r\n',
    );
    const uid = await append('Bin', eml);
    await c.cmd('NOOP');
    const r = await c.cmd(`UID FETCH ${uid} (BINARY.PEEK[1] BINARY.SIZE[1])`);
    // Inline items before literals (fetch/plan.ts), whatever the request order.
    expect(r.untagged[0]).toBe(`* ${names.length + 1} FETCH (UID ${uid} BINARY.SIZE[1] 5 BINARY[1] ~{5}\r\n\x00\x01\x02\x03\x04)`);
    const p = await c.cmd(`UID FETCH ${uid} (BINARY.PEEK[1]<1.2>)`);
    expect(p.untagged[0]).toBe(`* ${names.length + 1} FETCH (UID ${uid} BINARY[1]<1> {2}\r\n\x01\x02)`);
    expect((await c.cmd(`UID FETCH ${uid} (BINARY.PEEK[7])`)).untagged[0]).toMatch(/BINARY\[7\] NIL\)$/);
    const seen = await c.cmd(`UID FETCH ${uid} (BINARY[1])`);
    // Arrived while this session had Bin selected: \Recent here too (RFC 3501 §2.3.2).
    expect(seen.untagged[0]).toMatch(/FLAGS \(\\Recent \\Seen\)/);
  });
});
