/**
 * UIDs kept across migration (Dovecot's maildir-uidlist.h, Courier's courierimapuiddb): Dovecot's `dovecot-uidlist`
 * (version 3 and the Courier-compatible version 1) and Courier's
 * `courierimapuiddb`. Both map a base file name to a UID and give the
 * folder's UIDVALIDITY and next UID, so clients keep their caches and POP3
 * UIDLs stay the base names they were.
 */
import fs from 'node:fs';
import path from 'node:path';

export interface UidList {
  source: 'dovecot-uidlist' | 'courierimapuiddb';
  uidvalidity: number;
  uidnext: number;
  /** base name → UID */
  uids: Map<string, number>;
}

/** Read the UID list of a mailbox directory, preferring dovecot-uidlist; null when none is usable. */
export function readUidList(dir: string): UidList | null {
  for (const source of ['dovecot-uidlist', 'courierimapuiddb'] as const) {
    let text: string;
    try {
      text = fs.readFileSync(path.join(dir, source), 'utf8');
    } catch {
      continue;
    }
    const parsed = parseUidList(text, source);
    if (parsed) return parsed;
  }
  return null;
}

/**
 * readUidList for a caller that lets the event loop run meanwhile (a
 * session's first open, store/recovery.ts): yields the file's read (a
 * promise, whose text it is given back) and a pause every few thousand
 * lines; 100,000 lines take about 80 ms to parse.
 */
export function* readUidListSteps(dir: string): Generator<Promise<unknown> | void, UidList | null, unknown> {
  for (const source of ['dovecot-uidlist', 'courierimapuiddb'] as const) {
    const text = (yield fs.promises.readFile(path.join(dir, source), 'utf8').catch(() => null)) as string | null;
    if (text === null) continue;
    const parsed = yield* parseUidListSteps(text, source);
    if (parsed) return parsed;
  }
  return null;
}

/** Lines parsed between two pauses of parseUidListSteps. */
const LINES_PER_STEP = 5000;

export function parseUidList(text: string, source: UidList['source']): UidList | null {
  const steps = parseUidListSteps(text, source);
  for (;;) {
    const r = steps.next();
    if (r.done) return r.value;
  }
}

function* parseUidListSteps(text: string, source: UidList['source']): Generator<void, UidList | null, unknown> {
  const lines = text.split('\n');
  const header = (lines[0] ?? '').trim().split(/\s+/);
  let uidvalidity = 0;
  let uidnext = 0;
  let version: number;
  if (header[0] === '3') {
    version = 3;
    for (const f of header.slice(1)) {
      if (f.startsWith('V')) uidvalidity = Number(f.slice(1));
      else if (f.startsWith('N')) uidnext = Number(f.slice(1));
    }
  } else if (header[0] === '1' && header.length >= 3) {
    version = 1;
    uidvalidity = Number(header[1]);
    uidnext = Number(header[2]);
  } else {
    return null;
  }
  if (!Number.isInteger(uidvalidity) || uidvalidity <= 0 || uidvalidity > 0xffffffff) return null;
  const uids = new Map<string, number>();
  let maxUid = 0;
  for (let i = 1; i < lines.length; i++) {
    if (i % LINES_PER_STEP === 0) yield;
    const line = lines[i]!;
    if (line.trim() === '') continue;
    let uid: number;
    let name: string;
    if (version === 3) {
      // "<uid> [<key><value> ...] :<filename>"
      const m = /^(\d+)(?:\s[^:]*)?\s?:(.+)$/.exec(line);
      if (!m) continue;
      uid = Number(m[1]);
      name = m[2]!;
    } else {
      // "<uid> <filename>" (v1 and courierimapuiddb store the base name)
      const m = /^(\d+)\s+(\S+)/.exec(line);
      if (!m) continue;
      uid = Number(m[1]);
      name = m[2]!;
    }
    if (!Number.isInteger(uid) || uid <= 0 || uid > 0xffffffff) continue;
    const colon = name.indexOf(':');
    const base = colon >= 0 ? name.slice(0, colon) : name;
    uids.set(base, uid);
    if (uid > maxUid) maxUid = uid;
  }
  return { source, uidvalidity, uidnext: Math.max(uidnext, maxUid + 1, 1), uids };
}
