/**
 * First open of a Maildir that has no index (pointed at, restored
 * from backup, written by another tool) against a brute-force reading of the
 * same files, and against `roost reindex` of the result: the same UIDs
 * (dovecot-uidlist where it names the file, then Dovecot's name order above
 * its next UID), sizes (bytes on disk; RFC822.SIZE with CRLF line ends,
 * RFC 3501 §2.4), flags (maildir(5) info letters) and INTERNALDATEs (the
 * file's mtime). Random Maildirs: names with S= and W=, with S= only, bare
 * qmail names; CRLF, bare-LF and mixed line ends; files in new/ and cur/.
 * The first open takes UIDs, names and flags from the listing alone; sizes
 * and INTERNALDATEs are read from the files afterwards (store/facts.ts), on
 * demand (ensureFacts) or by the background fill (settle), and the records
 * of the snapshot taken before are the exact ones from then on.
 */
import fs from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { account, open, tempDir } from './helpers.js';
import { rng } from '../helpers/rng.js';

const root = tempDir('roost-first-open-');
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

interface Expected {
  basename: string;
  uid: number;
  size: number;
  vsize: number;
  flags: string[];
  internalDate: number;
}

const LETTERS: Record<string, string> = { D: '\\Draft', F: '\\Flagged', R: '\\Answered', S: '\\Seen', T: '\\Deleted' };

/** Write a random Maildir of `n` files; return what a brute-force reading says about it. */
function populate(maildir: string, n: number, seed: number, withUidList: boolean): { expected: Expected[]; uidvalidity: number | null; uidnext: number } {
  const r = rng(seed);
  for (const sub of ['new', 'cur', 'tmp']) fs.mkdirSync(path.join(maildir, sub), { recursive: true });
  const made: { basename: string; size: number; vsize: number; flags: string[]; mtime: number; secs: number; usec: number }[] = [];
  for (let i = 0; i < n; i++) {
    const nl = r() < 0.4 ? '\n' : '\r\n';
    let text = `From: s${i}@example.net${nl}Subject: random ${i}${nl}${nl}`;
    const lines = 1 + Math.floor(r() * 20);
    for (let k = 0; k < lines; k++) text += `line ${k} ${'x'.repeat(Math.floor(r() * 60))}${r() < 0.1 ? '\n' : nl}`;
    const bytes = Buffer.from(text);
    const vsize = Buffer.byteLength(text.replace(/\r?\n/g, '\r\n'));
    // Some share a second (and a microsecond part or none): the name order decides.
    const secs = 1_700_000_000 + Math.floor(r() * n);
    const usec = r() < 0.3 ? null : Math.floor(r() * 1_000_000);
    const stem = `${secs}.${usec === null ? '' : `M${usec}`}P${i}Q${Math.floor(r() * 1000)}.host${i}`;
    const shape = r();
    const basename = shape < 0.4 ? `${stem},S=${bytes.length},W=${vsize}` : shape < 0.7 ? `${stem},S=${bytes.length}` : stem;
    const inNew = r() < 0.2;
    const letters = inNew ? '' : [...'DFRST'].filter(() => r() < 0.3).join('');
    const rel = inNew ? `new/${basename}` : `cur/${basename}:2,${letters}`;
    fs.writeFileSync(path.join(maildir, rel), bytes);
    const mtime = (1_600_000_000 + Math.floor(r() * 100_000_000)) * 1000;
    fs.utimesSync(path.join(maildir, rel), mtime / 1000, mtime / 1000);
    made.push({ basename, size: bytes.length, vsize, flags: [...letters].map((l) => LETTERS[l]!).sort(), mtime, secs, usec: usec ?? 0 });
  }
  // Dovecot's order for files no list names: seconds, then microseconds, then the whole base name.
  const byName = made.slice().sort((a, b) => a.secs - b.secs || a.usec - b.usec || (a.basename < b.basename ? -1 : a.basename > b.basename ? 1 : 0));
  const listed = new Map<string, number>();
  let uidvalidity: number | null = null;
  let next = 1;
  if (withUidList) {
    // About half the files are listed, with gaps between UIDs, plus a name no file has.
    uidvalidity = 1_650_000_000 + Math.floor(r() * 1000);
    let uid = 0;
    const lines: string[] = [];
    for (const m of byName) {
      if (r() < 0.5) continue;
      uid += 1 + Math.floor(r() * 3);
      listed.set(m.basename, uid);
      lines.push(`${uid} :${m.basename}`);
    }
    uid += 2;
    lines.push(`${uid} :1699999999.M1P1.gone`);
    next = uid + 1 + Math.floor(r() * 5);
    fs.writeFileSync(path.join(maildir, 'dovecot-uidlist'), `3 V${uidvalidity} N${next} G0123456789abcdef0123456789abcdef\n${lines.join('\n')}\n`);
  }
  const expected = byName.map((m) => ({
    basename: m.basename,
    uid: listed.get(m.basename) ?? next++,
    size: m.size,
    vsize: m.vsize,
    flags: m.flags,
    internalDate: m.mtime,
  }));
  return { expected: expected.sort((a, b) => a.uid - b.uid), uidvalidity, uidnext: next };
}

const named = (msgs: readonly { uid: number; basename: string; flags: readonly string[] }[]): { uid: number; basename: string; flags: string[] }[] =>
  msgs.map((m) => ({ uid: m.uid, basename: m.basename, flags: [...m.flags].sort() }));

const seen = (msgs: readonly { uid: number; basename: string; size: number; vsize: number; flags: readonly string[]; internalDate: number }[]): Expected[] =>
  msgs.map((m) => ({ basename: m.basename, uid: m.uid, size: m.size, vsize: m.vsize, flags: [...m.flags].sort(), internalDate: m.internalDate }));

describe('first open of an unindexed Maildir = brute force = reindex', () => {
  const rounds = [
    { seed: 1, n: 200, uidlist: false, onDemand: true },
    { seed: 2, n: 200, uidlist: true, onDemand: false },
    { seed: 3, n: 500, uidlist: true, onDemand: true },
    { seed: 4, n: 500, uidlist: false, onDemand: false },
  ];
  for (const { seed, n, uidlist, onDemand } of rounds) {
    it(`seed ${seed}: ${n} files${uidlist ? ' with a dovecot-uidlist' : ''}, facts ${onDemand ? 'on demand' : 'in the background'}`, async () => {
      const a = account(root, `eq${seed}`);
      const { expected, uidvalidity, uidnext } = populate(a.maildir, n, seed, uidlist);
      const store = await open(root);
      try {
        const box = await store.user(a).openMailbox('INBOX');
        const first = box.snapshot();
        expect(named(first.messages)).toEqual(named(expected));
        if (onDemand) await box.ensureFacts();
        else await store.settle();
        expect(seen(first.messages)).toEqual(expected);
        expect(seen(box.snapshot().messages)).toEqual(expected);
        if (uidvalidity !== null) expect(first.uidvalidity).toBe(uidvalidity);
        expect(first.uidnext).toBe(uidnext);
        // RFC822.SIZE is what the client will be sent: the bytes with CRLF line ends.
        const last = expected[expected.length - 1]!;
        const body = await box.readMessage(last.uid);
        expect(Buffer.byteLength(body.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1')).toBe(last.vsize);
        box.close();
        const done = await store.reindex(a);
        expect(done.messages).toBe(n);
        const again = await store.user(a).openMailbox('INBOX');
        expect(named(again.snapshot().messages)).toEqual(named(expected));
        await again.ensureFacts();
        expect(seen(again.snapshot().messages)).toEqual(expected);
        expect(again.uidvalidity).toBe(first.uidvalidity);
        expect(again.snapshot().uidnext).toBe(first.uidnext);
        again.close();
      } finally {
        await store.close();
      }
    });
  }
});
