/**
 * The 74 MIME fixtures (../shared/fixtures/mime) through the whole IMAP path:
 * APPEND over the wire, then UID FETCH of each item, compared with the answer
 * Dovecot 2.3.19 gave (README there). The MIME layer has its own golden tests;
 * this one checks that the server sends those values unchanged: labels,
 * literal sizes, section bytes (sha256), RFC822.SIZE.
 *
 * Compared: the response after "UID n " (Dovecot puts UID first, and so does
 * a UID FETCH here). The BINARY entries are skipped here; binary.test.ts and
 * binary-edge.test.ts cover BINARY (RFC 3516).
 */
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

// The repo keeps its own copy of ../shared/fixtures/mime (CI clones only this repo).
const DIR = path.resolve(__dirname, '../mime/fixtures');

interface FetchEntry {
  status: string | null;
  response?: string;
  response_head?: string;
  response_tail?: string;
  literal?: { length: number; sha256?: string } | null;
  error?: string;
}
interface Fixture {
  eml: string;
  fetch: Record<string, FetchEntry>;
}

const names = readdirSync(DIR)
  .filter((f) => /^\d+\.json$/.test(f))
  .sort();

let n: ImapTestNode;
let c: RawImap;
const uidOf = new Map<string, number>();

beforeAll(async () => {
  n = await startImapNode();
  c = await login(n.port, n.user, n.pass);
  await c.cmd('CREATE Golden');
  for (const f of names) {
    const eml = readFileSync(path.join(DIR, f.replace('.json', '.eml')));
    c.write(`ap APPEND Golden {${eml.length}+}\r\n`);
    c.write(Buffer.concat([eml, Buffer.from('\r\n')]));
    const r = await c.until('ap');
    const m = /APPENDUID \d+ (\d+)/.exec(r.tagged);
    if (!m) throw new Error(`${f}: ${r.tagged}`);
    uidOf.set(f, Number(m[1]));
  }
  await c.cmd('SELECT Golden');
}, 60_000);

afterAll(async () => {
  c?.close();
  await n?.stop();
});

/** The part of a FETCH response after "UID n " (both servers put UID first here). */
const afterUid = (line: string): string => line.replace(/^\* \d+ FETCH \(UID \d+ /, '');

describe('MIME fixtures through IMAP match Dovecot', () => {
  for (const f of names) {
    it(f.replace('.json', ''), async () => {
      const fx = JSON.parse(readFileSync(path.join(DIR, f), 'utf8')) as Fixture;
      const uid = uidOf.get(f)!;
      for (const [item, want] of Object.entries(fx.fetch)) {
        if (item.startsWith('BINARY') || want.error || want.status !== 'OK') continue;
        const r = await c.cmd(`UID FETCH ${uid} (${item})`);
        expect(r.tagged, `${f} ${item}`).toMatch(/OK/);
        const got = r.untagged.find((l) => l.startsWith('* ') && l.includes(' FETCH ('))!;
        expect(got, `${f} ${item}`).toBeDefined();
        if (want.response !== undefined) {
          expect(afterUid(got), `${f} ${item}`).toBe(afterUid(want.response.replace(/\r\n$/, '')));
        } else {
          const head = afterUid(want.response_head!);
          const mine = afterUid(got);
          expect(mine.startsWith(head), `${f} ${item}: ${mine.slice(0, 80)} vs ${head}`).toBe(true);
          const body = Buffer.from(mine.slice(head.length, mine.length - (want.response_tail!.length - 2)), 'latin1');
          expect(body.length, `${f} ${item}`).toBe(want.literal!.length);
          if (want.literal!.sha256) expect(createHash('sha256').update(body).digest('hex'), `${f} ${item}`).toBe(want.literal!.sha256);
          expect(mine.endsWith(want.response_tail!.replace(/\r\n$/, '')), `${f} ${item}`).toBe(true);
        }
      }
    });
  }
});
