/**
 * cluster.statusTimeoutMs at N and N+1: `roost cluster status` (run in
 * process) gives each node it asks that long, its own node's control socket
 * and each listed node's /health, then reports the silent ones and exits 1.
 * The peers are real: a unix socket and a TCP listener that accept and never
 * answer, and an HTTP /health that answers at once.
 */
import http from 'node:http';
import net from 'node:net';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { LIMITS } from '../../src/limits.js';
import { roost } from '../helpers/cli.js';
import { silentListener, TIMER_SLACK_MS } from '../helpers/timing.js';

const limits = LIMITS.cluster as { statusTimeoutMs: number };
const saved = limits.statusTimeoutMs;
const T = 700;
let dir: string;
let cfg: string;
let control: net.Server;
const held: net.Socket[] = [];
let silent: Awaited<ReturnType<typeof silentListener>>;
let health: http.Server;

beforeAll(async () => {
  dir = await mkdtemp(path.join(os.tmpdir(), 'roost-cstatus-'));
  // This node's control socket: accepts, never answers (a hung node).
  control = net.createServer((s) => held.push(s.on('error', () => undefined)));
  await new Promise<void>((r) => control.listen(path.join(dir, 'control.sock'), r));
  silent = await silentListener();
  health = http.createServer((_q, res) => res.writeHead(200, { 'Content-Type': 'application/json' }).end(JSON.stringify({ role: 'primary', ready: true, epoch: 3 })));
  await new Promise<void>((r) => health.listen(0, '127.0.0.1', r));
  const hp = (health.address() as net.AddressInfo).port;
  cfg = path.join(dir, 'roost.toml');
  await writeFile(cfg, [`data_dir = "${dir}"`, 'hostname = "mx1.example.org"', '[cluster.hosts]', `"mx2.example.org" = "127.0.0.1:${hp} 127.0.0.1:${silent.port}"`, ''].join('\n'));
  limits.statusTimeoutMs = T;
});
afterAll(async () => {
  limits.statusTimeoutMs = saved;
  for (const s of held) s.destroy();
  await new Promise<void>((r) => control.close(() => r()));
  await new Promise<void>((r) => health.close(() => r()));
  await silent.close();
  await rm(dir, { recursive: true, force: true });
});

describe('roost cluster status waits', () => {
  it('cluster.statusTimeoutMs: a node that answers is shown; a hung local node and a silent listed one are given that long, then reported, exit 1', async () => {
    const since = performance.now();
    const r = await roost(['cluster', 'status', '--json', '--config', cfg]);
    const elapsed = performance.now() - since;
    expect(r.code).toBe(1);
    const rows = (JSON.parse(r.stdout) as { pairs: { pair: string; node: string; role: string | null; note: string | null }[] }).pairs;
    expect(rows.find((x) => x.node === 'this node')).toMatchObject({ role: null, note: 'not running' });
    expect(rows.find((x) => x.node === `127.0.0.1:${(health.address() as net.AddressInfo).port}`)).toMatchObject({ role: 'primary' });
    expect(rows.find((x) => x.node === `127.0.0.1:${silent.port}`)).toMatchObject({ role: null });
    expect(silent.accepted.length).toBe(1);
    expect(held.length).toBe(1);
    // The local ask and the pair's asks come one after the other: each waited its full limit.
    expect(elapsed).toBeGreaterThanOrEqual(2 * T - TIMER_SLACK_MS);
  });
});
