/**
 * CONDSTORE and QRESYNC (RFC 7162) over real sockets: HIGHESTMODSEQ in
 * SELECT and STATUS, FETCH MODSEQ / CHANGEDSINCE, STORE UNCHANGEDSINCE with
 * [MODIFIED], SEARCH MODSEQ, ENABLE, VANISHED instead of EXPUNGE, and the
 * resync scenario the issue asks for: one session changes flags and
 * expunges while the other is offline; the other's QRESYNC SELECT then gets
 * exactly the VANISHED set and the changed messages. imapflow with
 * `qresync: true` does the same from a client nobody here wrote.
 */
import { ImapFlow } from 'imapflow';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
const open: RawImap[] = [];

async function session(): Promise<RawImap> {
  const c = await login(n.port, n.user, n.pass);
  open.push(c);
  return c;
}

/** Value of a `[CODE n]` response code in a reply's untagged lines. */
function code(lines: readonly string[], name: string): string {
  for (const l of lines) {
    const m = new RegExp(`\\[${name} ([^\\]]+)\\]`).exec(l);
    if (m) return m[1]!;
  }
  throw new Error(`no ${name} in ${lines.join(' | ')}`);
}

function modseqOf(line: string): bigint {
  const m = /MODSEQ \((\d+)\)/.exec(line);
  if (!m) throw new Error(`no MODSEQ in ${line}`);
  return BigInt(m[1]!);
}

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  for (const c of open) c.close();
  await n?.stop();
});

describe('CONDSTORE (RFC 7162 §3.1)', () => {
  it('advertises CONDSTORE and QRESYNC after login, HIGHESTMODSEQ in SELECT and STATUS', async () => {
    await n.t.ctx.store.user(n.account).createMailbox('Cs');
    await n.deliver([message(1), message(2), message(3)], { mailbox: 'Cs' });
    const c = await session();
    const cap = await c.cmd('CAPABILITY');
    expect(cap.untagged[0]).toMatch(/ CONDSTORE/);
    expect(cap.untagged[0]).toMatch(/ QRESYNC/);
    expect(cap.untagged[0]).toMatch(/ STATUS=SIZE/);
    const st = await c.cmd('STATUS Cs (MESSAGES HIGHESTMODSEQ SIZE)');
    const m = /\* STATUS Cs \(MESSAGES 3 HIGHESTMODSEQ (\d+) SIZE (\d+)\)/.exec(st.untagged[0]!);
    expect(m).not.toBeNull();
    const sel = await c.cmd('SELECT Cs (CONDSTORE)');
    expect(sel.tagged).toMatch(/OK \[READ-WRITE\]/);
    expect(code(sel.untagged, 'HIGHESTMODSEQ')).toBe(m![1]);
    expect(Number(m![2])).toBeGreaterThan(0);
  });

  it('FETCH MODSEQ, STORE UNCHANGEDSINCE with [MODIFIED], FETCH CHANGEDSINCE, SEARCH MODSEQ', async () => {
    const c = await session();
    await c.cmd('SELECT Cs');
    const f = await c.cmd('FETCH 1:3 (MODSEQ)');
    // RFC 7162 §3.1: the first CONDSTORE-enabling command while selected also reports HIGHESTMODSEQ.
    expect(f.untagged[0]).toMatch(/^\* OK \[HIGHESTMODSEQ \d+\]/);
    expect(f.untagged).toHaveLength(4);
    const before = f.untagged.slice(1).map(modseqOf);
    expect(before.every((m) => BigInt(code(f.untagged, 'HIGHESTMODSEQ')) >= m)).toBe(true);
    expect((await c.cmd('FETCH 1 (MODSEQ)')).untagged).toHaveLength(1);
    // RFC 7162 §3.1.3 example adapted: message 2 changes first, so a conditional STORE on 1:3 skips it.
    const s1 = await c.cmd('STORE 2 +FLAGS (\\Flagged)');
    // RFC 7162 §3.1: once CONDSTORE is on, STORE's FETCH responses carry UID and MODSEQ.
    expect(s1.untagged[0]).toMatch(/^\* 2 FETCH \(UID 2 FLAGS \(\\Flagged\) MODSEQ \(\d+\)\)$/);
    const after2 = modseqOf(s1.untagged[0]!);
    expect(after2).toBeGreaterThan(before[1]!);
    const limit = before.reduce((a, b) => (a > b ? a : b));
    const s2 = await c.cmd(`STORE 1:3 (UNCHANGEDSINCE ${limit}) +FLAGS.SILENT (\\Seen)`);
    expect(s2.tagged).toMatch(/OK \[MODIFIED 2\]/);
    // .SILENT still reports the new MODSEQ of the changed messages (§3.1.3), and nothing for the failed one.
    expect(s2.untagged.map((l) => l.replace(/MODSEQ \(\d+\)/, 'MODSEQ (N)'))).toEqual(['* 1 FETCH (UID 1 MODSEQ (N))', '* 3 FETCH (UID 3 MODSEQ (N))']);
    const s3 = await c.cmd(`UID STORE 1:* (UNCHANGEDSINCE 1) -FLAGS (\\Seen)`);
    expect(s3.tagged).toMatch(/OK \[MODIFIED 1:3\]/);
    const changed = await c.cmd(`FETCH 1:* (FLAGS) (CHANGEDSINCE ${after2})`);
    expect(changed.untagged).toHaveLength(2);
    expect(changed.untagged[0]).toMatch(/^\* 1 FETCH \(FLAGS \(\\Seen\) MODSEQ \(\d+\)\)$/);
    expect(changed.untagged[1]).toMatch(/^\* 3 FETCH/);
    const search = await c.cmd(`SEARCH MODSEQ ${after2 + 1n}`);
    const highest = code((await c.cmd('STATUS Cs (HIGHESTMODSEQ)')).untagged.map((l) => l.replace(/\(HIGHESTMODSEQ (\d+)\)/, '[HIGHESTMODSEQ $1]')), 'HIGHESTMODSEQ');
    expect(search.untagged[0]).toBe(`* SEARCH 1 3 (MODSEQ ${highest})`);
    expect((await c.cmd('SEARCH MODSEQ 99999999999999')).untagged[0]).toBe('* SEARCH');
  });

  it('SORT and LIST-STATUS, as CONDSTORE-enabling commands, report HIGHESTMODSEQ the first time while selected', async () => {
    const hms = /^\* OK \[HIGHESTMODSEQ \d+\]/;
    for (const enabling of ['SORT (DATE) UTF-8 MODSEQ 1', 'LIST "" Cs RETURN (STATUS (HIGHESTMODSEQ))']) {
      const c = await session();
      await c.cmd('SELECT Cs');
      expect((await c.cmd(enabling)).untagged.filter((l) => hms.test(l))).toHaveLength(1);
      // §3.1: only the first one; CONDSTORE stays on.
      expect((await c.cmd(enabling)).untagged.filter((l) => hms.test(l))).toHaveLength(0);
    }
  });

  it('a FETCH that sets \\Seen reports UID and the new MODSEQ under CONDSTORE (§3.1), once', async () => {
    const c = await session();
    await c.cmd('SELECT Cs (CONDSTORE)');
    await c.cmd('STORE 1:2 -FLAGS.SILENT (\\Seen)');
    for (const cmd of ['FETCH 1 (BODY[])', 'FETCH 2 (RFC822.SIZE BODY[HEADER.FIELDS (SUBJECT)])']) {
      const r = await c.cmd(cmd);
      const seq = cmd.split(' ')[1];
      expect(r.untagged[0]).toMatch(new RegExp(`^\\* ${seq} FETCH \\(UID ${seq} FLAGS \\([^)]*\\\\Seen\\) [^]*MODSEQ \\(\\d+\\) BODY\\[`));
      const now = (await c.cmd(`FETCH ${seq} (MODSEQ)`)).untagged[0]!;
      expect(modseqOf(r.untagged[0]!)).toBe(modseqOf(now));
      // Already \Seen: nothing changes, so the plain answer.
      expect((await c.cmd(cmd)).untagged[0]).not.toMatch(/MODSEQ|UID/);
    }
  });

  it('unsolicited flag changes carry MODSEQ once CONDSTORE is enabled', async () => {
    const a = await session();
    const b = await session();
    await a.cmd('ENABLE CONDSTORE');
    await a.cmd('SELECT Cs');
    await b.cmd('SELECT Cs');
    await b.cmd('STORE 3 +FLAGS.SILENT (\\Answered)');
    const r = await a.cmd('NOOP');
    expect(r.untagged.some((l) => /^\* 3 FETCH \(UID 3 FLAGS \([^)]*\\Answered[^)]*\) MODSEQ \(\d+\)\)$/.test(l))).toBe(true);
  });
});

describe('QRESYNC (RFC 7162 §3.2)', () => {
  it('SELECT (QRESYNC ...) needs ENABLE QRESYNC; ENABLE answers ENABLED', async () => {
    const c = await session();
    expect((await c.cmd('SELECT INBOX (QRESYNC (1 1))')).tagged).toMatch(/BAD/);
    const e = await c.cmd('ENABLE QRESYNC CONDSTORE X-UNKNOWN');
    expect(e.untagged).toEqual(['* ENABLED QRESYNC CONDSTORE']);
  });

  it('resync after being offline: exactly the VANISHED set and the changed messages', async () => {
    await n.t.ctx.store.user(n.account).createMailbox('Rs');
    const uids = await n.deliver([1, 2, 3, 4, 5, 6, 7, 8].map((i) => message(i)), { mailbox: 'Rs' });
    expect(uids).toEqual([1, 2, 3, 4, 5, 6, 7, 8]);
    // Session A syncs, remembers UIDVALIDITY and HIGHESTMODSEQ, and goes offline.
    const a = await session();
    await a.cmd('ENABLE QRESYNC');
    const sel = await a.cmd('SELECT Rs');
    const uidvalidity = code(sel.untagged, 'UIDVALIDITY');
    const modseq = code(sel.untagged, 'HIGHESTMODSEQ');
    a.close();

    // Session B changes flags on 2 and 6, expunges 3 and 5, moves 7 away, and a new message arrives.
    const b = await session();
    await b.cmd('SELECT Rs');
    await b.cmd('UID STORE 2,6 +FLAGS (\\Flagged)');
    await b.cmd('UID STORE 3,5 +FLAGS (\\Deleted)');
    await b.cmd('EXPUNGE');
    await b.cmd('CREATE Elsewhere');
    await b.cmd('UID MOVE 7 Elsewhere');
    const [newUid] = await n.deliver([message(9)], { mailbox: 'Rs' });
    b.close();

    const c = await session();
    await c.cmd('ENABLE QRESYNC');
    const r = await c.cmd(`SELECT Rs (QRESYNC (${uidvalidity} ${modseq} 1:8))`);
    expect(r.tagged).toMatch(/OK \[READ-WRITE\]/);
    const vanished = r.untagged.filter((l) => l.startsWith('* VANISHED'));
    expect(vanished).toEqual(['* VANISHED (EARLIER) 3,5,7']);
    const fetches = r.untagged.filter((l) => / FETCH /.test(l)).map((l) => l.replace(/MODSEQ \(\d+\)/, 'MODSEQ (N)'));
    // Sequence numbers after the expunges: 1 2 4 6 8 9 → 2 is #2, 6 is #4; 9 is new (#6) but outside the known UIDs.
    expect(fetches).toEqual(['* 2 FETCH (UID 2 FLAGS (\\Flagged) MODSEQ (N))', '* 4 FETCH (UID 6 FLAGS (\\Flagged) MODSEQ (N))']);
    // The VANISHED/FETCH come after the usual responses and before the tagged OK.
    expect(r.untagged.findIndex((l) => l.startsWith('* VANISHED'))).toBeGreaterThan(r.untagged.findIndex((l) => l.includes('HIGHESTMODSEQ')));
    expect(r.untagged).toContain('* 6 EXISTS');

    // Without known UIDs the new message is reported too.
    const r2 = await c.cmd(`EXAMINE Rs (QRESYNC (${uidvalidity} ${modseq}))`);
    expect(r2.untagged[0]).toBe('* OK [CLOSED] Previous mailbox closed');
    expect(r2.untagged.filter((l) => l.startsWith('* VANISHED'))).toEqual(['* VANISHED (EARLIER) 3,5,7']);
    expect(r2.untagged.filter((l) => / FETCH /.test(l)).map((l) => /UID (\d+)/.exec(l)![1])).toEqual(['2', '6', String(newUid)]);

    // A wrong UIDVALIDITY voids the client's cache: no VANISHED, no FETCH.
    const r3 = await c.cmd(`EXAMINE Rs (QRESYNC (${Number(uidvalidity) + 1} ${modseq}))`);
    expect(r3.untagged.some((l) => l.startsWith('* VANISHED') || / FETCH /.test(l))).toBe(false);

    // UID FETCH (CHANGEDSINCE n VANISHED) (§3.2.6).
    await c.cmd('SELECT Rs');
    const f = await c.cmd(`UID FETCH 1:* (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
    expect(f.untagged[0]).toBe('* VANISHED (EARLIER) 3,5,7');
    expect(f.untagged.slice(1).map((l) => /UID (\d+)/.exec(l)![1])).toEqual(['2', '6', String(newUid)]);
    const f2 = await c.cmd(`UID FETCH 4:6 (FLAGS) (CHANGEDSINCE ${modseq} VANISHED)`);
    expect(f2.untagged[0]).toBe('* VANISHED (EARLIER) 5');
  });

  it('after ENABLE QRESYNC, expunges by others arrive as VANISHED, not EXPUNGE', async () => {
    await n.t.ctx.store.user(n.account).createMailbox('Vn');
    await n.deliver([message(1), message(2), message(3), message(4)], { mailbox: 'Vn' });
    const a = await session();
    await a.cmd('ENABLE QRESYNC');
    await a.cmd('SELECT Vn');
    const b = await session();
    await b.cmd('SELECT Vn');
    await b.cmd('STORE 2:3 +FLAGS.SILENT (\\Deleted)');
    const be = await b.cmd('EXPUNGE');
    expect(be.untagged).toEqual(['* 3 EXPUNGE', '* 2 EXPUNGE']);
    const r = await a.cmd('NOOP');
    expect(r.untagged).toContain('* VANISHED 2:3');
    expect(r.untagged.some((l) => l.includes('EXPUNGE'))).toBe(false);
    // Its own EXPUNGE too.
    await a.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    expect((await a.cmd('EXPUNGE')).untagged).toEqual(['* VANISHED 1']);
    expect((await a.cmd('FETCH 1 (UID)')).untagged).toEqual(['* 1 FETCH (UID 4)']);
  });

  it('the expunge memory survives a restart of the store (it is in the journal)', async () => {
    const a = await session();
    await a.cmd('ENABLE QRESYNC');
    const sel = await a.cmd('SELECT Vn');
    const uv = code(sel.untagged, 'UIDVALIDITY');
    // Reopen the store through a fresh handle: expungedSince reads the journal, not memory.
    const h = await n.t.ctx.store.user(n.account).openMailbox('Vn', { readOnly: true });
    expect(h.expungedSince(0n)).toEqual([[1, 3]]);
    h.close();
    const r = await a.cmd(`EXAMINE Vn (QRESYNC (${uv} 1))`);
    expect(r.untagged.filter((l) => l.startsWith('* VANISHED'))).toEqual(['* VANISHED (EARLIER) 1:3']);
  });
});

describe('imapflow with qresync: true', () => {
  it('reopens a mailbox with QRESYNC and learns vanished UIDs and flag changes', async () => {
    await n.t.ctx.store.user(n.account).createMailbox('Flow');
    await n.deliver([1, 2, 3, 4, 5].map((i) => message(i)), { mailbox: 'Flow' });
    const make = (): ImapFlow =>
      new ImapFlow({ host: '127.0.0.1', port: n.port, secure: false, auth: { user: n.user, pass: n.pass }, logger: false, qresync: true, tls: { rejectUnauthorized: false } });
    const c1 = make();
    await c1.connect();
    expect(c1.enabled.has('QRESYNC')).toBe(true);
    const mb = await c1.mailboxOpen('Flow');
    const uidValidity = mb.uidValidity;
    const highest = mb.highestModseq;
    expect(typeof highest).toBe('bigint');
    await c1.logout();

    const other = await session();
    await other.cmd('SELECT Flow');
    await other.cmd('UID STORE 4 +FLAGS (\\Seen)');
    await other.cmd('UID STORE 1,2 +FLAGS (\\Deleted)');
    await other.cmd('EXPUNGE');

    const c2 = make();
    const vanished: number[] = [];
    const flagged: { uid: number; flags: string[] }[] = [];
    c2.on('expunge', (e: { uid?: number; vanished?: boolean; earlier?: boolean }) => {
      if (e.vanished && e.earlier && e.uid !== undefined) vanished.push(e.uid);
    });
    c2.on('flags', (e: { uid?: number; flags: Set<string> }) => {
      if (e.uid !== undefined) flagged.push({ uid: e.uid, flags: [...e.flags] });
    });
    await c2.connect();
    const mb2 = await c2.mailboxOpen('Flow', { uidValidity, changedSince: highest } as never);
    expect(mb2.exists).toBe(3);
    expect(vanished).toEqual([1, 2]);
    expect(flagged).toEqual([{ uid: 4, flags: ['\\Seen'] }]);
    expect(mb2.highestModseq! > highest!).toBe(true);

    // Live: another expunge reaches imapflow as VANISHED (not EARLIER).
    const live = new Promise<{ uid?: number; vanished?: boolean; earlier?: boolean }>((resolve) => c2.once('expunge', resolve));
    await other.cmd('UID STORE 3 +FLAGS.SILENT (\\Deleted)');
    await other.cmd('EXPUNGE');
    await c2.noop();
    const ev = await Promise.race([live, new Promise<null>((r) => setTimeout(() => r(null), 3000))]);
    expect(ev).toMatchObject({ uid: 3, vanished: true, earlier: false });
    await c2.logout();
  });
});
