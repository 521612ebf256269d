// `roost account move` between two primaries (issue 18, "Benchmark"): two
// Roost nodes from dist/, each the primary of its own pair (no replica
// started, acknowledgement async), sharing replication.secret. The source
// account holds MESSAGES corpus messages, indexed before the nodes start;
// `roost account move --json` runs on the source, and its answer gives the
// rate (messages/s, MB/s over the whole command) and the freeze time (the
// span in which the account refused changes and logins: goal under 2 s).
import { spawn } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { message } from './corpus.js';
import { BIN, ROOT, spawnRoost } from './node.js';
import { freePort } from './nginx.js';

const ADDRESS = 'mover@example.org';
const SECRET = 'bench-move-replication-secret-0123456789';

async function node(dir, name, replPort, deadPeer, level = 'error') {
  const dataDir = path.join(dir, name);
  mkdirSync(dataDir, { recursive: true });
  const cfg = path.join(dataDir, 'roost.toml');
  writeFileSync(
    cfg,
    [
      `data_dir = "${dataDir}"`,
      `hostname = "${name}.bench.example.org"`,
      `[log]\nlevel = "${level}"`,
      '[imap]\nlisten = "127.0.0.1:0"\ntls_listen = ""',
      '[pop3]\nlisten = ""\ntls_listen = ""',
      '[qmqp]\nlisten = ""',
      '[lmtp]\nlisten = ""',
      '[admin]\nlisten = ""',
      // A peer nobody listens on: the pair's replica is not part of this benchmark (async: nothing waits for it).
      `[replication]\nrole = "primary"\nlisten = "127.0.0.1:${replPort}"\npeer = "127.0.0.1:${deadPeer}"\nsecret = "${SECRET}"\nack = "async"`,
      '',
    ].join('\n'),
  );
  return { dataDir, cfg };
}

/** The source's account: MESSAGES corpus messages delivered through the store, then indexed. */
async function populate(dist, dataDir, messages, seed) {
  const dir = dist.openSqliteDirectory(dataDir, path.join(dataDir, 'mail'));
  const account = await dir.addUser({ address: ADDRESS, password: 'pw' });
  await dir.close();
  const store = await dist.openStore({ dataDir, mailDir: path.join(dataDir, 'mail'), hostname: 'src.bench.example.org' });
  let bytes = 0;
  for (let i = 0; i < messages; i++) {
    const m = message(seed, i, ADDRESS);
    bytes += m.length;
    const draft = await store.createDraft();
    await draft.write(m);
    await draft.finish();
    await store.deliver([account], draft, { sender: 'bench@example.net' });
  }
  await store.close();
  return bytes;
}

function run(bin, args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.on('error', reject);
    child.on('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(`roost ${args.join(' ')} exited ${code}: ${err.slice(-2000)}`))));
  });
}

/**
 * One move of a MESSAGES-message account; the command's own figures.
 * `root`: the checkout whose dist/ and bin/roost run (bench/move-ab.js
 * alternates two). `reuse`: the source's data, once populated, is kept in
 * `work` and restored (same paths) for the next call instead of delivered again.
 */
export async function benchMove(work, { messages, seed, root = ROOT, reuse = false }) {
  const dist = {
    ...(await import(path.join(root, 'dist', 'accounts', 'sqlite.js'))),
    ...(await import(path.join(root, 'dist', 'store', 'open.js'))),
  };
  const bin = root === ROOT ? BIN : path.join(root, 'bin', 'roost');
  const [srcRepl, dstRepl, dead] = [await freePort(), await freePort(), await freePort()];
  const template = path.join(work, 'move-src.template');
  const srcData = path.join(work, 'move-src');
  let corpusBytes;
  for (const d of [srcData, path.join(work, 'move-dst')]) rmSync(d, { recursive: true, force: true });
  if (reuse && existsSync(template)) {
    cpSync(template, srcData, { recursive: true, preserveTimestamps: true });
    corpusBytes = JSON.parse(readFileSync(`${template}.json`, 'utf8')).corpusBytes;
  }
  // The source logs at warn: its "account move: done" line says where the freeze went.
  const src = await node(work, 'move-src', srcRepl, dead, 'warn');
  const dst = await node(work, 'move-dst', dstRepl, dead);
  if (corpusBytes === undefined) {
    process.stderr.write(`  move: delivering ${messages} messages to the source account\n`);
    corpusBytes = await populate(dist, src.dataDir, messages, seed);
    if (reuse) {
      cpSync(srcData, template, { recursive: true, preserveTimestamps: true });
      writeFileSync(`${template}.json`, JSON.stringify({ corpusBytes }));
    }
  }
  const dstDir = dist.openSqliteDirectory(dst.dataDir, path.join(dst.dataDir, 'mail'));
  await dstDir.addUser({ address: ADDRESS, password: 'pw' });
  await dstDir.close();
  const nodes = [];
  try {
    const source = await spawnRoost(src.dataDir, src.cfg, { stdio: ['ignore', 'pipe', 'inherit'], bin });
    let log = '';
    source.child.stdout.on('data', (d) => (log += d));
    nodes.push(source, await spawnRoost(dst.dataDir, dst.cfg, { bin }));
    process.stderr.write(`  move: roost account move --json (${root})\n`);
    const r = JSON.parse(await run(bin, ['account', 'move', ADDRESS, '--to', `127.0.0.1:${dstRepl}`, '--json', '--config', src.cfg]));
    const done = log
      .split('\n')
      .filter((l) => l.startsWith('{'))
      .map((l) => JSON.parse(l))
      .find((l) => l.msg?.startsWith('account move: done'));
    return {
      messages: r.messages,
      bytes: r.bytes,
      corpusBytes,
      rounds: r.rounds,
      seconds: r.seconds,
      messagesPerSecond: Number((r.messages / r.seconds).toFixed(1)),
      mbPerSecond: Number((r.bytes / 1e6 / r.seconds).toFixed(2)),
      freezeMs: r.freezeMs,
      freezePhasesMs: done ? { imageBytes: done.imageBytes, imageSentBytes: done.imageSentBytes, snapshot: done.snapshotMs, delta: done.deltaMs, localManifest: done.localManifestMs, finalRoundSent: done.finalRoundSentMs, finalRound: done.finalRoundMs, finalFiles: done.finalFiles, destinationInstall: done.destinationInstallMs, destination: done.destinationPhases ?? null, install: done.installMs, verify: done.verifyMs } : null,
      identical: r.report.identical,
    };
  } finally {
    for (const n of nodes) {
      n.child.kill('SIGTERM');
      await new Promise((res) => (n.child.exitCode !== null ? res() : n.child.once('exit', res)));
    }
  }
}
