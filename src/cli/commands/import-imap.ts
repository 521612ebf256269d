/**
 * `roost import ADDRESS imap[s]://user@host[:port]`: copy a mailbox from a
 * running IMAP server. Every selectable folder, its messages
 * with flags, keywords and INTERNALDATE (RFC 3501 §2.3), and the LSUB
 * subscriptions (§6.3.9) come across; UIDVALIDITY and UIDs are kept for a
 * folder that is new in Roost (RFC 3501 §2.3.1.1), so clients keep their
 * caches.
 *
 * Resumable and idempotent: each folder records the source UIDVALIDITY and
 * the highest UID copied (store/maildir/import-folder.ts); a later run asks
 * only for UIDs above it, so mail that reached the old server meanwhile is
 * copied and nothing is copied twice. A changed UIDVALIDITY at the source
 * means its UIDs no longer name the same messages: the folder is refused
 * (exit 1) unless --force. Messages are written as Maildir files with a
 * `dovecot-uidlist`, then the account's index is rebuilt (in the node when
 * one runs), which adopts the UIDs.
 *
 * Bodies: messages up to LIMITS.importImap.inlineBytes are fetched in
 * batches (BODY.PEEK[], one round trip per batch); bigger ones are streamed
 * to the file in chunks (imapflow's download()), never held whole.
 *
 * Progress per folder on stderr (src/cli/progress.ts); the summary on stdout
 * (JSON unless stdout is a terminal).
 */
import path from 'node:path';
import type { Readable } from 'node:stream';
import { RoostError } from '../../errors.js';
import { LIMITS } from '../../limits.js';
import { FolderWriter, INBOX, addSubscriptions, assertFolderDirFits, mailboxDir, normalizeMailboxName, readImportState } from '../../store/maildir-import.js';
import { EXIT, UsageError, readFirstLine, type CliContext } from '../command.js';
import { startProgress, type Progress } from '../progress.js';
import { parseServerUrl, type ServerUrl, type ServerUrlForm } from '../server-url.js';
import { parsePop3Url, pop3Listing, recordPop3Uidls, type Pop3Source } from './import-pop3.js';
import { maildirOf, reindexAccount } from './reindex.js';

export type ImapSource = ServerUrl;

const IMAP_URL: ServerUrlForm = {
  schemes: { 'imap:': false, 'imaps:': true },
  ports: { plain: 143, secure: 993 },
  name: 'imap',
  prefix: '',
  passwordInUrl: 'give the password on stdin, not in the URL',
};

/** Parse `imap://user@host[:port]` / `imaps://…` (RFC 5092 §3 form; the user may be %-encoded). */
export function parseImapUrl(url: string): ImapSource {
  return parseServerUrl(url, IMAP_URL);
}

interface FolderResult {
  folder: string;
  mailbox: string;
  uidvalidity: number;
  copied: number;
  bytes: number;
}

export interface ImapImportSummary {
  address: string;
  source: string;
  folders: FolderResult[];
  refused: { folder: string; why: string }[];
  messages: number;
  bytes: number;
  droppedKeywords: number;
  /** UIDLs recorded from the old server's POP3 (--pop3), else null. */
  pop3Uidls: number | null;
  seconds: number;
  messagesPerSecond: number;
  megabytesPerSecond: number;
}

type Client = import('imapflow').ImapFlow;

/** A source folder's name as a Roost mailbox name, or why it cannot be one. */
function roostName(p: string, delimiter: string): string | { why: string } {
  if (p.toUpperCase() === 'INBOX') return INBOX;
  const levels = delimiter ? p.split(delimiter) : [p];
  if (delimiter !== '.' && levels.some((l) => l.includes('.')))
    return { why: `a level of the name holds ".", Roost's hierarchy separator (the source's is ${JSON.stringify(delimiter)})` };
  try {
    const n = normalizeMailboxName(levels.join('.'));
    assertFolderDirFits(n);
    return n;
  } catch (err) {
    return { why: (err as Error).message };
  }
}

async function copyFolder(client: Client, w: FolderWriter, lastUid: number, begin: (total: number) => Progress): Promise<{ copied: number; last: number }> {
  const metas: { uid: number; flags: string[]; internalDate: Date; size: number }[] = [];
  // "N:*" also answers the highest message when N is above it (RFC 3501 §6.4.8): filter.
  for await (const m of client.fetch(`${lastUid + 1}:*`, { uid: true, flags: true, internalDate: true, size: true }, { uid: true })) {
    if (m.uid <= lastUid || w.has(m.uid)) continue;
    const date = m.internalDate instanceof Date ? m.internalDate : new Date(m.internalDate ?? Date.now());
    metas.push({ uid: m.uid, flags: [...(m.flags ?? [])].filter((f) => f !== '\\Recent'), internalDate: date, size: m.size ?? 0 });
  }
  metas.sort((a, b) => a.uid - b.uid);
  const progress = begin(metas.length);
  try {
    return await copyBodies(client, w, lastUid, metas, progress);
  } finally {
    progress.finish();
  }
}

/**
 * Batches of at most LIMITS.importImap.batch messages and batchBytes of
 * whole-fetched bodies (messages over inlineBytes are streamed, so they do
 * not count); a single message is a batch of its own whatever its size.
 */
export function splitBatches<T extends { size: number }>(metas: readonly T[], limits: { batch: number; batchBytes: number; inlineBytes: number } = LIMITS.importImap): T[][] {
  const parts: T[][] = [];
  let bytes = 0;
  for (const m of metas) {
    const inline = m.size <= limits.inlineBytes ? m.size : 0;
    const cur = parts[parts.length - 1];
    if (!cur || cur.length >= limits.batch || bytes + inline > limits.batchBytes) {
      parts.push([m]);
      bytes = inline;
    } else {
      cur.push(m);
      bytes += inline;
    }
  }
  return parts;
}

async function copyBodies(
  client: Client,
  w: FolderWriter,
  lastUid: number,
  metas: { uid: number; flags: string[]; internalDate: Date; size: number }[],
  progress: Progress,
): Promise<{ copied: number; last: number }> {
  let copied = 0;
  let last = lastUid;
  const parts = splitBatches(metas);
  const fetchSmall = async (part: typeof metas): Promise<Map<number, Buffer>> => {
    const small = part.filter((m) => m.size <= LIMITS.importImap.inlineBytes);
    const bodies = new Map<number, Buffer>();
    if (small.length > 0) {
      for await (const m of client.fetch(small.map((m) => m.uid).join(','), { uid: true, source: true }, { uid: true })) {
        if (m.source) bodies.set(m.uid, m.source);
      }
    }
    return bodies;
  };
  // One batch ahead: the source answers the next FETCH while this batch is written and fsync'd.
  let ahead: Promise<Map<number, Buffer>> | null = parts.length > 0 ? fetchSmall(parts[0]!) : null;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const bodies = await ahead!;
    ahead = i + 1 < parts.length ? fetchSmall(parts[i + 1]!) : null;
    // Awaited next round; a failure meanwhile must not surface as an unhandled rejection.
    ahead?.catch(() => undefined);
    for (const m of part) {
      let body: Readable | Buffer | undefined = bodies.get(m.uid);
      if (!body) {
        const d = await client.download(String(m.uid), undefined, { uid: true });
        body = d.content ?? undefined;
      }
      // Expunged at the source between the two fetches: nothing to copy.
      if (!body) continue;
      await w.write({ uid: m.uid, flags: m.flags, internalDate: m.internalDate, body });
      bodies.delete(m.uid);
      copied++;
      progress.update(copied, w.bytes);
    }
    last = part[part.length - 1]!.uid;
    await w.commit(last);
  }
  return { copied, last };
}

/** INBOX's UIDs and sizes at the source, matched to its POP3 listing and recorded (import-pop3.ts). */
async function recordFromPop3(client: Client, root: string, pop3: Pop3Source, password: string, tlsVerify: boolean): Promise<number> {
  const mb = await client.mailboxOpen('INBOX', { readOnly: true });
  const messages: { uid: number; size: number }[] = [];
  if (mb.exists > 0) for await (const m of client.fetch('1:*', { uid: true, size: true })) messages.push({ uid: m.uid, size: m.size ?? -1 });
  const listing = await pop3Listing(pop3, password, tlsVerify);
  return recordPop3Uidls(mailboxDir(root, INBOX), { uidvalidity: Number(mb.uidValidity), messages }, listing);
}

export async function importImap(cli: CliContext, address: string, url: string, opts: Record<string, unknown>): Promise<number> {
  const src = parseImapUrl(url);
  const pop3 = typeof opts.pop3 === 'string' ? parsePop3Url(opts.pop3) : null;
  const password = await readFirstLine(cli.stdin);
  if (!password) throw new UsageError('give the source password as the first line of stdin');
  const root = await maildirOf(cli, address);
  if (root === null) throw new RoostError('NOTFOUND', `no account for ${address}`);
  // imapflow is loaded only here: the rest of the CLI does not need it.
  const { ImapFlow } = await import('imapflow');
  const client = new ImapFlow({
    host: src.host,
    port: src.port,
    secure: src.secure,
    auth: { user: src.user, pass: password },
    tls: { rejectUnauthorized: opts.tlsVerify !== false },
    logger: false,
  });
  const started = performance.now();
  const summary: ImapImportSummary = {
    address,
    source: `${src.secure ? 'imaps' : 'imap'}://${src.user}@${src.host}:${src.port}`,
    folders: [],
    refused: [],
    messages: 0,
    bytes: 0,
    droppedKeywords: 0,
    pop3Uidls: null,
    seconds: 0,
    messagesPerSecond: 0,
    megabytesPerSecond: 0,
  };
  let created = 0;
  const tty = (cli.stdout as { isTTY?: boolean }).isTTY === true;
  try {
    await client.connect();
    const list = await client.list();
    const subscribed: string[] = [];
    for (const f of list) {
      if (f.flags.has('\\Noselect') || f.flags.has('\\NonExistent')) continue;
      const name = roostName(f.path, f.delimiter);
      if (typeof name !== 'string') {
        summary.refused.push({ folder: f.path, why: name.why });
        continue;
      }
      const dir = mailboxDir(root, name);
      const mb = await client.mailboxOpen(f.path, { readOnly: true });
      const uv = Number(mb.uidValidity);
      const state = readImportState(dir);
      let lastUid = state?.lastUid ?? 0;
      if (state && state.uidvalidity !== uv) {
        if (!opts.force) {
          summary.refused.push({ folder: f.path, why: `UIDVALIDITY changed at the source (${state.uidvalidity} → ${uv}): its UIDs no longer name the copied messages; --force copies the folder again` });
          continue;
        }
        cli.stderr.write(`roost import: ${f.path}: UIDVALIDITY changed (${state.uidvalidity} → ${uv}), copying it again (--force)\n`);
        lastUid = 0;
      }
      if (!state) created++;
      if (f.subscribed) subscribed.push(name);
      const w = FolderWriter.open(dir, src.host, uv, Number(mb.uidNext));
      const r = await copyFolder(client, w, lastUid, (total) => startProgress(cli.stderr, `import ${f.path}`, total));
      if (!state) await w.commit(r.last);
      summary.folders.push({ folder: f.path, mailbox: name, uidvalidity: uv, copied: r.copied, bytes: w.bytes });
      summary.messages += r.copied;
      summary.bytes += w.bytes;
      summary.droppedKeywords += w.droppedKeywords;
    }
    addSubscriptions(root, subscribed);
    if (pop3) summary.pop3Uidls = await recordFromPop3(client, root, pop3, password, opts.tlsVerify !== false);
  } finally {
    await client.logout().catch(() => client.close());
  }
  // Recorded UIDLs reach the index (and so the replica) through the rebuild too (store/side-files.ts).
  if (summary.messages > 0 || created > 0 || summary.pop3Uidls !== null) await reindexAccount(cli, address);
  summary.seconds = (performance.now() - started) / 1000;
  summary.messagesPerSecond = summary.seconds > 0 ? Math.round(summary.messages / summary.seconds) : 0;
  summary.megabytesPerSecond = summary.seconds > 0 ? Math.round((summary.bytes / 1048576 / summary.seconds) * 100) / 100 : 0;
  for (const r of summary.refused) cli.stderr.write(`roost import: cannot import folder ${JSON.stringify(r.folder)}: ${r.why}\n`);
  if (summary.droppedKeywords > 0)
    cli.stderr.write(`roost import: ${summary.droppedKeywords} keyword uses past a folder's 26 Maildir keyword letters were not carried\n`);
  if (tty) cli.stdout.write(`imported ${summary.source} into ${address}: ${summary.folders.length} folders, ${summary.messages} new messages (${summary.messagesPerSecond}/s)\n`);
  else cli.stdout.write(JSON.stringify(summary) + '\n');
  if (summary.refused.length > 0 && !opts.skipErrors) return EXIT.FAILURE;
  return EXIT.OK;
}

/** For the import command: whether SOURCE is a live server rather than a Maildir path. */
export const isImapUrl = (source: string): boolean => /^imaps?:\/\//i.test(source) && !path.isAbsolute(source);
