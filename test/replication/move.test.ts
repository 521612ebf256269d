/**
 * `roost account move` between the primaries of two pairs:
 * two real nodes on loopback sharing replication.secret, QMQP deliveries
 * and an IMAP session changing flags on the account while it moves; then
 * the destination's store equals the source's (UIDVALIDITY, UIDs, modseqs,
 * flags and keywords, POP3 UIDLs, bytes), every acknowledged message is
 * there once, and the source refuses logins and deliveries. A destination
 * that already holds mail for the account refuses, and the source serves on
 * unchanged.
 */
import { ImapFlow } from 'imapflow';
import { afterEach, describe, expect, it } from 'vitest';
import { Pair, control, deliverUntil, ports, qmqpSend, replStatus, testMessage, waitUntil } from './pair.js';
import { listStore } from './inspect.js';
import { roostProcess } from '../helpers/cli.js';
import { login } from '../imap/helpers/client.js';
import { existsSync } from 'node:fs';
import path from 'node:path';

const ALICE = 'alice@example.org';

const pairs: Pair[] = [];
afterEach(async () => {
  for (const p of pairs.splice(0)) await p.cleanup();
});

/** One pair's primary alone (async acknowledgement: its replica is not started). */
async function primaryOf(users: string[]): Promise<Pair> {
  const p = await Pair.create({ ack: 'async', users });
  pairs.push(p);
  await p.start(p.a);
  await waitUntil('primary ready', async () => (await control(p.a, 'status')).ok);
  return p;
}

/** Until `roost verify` on the pair's primary finds both nodes identical, holding `messages` messages. */
async function pairIdentical(p: Pair, messages: number, timeoutMs: number): Promise<void> {
  await waitUntil(
    `pair identical with ${messages} messages`,
    async () => {
      const v = await roostProcess(['verify', '--json', '--config', p.a.proc!.configFile], { timeoutMs: 60_000 });
      return v.code === 0 && (JSON.parse(v.stdout) as { messages: number }).messages === messages;
    },
    timeoutMs,
  );
}

async function imap(port: number): Promise<ImapFlow> {
  const c = new ImapFlow({ host: '127.0.0.1', port, secure: false, auth: { user: ALICE, pass: `pw-${ALICE}` }, tls: { rejectUnauthorized: false }, logger: false });
  await c.connect();
  return c;
}

const comparable = (m: Awaited<ReturnType<typeof listStore>>[number]): string =>
  [m.mailbox, m.uidvalidity, m.uid, m.modseq, m.basename, m.flags, m.sha256, m.messageId].join(' ');

describe('roost account move', () => {
  it('moves an account under QMQP load and an IMAP session: identical stores, nothing lost or duplicated', { timeout: 240_000 }, async () => {
    const src = await primaryOf([ALICE]);
    const dst = await primaryOf([ALICE]);
    const sp = await ports(src.a);
    // Enough before the move that the first round is larger than LIMITS.move.freezeBelowMessages.
    const before = deliverUntil({ port: sp.qmqp!, users: [ALICE], tag: 'before', clients: 4, perClient: 75, size: (i) => 600 + (i % 7) * 300 });
    await before.done;
    expect(before.acked).toHaveLength(300);

    const client = await imap(sp.imap!);
    await client.mailboxCreate('Archive');
    await client.mailboxOpen('INBOX');
    await client.messageFlagsAdd('1:50', ['\\Seen', '$Label1'], { uid: true });
    await client.messageMove('51:60', 'Archive', { uid: true });

    // What a QRESYNC client knew just before the move (RFC 7162 §3.2.5).
    const before0 = await login(sp.imap!, ALICE, `pw-${ALICE}`);
    await before0.cmd('ENABLE QRESYNC');
    const sel0 = await before0.cmd('SELECT INBOX');
    const known = {
      uidvalidity: Number(/UIDVALIDITY (\d+)/.exec(sel0.untagged.join('\n'))![1]),
      modseq: BigInt(/HIGHESTMODSEQ (\d+)/.exec(sel0.untagged.join('\n'))![1]!),
    };
    await before0.cmd('LOGOUT');

    // During the move: more deliveries, and flag changes from the session until it is refused.
    let moving = true;
    const during = deliverUntil({ port: sp.qmqp!, users: [ALICE], tag: 'during', clients: 2, perClient: 400, size: () => 900, stop: () => !moving });
    let flagged = 0;
    let refused = 0;
    const session = (async () => {
      for (let uid = 61; uid <= 300 && moving; uid++) {
        try {
          await client.messageFlagsAdd(String(uid), ['\\Flagged'], { uid: true });
          flagged++;
        } catch {
          refused++;
          break;
        }
      }
    })();
    const run = await roostProcess(['account', 'move', ALICE, '--to', `127.0.0.1:${dst.a.replPort}`, '--json', '--config', src.a.proc!.configFile], { timeoutMs: 180_000 });
    moving = false;
    await Promise.all([during.done, session]);
    await client.logout().catch(() => undefined);
    expect(run.stderr).toMatch(/"progress":"account move"/);
    expect(run.code).toBe(0);
    const moved = JSON.parse(run.stdout) as { report: { identical: boolean }; freezeMs: number; messages: number; messagesPerSecond: number; rounds: number };
    expect(moved.report.identical).toBe(true);
    expect(moved.rounds).toBeGreaterThanOrEqual(2);
    expect(moved.freezeMs).toBeLessThan(60_000);
    expect(flagged + refused).toBeGreaterThan(0);

    // The source no longer takes mail or logins for the account.
    const z = await qmqpSend(sp.qmqp!, testMessage(0, 'after'), 's@example.net', [ALICE]);
    expect(z[0]).toBe('Z');
    await expect(imap(sp.imap!)).rejects.toThrow();

    // The destination serves it: the session's flags and the moved messages are there.
    const dp = await ports(dst.a);
    const c2 = await imap(dp.imap!);
    const box = await c2.mailboxOpen('INBOX');
    expect(box.exists).toBeGreaterThan(0);
    await c2.logout();
    // The client resynchronises against the new host: same UIDVALIDITY, and only what changed since.
    const q = await login(dp.imap!, ALICE, `pw-${ALICE}`);
    await q.cmd('ENABLE QRESYNC');
    const sel = await q.cmd(`SELECT INBOX (QRESYNC (${known.uidvalidity} ${known.modseq}))`, 30_000);
    await q.cmd('LOGOUT');
    expect(sel.tagged).toMatch(/OK/);
    expect(sel.untagged.join('\n')).toContain(`UIDVALIDITY ${known.uidvalidity}`);
    const fetched = sel.untagged.filter((l) => / FETCH \(/.test(l)).map((l) => BigInt(/MODSEQ \((\d+)\)/.exec(l)![1]!));
    expect(fetched.length).toBeGreaterThan(0);
    for (const m of fetched) expect(m > known.modseq).toBe(true);

    await src.kill(src.a, 'SIGTERM');
    await dst.kill(dst.a, 'SIGTERM');
    const a = await listStore(src.a.dataDir, [ALICE]);
    const b = await listStore(dst.a.dataDir, [ALICE]);
    expect(b.map(comparable).sort()).toEqual(a.map(comparable).sort());
    // Every acknowledged delivery is there exactly once.
    const ids = b.map((m) => m.messageId);
    expect(new Set(ids).size).toBe(ids.length);
    for (const k of [...before.acked, ...during.acked]) expect(ids).toContain(k.slice(ALICE.length + 1));
    expect(b.length).toBe(before.acked.length + during.acked.length);
    expect(b.filter((m) => m.mailbox === 'Archive')).toHaveLength(10);
    expect(b.filter((m) => m.flags.includes('$Label1'))).toHaveLength(50);
    expect(moved.messages).toBe(b.length);
    expect(fetched).toHaveLength(b.filter((m) => m.mailbox === 'INBOX' && BigInt(m.modseq) > known.modseq).length);

    // The moved mark is durable: restarted, the source still refuses; purge then removes its copy.
    await src.start(src.a);
    expect((await qmqpSend((await ports(src.a)).qmqp!, testMessage(1, 'after'), 's@example.net', [ALICE]))[0]).toBe('Z');
    const purged = await roostProcess(['account', 'purge', ALICE, '--config', src.a.proc!.configFile]);
    expect(purged.stdout).toMatch(/purged the copy of alice@example.org \(moved to 127\.0\.0\.1\)/);
    expect(purged.code).toBe(0);
    expect(existsSync(path.join(src.a.dataDir, 'mail', 'example.org', 'alice', 'Maildir'))).toBe(false);
  });

  it("the destination pair's replica gets the moved account (a full resync) and verifies identical", { timeout: 240_000 }, async () => {
    const src = await primaryOf([ALICE]);
    const dst = await Pair.create({ ack: 'sync', users: [ALICE, 'bob@example.org'] });
    pairs.push(dst);
    await dst.startBoth();
    await waitUntil('destination replica following', async () => (await replStatus(dst.a)).replication.connected === true, 60_000);
    const sp = await ports(src.a);
    const load = deliverUntil({ port: sp.qmqp!, users: [ALICE], tag: 'pair', clients: 2, perClient: 40, size: () => 700 });
    await load.done;
    expect((await qmqpSend((await ports(dst.a)).qmqp!, testMessage(1, 'bob'), 's@example.net', ['bob@example.org']))[0]).toBe('K');
    const run = await roostProcess(['account', 'move', ALICE, '--to', `127.0.0.1:${dst.a.replPort}`, '--config', src.a.proc!.configFile], { timeoutMs: 180_000 });
    expect(run.stderr).not.toMatch(/error/i);
    expect(run.stdout).toMatch(/moved alice@example.org to 127\.0\.0\.1 .*: 80 messages/);
    expect(run.code).toBe(0);
    // The replica had no record of the account: it is re-seeded, then both nodes of the pair agree.
    await pairIdentical(dst, 81, 120_000);
  });

  it("the destination's replica is re-seeded also when its primary restarts before the replica reconnects (the request is durable)", { timeout: 300_000 }, async () => {
    const src = await primaryOf([ALICE]);
    const dst = await Pair.create({ ack: 'async', users: [ALICE, 'bob@example.org'] });
    pairs.push(dst);
    await dst.startBoth();
    await waitUntil('destination replica following', async () => (await replStatus(dst.a)).replication.connected === true, 60_000);
    const load = deliverUntil({ port: (await ports(src.a)).qmqp!, users: [ALICE], tag: 'restart', clients: 2, perClient: 15, size: () => 700 });
    await load.done;
    expect((await qmqpSend((await ports(dst.a)).qmqp!, testMessage(1, 'bob'), 's@example.net', ['bob@example.org']))[0]).toBe('K');
    // The replica is away during the move, and its primary restarts before it comes back.
    await dst.kill(dst.b, 'SIGTERM');
    const run = await roostProcess(['account', 'move', ALICE, '--to', `127.0.0.1:${dst.a.replPort}`, '--config', src.a.proc!.configFile], { timeoutMs: 180_000 });
    expect(run.stdout).toMatch(/: 30 messages/);
    expect(run.code).toBe(0);
    await dst.kill(dst.a, 'SIGTERM');
    await dst.start(dst.a);
    await waitUntil('destination primary ready again', async () => (await control(dst.a, 'status')).ok, 60_000);
    await dst.start(dst.b);
    await pairIdentical(dst, 31, 150_000);
  });

  it('a destination that holds mail for the account refuses; the source serves on unchanged', { timeout: 120_000 }, async () => {
    const src = await primaryOf([ALICE]);
    const dst = await primaryOf([ALICE]);
    const sp = await ports(src.a);
    const dp = await ports(dst.a);
    expect((await qmqpSend(sp.qmqp!, testMessage(1, 'src'), 's@example.net', [ALICE]))[0]).toBe('K');
    expect((await qmqpSend(dp.qmqp!, testMessage(2, 'dst'), 's@example.net', [ALICE]))[0]).toBe('K');
    const r = await roostProcess(['account', 'move', ALICE, '--to', `127.0.0.1:${dst.a.replPort}`, '--config', src.a.proc!.configFile]);
    expect(r.stderr).toMatch(/already holds mail/);
    expect(r.code).not.toBe(0);
    // Still serving: a delivery and a login work.
    expect((await qmqpSend(sp.qmqp!, testMessage(3, 'src'), 's@example.net', [ALICE]))[0]).toBe('K');
    const c = await imap(sp.imap!);
    expect((await c.mailboxOpen('INBOX')).exists).toBe(2);
    await c.logout();
    // The destination's own copy is untouched.
    const c2 = await imap(dp.imap!);
    expect((await c2.mailboxOpen('INBOX')).exists).toBe(1);
    await c2.logout();
    // purge refuses an account that was not moved.
    const purge = await control(src.a, 'account-purge', { address: ALICE });
    expect(purge.ok).toBe(false);
  });
});
