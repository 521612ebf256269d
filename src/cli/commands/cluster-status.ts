/**
 * `roost cluster status [--json]`: every pair of the cluster, node by node —
 * role, readiness, epoch, journal LSN, replica lag, accounts and mail_dir
 * disk use. The pairs are this node plus `cluster.hosts`: a
 * pair given by its nodes' admin listeners ("10.0.2.11:8025 10.0.2.12:8025")
 * is asked GET /health on each; a pair given only by its service address has
 * no admin listener to ask and is listed as such. This node answers over its
 * control socket (it need not be in cluster.hosts).
 */
import { LIMITS } from '../../limits.js';
import { getHealth, parsePairSpec, type Health } from '../../proxy/pairs.js';
import { EXIT, type CliCommand } from '../command.js';
import { controlRequest, controlSocketPath } from '../control-client.js';

export interface NodeRow {
  pair: string;
  node: string;
  /** Null: the node did not answer (down, unreachable, or no admin listener to ask). */
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

const obj = (v: unknown): Record<string, unknown> => (v !== null && typeof v === 'object' ? (v as Record<string, unknown>) : {});
const numOrNull = (v: unknown): number | null => (typeof v === 'number' && Number.isFinite(v) ? v : null);

/** One row from a node's status (control `status` or GET /health: the same shape). */
export function rowFrom(pair: string, node: string, h: Health | null, note: string | null = null): NodeRow {
  if (!h) return { pair, node, role: null, ready: null, epoch: null, lsn: null, lagRecords: null, accounts: null, diskUsedBytes: null, diskFreeBytes: null, note: note ?? 'no answer' };
  const repl = obj(h.replication);
  const storage = obj(h.storage);
  const disk = obj(storage.mailDir);
  return {
    pair,
    node,
    role: typeof h.role === 'string' ? h.role : null,
    ready: typeof h.ready === 'boolean' ? h.ready : null,
    epoch: numOrNull(repl.epoch),
    lsn: typeof h.lsn === 'string' ? h.lsn : null,
    lagRecords: numOrNull(obj(repl.lag).records),
    accounts: numOrNull(storage.accounts),
    diskUsedBytes: numOrNull(disk.usedBytes),
    diskFreeBytes: numOrNull(disk.freeBytes),
    note,
  };
}

function size(n: number | null): string {
  if (n === null) return '-';
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let v = n;
  let i = 0;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : 1)} ${units[i]}`;
}

export function renderTable(rows: readonly NodeRow[]): string {
  const head = ['PAIR', 'NODE', 'ROLE', 'READY', 'EPOCH', 'LSN', 'LAG', 'ACCOUNTS', 'DISK USED', 'DISK FREE', 'NOTE'];
  const cell = (v: string | number | boolean | null): string => (v === null ? '-' : String(v));
  const body = rows.map((r) => [r.pair, r.node, cell(r.role), cell(r.ready), cell(r.epoch), cell(r.lsn), cell(r.lagRecords), cell(r.accounts), size(r.diskUsedBytes), size(r.diskFreeBytes), r.note ?? '']);
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  return [head, ...body].map((cols) => cols.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd()).join('\n') + '\n';
}

export const clusterStatus: CliCommand = {
  path: ['cluster', 'status'],
  summary: 'show every pair of the cluster (this node and cluster.hosts): role, epoch, LSN, lag, accounts, disk use',
  options: [{ flags: '--json', description: 'print JSON' }],
  async run(cli, _args, opts) {
    const config = cli.config();
    const self = config.directory.ldap.mail_host || config.hostname;
    const rows: NodeRow[] = [];
    // Nodes that were asked and did not answer (a service-address pair is not asked).
    let silent = 0;
    const asked = (pair: string, node: string, h: Health | null, note: string | null = null): NodeRow => {
      if (!h) silent++;
      return rowFrom(pair, node, h, note);
    };
    const local = await controlRequest(controlSocketPath(config), 'status', {}, { timeoutMs: LIMITS.cluster.statusTimeoutMs }).catch(() => null);
    rows.push(asked(self, 'this node', local && local.ok ? (local.result as Health) : null, local && local.ok ? null : 'not running'));
    const hosts = Object.entries(config.cluster.hosts).sort(([a], [b]) => a.localeCompare(b));
    const pairs = await Promise.all(
      hosts.map(async ([name, value]): Promise<NodeRow[]> => {
        const spec = parsePairSpec(value);
        if (spec.kind === 'address') return [rowFrom(name, spec.host, null, "service address only: list the nodes' admin listeners in cluster.hosts to see them")];
        const healths = await Promise.all(spec.admins.map((a) => getHealth(a, LIMITS.cluster.statusTimeoutMs)));
        return spec.admins.map((a, i) => asked(name, `${a.host}:${a.port}`, healths[i] ?? null));
      }),
    );
    for (const r of pairs) rows.push(...r);
    if (opts.json) cli.stdout.write(`${JSON.stringify({ pairs: rows })}\n`);
    else cli.stdout.write(renderTable(rows));
    // Exit 1 when a listed node does not answer, so a monitoring check can use it.
    return silent > 0 ? EXIT.FAILURE : EXIT.OK;
  },
};
