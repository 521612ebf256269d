/**
 * Account-index WAL checkpoints run in a worker thread after
 * LIMITS.store.walCheckpointCommits commits, not inside a commit on the
 * event loop (store/index/checkpoint.ts), once the commits pause
 * (LIMITS.store.walCheckpointQuietMs) or at the latest at
 * LIMITS.store.walCheckpointMaxCommits. Judged by the database file
 * itself: a copy of it without its WAL holds a value once, and only once,
 * a checkpoint has moved it there. "No pause" is a synchronous loop of
 * commits (no timer can run inside it), so nothing here depends on timing.
 */
import fs from 'node:fs';
import path from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { IndexDb } from '../../src/store/index/db.js';
import { Journal, type RecordDraft } from '../../src/store/journal/log.js';
import { walCheckpoints } from '../../src/store/index/checkpoint.js';
import { tempDir } from './helpers.js';

const roots: string[] = [];
afterAll(() => {
  for (const r of roots) fs.rmSync(r, { recursive: true, force: true });
});

/** The value of `key` in the database file alone (its WAL left behind), or null. */
function inMainFile(file: string, key: string): string | null {
  return fromMainFile(file, 'SELECT value FROM meta WHERE key = ?', key);
}

/** The first column of `sql`'s first row, read from the database file alone (its WAL left behind), or null. */
function fromMainFile(file: string, sql: string, ...args: unknown[]): string | null {
  const copy = `${file}.copy`;
  fs.copyFileSync(file, copy);
  const db = new Database(copy, { readonly: true });
  try {
    const v = db.prepare(sql).pluck().get(...args) as string | number | undefined;
    return v === undefined || v === null ? null : String(v);
  } catch (err) {
    // Not even the schema has been checkpointed yet.
    if (/no such table/.test((err as Error).message)) return null;
    throw err;
  } finally {
    db.close();
    fs.rmSync(copy, { force: true });
  }
}

describe('index checkpoints in a worker thread', () => {
  it(`checkpoints after ${LIMITS.store.walCheckpointCommits} commits, not after one fewer`, { timeout: 60_000 }, async () => {
    const root = tempDir();
    roots.push(root);
    const file = path.join(root, 'index.sqlite');
    const db = new IndexDb(file);
    // SQLite's own checkpoint (in the committing call) is off.
    expect(db.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const N = LIMITS.store.walCheckpointCommits;
    const before = { ...walCheckpoints.stats };
    for (let i = 1; i < N; i++) db.tx(() => db.setMeta('counter', String(i)));
    await walCheckpoints.idle();
    expect(walCheckpoints.stats.requested).toBe(before.requested);
    expect(inMainFile(file, 'counter')).toBeNull();
    db.tx(() => db.setMeta('counter', String(N)));
    // Due, and asked of the worker once the commits pause (idle() waits for that too).
    expect(walCheckpoints.stats.requested).toBe(before.requested);
    await walCheckpoints.idle();
    expect(walCheckpoints.stats.requested).toBe(before.requested + 1);
    expect(walCheckpoints.stats.done).toBe(before.done + 1);
    expect(inMainFile(file, 'counter')).toBe(String(N));
    // The connection still reads and writes as before.
    db.tx(() => db.setMeta('counter', 'after'));
    expect(db.meta('counter')).toBe('after');
    db.close();
  });

  it(`checkpoints the journal after ${LIMITS.store.walCheckpointCommits} commits, not after one fewer`, { timeout: 60_000 }, async () => {
    const root = tempDir();
    roots.push(root);
    const journal = new Journal(root);
    const file = path.join(root, 'journal.sqlite');
    expect(journal.db.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    const N = LIMITS.store.walCheckpointCommits;
    const before = { ...walCheckpoints.stats };
    const draft = (i: number): RecordDraft[] => [{ accountId: 'a', kind: 'mailbox-create', data: { maildir: root, mailbox: `M${i}`, uidvalidity: i } }];
    for (let i = 1; i < N; i++) journal.appendCommitted(draft(i), 1);
    await walCheckpoints.idle();
    expect(walCheckpoints.stats.requested).toBe(before.requested);
    expect(fromMainFile(file, 'SELECT max(lsn) FROM records')).toBeNull();
    journal.appendCommitted(draft(N), 1);
    expect(walCheckpoints.stats.requested).toBe(before.requested);
    await walCheckpoints.idle();
    expect(walCheckpoints.stats.requested).toBe(before.requested + 1);
    expect(fromMainFile(file, 'SELECT max(lsn) FROM records')).toBe(String(N));
    journal.close();
  });

  it(`with no pause in the commits, checkpoints at ${LIMITS.store.walCheckpointMaxCommits} commits, not one before (store.walCheckpointMaxCommits, store.walCheckpointQuietMs)`, { timeout: 60_000 }, async () => {
    const root = tempDir();
    roots.push(root);
    const file = path.join(root, 'index.sqlite');
    const db = new IndexDb(file);
    const M = LIMITS.store.walCheckpointMaxCommits;
    expect(M).toBeGreaterThan(LIMITS.store.walCheckpointCommits);
    const before = { ...walCheckpoints.stats };
    // One synchronous loop: the commits never pause, so the due checkpoint waits.
    for (let i = 1; i < M; i++) db.tx(() => db.setMeta('counter', String(i)));
    expect(walCheckpoints.stats.requested).toBe(before.requested);
    db.tx(() => db.setMeta('counter', String(M)));
    expect(walCheckpoints.stats.requested).toBe(before.requested + 1);
    await walCheckpoints.idle();
    expect(walCheckpoints.stats.done).toBe(before.done + 1);
    expect(inMainFile(file, 'counter')).toBe(String(M));
    db.close();
  });

  it('a due checkpoint of a connection closed before the pause is dropped, and idle() still resolves', { timeout: 60_000 }, async () => {
    const root = tempDir();
    roots.push(root);
    const db = new IndexDb(path.join(root, 'index.sqlite'));
    const before = { ...walCheckpoints.stats };
    for (let i = 1; i <= LIMITS.store.walCheckpointCommits; i++) db.tx(() => db.setMeta('counter', String(i)));
    db.close();
    await walCheckpoints.idle();
    expect(walCheckpoints.stats.requested).toBe(before.requested);
  });
});
