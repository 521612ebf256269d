// What every benchmark needs to run Roost as a user would: `roost serve` from
// the built checkout in its own process, and QMQP packets to feed it.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'roost');

/**
 * Start `roost serve --config cfgFile` and resolve once the node has written
 * data_dir/node.json with its bound ports. Returns {child, ports}.
 */
export async function spawnRoost(dataDir, cfgFile, { stdio = ['ignore', 'inherit', 'inherit'], nodeArgs = [], timeoutMs = 60_000, cpus = null } = {}) {
  // cpus: "0" or "1,2" runs the node on those CPUs only (taskset(1) execs it, so the pid is the node's).
  const argv = [...nodeArgs, BIN, 'serve', '--config', cfgFile];
  const child = cpus ? spawn('taskset', ['-c', cpus, process.execPath, ...argv], { stdio }) : spawn(process.execPath, argv, { stdio });
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    try {
      const info = JSON.parse(readFileSync(path.join(dataDir, 'node.json'), 'utf8'));
      if (info.pid === child.pid) return { child, ports: info.ports };
    } catch {
      // not written yet
    }
    if (child.exitCode !== null) throw new Error('roost exited during start');
    await new Promise((r) => setTimeout(r, 25));
  }
  child.kill('SIGKILL');
  throw new Error('roost did not start');
}

export const netstring = (b) => Buffer.concat([Buffer.from(`${b.length}:`), b, Buffer.from(',')]);

/** One QMQP packet: message, envelope sender, recipients (cr.yp.to/proto/qmqp.html). */
export function qmqpPacket(message, sender, recipients) {
  return netstring(Buffer.concat([netstring(message), netstring(Buffer.from(sender)), ...recipients.map((r) => netstring(Buffer.from(r)))]));
}

/** Send one QMQP packet on its own connection; resolves with the verdict letter K, Z or D. */
export function qmqpSend(port, pkt) {
  return new Promise((resolve, reject) => {
    const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
    const got = [];
    s.on('data', (c) => got.push(c));
    s.on('error', reject);
    s.on('close', () => {
      const m = /^\d+:([KZD])/.exec(Buffer.concat(got).toString('latin1'));
      if (!m) reject(new Error(`no QMQP reply (${JSON.stringify(Buffer.concat(got).toString('latin1'))})`));
      else resolve(m[1]);
    });
    s.on('connect', () => s.write(pkt));
  });
}

/**
 * `concurrency` clients deliver `pkt` back to back for `seconds` after a
 * warm-up; returns counts, the rate of K answers and latency percentiles.
 */
export async function measureDeliveries({ port, pkt, concurrency, seconds, warmupMs = 500 }) {
  const latencies = [];
  let ok = 0;
  let failed = 0;
  const warmEnd = Date.now() + warmupMs;
  const end = warmEnd + seconds * 1000;
  let t0 = 0;
  const worker = async () => {
    while (Date.now() < end) {
      const a = process.hrtime.bigint();
      const code = await qmqpSend(port, pkt);
      const ms = Number(process.hrtime.bigint() - a) / 1e6;
      if (!t0 && Date.now() >= warmEnd) t0 = Date.now();
      if (!t0) continue;
      if (code === 'K') {
        ok++;
        latencies.push(ms);
      } else failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  const elapsed = (Date.now() - t0) / 1000;
  latencies.sort((x, y) => x - y);
  const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))] ?? 0;
  return {
    seconds: Number(elapsed.toFixed(2)),
    delivered: ok,
    failed,
    perSecond: Number((ok / elapsed).toFixed(1)),
    p50ms: Number(pct(50).toFixed(2)),
    p99ms: Number(pct(99).toFixed(2)),
  };
}
