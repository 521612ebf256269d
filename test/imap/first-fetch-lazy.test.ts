/**
 * The first FETCH of ENVELOPE/BODYSTRUCTURE after a lazy first open
 * (issue 16 §4, store/facts.ts fillParsed): each file is read and parsed
 * once, in batches, and its facts, structure and search fields stored from
 * the same bytes. Its answers must be those of every other path:
 *
 *  - an eager account that got the same bytes delivered through the store
 *    (structure parsed while the message streamed in, facts read at
 *    delivery), with the files' mtimes as INTERNALDATE;
 *  - the same lazy account after a full reindex of its Maildir.
 *
 * The corpus is seeded random messages (CRLF, bare LF and mixed line ends,
 * single-part and nested multipart, RFC 2047 subjects, names with S= and W=,
 * S= only, or bare) and every awkward fixture of test/mime/fixtures, some
 * past LIMITS.store.quickReadMaxBytes (parsed in chunks on demand instead).
 * Batches are cut small (factsSliceFiles lowered) so the FETCH spans many.
 *
 * And a node in its own process killed with SIGKILL while that FETCH fills
 * leaves a store whose next open gives the same answers.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { LIMITS } from '../../src/limits.js';
import { countRows } from '../helpers/index-db.js';
import { dataDirWithUser, startTestNode } from '../helpers/node.js';
import { spawnNode } from '../helpers/spawn.js';
import { rng } from '../helpers/rng.js';
import { RawImap } from './helpers/client.js';
import { startImapNode, type ImapTestNode } from './helpers/node.js';

const FIXTURES = path.resolve(path.dirname(new URL(import.meta.url).pathname), '../mime/fixtures');
const ITEMS = 'UID FETCH 1:* (UID ENVELOPE BODYSTRUCTURE BODY RFC822.SIZE INTERNALDATE)';

interface Made {
  bytes: Buffer;
  mtime: number;
}

/** One random message: `i` numbers it, `r` draws its shape. */
function randomMessage(i: number, r: () => number): string {
  const nl = r() < 0.4 ? '\n' : '\r\n';
  const subject = r() < 0.3 ? `=?UTF-8?Q?caf=C3=A9_${i}?=` : `plain ${i}${r() < 0.2 ? `${nl} folded` : ''}`;
  const head = [`From: "Sender, ${i}" <s${i}@example.net>`, `To: a@example.org, B <b${i}@example.com>`, `Subject: ${subject}`, `Date: Tue, 24 Nov 2026 10:${String(i % 60).padStart(2, '0')}:00 +0000`, `Message-ID: <${i}@ff>`];
  if (r() < 0.2) head.pop();
  const line = (k: number): string => `line ${k} ${'x'.repeat(Math.floor(r() * 60))}${r() < 0.1 ? '\n' : nl}`;
  const text = (n: number): string => Array.from({ length: n }, (_, k) => line(k)).join('');
  const kind = r();
  if (kind < 0.4) return `${head.join(nl)}${nl}${nl}${text(1 + Math.floor(r() * 30))}`;
  head.push('MIME-Version: 1.0');
  if (kind < 0.7) {
    head.push(`Content-Type: multipart/alternative; boundary="a${i}"`);
    return `${head.join(nl)}${nl}${nl}preamble${nl}--a${i}${nl}Content-Type: text/plain; charset=utf-8${nl}${nl}${text(3)}--a${i}${nl}Content-Type: text/html${nl}${nl}<p>${text(2)}</p>${nl}--a${i}--${nl}epilogue${nl}`;
  }
  head.push(`Content-Type: multipart/mixed; boundary="m${i}"`);
  const inner = `Content-Type: multipart/related; boundary="n${i}"${nl}${nl}--n${i}${nl}Content-Type: text/plain${nl}${nl}${text(2)}--n${i}${nl}Content-Type: image/png; name="x.png"${nl}Content-Transfer-Encoding: base64${nl}${nl}iVBORw0KGgo=${nl}--n${i}--${nl}`;
  const attached = `Content-Type: message/rfc822${nl}${nl}Subject: inner ${i}${nl}From: x@y.z${nl}${nl}${text(2)}`;
  return `${head.join(nl)}${nl}${nl}--m${i}${nl}${inner}--m${i}${nl}${attached}${nl}--m${i}--${nl}`;
}

/** The corpus written into `maildir` with no index; returned in UID order (name order: distinct seconds). */
function populate(maildir: string, seed: number, randomCount: number): Made[] {
  const r = rng(seed);
  for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  const fixtures = fs
    .readdirSync(FIXTURES)
    .filter((f) => f.endsWith('.eml'))
    .sort()
    .map((f) => fs.readFileSync(path.join(FIXTURES, f)));
  const bodies: Buffer[] = [...fixtures, ...Array.from({ length: randomCount }, (_, i) => Buffer.from(randomMessage(i, r)))];
  // A seeded shuffle: fixtures spread over the batches.
  for (let i = bodies.length - 1; i > 0; i--) {
    const j = Math.floor(r() * (i + 1));
    [bodies[i], bodies[j]] = [bodies[j]!, bodies[i]!];
  }
  return bodies.map((bytes, i) => {
    const vsize = Buffer.byteLength(bytes.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
    const stem = `${1_700_000_000 + i}.M${Math.floor(r() * 1_000_000)}P${i}.host`;
    const shape = r();
    const basename = shape < 0.4 ? `${stem},S=${bytes.length},W=${vsize}` : shape < 0.7 ? `${stem},S=${bytes.length}` : stem;
    const file = path.join(maildir, r() < 0.3 ? `new/${basename}` : `cur/${basename}:2,S`);
    fs.writeFileSync(file, bytes);
    const mtime = (1_600_000_000 + Math.floor(r() * 100_000_000)) * 1000;
    fs.utimesSync(file, mtime / 1000, mtime / 1000);
    return { bytes, mtime };
  });
}

async function imap(port: number, user: string, pass: string): Promise<RawImap> {
  const c = await RawImap.connect(port);
  await c.line(60_000);
  expect((await c.cmd(`LOGIN ${user} ${pass}`, 120_000)).tagged).toMatch(/^\S+ OK/);
  return c;
}

async function lines(c: RawImap, command: string): Promise<string[]> {
  const r = await c.cmd(command, 240_000);
  expect(r.tagged, command).toMatch(/^\S+ OK/);
  return r.untagged;
}

/** The answers compared: ENVELOPE, BODYSTRUCTURE, BODY, sizes and dates of all, and header searches from the stored fields. */
async function answers(c: RawImap): Promise<string[][]> {
  return [await lines(c, ITEMS), await lines(c, 'UID SEARCH SUBJECT caf'), await lines(c, 'UID SEARCH FROM "sender, 1"'), await lines(c, 'UID SEARCH HEADER Message-ID 7@ff')];
}

describe('first FETCH after a lazy first open', () => {
  const limits = LIMITS.store as { factsSliceFiles: number };
  const saved = limits.factsSliceFiles;
  let n: ImapTestNode;
  let lazy: Account;
  let eager: Account;
  let made: Made[];

  beforeAll(async () => {
    n = await startImapNode();
    lazy = await n.t.addUser('lazy@example.org', 'lazy-pw');
    eager = await n.t.addUser('eager@example.org', 'eager-pw');
    made = populate(lazy.maildir, 1607, 400);
    for (const m of made) await n.deliver([m.bytes], { account: eager, internalDate: new Date(m.mtime) });
  }, 300_000);
  afterAll(async () => {
    limits.factsSliceFiles = saved;
    await n?.stop();
  });

  it('answers as the eager index, and as the same Maildir after a full reindex', async () => {
    const e = await imap(n.port, eager.address, 'eager-pw');
    expect(await lines(e, 'SELECT INBOX')).toContain(`* ${made.length} EXISTS`);
    const want = await answers(e);
    expect(want[0]).toHaveLength(made.length);
    // Each search finds something: a comparison of empty answers would prove nothing.
    for (const s of want.slice(1)) expect(s[0]!.split(' ').length).toBeGreaterThan(2);
    limits.factsSliceFiles = 7;
    const l = await imap(n.port, lazy.address, 'lazy-pw');
    expect(await lines(l, 'SELECT INBOX')).toContain(`* ${made.length} EXISTS`);
    // Right after the first SELECT: the FETCH reads and parses the files itself.
    expect(await answers(l)).toEqual(want);
    await l.cmd('LOGOUT');
    limits.factsSliceFiles = saved;
    await n.t.ctx.store.settle();
    await n.t.ctx.store.reindex(lazy);
    const again = await imap(n.port, lazy.address, 'lazy-pw');
    expect(await lines(again, 'SELECT INBOX')).toContain(`* ${made.length} EXISTS`);
    expect(await answers(again)).toEqual(want);
    await again.cmd('LOGOUT');
    await e.cmd('LOGOUT');
  }, 300_000);
});

/** Rows of the one account index under `dataDir`: how many have a stored structure, and how many are provisional. */
function progress(dataDir: string): { structures: number; lazy: number } {
  const dir = path.join(dataDir, 'index');
  const file = fs.readdirSync(dir).find((f) => f.endsWith('.sqlite'));
  return countRows(path.join(dir, file!), { structures: 'SELECT count(*) FROM structures', lazy: 'SELECT count(*) FROM messages WHERE lazy <> 0' });
}

describe('SIGKILL during the first FETCH fill', () => {
  it('leaves a store whose next open answers as the eager index', { timeout: 600_000 }, async () => {
    const { dataDir, account } = await dataDirWithUser('roost-first-fetch-kill-', 'kill@example.org', 'kill-pw');
    try {
      const made = populate(account.maildir, 99, 1500);
      // Kill later each round until one lands inside the fill (some structures stored, not all); bounded.
      let midFill = 0;
      for (let round = 0, delay = 20; round < 8 && midFill < 2; round++, delay *= 2) {
        const node = await spawnNode(dataDir, { log: { level: 'warn' } }, { startTimeoutMs: 120_000 });
        try {
          const c = await imap(node.ports.imap!, account.address, 'kill-pw');
          expect(await lines(c, 'SELECT INBOX')).toContain(`* ${made.length} EXISTS`);
          c.write('f1 UID FETCH 1:* (ENVELOPE BODYSTRUCTURE)\r\n');
          await new Promise((r) => setTimeout(r, delay));
        } finally {
          node.kill('SIGKILL');
          expect(await node.exited).toBe('SIGKILL');
        }
        const p = progress(dataDir);
        if (p.structures > 0 && p.structures < made.length) midFill++;
      }
      expect(midFill).toBeGreaterThan(0);
      const t = await startTestNode({}, { dataDir });
      try {
        const eager = await t.addUser('eager-kill@example.org', 'eager-pw');
        for (const m of made) {
          const draft = await t.ctx.store.createDraft();
          await draft.write(m.bytes);
          await draft.finish();
          await t.ctx.store.deliver([eager], draft, { sender: 'test@example.org', internalDate: new Date(m.mtime) });
        }
        const e = await imap(t.ports.imap!, eager.address, 'eager-pw');
        const l = await imap(t.ports.imap!, account.address, 'kill-pw');
        expect(await lines(e, 'SELECT INBOX')).toContain(`* ${made.length} EXISTS`);
        expect(await lines(l, 'SELECT INBOX')).toContain(`* ${made.length} EXISTS`);
        const want = await answers(e);
        expect(await answers(l)).toEqual(want);
        await t.ctx.store.settle();
        expect(await answers(l)).toEqual(want);
        await l.cmd('LOGOUT');
        await e.cmd('LOGOUT');
      } finally {
        await t.stop({ keep: true });
      }
    } finally {
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
