/**
 * Entry point src/node.ts loads when present: attaches replication to a
 * running node — the ack gate, the durable role, the client-port switch on
 * promote/demote, control-socket commands (promote, demote, verify,
 * replication-status), the `replication` block of `roost status` and /health.
 */
import type { RoostNode } from '../node-api.js';
import { Replication } from './node-replication.js';

export { Replication } from './node-replication.js';

export async function attachReplication(node: RoostNode): Promise<Replication> {
  const { ctx } = node;
  const replication = await Replication.create({
    config: node.config,
    log: node.log,
    store: ctx.store,
    directory: ctx.directory,
    tls: ctx.tls,
    ports: {
      open: () => node.openClientListeners(),
      close: () => node.closeClientListeners(),
    },
  });
  node.setReplicationGate(replication.gate);
  node.setRoleSource(() => replication.role);
  node.addStatus('replication', () => ({ ...replication.status() }));
  node.addPorts(() => (replication.port !== null ? { replication: replication.port } : {}));
  node.addReadiness(() => replication.ready());
  node.onStop(() => replication.close());

  node.control.register('promote', async (args) => {
    const r = await replication.promote({ force: args.force === true });
    return { ...r, status: replication.status() };
  });
  node.control.register('demote', async () => {
    const r = await replication.demote();
    return { ...r, status: replication.status() };
  });
  node.control.register('verify', async (_args, _body, progress) => replication.verify((p) => progress(p)));
  node.control.register('account-move', async (args, _body, progress) =>
    replication.moveAccount(String(args.address ?? ''), String(args.to ?? ''), { mailHost: typeof args.mailHost === 'string' ? args.mailHost : undefined, updateLdap: args.updateLdap === true }, (p) => progress({ ...p })),
  );
  node.control.register('account-purge', async (args) => replication.purgeAccount(String(args.address ?? '')));
  node.control.register('replication-status', async () => replication.status());

  await replication.start();
  return replication;
}
