/**
 * Reading a Maildir folder as it is on disk: which messages exist under which
 * names (maildir(5): skip names starting with "."), and the facts a file
 * found there needs before it can be indexed.
 */
import fs from 'node:fs';
import path from 'node:path';
import { compareNames, flagsFromLetters, parseName } from './filename.js';

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
    for (const n of names) {
      if (n.startsWith('.')) continue;
      const p = parseName(n);
      // A name in both new/ and cur/ (crash during a move by another program): cur/ wins.
      if (out.has(p.basename) && sub === 'new') continue;
      out.set(p.basename, { basename: p.basename, rel: `${sub}/${n}`, letters: sub === 'cur' ? p.letters : '' });
    }
  }
  return out;
}

export interface FoundMessage {
  basename: string;
  rel: string;
  flags: string[];
  size: number;
  vsize: number;
  internalDate: number;
  /** The bytes, only when asked for (a 100,000-file import must not hold them all). */
  content?: Buffer;
}

/** Read a found file: size, W= (counting bare LFs when the name lacks it), mtime; its bytes if `keep`. */
export function readFound(dir: string, f: DiskFile, keep = false): FoundMessage | null {
  const file = path.join(dir, f.rel);
  let content: Buffer;
  let st: fs.Stats;
  try {
    content = fs.readFileSync(file);
    st = fs.statSync(file);
  } catch {
    return null;
  }
  const p = parseName(f.rel.slice(4));
  return {
    basename: f.basename,
    rel: f.rel,
    flags: flagsFromLetters(f.letters),
    size: content.length,
    vsize: p.vsize ?? content.length + countBareLf(content),
    internalDate: Math.floor(st.mtimeMs),
    ...(keep ? { content } : {}),
  };
}

export function countBareLf(buf: Buffer): number {
  let n = 0;
  let i = buf.indexOf(10);
  while (i >= 0) {
    if (i === 0 || buf[i - 1] !== 13) n++;
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
