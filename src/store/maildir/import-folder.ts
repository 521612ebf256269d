/**
 * Writing messages copied from another server (`roost import imap://…`)
 * into a Maildir++ folder the way Dovecot would have left them, so the
 * ordinary index rebuild (recovery.ts) takes them in with their UIDs:
 *
 *  - one file per message in cur/, named `TIME.V<uidvalidity>U<uid>.HOST,S=,W=:2,<letters>`
 *    (TIME is the INTERNALDATE in seconds, the file's mtime is the INTERNALDATE);
 *    the name is a function of the source's (UIDVALIDITY, UID), so a copy
 *    that was interrupted after the rename is recognised and never made twice;
 *  - `dovecot-uidlist` (version 3) lines mapping those names to the source UIDs;
 *  - `dovecot-keywords` and letters a–z for keywords (keyword-letters.ts);
 *  - `roost-import`: "<uidvalidity> <highest source UID copied>", the resume point.
 *
 * Files go tmp/ → fsync → rename into cur/ → fsync cur/ (maildir(5)), so a
 * crash leaves at most a file in tmp/, which no reader adopts. A batch's
 * files are written first and fsync'd together at commit (a few at a time:
 * concurrent fsyncs share the filesystem journal's commits, one after
 * another each waits for its own), then renamed.
 */
import fs from 'node:fs';
import { open } from 'node:fs/promises';
import path from 'node:path';
import type { Readable } from 'node:stream';
import { escapeHost, lettersFor, normalizeFlags } from './filename.js';
import { lettersForKeywords, readDovecotKeywords, writeDovecotKeywords, type KeywordTable } from './keyword-letters.js';
import { countBareLf, listMessages } from './scan.js';
import { appendFileSyncedSync, replaceFileSync } from './fd.js';
import { parseUidList } from './uidlist-import.js';
import { LIMITS } from '../../limits.js';
import { DOVECOT_SUBSCRIPTIONS_FILE, parseDovecotSubscriptions, writeDovecotSubscriptions } from './subscriptions.js';

const STATE_FILE = 'roost-import';
/**
 * In a Maildir root while `roost import ADDRESS MAILDIR` runs (the source's
 * path): made before the first file is copied, removed once the index is
 * built. A rerun of the same import after a crash goes on from it, and the
 * index rebuild takes UIDs from the UID lists on disk rather than from a
 * half-built index (the import refuses an account that has mail, so no
 * client saw other UIDs).
 */
export const IMPORT_MARKER = 'roost-import-maildir';
const UIDLIST = 'dovecot-uidlist';
const COPIED = /^\d+\.V(\d+)U(\d+)\./;

export interface ImportState {
  uidvalidity: number;
  lastUid: number;
}

/** One source message as the importer writes it. */
export interface ImportedMessage {
  uid: number;
  flags: readonly string[];
  internalDate: Date;
  body: Readable | Buffer;
}

export class FolderWriter {
  readonly dir: string;
  private readonly host: string;
  private table: KeywordTable;
  private uidlist: string[] = [];
  private readonly done = new Set<number>();
  /** Written to tmp/ in this batch, waiting for commit's fsync and rename. */
  private pending: { uid: number; tmp: string; cur: string; base: string; date: Date; size: number }[] = [];
  /** Keywords that found no letter (past the 26th of the folder): not carried. */
  droppedKeywords = 0;
  bytes = 0;

  private constructor(dir: string, host: string, readonly uidvalidity: number) {
    this.dir = dir;
    this.host = escapeHost(host);
    this.table = readDovecotKeywords(dir);
    for (const basename of listMessages(dir).keys()) {
      const m = COPIED.exec(basename);
      if (m && Number(m[1]) === uidvalidity) this.done.add(Number(m[2]));
    }
  }

  /** Open (creating cur/ new/ tmp/ as needed) a folder for messages of this UIDVALIDITY. */
  static open(dir: string, host: string, uidvalidity: number, uidnext: number): FolderWriter {
    for (const sub of ['cur', 'new', 'tmp']) fs.mkdirSync(path.join(dir, sub), { recursive: true, mode: 0o700 });
    const w = new FolderWriter(dir, host, uidvalidity);
    const list = readText(path.join(dir, UIDLIST));
    const parsed = list === null ? null : parseUidList(list, 'dovecot-uidlist');
    // A list of another UIDVALIDITY (a forced re-import) is replaced: its UIDs mean nothing now.
    if (!parsed || parsed.uidvalidity !== uidvalidity) w.uidlist.push(`3 V${uidvalidity} N${uidnext}`);
    return w;
  }

  /** Whether the message with this source UID is already in the folder (or written in this batch). */
  has(uid: number): boolean {
    return this.done.has(uid) || this.pending.some((p) => p.uid === uid);
  }

  /** Write one message to tmp/ (the body is streamed, never held whole); commit() makes it durable and puts it in cur/. */
  async write(m: ImportedMessage): Promise<void> {
    if (this.has(m.uid)) return;
    const flags = normalizeFlags(m.flags);
    const keywords = flags.filter((f) => !f.startsWith('\\'));
    const { letters: kwLetters, grew } = lettersForKeywords(keywords, this.table);
    this.droppedKeywords += keywords.filter((k) => !this.table.some((t) => t !== undefined && t.toLowerCase() === k.toLowerCase())).length;
    if (grew) writeDovecotKeywords(this.dir, this.table);
    const secs = Math.floor(m.internalDate.getTime() / 1000);
    const unique = `${secs}.V${this.uidvalidity}U${m.uid}.${this.host}`;
    const tmp = path.join(this.dir, 'tmp', unique);
    const fh = await open(tmp, 'w', 0o600);
    let size = 0;
    let bare = 0;
    let prev = -1;
    try {
      const chunks = Buffer.isBuffer(m.body) ? [m.body] : (m.body as AsyncIterable<Buffer>);
      for await (const c of chunks) {
        bare += countBareLf(c, prev);
        prev = c[c.length - 1] ?? prev;
        size += c.length;
        await fh.write(c);
      }
    } finally {
      await fh.close();
    }
    const base = `${unique},S=${size},W=${size + bare}`;
    const letters = [...new Set(lettersFor(flags) + kwLetters)].sort().join('');
    this.pending.push({ uid: m.uid, tmp, cur: path.join(this.dir, 'cur', `${base}:2,${letters}`), base, date: m.internalDate, size });
    this.bytes += size;
  }

  /** fsync the batch's files, rename them into cur/, make the renames durable and record the UIDs and the resume point. */
  async commit(lastUid: number): Promise<void> {
    const batch = this.pending;
    let next = 0;
    const syncOne = async (): Promise<void> => {
      while (next < batch.length) {
        const p = batch[next++]!;
        // mtime is the INTERNALDATE: set before the fsync so it is durable with the data; the rename keeps it.
        await fs.promises.utimes(p.tmp, p.date, p.date);
        const fh = await open(p.tmp, 'r+');
        try {
          await fh.sync();
        } finally {
          await fh.close();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(LIMITS.importImap.syncConcurrency, batch.length) }, syncOne));
    for (const p of batch) {
      await fs.promises.rename(p.tmp, p.cur);
      this.uidlist.push(`${p.uid} :${p.base}`);
      this.done.add(p.uid);
    }
    this.pending = [];
    const d = await open(path.join(this.dir, 'cur'), 'r');
    try {
      await d.sync();
    } finally {
      await d.close();
    }
    if (this.uidlist.length > 0) {
      const file = path.join(this.dir, UIDLIST);
      // The uidlist is what a later reindex takes UIDs from, and the resume
      // point below skips what it names: both are fsync'd before the next batch.
      const text = this.uidlist.join('\n') + '\n';
      if (this.uidlist[0]!.startsWith('3 ')) replaceFileSync(file, text);
      else appendFileSyncedSync(file, text);
      this.uidlist = [];
    }
    writeImportState(this.dir, { uidvalidity: this.uidvalidity, lastUid });
  }
}

/** The folder's resume point, or null when nothing was imported into it. */
export function readImportState(dir: string): ImportState | null {
  const text = readText(path.join(dir, STATE_FILE));
  const m = text === null ? null : /^(\d+) (\d+)/.exec(text);
  return m ? { uidvalidity: Number(m[1]), lastUid: Number(m[2]) } : null;
}

function writeImportState(dir: string, s: ImportState): void {
  replaceFileSync(path.join(dir, STATE_FILE), `${s.uidvalidity} ${s.lastUid}\n`);
}

/** Add names to the Maildir root's Dovecot `subscriptions` file (read by the index rebuild). */
export function addSubscriptions(maildir: string, names: readonly string[]): void {
  const old = readText(path.join(maildir, DOVECOT_SUBSCRIPTIONS_FILE));
  const all = new Set([...(old === null ? [] : parseDovecotSubscriptions(old)), ...names]);
  writeDovecotSubscriptions(maildir, [...all].sort());
}

function readText(file: string): string | null {
  try {
    return fs.readFileSync(file, 'utf8');
  } catch {
    return null;
  }
}

