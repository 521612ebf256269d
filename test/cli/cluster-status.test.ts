/**
 * `roost cluster status` against real processes: a replicating
 * pair whose nodes are listed by their admin listeners, this node answering
 * over its control socket, a pair known only by its service address, and a
 * listed node that does not answer (exit 1, so a monitoring check can use it).
 */
import { writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { roost } from '../helpers/cli.js';
import { freePort, Pair, ports, qmqpSend, testMessage, waitUntil } from '../replication/pair.js';

interface Row {
  pair: string;
  node: string;
  role: string | null;
  ready: boolean | null;
  epoch: number | null;
  lsn: string | null;
  lagRecords: number | null;
  accounts: number | null;
  diskUsedBytes: number | null;
  diskFreeBytes: number | null;
  note: string | null;
}

let pair: Pair;
let cfg: string;
let adminA: number;
let adminB: number;

beforeAll(async () => {
  pair = await Pair.create();
  await pair.startBoth();
  const pa = await ports(pair.a);
  adminA = pa.admin!;
  adminB = (await ports(pair.b)).admin!;
  await waitUntil('the replica connected', async () => (await qmqpSend(pa.qmqp!, testMessage(1, 'cluster'), 's@example.net', ['alice@example.org'])).startsWith('K'), 30_000);
  const dead = await freePort();
  cfg = path.join(pair.a.dataDir, 'cluster.toml');
  await writeFile(
    cfg,
    [
      `data_dir = "${pair.a.dataDir}"`,
      'hostname = "mx1.example.org"',
      '[cluster.hosts]',
      `"mx2.example.org" = "127.0.0.1:${adminA} 127.0.0.1:${adminB}"`,
      '"mx3.example.org" = "192.0.2.10"',
      `"mx4.example.org" = "127.0.0.1:${dead}"`,
      '',
    ].join('\n'),
  );
}, 60_000);
afterAll(async () => {
  await pair?.cleanup();
});

async function status(): Promise<{ code: number; rows: Row[] }> {
  const r = await roost(['cluster', 'status', '--json', '--config', cfg]);
  return { code: r.code, rows: (JSON.parse(r.stdout) as { pairs: Row[] }).pairs };
}

describe('roost cluster status', () => {
  it('shows each node: role, epoch, LSN, lag, accounts, disk; a silent node makes it exit 1', async () => {
    // The storage figures refresh in the background (LIMITS.cluster.storageRefreshMs): wait for alice to count.
    let last: { code: number; rows: Row[] } | null = null;
    await waitUntil(
      'both nodes report alice and no lag',
      async () => {
        last = await status();
        const b = last.rows.filter((r) => r.pair === 'mx2.example.org');
        return b.length === 2 && b.every((r) => (r.accounts ?? 0) >= 1 && r.lagRecords === 0) && b[0]!.lsn === b[1]!.lsn;
      },
      30_000,
    );
    const { code, rows } = last!;
    expect(code).toBe(1);
    expect(rows.map((r) => [r.pair, r.node])).toEqual([
      ['mx1.example.org', 'this node'],
      ['mx2.example.org', `127.0.0.1:${adminA}`],
      ['mx2.example.org', `127.0.0.1:${adminB}`],
      ['mx3.example.org', '192.0.2.10'],
      ['mx4.example.org', expect.stringMatching(/^127\.0\.0\.1:\d+$/)],
    ]);
    const [self, a, b, vip, dead] = rows;
    expect(self).toMatchObject({ role: 'primary', ready: true, note: null });
    expect(a).toMatchObject({ role: 'primary', ready: true, lagRecords: 0 });
    expect(b).toMatchObject({ role: 'replica', ready: true, lagRecords: 0 });
    expect(a!.epoch).toBeGreaterThanOrEqual(1);
    expect(b!.epoch).toBe(a!.epoch);
    expect(BigInt(a!.lsn!)).toBeGreaterThan(0n);
    for (const r of [self!, a!, b!]) {
      expect(r.diskUsedBytes).toBeGreaterThan(0);
      expect(r.diskFreeBytes).toBeGreaterThan(0);
    }
    expect(vip).toMatchObject({ role: null, note: expect.stringMatching(/service address only/) });
    expect(dead).toMatchObject({ role: null, note: 'no answer' });
  }, 60_000);

  it('prints a table by default', async () => {
    const r = await roost(['cluster', 'status', '--config', cfg]);
    const lines = r.stdout.trimEnd().split('\n');
    expect(lines[0]).toMatch(/^PAIR\s+NODE\s+ROLE\s+READY\s+EPOCH\s+LSN\s+LAG\s+ACCOUNTS\s+DISK USED\s+DISK FREE\s+NOTE$/);
    expect(lines).toHaveLength(6);
    expect(lines.find((l) => l.includes(`127.0.0.1:${adminB}`))).toMatch(/\breplica\b/);
    expect(lines.find((l) => l.includes('mx4.example.org'))).toMatch(/no answer$/);
  }, 30_000);
});
