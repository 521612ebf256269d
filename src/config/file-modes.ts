/**
 * The data directory is private to the node: it holds password
 * hashes (accounts.sqlite), every message (the journal, the spool, the
 * Maildirs) and the TLS key. So the process runs with umask 077 — every file
 * it makes is 0600, every directory 0700, as qmail and Dovecot keep Maildirs —
 * and at start the modes of what an earlier version (or a looser umask) left
 * are tightened: group and other bits are removed, nothing is ever widened.
 */
import fs from 'node:fs';
import fsp from 'node:fs/promises';
import path from 'node:path';

/** No access for group and others. */
export const PRIVATE_UMASK = 0o077;

/**
 * Written once everything under data_dir has been walked, so later starts
 * (which find only private files) do not walk millions of files again.
 */
export const MODES_MARKER = '.modes-private';

/** Make every file the process creates from now on private. */
export function usePrivateUmask(): void {
  process.umask(PRIVATE_UMASK);
}

/** Remove group and other bits from one path (not following symlinks); true if it changed. */
async function tighten(file: string): Promise<boolean> {
  const st = await fsp.lstat(file).catch(() => null);
  if (!st || st.isSymbolicLink() || (st.mode & PRIVATE_UMASK) === 0) return false;
  await fsp.chmod(file, st.mode & 0o7777 & ~PRIVATE_UMASK).catch(() => undefined);
  return true;
}

/** tighten(), synchronously, for one file. */
export function tightenSync(file: string): void {
  try {
    const st = fs.lstatSync(file);
    if (!st.isSymbolicLink() && (st.mode & PRIVATE_UMASK) !== 0) fs.chmodSync(file, st.mode & 0o7777 & ~PRIVATE_UMASK);
  } catch {
    // Gone, or not ours to change: the start of the node tries again.
  }
}

/** Walk `dir` (not following symlinks) and tighten everything in it; returns how many paths changed. */
async function tightenTree(dir: string): Promise<number> {
  let changed = (await tighten(dir)) ? 1 : 0;
  const stack = [dir];
  while (stack.length > 0) {
    const d = stack.pop()!;
    const entries = await fsp.readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      const p = path.join(d, e.name);
      if (await tighten(p)) changed++;
      if (e.isDirectory()) stack.push(p);
    }
  }
  return changed;
}

/**
 * Tighten data_dir. The first time (no MODES_MARKER yet) everything in it is
 * walked (symlinks not followed), the mail tree too when it lies inside
 * data_dir; afterwards, since
 * the node and the CLI create only private files, just data_dir and its
 * direct entries (accounts.sqlite, journal.sqlite, node.json, tls/ …), so a
 * start with 100,000 index files and Maildirs stays quick. A mail directory
 * elsewhere (an existing qmail tree) is left as the operator keeps it.
 * Returns how many paths were changed.
 */
export async function privatizeDataDir(dataDir: string): Promise<number> {
  const root = path.resolve(dataDir);
  const marker = path.join(root, MODES_MARKER);
  if (!(await fsp.stat(marker).catch(() => null))) {
    const changed = await tightenTree(root);
    await fsp.writeFile(marker, `${new Date().toISOString()}\n`, { mode: 0o600 });
    return changed;
  }
  let changed = (await tighten(root)) ? 1 : 0;
  for (const e of await fsp.readdir(root, { withFileTypes: true }).catch(() => [])) {
    if (await tighten(path.join(root, e.name))) changed++;
  }
  return changed;
}
