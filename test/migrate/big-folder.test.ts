/**
 * Issue 15, Tests: "300,000 messages in one folder: reindex and import
 * finish, RSS bounded, login works during and after", at a size the shared
 * test machine bears (50,000 tiny messages; the 300,000 case is measured by
 * `npm run bench:import`, bench/results/import.md).
 *
 * A real `roost serve` process; `roost import --link` and `roost reindex`
 * as an operator runs them, both rebuilding the index inside the node
 * (control socket). During the rebuild, judged by events: alice's own LOGIN
 * answers NO [UNAVAILABLE] (her index is half built) both before and after
 * bob's LOGIN, which must succeed — so bob logged in during it. After it,
 * alice sees every message with the old server's UIDs. The node's RSS
 * (/proc/PID/status) after both stays under a loose bound (RSS_GROWTH_MAX).
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { openSqliteDirectory } from '../../src/accounts/sqlite.js';
import type { Account } from '../../src/accounts/directory.js';
import { roostProcess } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/node.js';
import { spawnNode, type SpawnedNode } from '../helpers/spawn.js';
import { RawImap } from '../imap/helpers/client.js';

const MANY = 50_000;
/** Login rounds at most while one rebuild runs (each round is three logins). */
const MAX_ROUNDS = 20_000;
/**
 * RSS the node may hold after both rebuilds over what it held before them.
 * Loose on purpose: what the allocator keeps after a rebuild varies from run
 * to run here (a second rebuild added 3 to 91 MB in five runs), so this
 * bounds the total (155–231 MB seen) rather than asserting that a rebuild
 * returns its memory, which it does not yet reliably do (README, Import and
 * reindex). It catches a rebuild that keeps every message's records, as the
 * one that held 600 MB after 100,000 messages did.
 */
const RSS_GROWTH_MAX = 384 * 1024 * 1024;

function rssOf(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  return Number(m![1]) * 1024;
}

/** A Dovecot-style folder of `n` hard links of a few tiny message files, UIDs 2, 4, 6… in its dovecot-uidlist. */
function writeSource(maildir: string, n: number): void {
  for (const s of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, s), { recursive: true });
  const one = path.join(maildir, 'one');
  const lines = [`3 V1700000000 N${2 * n + 2} G0123456789abcdef0123456789abcdef`];
  for (let i = 0; i < n; i++) {
    // A new inode every 10,000 links: ext4 allows 65,000 names per file, and --link adds as many again.
    if (i % 10_000 === 0) {
      fs.rmSync(one, { force: true });
      fs.writeFileSync(one, 'Subject: x\n\nx\n');
    }
    const base = `${1_600_000_000 + Math.floor(i / 100)}.M${i}P1.old,S=14,W=16`;
    fs.linkSync(one, path.join(maildir, 'cur', `${base}:2,S`));
    lines.push(`${2 * i + 2} :${base}:2,S`);
  }
  fs.rmSync(one);
  fs.writeFileSync(path.join(maildir, 'dovecot-uidlist'), lines.join('\n') + '\n');
}

async function loginAnswer(port: number, user: string, pass: string, then?: string): Promise<string> {
  const c = await RawImap.connect(port);
  try {
    await c.line(60_000);
    const r = await c.cmd(`LOGIN "${user}" "${pass}"`, 60_000);
    if (!then || !/^a\d+ OK/.test(r.tagged)) return r.tagged;
    return (await c.cmd(then, 60_000)).untagged.join('\n');
  } finally {
    c.close();
  }
}

describe(`${MANY} messages in one folder`, () => {
  let dataDir = '';
  let src = '';
  let node: SpawnedNode | null = null;
  let alice: Account;

  beforeAll(async () => {
    dataDir = await makeTempDir('roost-big-folder-');
    const dir = openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
    alice = await dir.addUser({ address: 'alice@example.org', password: 'alice-pw' });
    await dir.addUser({ address: 'bob@example.org', password: 'bob-pw' });
    await dir.close();
    src = path.join(dataDir, 'old', 'Maildir');
    writeSource(src, MANY);
    node = await spawnNode(dataDir);
  }, 300_000);

  afterAll(async () => {
    node?.kill('SIGKILL');
    if (node) await node.exited;
    if (dataDir) fs.rmSync(dataDir, { recursive: true, force: true });
  });

  /** Run the CLI `args` while logging in as alice, bob, alice; returns the exit and the rounds where bob got in between two refusals of alice. */
  async function whileLoggingIn(args: string[]): Promise<{ code: number; bobDuring: number; stderr: string }> {
    const port = node!.ports.imap!;
    let done = false;
    const run = roostProcess([...args, '--config', node!.configFile], { timeoutMs: 540_000 }).finally(() => (done = true));
    let bobDuring = 0;
    for (let i = 0; i < MAX_ROUNDS && !done; i++) {
      const before = await loginAnswer(port, 'alice@example.org', 'alice-pw');
      const bob = await loginAnswer(port, 'bob@example.org', 'bob-pw');
      const after = await loginAnswer(port, 'alice@example.org', 'alice-pw');
      expect(bob).toMatch(/^a\d+ OK/);
      if (/NO \[UNAVAILABLE\]/.test(before) && /NO \[UNAVAILABLE\]/.test(after)) bobDuring++;
    }
    const r = await run;
    return { code: r.code, bobDuring, stderr: r.stderr };
  }

  it('roost import --link and roost reindex finish in the node, bob logs in during both, alice after; RSS stays under a loose bound', async () => {
    const pid = node!.pid;
    const rss0 = rssOf(pid);
    const imported = await whileLoggingIn(['import', 'alice@example.org', src, '--link']);
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.bobDuring, 'bob logged in while the import rebuilt alice\'s index').toBeGreaterThan(0);
    const status = `* STATUS INBOX (MESSAGES ${MANY} UIDNEXT ${2 * MANY + 2})`;
    expect(await loginAnswer(node!.ports.imap!, 'alice@example.org', 'alice-pw', 'STATUS INBOX (MESSAGES UIDNEXT)')).toContain(status);
    const rss1 = rssOf(pid);

    const reindexed = await whileLoggingIn(['reindex', 'alice@example.org']);
    expect(reindexed.code, reindexed.stderr).toBe(0);
    expect(reindexed.bobDuring, 'bob logged in while the reindex ran').toBeGreaterThan(0);
    // UIDs kept: the last message still has the old server's UID.
    const c = await RawImap.connect(node!.ports.imap!);
    try {
      await c.line(60_000);
      expect((await c.cmd('LOGIN "alice@example.org" "alice-pw"', 60_000)).tagged).toMatch(/OK/);
      expect((await c.cmd('EXAMINE INBOX', 60_000)).untagged).toContain(`* ${MANY} EXISTS`);
      expect((await c.cmd(`FETCH ${MANY} (UID)`, 60_000)).untagged).toEqual([`* ${MANY} FETCH (UID ${2 * MANY})`]);
    } finally {
      c.close();
    }
    const rss2 = rssOf(pid);
    console.info(`node RSS: ${(rss0 / 1048576).toFixed(0)} MB before, ${(rss1 / 1048576).toFixed(0)} MB after the import, ${(rss2 / 1048576).toFixed(0)} MB after the reindex; bob in during: ${imported.bobDuring}, ${reindexed.bobDuring}`);
    expect(rss2 - rss0).toBeLessThan(RSS_GROWTH_MAX);
    expect(fs.readdirSync(path.join(alice.maildir, 'cur'))).toHaveLength(MANY);
  }, 600_000);
});
