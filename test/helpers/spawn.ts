/**
 * A node in its own process (`bin/roost serve --config …`, the built code), for
 * tests that kill it (SIGKILL crash tests, SIGTERM drain). The node writes
 * data_dir/node.json {pid, ports} once it listens; we wait for that file with
 * our child's pid in it.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { stringify } from 'smol-toml';
import type { NodePorts } from '../../src/node.js';
import { BIN, requireBuild } from './cli.js';
import { merge, TEST_DEFAULTS, type Overrides } from './node.js';

export interface SpawnedNode {
  child: ChildProcess;
  pid: number;
  ports: NodePorts;
  configFile: string;
  /** Resolves with the exit code (or the signal name) when the process ends. */
  exited: Promise<number | NodeJS.Signals>;
  /** Everything the process wrote to stderr/stdout so far (JSON logs). */
  output(): string;
  kill(signal: NodeJS.Signals): void;
}

/** Write data_dir/roost.toml with test defaults and `overrides`; returns its path. */
export async function writeTestConfig(dataDir: string, overrides: Overrides = {}): Promise<string> {
  const doc = merge(merge(TEST_DEFAULTS, { data_dir: dataDir }), overrides);
  const file = path.join(dataDir, 'roost.toml');
  await writeFile(file, stringify(doc));
  return file;
}

export async function spawnNode(dataDir: string, overrides: Overrides = {}, opts: { startTimeoutMs?: number } = {}): Promise<SpawnedNode> {
  requireBuild();
  const configFile = await writeTestConfig(dataDir, overrides);
  const child = spawn(process.execPath, [BIN, 'serve', '--config', configFile], {
    env: { ...process.env, ROOST_CONFIG: '' },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => out.push(c));
  const exited = new Promise<number | NodeJS.Signals>((resolve) => {
    child.on('exit', (code, signal) => resolve(code ?? signal ?? -1));
  });
  let gone: number | NodeJS.Signals | null = null;
  void exited.then((c) => {
    gone = c;
  });
  const output = (): string => Buffer.concat(out).toString('utf8');
  const deadline = Date.now() + (opts.startTimeoutMs ?? 60_000);
  const nodeFile = path.join(dataDir, 'node.json');
  for (;;) {
    if (gone !== null) throw new Error(`node exited (${gone}) before it listened:\n${output()}`);
    try {
      const info = JSON.parse(await readFile(nodeFile, 'utf8')) as { pid: number; ports: NodePorts };
      if (info.pid === child.pid) {
        return { child, pid: child.pid, ports: info.ports, configFile, exited, output, kill: (s) => child.kill(s) };
      }
    } catch {
      // not written yet (or a previous run's file being replaced)
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`node did not start within the time limit:\n${output()}`);
    }
    await new Promise((r) => setTimeout(r, 25));
  }
}
