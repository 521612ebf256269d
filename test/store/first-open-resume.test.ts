/**
 * The background work a lazy first open leaves (store/facts.ts): deliver
 * records journaled from the index rows a slice at a time, and the facts
 * read from the files. A store closed mid-way resumes both at its next
 * open, from the marks the index keeps: in the end the journal holds one
 * deliver record per message, carrying the size, RFC822.SIZE and
 * INTERNALDATE read from its file, and no row is provisional. A STORE
 * while the records are being journaled reaches a replica (which applies
 * the journal in LSN order to the rows it has): each message's deliver
 * record either carries the new flag or comes before the flags record. And
 * a slice reads LIMITS.store.factsSliceFiles files, not one more.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { sliceFacts, type Facts, type LazyRow } from '../../src/store/facts.js';
import { account, open, tempDir } from './helpers.js';
import { countRows } from '../helpers/index-db.js';

const root = tempDir('roost-first-open-resume-');
const limits = LIMITS.store as { factsSliceFiles: number };
const saved = limits.factsSliceFiles;
afterAll(() => {
  limits.factsSliceFiles = saved;
  fs.rmSync(root, { recursive: true, force: true });
});

describe('a slice of the facts fill', () => {
  const rows: LazyRow[] = Array.from({ length: 12 }, (_, i) => [i + 1, `b${i}`, `cur/b${i}:2,`] as const);
  const read = (r: LazyRow): Facts => [r[0], 10, 11, 12];
  const still = (): number => 0;

  it('reads N files when N are left, and N of N + 1', () => {
    const n = LIMITS.store.factsSliceFiles;
    const many: LazyRow[] = Array.from({ length: n + 1 }, (_, i) => [i + 1, `b${i}`, `cur/b${i}:2,`] as const);
    const exact = sliceFacts(many.slice(0, n), 0, read, still);
    expect(exact.facts).toHaveLength(n);
    expect(exact.next).toBe(n);
    const over = sliceFacts(many, 0, read, still);
    expect(over.facts).toHaveLength(n);
    expect(over.next).toBe(n);
    expect(sliceFacts(many, over.next, read, still)).toEqual({ facts: [[n + 1, 10, 11, 12]], next: n + 1 });
  });

  it('stops at the time limit, after at least one file', () => {
    let t = 0;
    // Each reading of the clock is 5 ms later: with 8 ms, the slice ends after the second file.
    const clock = (): number => (t += 5);
    const s = sliceFacts(rows, 0, read, clock, 100, 8);
    expect(s.next).toBe(2);
    const slow = sliceFacts(rows, 3, read, () => (t += 1000), 100, 8);
    expect(slow).toEqual({ facts: [[4, 10, 11, 12]], next: 4 });
  });

  it('leaves out a file that cannot be read (it stays provisional)', () => {
    const s = sliceFacts(rows.slice(0, 3), 0, (r) => (r[0] === 2 ? null : read(r)), still);
    expect(s.facts.map((f) => f[0])).toEqual([1, 3]);
    expect(s.next).toBe(3);
  });
});

describe('a lazy first open stopped mid-way', () => {
  it('journals every row once and reads every file after the next open', async () => {
    const N = 300;
    limits.factsSliceFiles = 10;
    const a = account(root, 'resume');
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(a.maildir, sub), { recursive: true });
    const expected: { uid: number; size: number; vsize: number; internalDate: number }[] = [];
    for (let i = 0; i < N; i++) {
      // Bare LF, no S= or W=: only the file says its sizes.
      const text = `Subject: resume ${i}\n\n${'z'.repeat(i)}\n`;
      const file = path.join(a.maildir, 'cur', `${1_700_000_000 + i}.M${i}P1.old:2,S`);
      fs.writeFileSync(file, text);
      const mtime = 1_600_000_000 + i * 7;
      fs.utimesSync(file, mtime, mtime);
      expected.push({ uid: i + 1, size: Buffer.byteLength(text), vsize: Buffer.byteLength(text.replace(/\n/g, '\r\n')), internalDate: mtime * 1000 });
    }
    const first = await open(root);
    const box = await first.user(a).openMailbox('INBOX');
    expect(box.snapshot().messages).toHaveLength(N);
    box.close();
    const indexFile = first.indexFile(a.id);
    await first.close();
    const left = (): { unjournaled: number; lazy: number } =>
      countRows(indexFile, { unjournaled: "SELECT count(*) FROM meta WHERE key LIKE 'unjournaled:%'", lazy: 'SELECT count(*) FROM messages WHERE lazy <> 0' });
    const mid = left();
    // Closed after a slice or two of thirty: work is left for the next open.
    expect(mid.unjournaled + mid.lazy).toBeGreaterThan(0);
    const second = await open(root);
    try {
      const again = await second.user(a).openMailbox('INBOX');
      await second.settle();
      expect(left()).toEqual({ unjournaled: 0, lazy: 0 });
      expect(again.snapshot().messages.map((m) => ({ uid: m.uid, size: m.size, vsize: m.vsize, internalDate: m.internalDate }))).toEqual(expected);
      again.close();
    } finally {
      await second.close();
    }
    const journal = new Database(path.join(root, 'data', 'journal.sqlite'), { readonly: true, fileMustExist: true });
    try {
      const recs = (journal.prepare("SELECT data FROM records WHERE account = ? AND kind = 'deliver' ORDER BY lsn").pluck().all(a.id) as string[]).map(
        (d) => JSON.parse(d) as { uid: number; size: number; vsize: number; internalDate: number },
      );
      expect(recs.map((r) => ({ uid: r.uid, size: r.size, vsize: r.vsize, internalDate: r.internalDate }))).toEqual(expected);
    } finally {
      journal.close();
    }
  }, 300_000);
});

describe('a STORE while the deliver records are being journaled', () => {
  it('is in each message\'s deliver record or journaled after it', async () => {
    const N = 400;
    limits.factsSliceFiles = 10;
    const a = account(root, 'race');
    for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(a.maildir, sub), { recursive: true });
    for (let i = 0; i < N; i++) fs.writeFileSync(path.join(a.maildir, 'cur', `${1_700_000_000 + i}.M${i}P1.old:2,`), `Subject: race ${i}\n\nbody\n`);
    const store = await open(root);
    try {
      const box = await store.user(a).openMailbox('INBOX');
      const uids = box.snapshot().messages.map((m) => m.uid);
      // Every 20th message, in a few rounds, while the background slices run.
      const flagged = uids.filter((u) => u % 20 === 0);
      for (let k = 0; k < flagged.length; k += 4) await box.storeFlags(flagged.slice(k, k + 4), 'add', ['\\Flagged']);
      box.close();
      await store.settle();
    } finally {
      await store.close();
    }
    const journal = new Database(path.join(root, 'data', 'journal.sqlite'), { readonly: true, fileMustExist: true });
    try {
      const recs = journal.prepare("SELECT lsn, kind, data FROM records WHERE account = ? AND kind IN ('deliver', 'flags') ORDER BY lsn").all(a.id) as { lsn: number; kind: string; data: string }[];
      const delivered = new Map<number, { lsn: number; flags: string[] }>();
      const flaggedAt = new Map<number, number>();
      for (const r of recs) {
        const d = JSON.parse(r.data) as { uid?: number; flags?: string[]; updates?: { flags: string[]; ranges?: [number, number][]; uids?: number[] }[] };
        if (r.kind === 'deliver') delivered.set(d.uid!, { lsn: r.lsn, flags: d.flags ?? [] });
        else
          for (const u of d.updates ?? [])
            for (const [x, y] of u.ranges ?? (u.uids ?? []).map((v) => [v, v] as [number, number])) for (let v = x; v <= y; v++) flaggedAt.set(v, r.lsn);
      }
      expect(delivered.size).toBe(N);
      expect(flaggedAt.size).toBe(N / 20);
      for (const [uid, lsn] of flaggedAt) {
        const d = delivered.get(uid)!;
        expect(d.flags.includes('\\Flagged') || lsn > d.lsn, `UID ${uid}`).toBe(true);
      }
    } finally {
      journal.close();
    }
  }, 300_000);
});
