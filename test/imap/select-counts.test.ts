/**
 * What SELECT reports (RFC 3501 §6.3.1: FLAGS, EXISTS, RECENT, UNSEEN,
 * UIDVALIDITY, UIDNEXT; RFC 7162 §3.1.2.1 HIGHESTMODSEQ) must equal what a
 * recount from `FETCH 1:* (UID FLAGS MODSEQ)` of the same mailbox gives,
 * after deliveries, flag changes, an expunge and a restart of the node —
 * also when a SELECT reuses what an earlier SELECT of the unchanged mailbox
 * worked out (src/imap/commands/select.ts keeps it per snapshot).
 */
import fs from 'node:fs';
import { describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode } from './helpers/node.js';
import { startTestNode } from '../helpers/node.js';

const SYSTEM = ['\\Answered', '\\Flagged', '\\Deleted', '\\Seen', '\\Draft'];

interface Counts {
  exists: number;
  unseen: number | null;
  uidvalidity: number;
  uidnext: number;
  highestModseq: number;
  keywords: string[];
}

function pick(lines: string[], re: RegExp): string | null {
  for (const l of lines) {
    const m = re.exec(l);
    if (m) return m[1]!;
  }
  return null;
}

/** The counts a SELECT (CONDSTORE) answered. */
async function selectCounts(c: RawImap): Promise<Counts> {
  const r = await c.cmd('SELECT INBOX (CONDSTORE)', 20_000);
  expect(r.tagged).toMatch(/OK \[READ-WRITE\]/);
  const flags = pick(r.untagged, /^\* FLAGS \((.*)\)$/) ?? '';
  const unseen = pick(r.untagged, /^\* OK \[UNSEEN (\d+)\]/);
  return {
    exists: Number(pick(r.untagged, /^\* (\d+) EXISTS$/)),
    unseen: unseen === null ? null : Number(unseen),
    uidvalidity: Number(pick(r.untagged, /^\* OK \[UIDVALIDITY (\d+)\]/)),
    uidnext: Number(pick(r.untagged, /^\* OK \[UIDNEXT (\d+)\]/)),
    highestModseq: Number(pick(r.untagged, /^\* OK \[HIGHESTMODSEQ (\d+)\]/)),
    keywords: flags
      .split(' ')
      .filter((f) => f !== '' && !SYSTEM.includes(f))
      .sort(),
  };
}

/** The same counts from the messages themselves, in the selected mailbox. */
async function recount(c: RawImap): Promise<{ exists: number; unseen: number | null; maxUid: number; maxModseq: number; keywords: string[] }> {
  const r = await c.cmd('FETCH 1:* (UID FLAGS MODSEQ)', 20_000);
  expect(r.tagged).toMatch(/OK/);
  let exists = 0;
  let unseen: number | null = null;
  let maxUid = 0;
  let maxModseq = 0;
  const keywords = new Set<string>();
  for (const l of r.untagged) {
    const m = /^\* (\d+) FETCH \(.*UID (\d+).*FLAGS \(([^)]*)\).*MODSEQ \((\d+)\)/.exec(l);
    if (!m) continue;
    exists++;
    const flags = m[3]!.split(' ').filter(Boolean);
    if (unseen === null && !flags.includes('\\Seen')) unseen = Number(m[1]);
    for (const f of flags) if (!SYSTEM.includes(f) && f !== '\\Recent') keywords.add(f);
    maxUid = Math.max(maxUid, Number(m[2]));
    maxModseq = Math.max(maxModseq, Number(m[4]));
  }
  return { exists, unseen, maxUid, maxModseq, keywords: [...keywords].sort() };
}

/** SELECT, then check it against the recount; returns the SELECT's counts. */
async function checked(c: RawImap, opts: { expunged?: boolean } = {}): Promise<Counts> {
  const s = await selectCounts(c);
  const r = await recount(c);
  expect(s.exists).toBe(r.exists);
  expect(s.unseen).toBe(r.unseen);
  expect(s.uidnext).toBeGreaterThan(r.maxUid);
  // Every keyword a message has is in FLAGS (RFC 3501 §7.2.6).
  for (const k of r.keywords) expect(s.keywords).toContain(k);
  // An expunge raises HIGHESTMODSEQ above every message left (RFC 7162 §3.1.2.1 counts it as a change).
  if (opts.expunged) expect(s.highestModseq).toBeGreaterThan(r.maxModseq);
  else expect(s.highestModseq).toBe(r.maxModseq);
  return s;
}

describe('SELECT counts', () => {
  it('equal a recount from FETCH 1:* FLAGS across deliver, flag change, expunge and restart', { timeout: 120_000 }, async () => {
    const node = await startImapNode();
    const dataDir = node.t.dataDir;
    let restarted: Awaited<ReturnType<typeof startTestNode>> | null = null;
    try {
      await node.deliver([message(1), message(2), message(3), message(4)]);
      const a = await login(node.port, node.user, node.pass);
      const first = await checked(a);
      expect(first.exists).toBe(4);
      expect(first.unseen).toBe(1);
      // A second SELECT of the unchanged mailbox, from another session too: the same answer.
      expect(await checked(a)).toEqual(first);
      const b = await login(node.port, node.user, node.pass);
      expect(await checked(b)).toEqual(first);

      // Flag changes: the first unseen moves, a keyword joins FLAGS.
      expect((await a.cmd('STORE 1:2 +FLAGS (\\Seen)')).tagged).toMatch(/OK/);
      const seen = await checked(b);
      expect(seen.unseen).toBe(3);
      expect((await a.cmd('STORE 4 +FLAGS ($Select1)')).tagged).toMatch(/OK/);
      const kw = await checked(b);
      expect(kw.keywords).toContain('$Select1');
      expect(kw.highestModseq).toBeGreaterThan(seen.highestModseq);

      // A delivery: EXISTS and UIDNEXT grow.
      await node.deliver([message(5)]);
      const more = await checked(b);
      expect(more.exists).toBe(5);
      expect(more.uidnext).toBe(kw.uidnext + 1);

      // An expunge of the first unseen message: EXISTS shrinks, UNSEEN moves to its successor's new number.
      expect((await a.cmd('SELECT INBOX')).tagged).toMatch(/OK/);
      expect((await a.cmd('STORE 3 +FLAGS (\\Deleted)')).tagged).toMatch(/OK/);
      expect((await a.cmd('EXPUNGE')).tagged).toMatch(/OK/);
      const gone = await checked(b, { expunged: true });
      expect(gone.exists).toBe(4);
      expect(gone.unseen).toBe(3);
      expect(gone.uidnext).toBe(more.uidnext);
      expect(gone.highestModseq).toBeGreaterThan(more.highestModseq);
      a.close();
      b.close();
      await node.t.stop({ keep: true });

      // After a restart: the same counts, read back from the index.
      restarted = await startTestNode({}, { dataDir });
      const c = await login(restarted.ports.imap!, node.user, node.pass);
      const after = await checked(c, { expunged: true });
      expect(after).toEqual(gone);
      expect(await checked(c, { expunged: true })).toEqual(gone);
      c.close();
    } finally {
      await restarted?.stop();
      await node.stop();
      fs.rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
