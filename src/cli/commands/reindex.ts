/**
 * `roost reindex ADDRESS`: rebuild an account's index from its Maildir (in
 * the node when one runs), with progress on stderr.
 */
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { RoostError } from '../../errors.js';
import { logger } from '../../log/logger.js';
import { EXIT, type CliCommand, type CliContext } from '../command.js';
import { controlRequest, controlSocketPath, NodeNotRunning } from '../control-client.js';
import { failFromControl } from '../control-errors.js';
import { startProgress, type Progress } from '../progress.js';

type Result = { mailboxes: number; messages: number };

/** Message files in cur/ and new/ of the root and every `.Folder` (the progress total; readdir only). */
export async function countMaildirFiles(root: string): Promise<number> {
  const folders = ['', ...(await readdir(root).catch(() => [] as string[])).filter((n) => n.startsWith('.') && n !== '.' && n !== '..')];
  let n = 0;
  for (const f of folders)
    for (const sub of ['cur', 'new']) n += (await readdir(path.join(root, f, sub)).catch(() => [] as string[])).filter((x) => !x.startsWith('.')).length;
  return n;
}

/** The account's Maildir root from the directory, or null when there is no such account (`roost import` uses it too). */
export async function maildirOf(cli: CliContext, address: string): Promise<string | null> {
  const { openDirectory } = await import('../../node.js');
  const directory = await openDirectory(cli.config(), logger());
  try {
    const r = await directory.lookupRecipient(address);
    return r.kind === 'found' ? r.account.maildir : null;
  } finally {
    await directory.close();
  }
}

async function inProcess(cli: CliContext, address: string, progress: Progress): Promise<Result> {
  const config = cli.config();
  const { openStore } = await import('../../store/open.js');
  const { openDirectory } = await import('../../node.js');
  const directory = await openDirectory(config, logger());
  try {
    const r = await directory.lookupRecipient(address);
    if (r.kind !== 'found') throw new RoostError('NOTFOUND', `no account for ${address}`);
    const store = await openStore({ dataDir: config.paths.dataDir, mailDir: config.paths.mailDir, hostname: config.hostname });
    try {
      return await store.reindex(r.account, { onProgress: (n) => progress.update(n) });
    } finally {
      await store.close();
    }
  } finally {
    await directory.close();
  }
}

/**
 * Rebuild an account's index: through the running node's control socket when
 * a node runs (one writer per store), else with the store opened here.
 * `roost import` uses it after copying a Maildir in.
 */
export async function reindexAccount(cli: CliContext, address: string): Promise<Result> {
  const maildir = await maildirOf(cli, address);
  const progress = startProgress(cli.stderr, `reindex ${address}`, maildir ? await countMaildirFiles(maildir) : null);
  try {
    try {
      const onProgress = (p: Record<string, unknown>): void => progress.update(Number(p.messages ?? 0));
      // A reindex of 300,000 messages takes minutes: no answer timeout but the socket's own end.
      const answer = await controlRequest(controlSocketPath(cli.config()), 'reindex', { address }, { onProgress, timeoutMs: 6 * 3600_000 });
      const r = failFromControl(answer) as Result;
      progress.update(r.messages);
      return r;
    } catch (err) {
      if (!(err instanceof NodeNotRunning)) throw err;
    }
    const r = await inProcess(cli, address, progress);
    progress.update(r.messages);
    return r;
  } finally {
    progress.finish();
  }
}

export const reindex: CliCommand = {
  path: ['reindex'],
  summary: "rebuild an account's index from its Maildir (keeps UIDs from dovecot-uidlist/courierimapuiddb)",
  args: ['<address>'],
  async run(cli, args) {
    const address = String(args[0]);
    const result = await reindexAccount(cli, address);
    cli.stdout.write(`reindexed ${address}: ${result.mailboxes} mailboxes, ${result.messages} messages\n`);
    return EXIT.OK;
  },
};
