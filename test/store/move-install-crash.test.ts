/**
 * kill -9 of a destination in the install step of `roost account move`
 * (src/store/move-install.ts): a child process (dist/, run
 * `npx tsc -p tsconfig.json` first) opens the store, installs a staged
 * account of 4,000 messages from its final image and confirms it,
 * and is killed with SIGKILL as soon as the test sees the install reach a
 * point (so many files linked into the Maildir in staging, the Maildir in
 * place, or the index in place). In the second half the child first does
 * what the catch-up rounds do (prepareRound with an earlier image's names,
 * stageImage with that image), and is killed in that too. After
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
import { stagedMaildir, stagedName, stagingDir } from '../../src/store/move-install.js';
import { openStore } from '../../src/store/open.js';
import type { StoreImpl } from '../../src/store/store-impl.js';
import { listStore } from '../replication/inspect.js';
import { deliver, message, tempDir } from './helpers.js';

const repo = path.resolve(__dirname, '../..');
const root = tempDir('roost-move-crash-');
// Many destinations of 4,000 files each: removing them takes a while on a loaded disk.
afterAll(() => fs.rmSync(root, { recursive: true, force: true }), 300_000);

const ADDRESS = 'alice@example.org';
/** Enough that linking them takes a while: the kills land part-way. */
const MESSAGES = 4000;
/**
 * Kill points: once this many of the account's files are linked (into the
 * Maildir in staging, or the account's own), ('maildir') once the Maildir is
 * in place, or ('index') once its index is.
 */
type KillPoint = number | 'maildir' | 'index';
const KILL_AT: KillPoint[] = [0, 1, 500, 1000, 2000, 3000, MESSAGES - 1, 'maildir', 'index'];
/** With the rounds' preparation first: killed in it (a catch-up round), or in the install after it. */
const KILL_PREPARED: KillPoint[] = [1, 1000, MESSAGES - 1, MESSAGES + 1, 'maildir', 'index'];

const src = path.join(root, 'src');
const stagedCopy = path.join(root, 'staged');
const imageFile = path.join(root, 'image.sqlite');
/** A catch-up round's image and files (taken before four flag changes and one delivery). */
const earlyImage = path.join(root, 'early.sqlite');
const earlyFiles = path.join(root, 'early.json');
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
    const early = (await store.replication.snapshotAccount!(account.id))!;
    fs.writeFileSync(earlyImage, early.image);
    fs.writeFileSync(earlyFiles, JSON.stringify(early.files));
    await box.storeFlags([1, 2, 3, 10], 'add', ['\\Seen', '$Label1']);
    box.close();
    await deliver(store, [account], message('late'));
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
  expect(expected).toHaveLength(MESSAGES + 2);
  fs.writeFileSync(
    path.join(root, 'child.mjs'),
    `import fs from 'node:fs';
import { openStore } from ${JSON.stringify(path.join(repo, 'dist/store/open.js'))};
const [dataDir, image, accountJson, early, earlyFiles] = process.argv.slice(2);
const account = JSON.parse(accountJson);
const store = await openStore({ dataDir, mailDir: dataDir + '/mail', hostname: 'dst.host', log: () => undefined });
const bytes = fs.readFileSync(image);
if (early) {
  process.stdout.write('preparing\\n');
  await store.replication.moves.prepareRound(account.id, JSON.parse(fs.readFileSync(earlyFiles, 'utf8')));
  await store.replication.moves.stageImage(account.id, fs.readFileSync(early));
}
process.stdout.write('installing\\n');
await store.replication.moves.install(account, bytes);
store.replication.moves.confirm(account.id);
process.stdout.write('confirmed\\n');
await store.close();
`,
  );
}, 300_000);

interface Destination {
  dataDir: string;
  account: Account;
  index: string;
  staged: string;
}

/** A fresh destination with the account's files staged as the rounds left them. */
async function destination(name: string): Promise<Destination> {
  const dataDir = path.join(root, name);
  fs.mkdirSync(dataDir, { recursive: true });
  const directory = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  const account = await directory.addUser({ address: ADDRESS, password: 'pw' });
  await directory.close();
  const store = (await openStore({ dataDir, mailDir: path.join(dataDir, 'mail'), hostname: 'dst.host', log: () => undefined })) as StoreImpl;
  const staging = stagingDir(store, account.id);
  const index = store.indexFile(account.id);
  const staged = stagedMaildir(store, account.id);
  await store.close();
  fs.cpSync(stagedCopy, staging, { recursive: true });
  return { dataDir, account, index, staged };
}

/** Files in INBOX's cur/ of a Maildir (0 when there is none). */
function filesIn(maildir: string): number {
  try {
    return fs.readdirSync(path.join(maildir, 'cur')).length;
  } catch {
    return 0;
  }
}

/**
 * Run the child; SIGKILL it as soon as `at` is reached after it says it is
 * preparing or installing (null: let it finish). `prepared`: it does the
 * catch-up rounds' preparation first.
 */
function install(d: Destination, at: KillPoint | null, prepared = false): Promise<{ out: string; killed: boolean }> {
  const { dataDir, account } = d;
  const reached = (): boolean => {
    if (at === 'index') return fs.existsSync(d.index);
    if (at === 'maildir') return filesIn(account.maildir) > 0;
    return filesIn(d.staged) + filesIn(account.maildir) >= (at ?? Infinity);
  };
  const args = [path.join(root, 'child.mjs'), dataDir, imageFile, JSON.stringify(account), ...(prepared ? [earlyImage, earlyFiles] : [])];
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { stdio: ['ignore', 'pipe', 'pipe'] });
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
      if (!watching && at !== null && out.includes(prepared ? 'preparing\n' : 'installing\n')) {
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

/** Kill at each point in turn; each restarted destination holds nothing of the account or all of it. */
async function killEach(points: KillPoint[], prepared: boolean): Promise<{ nothing: number; complete: number }> {
  const seen = { nothing: 0, complete: 0 };
  for (const [i, point] of points.entries()) {
    const d = await destination(`kill-${prepared ? 'prepared-' : ''}${i}`);
    const r = await install(d, point, prepared);
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
  return seen;
}

describe('kill -9 of the destination during a move\'s install', () => {
  it('leaves nothing of the account, or the complete account', { timeout: 600_000 }, async () => {
    const whole = await destination('whole');
    const full = await install(whole, null);
    expect(full.out).toContain('confirmed');
    expect((await listStore(whole.dataDir, [ADDRESS])).map(comparable).sort()).toEqual(expected);
    // The early kills hit the install itself.
    expect((await killEach(KILL_AT, false)).nothing).toBeGreaterThan(0);
  });

  it('after the catch-up rounds prepared the Maildir and image: the install relinks what changed; killed in either, nothing or all', { timeout: 600_000 }, async () => {
    const whole = await destination('whole-prepared');
    const full = await install(whole, null, true);
    expect(full.out).toContain('confirmed');
    expect((await listStore(whole.dataDir, [ADDRESS])).map(comparable).sort()).toEqual(expected);
    // The kills in the preparation (a catch-up round) leave nothing.
    expect((await killEach(KILL_PREPARED, true)).nothing).toBeGreaterThan(0);
  });
});
