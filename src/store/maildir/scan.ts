/**
 * Reading a Maildir folder as it is on disk: which messages exist under which
 * names (maildir(5): skip names starting with "."), and the facts a file
 * found there needs before it can be indexed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { LIMITS } from '../../limits.js';
import { compareNames, flagsFromLetters, parseName } from './filename.js';
import { MimeStreamParser } from '../mime/stream.js';
import type { MimeTree } from '../mime/types.js';

export interface DiskFile {
  basename: string;
  /** "new/<name>" or "cur/<name>". */
  rel: string;
  letters: string;
}

/** Map basename → file for new/ and cur/ of one mailbox directory. */
export function listMessages(dir: string): Map<string, DiskFile> {
  const out = new Map<string, DiskFile>();
  for (const sub of ['new', 'cur'] as const) {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(dir, sub));
    } catch {
      continue;
    }
    addNames(out, sub, names, 0, names.length);
  }
  return out;
}

/** names[from, to) of new/ or cur/ into `out` by listMessages' rules (new/ first; a sliced import lists in parts). */
export function addNames(out: Map<string, DiskFile>, sub: 'new' | 'cur', names: readonly string[], from: number, to: number): void {
  for (let i = from; i < to; i++) {
    const n = names[i]!;
    if (n.startsWith('.')) continue;
    const p = parseName(n);
    // A name in both new/ and cur/ (crash during a move by another program): cur/ wins.
    if (out.has(p.basename) && sub === 'new') continue;
    out.set(p.basename, { basename: p.basename, rel: `${sub}/${n}`, letters: sub === 'cur' ? p.letters : '' });
  }
}

export interface FoundMessage {
  basename: string;
  rel: string;
  flags: string[];
  size: number;
  vsize: number;
  internalDate: number;
  /**
   * The file's bytes, read when asked (whole: prefer `structure`, which a
   * mailbox of thousands of found files can ask of each without holding any).
   */
  readonly content: Buffer;
  /** The MIME structure, parsed from the file in bounded chunks when asked; null if the file is gone. */
  readonly structure: MimeTree | null;
}

const CHUNK = LIMITS.store.readChunkBytes;

/**
 * One read buffer for the bare-LF counts: recovery reads thousands of found
 * files in one step, and a fresh 64 KiB buffer per file was a tenth of a
 * first open's time. Safe because nothing keeps what it reads
 * and nothing in between yields.
 */
let countBuffer: Buffer | null = null;

/** Feed an open file to `each` in pieces of `buf` (synchronously: recovery runs in one step). */
function readFdChunks(fd: number, buf: Buffer, each: (chunk: Buffer) => void): void {
  for (let pos = 0; ; ) {
    const n = fs.readSync(fd, buf, 0, CHUNK, pos);
    if (n === 0) break;
    each(buf.subarray(0, n));
    pos += n;
  }
}

/** Feed a file to `each` in CHUNK pieces of a buffer of its own (a parser may keep slices). */
function readChunks(file: string, each: (chunk: Buffer) => void): void {
  const fd = fs.openSync(file, 'r');
  try {
    readFdChunks(fd, Buffer.allocUnsafe(CHUNK), each);
  } finally {
    fs.closeSync(fd);
  }
}

/**
 * Read a found file: size, W= (counting bare LFs when the name lacks it),
 * mtime. Its bytes are not kept: a mailbox of found files would otherwise
 * be held whole in memory. A name with W= costs one stat; one
 * without it is opened once and its size and mtime taken from the open file.
 */
export function readFound(dir: string, f: DiskFile): FoundMessage | null {
  const file = path.join(dir, f.rel);
  let st: fs.Stats;
  let vsize: number;
  try {
    const p = parseName(f.rel.slice(4));
    if (p.vsize !== undefined && p.vsize !== null) {
      st = fs.statSync(file);
      vsize = p.vsize;
    } else {
      const fd = fs.openSync(file, 'r');
      try {
        st = fs.fstatSync(fd);
        let bare = 0;
        let prev = -1;
        readFdChunks(fd, (countBuffer ??= Buffer.allocUnsafe(CHUNK)), (c) => {
          bare += countBareLf(c, prev);
          prev = c[c.length - 1]!;
        });
        vsize = st.size + bare;
      } finally {
        fs.closeSync(fd);
      }
    }
  } catch {
    return null;
  }
  return {
    basename: f.basename,
    rel: f.rel,
    flags: flagsFromLetters(f.letters),
    size: st.size,
    vsize,
    internalDate: Math.floor(st.mtimeMs),
    get content(): Buffer {
      return fs.readFileSync(file);
    },
    get structure(): MimeTree | null {
      try {
        const parser = new MimeStreamParser();
        readChunks(file, (c) => parser.push(c));
        return parser.end();
      } catch {
        return null;
      }
    },
  };
}

/** Bare LFs (no CR before) in `buf`; `prev` is the byte before it (-1: none). */
export function countBareLf(buf: Buffer, prev = -1): number {
  let n = 0;
  let i = buf.indexOf(10);
  while (i >= 0) {
    if ((i === 0 ? prev : buf[i - 1]) !== 13) n++;
    i = buf.indexOf(10, i + 1);
  }
  return n;
}

/** Found files in UID order (Dovecot: seconds, then microseconds, then name). */
export function sortFound<T extends { basename: string }>(files: T[]): T[] {
  return files.sort((a, b) => compareNames(a.basename, b.basename));
}

/** Folder directory names (".X.Y") under a Maildir root. */
export function listFolderDirs(maildir: string): string[] {
  try {
    return fs
      .readdirSync(maildir, { withFileTypes: true })
      .filter((e) => e.isDirectory() && e.name.startsWith('.') && !e.name.startsWith('..'))
      .map((e) => e.name);
  } catch {
    return [];
  }
}

/** "new/<name>" or "cur/<name>" of the file with this base name, or null. */
export function findByBasename(dir: string, basename: string): string | null {
  for (const sub of ['new', 'cur']) {
    let names: string[];
    try {
      names = fs.readdirSync(path.join(dir, sub));
    } catch {
      continue;
    }
    for (const n of names) if (n === basename || n.startsWith(basename + ':')) return `${sub}/${n}`;
  }
  return null;
}
