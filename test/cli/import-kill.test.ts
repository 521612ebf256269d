/**
 * `roost import ADDRESS MAILDIR` killed with SIGKILL and run again (issue
 * 15: the copy is made durable once, at its end, not per file — so what a
 * kill leaves behind must be finished by a rerun). The rerun succeeds, and
 * the account then holds every message exactly once, byte for byte as in
 * the source, with the source's UIDs and UIDVALIDITY and no leftover
 * temporary file. Killed during the copy (some files placed), once every
 * file is placed (durability step or index build) and with the index build
 * under way (rows in the account index's WAL). And killed during the copy
 * when the user had an (empty) INBOX and opened it before the rerun: the
 * index that open made of the partial copy (its own UIDVALIDITY, UIDs 1, 2,
 * 3… for the files it found) is not the source's, and the rerun's rebuild
 * must not keep it (reindex.ts, IMPORT_MARKER).
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BIN, requireBuild, roostProcess, type CliRun } from '../helpers/cli.js';
import { makeTempDir, startTestNode } from '../helpers/node.js';

const INBOX_N = 4000;
const WORK_N = 1000;
/** WAL bytes of the account's index that show rows of the rebuild committed (a slice of rows is about this much). */
const WAL_BYTES_MID_REBUILD = 64 * 1024;
/** Polls of the target while waiting for the moment to kill (each 2 ms apart at least). */
const MAX_POLLS = 60_000;

let dir: string;
let cfg: string;
let src: string;

const bodyOf = (folder: string, i: number): string => `Subject: ${folder} ${i}\n\nmessage ${i} of ${folder}\n`;
const baseOf = (folder: string, i: number): string => `${1_600_000_000 + i}.M${i}P7.old${folder},S=${bodyOf(folder, i).length}`;

/** A Dovecot-style folder: UIDs 3, 6, 9… in its dovecot-uidlist. */
function writeFolder(d: string, folder: string, n: number, uidvalidity: number): void {
  for (const s of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(d, s), { recursive: true });
  const lines = [`3 V${uidvalidity} N${3 * n + 3} G0123456789abcdef0123456789abcdef`];
  for (let i = 0; i < n; i++) {
    fs.writeFileSync(path.join(d, 'cur', `${baseOf(folder, i)}:2,S`), bodyOf(folder, i));
    lines.push(`${3 * i + 3} :${baseOf(folder, i)}:2,S`);
  }
  fs.writeFileSync(path.join(d, 'dovecot-uidlist'), lines.join('\n') + '\n');
}

const placed = (maildir: string): number =>
  ['', '.Work'].reduce((k, f) => k + (fs.existsSync(path.join(maildir, f, 'cur')) ? fs.readdirSync(path.join(maildir, f, 'cur')).length : 0), 0);

/** Start the import and SIGKILL it once `ready()` holds; fails when the import ended before it could be killed. */
async function importKilledWhen(address: string, ready: () => boolean): Promise<void> {
  requireBuild();
  const child = spawn(process.execPath, [BIN, 'import', address, src, '--config', cfg], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ROOST_CONFIG: '' } });
  child.stderr.resume();
  const ended = new Promise<{ signal: string | null; code: number | null }>((r) => child.on('close', (code, signal) => r({ code, signal })));
  let exited = false;
  void ended.then(() => (exited = true));
  for (let i = 0; i < MAX_POLLS && !exited; i++) {
    if (ready()) {
      child.kill('SIGKILL');
      break;
    }
    await new Promise((r) => setTimeout(r, 2));
  }
  if (!exited && child.exitCode === null) child.kill('SIGKILL');
  expect((await ended).signal, 'the import ended before it could be killed').toBe('SIGKILL');
}

/** The same import run again after the kill: it succeeds and leaves `address` complete (expectComplete). */
async function rerun(address: string): Promise<CliRun> {
  const r = await roostProcess(['import', address, src, '--config', cfg], { timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  await expectComplete(address);
  return r;
}

async function maildirOf(address: string): Promise<string> {
  const t = await startTestNode({}, { dataDir: path.join(dir, 'data') });
  try {
    const found = await t.ctx.directory.lookupRecipient(address);
    if (found.kind !== 'found') throw new Error('account missing');
    return found.account.maildir;
  } finally {
    await t.stop();
  }
}

/** Every message once, with its UID from the source's list and its bytes. */
async function expectComplete(address: string): Promise<void> {
  const t = await startTestNode({}, { dataDir: path.join(dir, 'data') });
  try {
    const found = await t.ctx.directory.lookupRecipient(address);
    if (found.kind !== 'found') throw new Error('account missing');
    const m = found.account.maildir;
    for (const [folder, name, n, uv] of [['INBOX', 'INBOX', INBOX_N, 11111], ['Work', 'Work', WORK_N, 22222]] as const) {
      const box = await t.ctx.store.user(found.account).openMailbox(name, { readOnly: true });
      const snap = box.snapshot();
      box.close();
      expect(snap.uidvalidity).toBe(uv);
      expect(snap.messages.length).toBe(n);
      expect(snap.messages.map((x) => [x.uid, x.basename])).toEqual(Array.from({ length: n }, (_, i) => [3 * i + 3, baseOf(folder, i)]));
      const cur = path.join(m, folder === 'INBOX' ? '' : '.Work', 'cur');
      const files = fs.readdirSync(cur);
      expect(files.length).toBe(n);
      for (const f of files) {
        const i = Number(/\.M(\d+)P7/.exec(f)![1]);
        expect(fs.readFileSync(path.join(cur, f), 'utf8')).toBe(bodyOf(folder, i));
      }
      expect(fs.readdirSync(path.join(m, folder === 'INBOX' ? '' : '.Work', 'tmp'))).toEqual([]);
    }
    expect(fs.readdirSync(m).filter((f) => f.includes('roost-import'))).toEqual([]);
  } finally {
    await t.stop();
  }
}

beforeAll(async () => {
  dir = await makeTempDir();
  cfg = path.join(dir, 'roost.toml');
  fs.writeFileSync(cfg, `data_dir = ${JSON.stringify(path.join(dir, 'data'))}\n[log]\nlevel = "warn"\n`);
  src = path.join(dir, 'old', 'Maildir');
  writeFolder(src, 'INBOX', INBOX_N, 11111);
  writeFolder(path.join(src, '.Work'), 'Work', WORK_N, 22222);
  for (const a of ['during@example.org', 'after@example.org', 'rebuild@example.org', 'seen@example.org', 'other@example.org'])
    expect((await roostProcess(['user', 'add', a, '--config', cfg])).code).toBe(0);
}, 120_000);
afterAll(async () => {
  await fs.promises.rm(dir, { recursive: true, force: true });
});

describe('roost import killed with SIGKILL, then run again', () => {
  it('killed during the copy: the rerun finishes it, every message once, complete, with its UID', async () => {
    const m = await maildirOf('during@example.org');
    await importKilledWhen('during@example.org', () => placed(m) >= 500);
    expect(placed(m)).toBeLessThan(INBOX_N + WORK_N);
    expect((await rerun('during@example.org')).stdout).toMatch(/2 mailboxes, 5000 messages/);
  }, 240_000);

  it('killed once every file is placed (before the import answered): the rerun indexes it all with the source UIDs', async () => {
    const m = await maildirOf('after@example.org');
    await importKilledWhen('after@example.org', () => placed(m) >= INBOX_N + WORK_N);
    await rerun('after@example.org');
  }, 240_000);

  it('killed while the index is being built: the rerun rebuilds it with the source UIDs, not the half-built index\'s', async () => {
    await maildirOf('rebuild@example.org');
    // The account's index with rows in its WAL: the rebuild is under way (it commits a slice at a time).
    const wal = path.join(dir, 'data', 'index', 'rebuild@example%2Eorg.sqlite-wal');
    const walBytes = (): number => (fs.existsSync(wal) ? fs.statSync(wal).size : 0);
    await importKilledWhen('rebuild@example.org', () => walBytes() >= WAL_BYTES_MID_REBUILD);
    await rerun('rebuild@example.org');
  }, 240_000);

  it('killed during the copy, the partial copy indexed by an open of the INBOX, then run again: the source UIDs, not that index\'s', async () => {
    const m = await maildirOf('seen@example.org');
    /** Open INBOX as a session does (index, reconcile with the disk); returns its UIDVALIDITY and UIDs. */
    const openInbox = async (): Promise<{ uidvalidity: number; uids: number[] }> => {
      const t = await startTestNode({}, { dataDir: path.join(dir, 'data') });
      try {
        const found = await t.ctx.directory.lookupRecipient('seen@example.org');
        if (found.kind !== 'found') throw new Error('account missing');
        const box = await t.ctx.store.user(found.account).openMailbox('INBOX', { readOnly: true });
        const snap = box.snapshot();
        box.close();
        return { uidvalidity: snap.uidvalidity, uids: snap.messages.map((x) => x.uid) };
      } finally {
        await t.stop();
      }
    };
    // The user had logged in before the import: an empty INBOX of Roost's own.
    const own = await openInbox();
    expect(own.uids).toEqual([]);
    // 500 in INBOX itself (the copy may place .Work's first).
    const inInbox = (): number => (fs.existsSync(path.join(m, 'cur')) ? fs.readdirSync(path.join(m, 'cur')).length : 0);
    await importKilledWhen('seen@example.org', () => inInbox() >= 500);
    expect(inInbox()).toBeLessThan(INBOX_N);
    // Between the two runs the INBOX is opened again: its files so far are picked up as new mail.
    const partial = await openInbox();
    expect(partial.uidvalidity).toBe(own.uidvalidity);
    expect(partial.uids.length).toBeGreaterThan(0);
    expect(partial.uids.slice(0, 3)).toEqual([1, 2, 3]);
    await rerun('seen@example.org');
  }, 240_000);

  it('an account that has mail from elsewhere is still refused, marker or not of another source', async () => {
    const m = await maildirOf('other@example.org');
    fs.mkdirSync(path.join(m, 'cur'), { recursive: true });
    fs.writeFileSync(path.join(m, 'cur', '1600000000.M1P1.elsewhere:2,'), 'Subject: mine\n\nmine\n');
    fs.writeFileSync(path.join(m, 'roost-import-maildir'), '/some/other/Maildir\n');
    const r = await roostProcess(['import', 'other@example.org', src, '--config', cfg], { timeoutMs: 120_000 });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/already holds messages/);
  }, 120_000);
});
