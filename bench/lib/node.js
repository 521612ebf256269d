// What every benchmark needs to run Roost as a user would: `roost serve` from
// the built checkout in its own process, and QMQP packets to feed it.
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const BIN = path.join(ROOT, 'bin', 'roost');

/**
 * Start `roost serve --config cfgFile` and resolve once the node has written
 * data_dir/node.json with its bound ports. Returns {child, ports}.
 */
export async function spawnRoost(dataDir, cfgFile, { stdio = ['ignore', 'inherit', 'inherit'], nodeArgs = [], timeoutMs = 60_000, cpus = null, bin = BIN, env = process.env, cwd = undefined } = {}) {
  // cpus: "0" or "1,2" runs the node on those CPUs only (taskset(1) execs it, so the pid is the node's).
  // bin: another checkout's bin/roost (bench/move-ab.js runs two builds in one run).
  const argv = [...nodeArgs, bin, 'serve', '--config', cfgFile];
  const opts = { stdio, env, cwd };
  const child = cpus ? spawn('taskset', ['-c', cpus, process.execPath, ...argv], opts) : spawn(process.execPath, argv, opts);
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

/**
 * Write a benchmark node's roost.toml: its data_dir, the bench hostname, then
 * `sections` (each a TOML section's text), one per line. Returns the file.
 */
export function writeBenchConfig(dataDir, sections, file = path.join(dataDir, 'roost.toml')) {
  writeFileSync(file, [`data_dir = "${dataDir}"`, 'hostname = "bench.example.org"', ...sections, ''].join('\n'));
  return file;
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

/** SMTP/LMTP DATA framing of an LF message: CRLF line ends, leading dots doubled, final ".CRLF". */
export function dataBlock(message) {
  const text = message.toString('latin1');
  const lines = (text.endsWith('\n') ? text.slice(0, -1) : text).split('\n').map((l) => (l.startsWith('.') ? `.${l}` : l));
  return Buffer.from(`${lines.join('\r\n')}\r\n.\r\n`, 'latin1');
}

/**
 * An LMTP client on one kept connection (as Postfix's lmtp with its
 * connection cache): `send()` runs one transaction, MAIL + RCPTs + DATA
 * pipelined (RFC 2920), and resolves 'K' when every recipient got 250.
 */
export async function lmtpConnection(port, sender, recipients, message) {
  const s = net.connect({ port, host: '127.0.0.1', noDelay: true });
  let buf = '';
  let want = 0;
  let replies = [];
  let wake = null;
  s.setEncoding('latin1');
  s.on('data', (d) => {
    buf += d;
    for (;;) {
      const nl = buf.indexOf('\r\n');
      if (nl < 0) break;
      const line = buf.slice(0, nl);
      buf = buf.slice(nl + 2);
      if (line[3] === ' ') replies.push(Number(line.slice(0, 3)));
    }
    if (wake && replies.length >= want) {
      const w = wake;
      wake = null;
      w();
    }
  });
  const closed = new Promise((_, reject) => s.on('close', () => reject(new Error('LMTP connection closed'))));
  closed.catch(() => undefined);
  const read = (n) => {
    want = n;
    if (replies.length >= n) return Promise.resolve(replies.splice(0, n));
    return Promise.race([new Promise((r) => (wake = r)).then(() => replies.splice(0, n)), closed]);
  };
  await new Promise((resolve, reject) => {
    s.once('connect', resolve);
    s.once('error', reject);
  });
  await read(1);
  s.write('LHLO bench.example.net\r\n');
  await read(1);
  const head = Buffer.from(`MAIL FROM:<${sender}>\r\n${recipients.map((r) => `RCPT TO:<${r}>\r\n`).join('')}DATA\r\n`);
  const body = dataBlock(message);
  return {
    async send() {
      s.write(head);
      const pre = await read(recipients.length + 2);
      if (pre.at(-1) !== 354) return 'Z';
      s.write(body);
      const after = await read(recipients.length);
      return after.every((c) => c === 250) ? 'K' : after.some((c) => c >= 500) ? 'D' : 'Z';
    },
    close() {
      s.destroy();
    },
  };
}

/**
 * `concurrency` clients deliver `pkt` back to back for `seconds` after a
 * warm-up; returns counts, the rate of K answers and latency percentiles.
 * With `connect` instead of `pkt`, each client first opens its own session
 * (`connect()` resolves {send, close}) and delivers through it.
 */
export async function measureDeliveries({ port, pkt, connect, concurrency, seconds, warmupMs = 500 }) {
  const latencies = [];
  let ok = 0;
  let failed = 0;
  const warmEnd = Date.now() + warmupMs;
  const end = warmEnd + seconds * 1000;
  let t0 = 0;
  const sessions = connect ? await Promise.all(Array.from({ length: concurrency }, () => connect())) : [];
  const worker = async (_, w) => {
    const send = connect ? () => sessions[w].send() : () => qmqpSend(port, pkt);
    while (Date.now() < end) {
      const a = process.hrtime.bigint();
      const code = await send();
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
  for (const c of sessions) c.close();
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
