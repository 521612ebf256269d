/**
 * Real keepalived (Debian's package) failing a Roost pair over. Each node's
 * keepalived runs in its own network namespace, the two joined by a veth
 * pair and talking unicast VRRP; each calls contrib/keepalived/roost-notify
 * for its Roost node (the nodes themselves run on loopback; the notify
 * script reaches them through their control sockets). The scenario:
 *   1. keepalived elects A (higher priority) MASTER and B BACKUP: promote on
 *      the primary and demote on the replica are no-ops that exit 0;
 *   2. A dies (Roost and keepalived SIGKILLed, as a power failure would):
 *      B's keepalived stops hearing adverts, becomes MASTER, and its notify
 *      promotes B, which then answers IMAP and takes mail over QMQP;
 *   3. B's link goes down: keepalived enters FAULT and its notify demotes B.
 * Needs root (network namespaces) and keepalived; skipped otherwise.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { BIN, REPO } from '../helpers/cli.js';
import { makeTempDir } from '../helpers/node.js';
import { Pair, ports, qmqpSend, replStatus, testMessage, waitUntil, type PairNode } from './pair.js';
import { login } from '../imap/helpers/client.js';

const KEEPALIVED = '/usr/sbin/keepalived';
const NOTIFY = path.join(REPO, 'contrib', 'keepalived', 'roost-notify');
const tag = `rka${process.pid % 100000}`;

/** Root, keepalived, and a kernel/sandbox that lets us make network namespaces and veth pairs. */
function netnsWorks(): boolean {
  if (process.getuid?.() !== 0 || !existsSync(KEEPALIVED) || !existsSync('/usr/sbin/ip')) return false;
  const probe = `${tag}p`;
  try {
    execFileSync('/usr/sbin/ip', ['netns', 'add', probe], { stdio: 'ignore' });
    execFileSync('/usr/sbin/ip', ['-n', probe, 'link', 'add', `${tag}q`, 'type', 'veth', 'peer', 'name', `${tag}r`], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  } finally {
    try {
      execFileSync('/usr/sbin/ip', ['netns', 'del', probe], { stdio: 'ignore' });
    } catch {
      // never made
    }
  }
}
const canRun = netnsWorks();
const NS = { a: `${tag}a`, b: `${tag}b` };
const IP = { a: '10.213.77.1', b: '10.213.77.2' };

function ip(...args: string[]): void {
  execFileSync('/usr/sbin/ip', args, { stdio: 'ignore' });
}

const agents: ChildProcess[] = [];
let pair: Pair | null = null;
let work = '';

async function startKeepalived(name: 'a' | 'b', node: PairNode, priority: number): Promise<ChildProcess> {
  const peer = name === 'a' ? IP.b : IP.a;
  const log = path.join(work, `notify-${name}.log`);
  const wrapper = path.join(work, `notify-${name}.sh`);
  // keepalived runs scripts with a bare environment: the wrapper says where node and the node's config are.
  await writeFile(
    wrapper,
    [
      '#!/bin/sh',
      `export PATH="${path.dirname(process.execPath)}:/usr/sbin:/usr/bin:/sbin:/bin"`,
      `export ROOST_BIN="${BIN}" ROOST_CONFIG="${path.join(node.dataDir, 'roost.toml')}"`,
      `"${NOTIFY}" "$@"; rc=$?`,
      `echo "$3 $rc" >> "${log}"`,
      'exit $rc',
      '',
    ].join('\n'),
  );
  await chmod(wrapper, 0o755);
  const conf = path.join(work, `keepalived-${name}.conf`);
  await writeFile(
    conf,
    `global_defs {
  router_id roost_${name}
  script_user root
}
vrrp_instance ROOST {
  state BACKUP
  interface v${name}
  virtual_router_id 77
  priority ${priority}
  advert_int 1
  unicast_src_ip ${IP[name]}
  unicast_peer {
    ${peer}
  }
  virtual_ipaddress {
    10.213.77.100/24
  }
  notify "${wrapper}"
}
`,
  );
  const child = spawn(
    '/usr/sbin/ip',
    ['netns', 'exec', NS[name], KEEPALIVED, '--dont-fork', '--log-console', '--vrrp', '-f', conf, '-p', path.join(work, `ka-${name}.pid`), '-r', path.join(work, `vrrp-${name}.pid`)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  const out: Buffer[] = [];
  child.stdout!.on('data', (c: Buffer) => out.push(c));
  child.stderr!.on('data', (c: Buffer) => out.push(c));
  (child as ChildProcess & { output: () => string }).output = () => Buffer.concat(out).toString();
  agents.push(child);
  return child;
}

async function notifications(name: 'a' | 'b'): Promise<string[]> {
  try {
    return (await readFile(path.join(work, `notify-${name}.log`), 'utf8')).split('\n').filter(Boolean);
  } catch {
    return [];
  }
}

function kill(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    child.once('exit', () => resolve());
    child.kill(signal);
  });
}

afterAll(async () => {
  for (const c of agents) await kill(c, 'SIGTERM');
  await pair?.cleanup();
  if (canRun) {
    for (const ns of Object.values(NS)) {
      try {
        ip('netns', 'del', ns);
      } catch {
        // not created
      }
    }
  }
});

describe.skipIf(!canRun)('real keepalived between two network namespaces', () => {
  it('elects A, fails over to B when A dies (notify MASTER → promote), demotes B on FAULT', async () => {
    work = await makeTempDir('roost-keepalived-');
    ip('netns', 'add', NS.a);
    ip('netns', 'add', NS.b);
    ip('link', 'add', `${tag}x`, 'type', 'veth', 'peer', 'name', `${tag}y`);
    ip('link', 'set', `${tag}x`, 'netns', NS.a);
    ip('link', 'set', `${tag}y`, 'netns', NS.b);
    for (const [name, dev] of [['a', `${tag}x`], ['b', `${tag}y`]] as const) {
      ip('-n', NS[name], 'link', 'set', dev, 'name', `v${name}`);
      ip('-n', NS[name], 'addr', 'add', `${IP[name]}/24`, 'dev', `v${name}`);
      ip('-n', NS[name], 'link', 'set', 'lo', 'up');
      ip('-n', NS[name], 'link', 'set', `v${name}`, 'up');
    }

    pair = await Pair.create({ ack: 'async' });
    await pair.startBoth();
    await waitUntil('replica connected', async () => (await replStatus(pair!.b)).replication.connected);

    const kaA = await startKeepalived('a', pair.a, 150);
    const kaB = await startKeepalived('b', pair.b, 100);
    await waitUntil('A master, B backup', async () => (await notifications('a')).includes('MASTER 0') && (await notifications('b')).includes('BACKUP 0'), 20_000);
    expect((await replStatus(pair.a)).role).toBe('primary');
    expect((await replStatus(pair.b)).role).toBe('replica');

    // A dies: its Roost and its keepalived at once.
    await Promise.all([pair.kill(pair.a, 'SIGKILL'), kill(kaA, 'SIGKILL')]);
    // The take-over time is bench:replication's to measure; here only that it happens (bounded wait).
    await waitUntil('B master and promoted', async () => (await notifications('b')).includes('MASTER 0') && (await replStatus(pair!.b)).role === 'primary', 30_000);
    const pb = await ports(pair.b);
    const imap = await login(pb.imap!, 'alice@example.org', 'pw-alice@example.org');
    await imap.cmd('LOGOUT');
    expect((await qmqpSend(pb.qmqp!, testMessage(1, 'after-failover'), 's@example.net', ['alice@example.org']))[0]).toBe('K');

    // B loses its link: keepalived FAULT → demote.
    ip('-n', NS.b, 'link', 'set', 'vb', 'down');
    await waitUntil('B faulted and demoted', async () => (await notifications('b')).includes('FAULT 0') && (await replStatus(pair!.b)).role === 'replica', 20_000);
    expect((kaB as ChildProcess & { output: () => string }).output()).toMatch(/Entering (MASTER|FAULT) STATE/);
  }, 120_000);
});
