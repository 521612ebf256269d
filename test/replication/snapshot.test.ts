/**
 * The bounded journal and the full resync by snapshot: with a small
 * `journal_max_bytes`, a replica that is away while the primary takes mail,
 * flag changes, expunges, a MOVE into a new folder, a folder rename and a new
 * user falls out of the journal; the primary says so, and when the replica
 * returns it is seeded by a snapshot (index state + files) while the primary
 * keeps taking deliveries, then follows the stream. `roost verify` ends
 * identical; after failover the promoted replica serves the same UIDs,
 * UIDVALIDITY and POP3 UIDLs, and a QRESYNC client whose modseq is older
 * than the replica's history gets every expunged UID (the complete answer).
 * A replica killed half-way through its snapshot asks for a new one.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { roostProcess } from '../helpers/cli.js';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { login } from '../imap/helpers/client.js';
import { FaultProxy } from './proxy.js';
import { looseModes } from '../helpers/modes.js';
import { Pair, ports, qmqpSend, replStatus, testMessage, waitUntil } from './pair.js';

const run = promisify(execFile);
const USERS = ['alice@example.org', 'bob@example.org'];
const JOURNAL_MAX = 64 * 1024;

async function uidl(port: number, user: string): Promise<string[]> {
  const script = [
    'import poplib, sys',
    `p = poplib.POP3("127.0.0.1", ${port}, timeout=20)`,
    `p.user(${JSON.stringify(user)}); p.pass_(${JSON.stringify('pw-' + user)})`,
    'print("\\n".join(x.decode() for x in p.uidl()[1]))',
    'p.quit()',
  ].join('\n');
  const { stdout } = await run('python3', ['-c', script], { timeout: 30_000 });
  return stdout.split('\n').filter(Boolean);
}

/** ENABLE QRESYNC and SELECT INBOX (QRESYNC (uidvalidity modseq 1:10)) with Python's imaplib; the VANISHED responses it collected. */
async function imaplibVanished(port: number, user: string, pass: string, uidvalidity: string, modseq: string): Promise<string[]> {
  const script = [
    'import imaplib',
    `m = imaplib.IMAP4("127.0.0.1", ${port}, timeout=20)`,
    `m.login(${JSON.stringify(user)}, ${JSON.stringify(pass)})`,
    'm.enable("QRESYNC")',
    `typ, _ = m._simple_command("SELECT", "INBOX (QRESYNC (${uidvalidity} ${modseq} 1:10))")`,
    'assert typ == "OK", typ',
    'print("\\n".join(v.decode() for v in m.untagged_responses.get("VANISHED", [])))',
    'm.logout()',
  ].join('\n');
  const { stdout } = await run('python3', ['-c', script], { timeout: 30_000 });
  return stdout.split('\n').filter(Boolean);
}

function code(lines: string[], name: string): string {
  for (const l of lines) {
    const m = new RegExp(`\\[${name} (\\d+)\\]`).exec(l);
    if (m) return m[1]!;
  }
  throw new Error(`no ${name} in ${lines.join(' | ')}`);
}

async function deliverMany(port: number, n: number, tag: string): Promise<number> {
  let ok = 0;
  for (let i = 0; i < n; i += 8) {
    const replies = await Promise.all(
      Array.from({ length: Math.min(8, n - i) }, (_v, k) => qmqpSend(port, testMessage(i + k, tag), 's@example.net', [USERS[(i + k) % 2]!])),
    );
    for (const r of replies) {
      expect(r[0]).toBe('K');
      ok++;
    }
  }
  return ok;
}

async function verifyIdentical(pair: Pair): Promise<void> {
  for (const n of [pair.a, pair.b]) {
    const v = await roostProcess(['verify', '--config', n.proc!.configFile]);
    expect(v.stdout + v.stderr).toMatch(/^identical/m);
    expect(v.code).toBe(0);
  }
}

async function caughtUp(pair: Pair): Promise<boolean> {
  const [x, y] = [await replStatus(pair.b), await replStatus(pair.a)];
  return x.replication.connected && x.replication.snapshot === null && x.replication.appliedLsn === y.replication.lastLsn;
}

describe('bounded journal and full resync by snapshot', () => {
  let pair: Pair;

  afterAll(async () => {
    await pair?.cleanup();
  });

  it('a replica that fell out of the journal is seeded by a snapshot and ends identical; failover keeps UIDs, UIDLs and QRESYNC', async () => {
    pair = await Pair.create({ ack: 'async', users: USERS });
    for (const n of [pair.a, pair.b]) (n.overrides.replication as Record<string, unknown>).journal_max_bytes = JOURNAL_MAX;
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair.b)).replication.connected);
    const pa = await ports(pair.a);
    await deliverMany(pa.qmqp!, 20, 'early');
    await waitUntil('replicated', () => caughtUp(pair));

    // A QRESYNC client syncs INBOX now and goes away (its modseq will predate the replica's history).
    const q = await login(pa.imap!, USERS[0]!, `pw-${USERS[0]}`);
    await q.cmd('ENABLE QRESYNC');
    const sel = await q.cmd('SELECT INBOX');
    const uidvalidity = code(sel.untagged, 'UIDVALIDITY');
    const oldModseq = code(sel.untagged, 'HIGHESTMODSEQ');
    await q.cmd('LOGOUT');

    // The replica goes away; the primary keeps changing things.
    await pair.kill(pair.b, 'SIGTERM');
    await deliverMany(pa.qmqp!, 400, 'away');
    const c = await login(pa.imap!, USERS[0]!, `pw-${USERS[0]}`);
    await c.cmd('SELECT INBOX');
    expect((await c.cmd('UID STORE 1:4 +FLAGS (\\Seen \\Flagged)')).tagged).toMatch(/OK/);
    expect((await c.cmd('UID STORE 5,6 +FLAGS (\\Deleted)')).tagged).toMatch(/OK/);
    expect((await c.cmd('UID EXPUNGE 5,6')).tagged).toMatch(/OK/);
    expect((await c.cmd('CREATE Projects')).tagged).toMatch(/OK/);
    expect((await c.cmd('UID MOVE 7:9 Projects')).tagged).toMatch(/OK/);
    expect((await c.cmd('RENAME Projects Older')).tagged).toMatch(/OK/);
    await c.cmd('LOGOUT');
    const added = await roostProcess(['user', 'add', 'carol@example.org', '--password-stdin', '--config', pair.a.proc!.configFile], { stdin: 'pw-carol\n' });
    expect(added.code).toBe(0);

    await waitUntil('journal pruned', async () => (await replStatus(pair.a)).replication.journal.pruned > 0, 20_000);
    const sa = (await replStatus(pair.a)).replication;
    // Checked every 8 records at this bound: at most a few pages over it between checks.
    expect(sa.journal.usedBytes).toBeLessThanOrEqual(JOURNAL_MAX + 16 * 1024);
    expect(BigInt(sa.journal.firstLsn)).toBeGreaterThan(30n);
    expect(sa.replicaNeedsResync).toBe(true);
    expect(pair.a.proc!.output()).toMatch(/journal pruned to stay within journal_max_bytes/);
    const metrics = await (await fetch(`http://127.0.0.1:${pa.admin}/metrics`)).text();
    const gauge = (name: string): number => Number(new RegExp(`^${name} (\\S+)$`, 'm').exec(metrics)?.[1] ?? NaN);
    expect(gauge('roost_replication_replica_needs_resync')).toBe(1);
    expect(gauge('roost_journal_first_lsn')).toBe(Number(sa.journal.firstLsn));
    expect(gauge('roost_journal_bytes')).toBeGreaterThan(0);
    expect(gauge('roost_replication_last_lsn')).toBeGreaterThanOrEqual(Number(sa.lastLsn));

    // The replica returns and is seeded while deliveries go on.
    await pair.start(pair.b);
    const during = deliverMany(pa.qmqp!, 40, 'during');
    await during;
    await waitUntil('seeded and caught up', () => caughtUp(pair), 60_000);
    expect(pair.a.proc!.output()).toMatch(/snapshot sent; streaming the journal/);
    expect(pair.b.proc!.output()).toMatch(/snapshot installed; following the stream/);
    await verifyIdentical(pair);
    // What the snapshot wrote on the replica (index images, Maildir files, accounts) is private.
    expect(looseModes(pair.b.dataDir)).toEqual([]);

    // The stream goes on after the snapshot.
    await deliverMany(pa.qmqp!, 6, 'later');
    await waitUntil('later replicated', () => caughtUp(pair));
    await verifyIdentical(pair);

    const before: Record<string, string[]> = {};
    for (const u of USERS) before[u] = await uidl(pa.pop3!, u);
    expect(before[USERS[0]!]!.length).toBe(10 + 200 + 20 + 3 - 2 - 3);

    // Failover to the seeded replica.
    await pair.kill(pair.a, 'SIGKILL');
    const promoted = await roostProcess(['promote', '--config', pair.b.proc!.configFile]);
    expect(promoted.code).toBe(0);
    const pb = await ports(pair.b);
    for (const u of USERS) expect(await uidl(pb.pop3!, u)).toEqual(before[u]);
    // The user added while the replica was away came with the snapshot's directory.
    const carol = await login(pb.imap!, 'carol@example.org', 'pw-carol');
    await carol.cmd('LOGOUT');

    const r = await login(pb.imap!, USERS[0]!, `pw-${USERS[0]}`);
    await r.cmd('ENABLE QRESYNC');
    const res = await r.cmd(`SELECT INBOX (QRESYNC (${uidvalidity} ${oldModseq} 1:10))`);
    expect(res.tagged).toMatch(/OK/);
    expect(code(res.untagged, 'UIDVALIDITY')).toBe(uidvalidity);
    // UIDs 5,6 expunged and 7:9 moved away: all reported, none that still exists.
    expect(res.untagged.filter((l) => l.startsWith('* VANISHED'))).toEqual(['* VANISHED (EARLIER) 5:9']);
    const flagged = res.untagged.filter((l) => / FETCH /.test(l) && /\\Flagged/.test(l)).map((l) => /UID (\d+)/.exec(l)![1]);
    expect(flagged).toEqual(['1', '2', '3', '4']);
    // The same answer to a real client library: Python's imaplib with QRESYNC enabled.
    expect(await imaplibVanished(pb.imap!, USERS[0]!, `pw-${USERS[0]}`, uidvalidity, oldModseq)).toEqual(['(EARLIER) 5:9']);
    const list = await r.cmd('LIST "" *');
    expect(list.untagged.some((l) => / Older$/.test(l))).toBe(true);
    const arch = await r.cmd('SELECT Older');
    expect(arch.untagged).toContain('* 3 EXISTS');
    await r.cmd('LOGOUT');
  }, 180_000);

  it('an old primary whose divergence was partly pruned does not resync (that would delete it) and says so', async () => {
    await pair?.cleanup();
    pair = await Pair.create({ ack: 'async', users: USERS });
    for (const n of [pair.a, pair.b]) (n.overrides.replication as Record<string, unknown>).journal_max_bytes = JOURNAL_MAX;
    const proxy = new FaultProxy(pair.a.replPort);
    await proxy.listen();
    try {
      (pair.b.overrides.replication as Record<string, unknown>).peer = `127.0.0.1:${proxy.port}`;
      await pair.startBoth();
      await waitUntil('replica connected', async () => (await replStatus(pair.b)).replication.connected);
      const pa = await ports(pair.a);
      await deliverMany(pa.qmqp!, 4, 'shared');
      await waitUntil('replicated', () => caughtUp(pair));
      // Cut off, A (async) accepts far more than its journal bound holds.
      proxy.drop();
      await waitUntil('link down', async () => !(await replStatus(pair.b)).replication.connected);
      await deliverMany(pa.qmqp!, 300, 'cut');
      await waitUntil('A pruned', async () => (await replStatus(pair.a)).replication.journal.pruned > 0, 20_000);
      await pair.kill(pair.a, 'SIGKILL');
      expect((await roostProcess(['promote', '--config', pair.b.proc!.configFile])).code).toBe(0);

      const a = await pair.start(pair.a);
      await waitUntil('hand-back refused', () => /hand-back impossible/.test(a.output()), 20_000);
      const st = await replStatus(pair.a);
      expect(st.role).toBe('replica');
      expect(st.replication.needsResync).toBe(true);
      expect(a.output()).not.toMatch(/discarding local mailbox data/);
      // Its mail is all still there for the operator: 2 shared + 150 cut-off messages per user.
      for (const u of USERS) {
        const [local, domain] = u.split('@') as [string, string];
        const dir = path.join(pair.a.dataDir, 'mail', domain, local, 'Maildir');
        const files = (await readdir(path.join(dir, 'new')).catch(() => [])).length + (await readdir(path.join(dir, 'cur')).catch(() => [])).length;
        expect(files).toBe(152);
      }
    } finally {
      await proxy.close();
    }
  }, 120_000);

  it('a replica killed half-way through its snapshot asks for a new one and ends identical', async () => {
    await pair?.cleanup();
    pair = await Pair.create({ ack: 'async', users: USERS });
    for (const n of [pair.a, pair.b]) (n.overrides.replication as Record<string, unknown>).journal_max_bytes = JOURNAL_MAX;
    await pair.start(pair.a);
    const pa = await ports(pair.a);
    // Bigger messages so the snapshot takes long enough to be interrupted.
    let ok = 0;
    for (let i = 0; i < 600; i += 8) {
      const replies = await Promise.all(Array.from({ length: 8 }, (_v, k) => qmqpSend(pa.qmqp!, testMessage(i + k, 'big', 64 * 1024), 's@example.net', [USERS[(i + k) % 2]!])));
      ok += replies.filter((x) => x[0] === 'K').length;
    }
    expect(ok).toBe(600);
    await waitUntil('journal pruned', async () => (await replStatus(pair.a)).replication.journal.pruned > 0, 20_000);

    const b = await pair.start(pair.b);
    await waitUntil('snapshot under way', async () => {
      const s = (await replStatus(pair.b)).replication.snapshot;
      return s !== null && s.files > 50;
    }, 30_000);
    await pair.kill(pair.b, 'SIGKILL');
    expect(b.output()).not.toMatch(/snapshot installed/);

    const b2 = await pair.start(pair.b);
    await waitUntil('interrupted resync noticed', () => /full resync was interrupted/.test(b2.output()), 10_000);
    await waitUntil('seeded again and caught up', () => caughtUp(pair), 90_000);
    expect((await replStatus(pair.b)).replication.needsResync).toBe(false);
    await verifyIdentical(pair);
  }, 180_000);
});
