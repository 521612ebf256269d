/**
 * kill -9 of a destination in the install step of `roost account move`
 * (src/store/move-install.ts): a child process (dist/, run
 * `npx tsc -p tsconfig.json` first) opens the store, installs a staged
 * account of 4,000 messages from its final image and confirms it,
 * and is killed with SIGKILL as soon as the test sees the install reach a
 * point (so many files linked into the Maildir, or the index in place). After
 * each kill the store, opened again, holds either nothing of the account
 * (the unconfirmed copy is removed at open) or the complete account with the
 * source's UIDVALIDITY, UIDs, modseqs, flags and bytes; never an index that
 * names missing files, nor files indexed afresh under new UIDs.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteDirectory } from '../../src/accounts/sqlite.js';
import type { Account } from '../../src/accounts/directory.js';
import { stagedName, stagingDir } from '../../src/store/move-install.js';
import { openStore } from '../../src/store/open.js';
import type { StoreImpl } from '../../src/store/store-impl.js';
import { listStore } from '../replication/inspect.js';
import { deliver, message, tempDir } from './helpers.js';

const repo = path.resolve(__dirname, '../..');
const root = tempDir('roost-move-crash-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const ADDRESS = 'alice@example.org';
/** Enough that linking them takes a while: the kills land part-way. */
const MESSAGES = 4000;
/** Kill points: once this many of the account's files are linked into its Maildir, or ('index') once its index is in place. */
const KILL_AT: (number | 'index')[] = [0, 1, 500, 1000, 2000, 3000, MESSAGES - 1, 'index'];

const src = path.join(root, 'src');
const stagedCopy = path.join(root, 'staged');
const imageFile = path.join(root, 'image.sqlite');
let expected: string[] = [];

const comparable = (m: Awaited<ReturnType<typeof listStore>>[number]): string => [m.mailbox, m.uidvalidity, m.uid, m.modseq, m.basename, m.flags, m.sha256].join(' ');

beforeAll(async () => {
  if (!fs.existsSync(path.join(repo, 'dist/store/open.js'))) throw new Error('dist/ missing: run `npx tsc -p tsconfig.json`');
  fs.mkdirSync(src, { recursive: true });
  const directory = openSqliteDirectory(src, path.join(src, 'mail'));
  const account = await directory.addUser({ address: ADDRESS, password: 'pw' });
  const store = (await openStore({ dataDir: src, mailDir: path.join(src, 'mail'), hostname: 'src.host', log: () => undefined })) as StoreImpl;
  try {
    // Written straight into cur/ (as a migrated Maildir), indexed when the mailbox first opens: quicker than delivering each.
    const cur = path.join(account.maildir, 'cur');
    fs.mkdirSync(cur, { recursive: true });
    for (const sub of ['new', 'tmp']) fs.mkdirSync(path.join(account.maildir, sub), { recursive: true });
    for (let i = 0; i < MESSAGES; i++) fs.writeFileSync(path.join(cur, `${1_700_000_000 + i}.M${i}P1.src.host:2,`), message(`m${i}`, `body ${i} ${'x'.repeat(i % 50)}\n`));
    await deliver(store, [account], message('delivered'));
    const box = await store.user(account).openMailbox('INBOX');
    await box.storeFlags([1, 2, 3, 10], 'add', ['\\Seen', '$Label1']);
    box.close();
    // What the source sends: the final image, and each file staged under UIDVALIDITY.UID.
    const snap = (await store.replication.snapshotAccount!(account.id))!;
    fs.writeFileSync(imageFile, snap.image);
    fs.mkdirSync(stagedCopy, { recursive: true });
    for (const f of snap.files) fs.writeFileSync(path.join(stagedCopy, stagedName(f)), (await store.replication.readSnapshotFile!(account.id, f))!);
  } finally {
    await store.close();
    await directory.close();
  }
  expected = (await listStore(src, [ADDRESS])).map(comparable).sort();
  expect(expected).toHaveLength(MESSAGES + 1);
  fs.writeFileSync(
    path.join(root, 'child.mjs'),
    `import fs from 'node:fs';
import { openStore } from ${JSON.stringify(path.join(repo, 'dist/store/open.js'))};
const [dataDir, image, accountJson] = process.argv.slice(2);
const account = JSON.parse(accountJson);
const store = await openStore({ dataDir, mailDir: dataDir + '/mail', hostname: 'dst.host', log: () => undefined });
const bytes = fs.readFileSync(image);
process.stdout.write('installing\\n');
await store.replication.moves.install(account, bytes);
store.replication.moves.confirm(account.id);
process.stdout.write('confirmed\\n');
await store.close();
`,
  );
}, 300_000);

/** A fresh destination with the account staged as the rounds left it. */
async function destination(name: string): Promise<{ dataDir: string; account: Account; index: string }> {
  const dataDir = path.join(root, name);
  fs.mkdirSync(dataDir, { recursive: true });
  const directory = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  const account = await directory.addUser({ address: ADDRESS, password: 'pw' });
  await directory.close();
  const store = (await openStore({ dataDir, mailDir: path.join(dataDir, 'mail'), hostname: 'dst.host', log: () => undefined })) as StoreImpl;
  const staging = stagingDir(store, account.id);
  const index = store.indexFile(account.id);
  await store.close();
  fs.cpSync(stagedCopy, staging, { recursive: true });
  return { dataDir, account, index };
}

/** Files in the account's INBOX cur/ (where the install links them). */
function linked(account: Account): number {
  try {
    return fs.readdirSync(path.join(account.maildir, 'cur')).length;
  } catch {
    return 0;
  }
}

/** Run the child; SIGKILL it as soon as `at` is reached after it says it is installing (null: let it finish). */
function install(d: { dataDir: string; account: Account; index: string }, at: number | 'index' | null): Promise<{ out: string; killed: boolean }> {
  const { dataDir, account } = d;
  const reached = (): boolean => (at === 'index' ? fs.existsSync(d.index) : linked(account) >= (at ?? Infinity));
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(root, 'child.mjs'), dataDir, imageFile, JSON.stringify(account)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let watching = false;
    let exited = false;
    let killed = false;
    const overall = setTimeout(() => child.kill('SIGKILL'), 120_000);
    const poll = (): void => {
      if (exited) return;
      if (reached()) killed = child.kill('SIGKILL');
      else setTimeout(poll, 1);
    };
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
      if (!watching && at !== null && out.includes('installing\n')) {
        watching = true;
        poll();
      }
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      exited = true;
      clearTimeout(overall);
      if (code !== 0 && signal !== 'SIGKILL') reject(new Error(`child exited ${code ?? signal}: ${err}`));
      else resolve({ out, killed: killed && signal === 'SIGKILL' });
    });
  });
}

describe('kill -9 of the destination during a move\'s install', () => {
  it('leaves nothing of the account, or the complete account', { timeout: 600_000 }, async () => {
    const whole = await destination('whole');
    const full = await install(whole, null);
    expect(full.out).toContain('confirmed');
    expect((await listStore(whole.dataDir, [ADDRESS])).map(comparable).sort()).toEqual(expected);
    const seen = { nothing: 0, complete: 0 };
    for (const [i, point] of KILL_AT.entries()) {
      const d = await destination(`kill-${i}`);
      const r = await install(d, point);
      // Reopened as the restarted node would: the copy is either gone or whole.
      const got = (await listStore(d.dataDir, [ADDRESS])).map(comparable).sort();
      if (got.length === 0) {
        seen.nothing++;
        expect(r.out, `killed at ${point}: nothing left, so it was never confirmed`).not.toContain('confirmed');
      } else {
        seen.complete++;
        expect(got, `killed at ${point} (${r.killed ? 'killed' : 'finished'})`).toEqual(expected);
      }
    }
    // The early kills hit the install itself.
    expect(seen.nothing).toBeGreaterThan(0);
  });
});
