/**
 * The cluster-manager scripts in contrib/, called the way heartbeat v1,
 * keepalived and Pacemaker call them (arguments, OCF_RESKEY_* environment,
 * exit codes), against two real nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { BIN, REPO } from '../helpers/cli.js';
import { Pair, replStatus, waitUntil, type PairNode } from './pair.js';

const HEARTBEAT = path.join(REPO, 'contrib', 'heartbeat', 'roost');
const KEEPALIVED = path.join(REPO, 'contrib', 'keepalived', 'roost-notify');
const OCF = path.join(REPO, 'contrib', 'pacemaker', 'roost');
const PATH = `${path.dirname(process.execPath)}:${process.env.PATH ?? '/usr/bin:/bin'}`;

function run(file: string, args: string[], env: Record<string, string> = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(file, args, { env: { PATH, ROOST_BIN: BIN, ...env }, timeout: 60_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? ((err as { code: number }).code) : 1) : 0;
      resolve({ code, stdout, stderr });
    });
  });
}

const cfg = (n: PairNode): string => path.join(n.dataDir, 'roost.toml');
const role = async (n: PairNode): Promise<string> => (await replStatus(n)).role;

let pair: Pair;
let agentPid: number | null = null;

beforeAll(async () => {
  pair = await Pair.create({ ack: 'async' });
  await pair.startBoth();
  await waitUntil('replica connected', async () => (await replStatus(pair.b)).replication.connected);
}, 60_000);

afterAll(async () => {
  if (agentPid) {
    try {
      process.kill(agentPid, 'SIGKILL');
    } catch {
      // already gone
    }
  }
  await pair?.cleanup();
});

describe('heartbeat v1 resource script', () => {
  it('status reports running only on the primary', async () => {
    const a = await run(HEARTBEAT, [cfg(pair.a), 'status']);
    expect(a.code).toBe(0);
    expect(a.stdout).toMatch(/running/);
    const b = await run(HEARTBEAT, [cfg(pair.b), 'status']);
    expect(b.code).toBe(0);
    expect(b.stdout).not.toMatch(/running|OK/);
  });

  it('stop = demote (idempotent), start = promote', async () => {
    expect((await run(HEARTBEAT, [cfg(pair.a), 'stop'])).code).toBe(0);
    expect(await role(pair.a)).toBe('replica');
    expect((await run(HEARTBEAT, [cfg(pair.a), 'stop'])).code).toBe(0);
    expect((await run(HEARTBEAT, [cfg(pair.b), 'start'])).code).toBe(0);
    expect(await role(pair.b)).toBe('primary');
    expect((await run(HEARTBEAT, [cfg(pair.b), 'status'])).stdout).toMatch(/running/);
    expect((await run(HEARTBEAT, [cfg(pair.b), 'start'])).code).toBe(0);
    expect((await run(HEARTBEAT, [cfg(pair.a), 'bogus'])).code).toBe(2);
  }, 60_000);
});

describe('keepalived notify script', () => {
  it('generic notify arguments: BACKUP demotes, MASTER promotes; per-state form works too', async () => {
    const down = await run(KEEPALIVED, ['INSTANCE', 'VI_ROOST', 'BACKUP', '100'], { ROOST_CONFIG: cfg(pair.b) });
    expect(down.code).toBe(0);
    expect(await role(pair.b)).toBe('replica');
    const up = await run(KEEPALIVED, ['MASTER'], { ROOST_CONFIG: cfg(pair.a) });
    expect(up.code).toBe(0);
    expect(await role(pair.a)).toBe('primary');
    await waitUntil('b follows a', async () => (await replStatus(pair.b)).replication.connected);
    expect((await run(KEEPALIVED, ['INSTANCE', 'VI_ROOST', 'FAULT', '0'], { ROOST_CONFIG: cfg(pair.b) })).code).toBe(0);
    expect((await run(KEEPALIVED, ['GROUP', 'G', 'WHATEVER', '0'], { ROOST_CONFIG: cfg(pair.b) })).code).toBe(2);
  }, 60_000);
});

describe('Pacemaker OCF agent (promotable clone)', () => {
  const ocf = (n: PairNode, action: string, extra: Record<string, string> = {}) =>
    run(OCF, [action], { OCF_ROOT: '/usr/lib/ocf', OCF_RESKEY_config: cfg(n), OCF_RESKEY_roost: BIN, ...extra });

  it('monitor: 8 on the primary, 0 on the replica', async () => {
    expect((await ocf(pair.a, 'monitor')).code).toBe(8);
    expect((await ocf(pair.b, 'monitor')).code).toBe(0);
  });

  it('demote/promote switch roles', async () => {
    expect((await ocf(pair.a, 'demote')).code).toBe(0);
    expect((await ocf(pair.b, 'promote')).code).toBe(0);
    expect((await ocf(pair.b, 'monitor')).code).toBe(8);
    expect((await ocf(pair.a, 'monitor')).code).toBe(0);
    expect((await ocf(pair.b, 'promote')).code).toBe(0);
  }, 60_000);

  it('stop ends the node (7 afterwards, idempotent); start brings it up unpromoted', async () => {
    const stop = await ocf(pair.a, 'stop');
    expect(stop.code).toBe(0);
    await pair.a.proc!.exited;
    pair.a.proc = null;
    expect((await ocf(pair.a, 'monitor')).code).toBe(7);
    expect((await ocf(pair.a, 'stop')).code).toBe(0);
    expect((await ocf(pair.a, 'promote')).code).toBe(7);
    const start = await ocf(pair.a, 'start');
    expect(start.code).toBe(0);
    agentPid = (JSON.parse(await readFile(path.join(pair.a.dataDir, 'node.json'), 'utf8')) as { pid: number }).pid;
    expect((await ocf(pair.a, 'monitor')).code).toBe(0);
    await waitUntil('restarted node follows', async () => (await replStatus(pair.a)).replication.connected);
  }, 60_000);

  it('meta-data, validate-all and unknown actions', async () => {
    const md = await ocf(pair.a, 'meta-data');
    expect(md.code).toBe(0);
    expect(md.stdout).toMatch(/<resource-agent name="roost"/);
    expect(md.stdout).toMatch(/<action name="promote"/);
    expect((await ocf(pair.a, 'validate-all')).code).toBe(0);
    expect((await ocf(pair.a, 'validate-all', { OCF_RESKEY_config: '/nonexistent/roost.toml' })).code).toBe(6);
    expect((await ocf(pair.a, 'validate-all', { OCF_RESKEY_roost: '/nonexistent/roost' })).code).toBe(5);
    expect((await ocf(pair.a, 'frobnicate')).code).toBe(3);
  });
});
