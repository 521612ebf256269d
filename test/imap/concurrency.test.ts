/**
 * Two sessions on one mailbox (RFC 3501 §5.2, §7.4.1):
 * EXISTS reaches the other session at its next command (never shrinking),
 * EXPUNGE is held back during FETCH/STORE/SEARCH and sent at NOOP, flag
 * changes arrive as unsolicited FETCH, a FETCH of a message another session
 * expunged answers NO without a wrong message (RFC 2180 §4.1.2), and IDLE
 * hears of a delivery within 100 ms.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { login, type RawImap } from './helpers/client.js';
import { message, startImapNode, type ImapTestNode } from './helpers/node.js';

let n: ImapTestNode;
let box = 0;

beforeAll(async () => {
  n = await startImapNode();
});
afterAll(async () => {
  await n?.stop();
});

/** A fresh mailbox with `count` messages, selected in two sessions. */
async function twoSessions(count: number): Promise<{ a: RawImap; b: RawImap; name: string }> {
  const name = `Shared${++box}`;
  const a = await login(n.port, n.user, n.pass);
  await a.cmd(`CREATE ${name}`);
  await n.deliver(
    Array.from({ length: count }, (_, i) => message(i + 1)),
    { mailbox: name },
  );
  const b = await login(n.port, n.user, n.pass);
  await a.cmd(`SELECT ${name}`);
  await b.cmd(`SELECT ${name}`);
  return { a, b, name };
}

describe('two sessions', () => {
  it('new messages: EXISTS at the next command of the other session', async () => {
    const { a, b, name } = await twoSessions(2);
    await n.deliver([message(3)], { mailbox: name });
    const r = await b.cmd('NOOP');
    expect(r.untagged).toContain('* 3 EXISTS');
    // The appending session learns it too, once.
    const ra = await a.cmd('NOOP');
    expect(ra.untagged).toContain('* 3 EXISTS');
    expect((await a.cmd('NOOP')).untagged).toEqual([]);
    a.close();
    b.close();
  });

  it('EXPUNGE by another session is held back during FETCH, STORE and SEARCH, sent at NOOP', async () => {
    const { a, b } = await twoSessions(3);
    await a.cmd('STORE 2 +FLAGS.SILENT (\\Deleted)');
    expect((await a.cmd('EXPUNGE')).untagged).toEqual(['* 2 EXPUNGE']);
    // b still has 3 messages; message 2 is gone: FETCH answers others and NO, never message 3 in its place.
    const f = await b.cmd('FETCH 1:3 (UID)');
    expect(f.untagged.filter((l) => l.includes('EXPUNGE'))).toEqual([]);
    expect(f.untagged).toContain('* 1 FETCH (UID 1)');
    expect(f.untagged).toContain('* 3 FETCH (UID 3)');
    expect(f.untagged.some((l) => l.startsWith('* 2 FETCH'))).toBe(false);
    expect(f.tagged).toMatch(/NO/);
    const s = await b.cmd('SEARCH ALL');
    expect(s.untagged.filter((l) => l.includes('EXPUNGE'))).toEqual([]);
    const st = await b.cmd('STORE 1 +FLAGS (\\Seen)');
    expect(st.untagged.filter((l) => l.includes('EXPUNGE'))).toEqual([]);
    // UID FETCH may carry it (§7.4.1), and so does NOOP; it is sent exactly once.
    const nn = await b.cmd('NOOP');
    expect(nn.untagged).toContain('* 2 EXPUNGE');
    expect((await b.cmd('NOOP')).untagged).toEqual([]);
    expect((await b.cmd('FETCH 2 UID')).untagged).toEqual(['* 2 FETCH (UID 3)']);
    a.close();
    b.close();
  });

  it('flag changes by another session arrive as FETCH FLAGS', async () => {
    const { a, b } = await twoSessions(2);
    await a.cmd('STORE 2 +FLAGS.SILENT (\\Flagged)');
    const r = await b.cmd('NOOP');
    expect(r.untagged).toEqual(['* 2 FETCH (UID 2 FLAGS (\\Flagged))']);
    // Our own .SILENT change is not echoed back to us.
    expect((await a.cmd('NOOP')).untagged).toEqual([]);
    a.close();
    b.close();
  });

  // Pushed without any client command; the latency itself is measured in bench/imap.js (speed is not asserted in tests).
  it('IDLE: EXISTS, EXPUNGE and FLAGS are pushed to the idling client', async () => {
    const { a, b, name } = await twoSessions(2);
    b.write('i1 IDLE\r\n');
    expect(await b.line()).toMatch(/^\+ /);
    for (let i = 0; i < 5; i++) {
      await n.deliver([message(10 + i)], { mailbox: name });
      expect(await b.waitFor(/EXISTS$/, 2000)).toBe(`* ${3 + i} EXISTS`);
    }
    await a.cmd('STORE 1 +FLAGS.SILENT (\\Deleted)');
    await a.cmd('EXPUNGE');
    expect(await b.waitFor(/EXPUNGE$/, 2000)).toBe('* 1 EXPUNGE');
    await a.cmd('STORE 1 +FLAGS.SILENT (\\Answered)');
    expect(await b.waitFor(/FETCH/, 2000)).toBe('* 1 FETCH (UID 2 FLAGS (\\Answered))');
    b.write('DONE\r\n');
    expect((await b.until('i1')).tagged).toBe('i1 OK Idle completed');
    a.close();
    b.close();
  });

  it('two sessions expunging and fetching at once stay consistent', async () => {
    const { a, b } = await twoSessions(40);
    const work: Promise<unknown>[] = [];
    // a deletes every other message in several EXPUNGE rounds while b keeps fetching everything.
    work.push(
      (async () => {
        for (let i = 1; i <= 40; i += 8) {
          await a.cmd(`UID STORE ${i},${i + 2},${i + 4},${i + 6} +FLAGS.SILENT (\\Deleted)`);
          await a.cmd('EXPUNGE');
        }
      })(),
    );
    const seen: string[] = [];
    work.push(
      (async () => {
        for (let i = 0; i < 10; i++) {
          const r = await b.cmd('FETCH 1:* (UID FLAGS)');
          for (const l of r.untagged) seen.push(l);
        }
      })(),
    );
    await Promise.all(work);
    // Every FETCH line pairs a sequence number with the UID the session's map has for it.
    const r = await b.cmd('NOOP');
    const final = await b.cmd('FETCH 1:* (UID)');
    const uids = final.untagged.map((l) => Number(/UID (\d+)/.exec(l)![1]));
    expect(uids).toEqual(Array.from({ length: 20 }, (_, i) => 2 * (i + 1)));
    expect(r.tagged).toMatch(/OK/);
    for (const l of seen.filter((x) => x.includes('FETCH (UID'))) {
      const m = /^\* (\d+) FETCH \(UID (\d+)/.exec(l);
      expect(m).not.toBeNull();
      // Before any EXPUNGE reached b, seq n was UID n.
      expect(Number(m![2])).toBeGreaterThanOrEqual(Number(m![1]));
    }
    a.close();
    b.close();
  });
});
