/**
 * The "storage" part of a node's status (control socket `status`, GET
 * /health): accounts with data in the store and the mail_dir filesystem's
 * size and free space, so `roost cluster status` can show each pair's load.
 * Refreshed in the background every LIMITS.cluster.storageRefreshMs (statfs
 * and the account list are async; status() itself stays synchronous).
 */
import { statfs } from 'node:fs/promises';
import { LIMITS } from '../limits.js';
import type { RoostNode } from '../node-api.js';

export interface StorageStatus {
  accounts: number | null;
  mailDir: { path: string; totalBytes: number; freeBytes: number; usedBytes: number } | null;
  refreshedAt: string | null;
}

export async function attachStorageStatus(node: RoostNode): Promise<void> {
  const mailDir = node.config.paths.mailDir;
  let last: StorageStatus = { accounts: null, mailDir: null, refreshedAt: null };
  const refresh = async (): Promise<void> => {
    const [ids, fs] = await Promise.all([node.ctx.store.replication.listAccountIds().catch(() => null), statfs(mailDir).catch(() => null)]);
    last = {
      accounts: ids ? ids.length : null,
      mailDir: fs
        ? { path: mailDir, totalBytes: fs.blocks * fs.bsize, freeBytes: fs.bavail * fs.bsize, usedBytes: (fs.blocks - fs.bfree) * fs.bsize }
        : null,
      refreshedAt: new Date().toISOString(),
    };
  };
  await refresh();
  const timer = setInterval(() => {
    refresh().catch((err: unknown) => node.log.warn({ err }, 'storage status refresh failed'));
  }, LIMITS.cluster.storageRefreshMs);
  timer.unref();
  node.onStop(async () => clearInterval(timer));
  node.addStatus('storage', () => ({ ...last }));
}
