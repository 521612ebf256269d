/**
 * The background build of the SORT/THREAD columns (src/imap/search/
 * sort-columns.ts background, started by SELECT) killed with SIGKILL: a
 * node in its own process is killed as soon as the first partial image is
 * in the index, and again on later rounds; the next node goes on from the
 * image it finds, completes it, and answers every SORT and THREAD exactly as
 * a node that built its columns in one go (whose answers the brute-force
 * equivalence test, sort-thread-equivalence.test.ts, holds to the RFC).
 */
import fs from 'node:fs';
import path from 'node:path';
import { rm } from 'node:fs/promises';
import Database from 'better-sqlite3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Account } from '../../src/accounts/directory.js';
import { decodeColumns } from '../../src/imap/search/sort-column-image.js';
import { LIMITS } from '../../src/limits.js';
import { dataDirWithUser, startTestNode } from '../helpers/node.js';
import { numberedMessage } from '../helpers/messages.js';
import { rng } from '../helpers/rng.js';
import { spawnNode, type SpawnedNode } from '../helpers/spawn.js';
import { login } from './helpers/client.js';

const USER = 'sort-crash@example.org';
const PASS = 'sort-crash-pw';
/** Enough for several background turns: LIMITS.tuning.sortBuildChunk, then doubling. */
const COUNT = 4 * LIMITS.tuning.sortBuildChunk + 37;
const ROUNDS = 4;
const COMMANDS = [
  'SORT (SUBJECT) UTF-8 ALL',
  'SORT (REVERSE FROM DATE) UTF-8 ALL',
  'UID SORT (DISPLAYFROM SIZE) UTF-8 ALL',
  'SORT (REVERSE ARRIVAL CC) UTF-8 UNSEEN',
  'THREAD REFERENCES UTF-8 ALL',
  'THREAD ORDEREDSUBJECT UTF-8 ALL',
];

let dataDir: string;
let account: Account;
let expected: string[];

/** The account's index file (one per account under data_dir/index). */
const indexFile = (): string => {
  const dir = path.join(dataDir, 'index');
  return path.join(dir, fs.readdirSync(dir).find((f) => f.endsWith('.sqlite'))!);
};

/** Slots of the INBOX image in the index, -1 when there is none. */
function imageSlots(): number {
  const db = new Database(indexFile(), { readonly: true, fileMustExist: true });
  try {
    db.pragma('busy_timeout = 5000');
    const data = db.prepare('SELECT data FROM sort_columns').pluck().get() as Buffer | undefined;
    return data ? (decodeColumns(data)?.n ?? -1) : -1;
  } finally {
    db.close();
  }
}

function dropImages(): void {
  const db = new Database(indexFile());
  try {
    db.exec('DELETE FROM sort_columns');
  } finally {
    db.close();
  }
}

async function answers(port: number): Promise<string[]> {
  const c = await login(port, USER, PASS);
  try {
    expect((await c.cmd('SELECT INBOX', 30_000)).tagged).toMatch(/ OK /);
    const out: string[] = [];
    for (const cmd of COMMANDS) {
      const r = await c.cmd(cmd, 60_000);
      expect(r.tagged, cmd).toMatch(/ OK /);
      out.push(r.untagged.find((l) => l.startsWith('* SORT') || l.startsWith('* THREAD')) ?? '');
    }
    return out;
  } finally {
    c.close();
  }
}

beforeAll(async () => {
  ({ dataDir, account } = await dataDirWithUser('roost-sort-crash-', USER, PASS));
  const t = await startTestNode({}, { dataDir });
  try {
    const r = rng(11);
    const subjects = ['Lunch', 'Re: lunch', 'Fwd: Meeting', 'meeting', '=?UTF-8?Q?Gr=C3=BC=C3=9Fe?=', '[list] Re: plan', ''];
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < COUNT) {
        const i = next++;
        const parent = Math.floor(r() * i);
        const headers = i > 0 && r() < 0.5 ? `References: <m${parent}@example.net>\r\n` : '';
        const from = `${['Zed', 'alice', '=?UTF-8?B?w4lsb2RpZQ==?=', ''][i % 4]} <u${i % 13}@example.net>`;
        const draft = await t.ctx.store.createDraft();
        await draft.write(Buffer.from(numberedMessage(i, { subject: subjects[Math.floor(r() * subjects.length)]!, from, headers })));
        await draft.finish();
        await t.ctx.store.deliver([account], draft, { sender: 'x@example.net', internalDate: new Date(Date.UTC(2026, 0, 1) + (i % 97) * 60_000) });
      }
    };
    await Promise.all(Array.from({ length: 8 }, worker));
    // Some \Seen, so UNSEEN selects part of the mailbox.
    const c = await login(t.ports.imap!, USER, PASS);
    expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/ OK /);
    expect((await c.cmd('STORE 1:1500 +FLAGS.SILENT (\\Seen)')).tagged).toMatch(/ OK /);
    c.close();
    // The answers of a node that builds its columns in one go (the first SORT, with SELECT's build under way).
    expected = await answers(t.ports.imap!);
  } finally {
    await t.stop();
  }
}, 300_000);
afterAll(async () => {
  await rm(dataDir, { recursive: true, force: true });
});

describe('SIGKILL during the background build of the sort columns', () => {
  it(`goes on from the last image after ${ROUNDS} kills and answers every SORT and THREAD as an uninterrupted build`, { timeout: 300_000 }, async () => {
    expect(expected.every((l) => l.length > 10)).toBe(true);
    dropImages();
    const seen: number[] = [];
    for (let round = 0; round < ROUNDS; round++) {
      const node: SpawnedNode = await spawnNode(dataDir, { log: { level: 'warn' } });
      const before = imageSlots();
      const c = await login(node.ports.imap!, USER, PASS);
      expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/ OK /);
      // Kill as soon as this node wrote an image beyond the one it started from (bounded: 60 s of 2 ms polls).
      const deadline = Date.now() + 60_000;
      let now = before;
      while (now <= before && now < COUNT && Date.now() < deadline) {
        now = imageSlots();
        if (now <= before) await new Promise((r) => setTimeout(r, 2));
      }
      node.kill('SIGKILL');
      await node.exited;
      c.close();
      seen.push(imageSlots());
      if (seen[seen.length - 1] === COUNT) break;
    }
    // Every kill left a valid image, never a smaller one than the round before.
    for (let i = 1; i < seen.length; i++) expect(seen[i]!).toBeGreaterThanOrEqual(seen[i - 1]!);
    expect(seen[0]!).toBeGreaterThan(0);
    // At least one kill caught the build part-way, so the next node had an image to go on from.
    expect(seen.some((s) => s > 0 && s < COUNT), `images after each kill: ${seen.join(', ')}`).toBe(true);
    const node = await spawnNode(dataDir, { log: { level: 'warn' } });
    try {
      // SELECT starts the build again; it completes the image (bounded wait)…
      const c = await login(node.ports.imap!, USER, PASS);
      expect((await c.cmd('SELECT INBOX')).tagged).toMatch(/ OK /);
      const deadline = Date.now() + 60_000;
      while (imageSlots() < COUNT && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
      c.close();
      expect(imageSlots()).toBe(COUNT);
      // …and every answer is the uninterrupted build's.
      expect(await answers(node.ports.imap!)).toEqual(expected);
    } finally {
      node.kill('SIGKILL');
      await node.exited;
    }
  });
});
