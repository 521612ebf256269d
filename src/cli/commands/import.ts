/**
 * `roost import ADDRESS SOURCE_MAILDIR`: bring an existing Maildir++ (from
 * qmail-ldap, Courier or Dovecot) into an account that has no mail yet, then
 * rebuild its index. Message files keep their names (so POP3 UIDLs stay the
 * same) and a `dovecot-uidlist` or `courierimapuiddb` in each folder keeps
 * IMAP UIDs and UIDVALIDITY, so clients do not download everything again.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, readdir, rm, stat } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { RoostError } from '../../errors.js';
import { IMPORT_MARKER, folderDirProblem, replaceFile } from '../../store/maildir-import.js';
import { EXIT, UsageError, type CliCommand } from '../command.js';
import { copyMaildir } from './import-copy.js';
import { importImap, isImapUrl } from './import-imap.js';
import { startProgress } from '../progress.js';
import { countMaildirFiles, maildirOf, reindexAccount } from './reindex.js';

/** Files that describe another server's private state and must not be carried over. */
const SKIP = /^(?:tmp|dovecot\.index.*|dovecot\.list\.index.*|dovecot-uidlist\.lock|maildirsize|roost-import-maildir)$/;

/**
 * Every copied file and directory entry on the disk at once: `sync -f`
 * (syncfs(2), coreutils) on the target's filesystem — one call instead of
 * an fsync per file, which is what made a copy slow. Before the index is
 * built and the import acknowledged; a run killed before this is run again.
 */
async function syncTarget(target: string): Promise<void> {
  await promisify(execFile)('sync', ['-f', target]);
}

/** The source an interrupted import of this target was copying, or null (see IMPORT_MARKER). */
async function interruptedFrom(target: string): Promise<string | null> {
  return readFile(path.join(target, IMPORT_MARKER), 'utf8').then(
    (t) => t.replace(/\n$/, ''),
    () => null,
  );
}

async function isMaildir(dir: string): Promise<boolean> {
  const dirs = await Promise.all(['cur', 'new'].map((d) => stat(path.join(dir, d)).then((s) => s.isDirectory(), () => false)));
  return dirs.every(Boolean);
}

/** Folder directories of the source that cannot become mailboxes, with the reason (never skipped silently). */
async function uncarriable(root: string): Promise<{ dir: string; why: string }[]> {
  const out: { dir: string; why: string }[] = [];
  for (const e of await readdir(root, { withFileTypes: true })) {
    if (!e.isDirectory() || !e.name.startsWith('.') || e.name === '.' || e.name === '..') continue;
    const why = folderDirProblem(e.name);
    if (why) out.push({ dir: e.name, why });
    else if (!(await isMaildir(path.join(root, e.name)))) out.push({ dir: e.name, why: 'no cur/ and new/ in it' });
  }
  return out;
}

export const importMaildir: CliCommand = {
  path: ['import'],
  summary: 'copy an existing Maildir++ (into an account without mail) or a live IMAP server (imap[s]://user@host[:port], password on stdin; resumable) into an account, keeping UIDs and UIDLs, then index it',
  args: ['<address>', '<source>'],
  options: [
    {
      flags: '--link',
      description: 'Maildir: hard-link the message files instead of copying them (same filesystem; messages never change after delivery, and the old Maildir stays as it was)',
    },
    { flags: '--skip-errors', description: 'import the rest when some folders cannot be carried (they are still listed on stderr)' },
    { flags: '--force', description: 'imap://: copy a folder again whose UIDVALIDITY changed at the source (refused otherwise)' },
    {
      flags: '--pop3 <url>',
      description:
        "imap://: also read the old server's POP3 UIDLs (pop3[s]://user@host[:port], same password) and answer them, for a UIDL form Roost cannot compute",
    },
    { flags: '--no-tls-verify', description: "imaps://: do not check the source server's certificate (self-signed old servers)" },
  ],
  async run(cli, args, opts) {
    const address = String(args[0]);
    if (isImapUrl(String(args[1]))) return importImap(cli, address, String(args[1]), opts);
    const source = path.resolve(String(args[1]));
    if (!(await isMaildir(source))) throw new UsageError(`${source} is not a Maildir (no cur/ and new/)`);
    const bad = await uncarriable(source);
    for (const b of bad) cli.stderr.write(`roost import: cannot import folder ${JSON.stringify(b.dir)}: ${b.why}\n`);
    if (bad.length > 0 && !opts.skipErrors) {
      cli.stderr.write(`roost import: ${bad.length} folder${bad.length === 1 ? '' : 's'} cannot be imported; nothing was copied (--skip-errors imports the rest)\n`);
      return EXIT.FAILURE;
    }
    const skipped = new Set(bad.map((b) => path.join(source, b.dir)));
    const target = await maildirOf(cli, address);
    if (target === null) throw new RoostError('NOTFOUND', `no account for ${address}`);
    // An import of the same source that was interrupted (killed, a full disk) goes on where it stopped.
    const resume = (await interruptedFrom(target)) === source;
    if (!resume && (await countMaildirFiles(target)) > 0)
      throw new RoostError('EXISTS', `${target} already holds messages; import only into an account without mail`);
    // Durable before the first file: a rerun after a crash must know the messages it finds are this import's.
    await mkdir(target, { recursive: true, mode: 0o700 });
    if (!resume) await replaceFile(path.join(target, IMPORT_MARKER), `${source}\n`);
    const progress = startProgress(cli.stderr, `${opts.link ? 'link' : 'copy'} ${source}`, await countMaildirFiles(source));
    try {
      await copyMaildir(source, target, { skip: SKIP, skipped, link: opts.link === true, resume, onMessages: (n) => progress.add(n) });
    } finally {
      progress.finish();
    }
    await syncTarget(target);
    const result = await reindexAccount(cli, address);
    await rm(path.join(target, IMPORT_MARKER), { force: true });
    const note = bad.length > 0 ? ` (${bad.length} folder${bad.length === 1 ? '' : 's'} skipped, listed on stderr)` : '';
    cli.stdout.write(`imported ${source} into ${address}: ${result.mailboxes} mailboxes, ${result.messages} messages${note}\n`);
    return EXIT.OK;
  },
};
